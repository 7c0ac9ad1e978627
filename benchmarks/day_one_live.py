"""Day one on a live, populated database: what a first sync writes, and what the next day writes.

Against the live Odoo named by CLIENTCARE_URL, CLIENTCARE_DB, CLIENTCARE_LOGIN and
CLIENTCARE_PASSWORD:

    python benchmarks/day_one_live.py --state /tmp/dayone.sqlite3 [--as-of 2026-11-30]

Starts from a clean slate (removes every ClientCare activity), then

1. a first ``sync`` as of the day: activities created, how many are due before that day
   (goal 0: nobody's list starts with overdue work), and mails queued during the run
   (``mail.mail`` records created; goal 0: assignment mails are off by default);
2. a second ``sync`` as of the next day (time moved forward, no data changed): write calls
   (goal 0: nothing is rewritten because a day passed), split by cause: an update whose
   finding lists the same records on both days was caused by the day alone (goal 0); the
   others are escalations (an invoice reaching the next level, a task falling due), which are
   what the next day is supposed to bring.

Prints each figure beside its goal.  Leaves the activities of the first sync in place.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date, timedelta

from clientcare.connector.client import OdooClient
from clientcare.connector.pull import snapshot_dir_for
from clientcare.connector.snapshot import Snapshot
from clientcare.connector.facts import MARKER_PREFIX
from clientcare.jobs.run_session import open_store
from clientcare.rules import load_rules, run_rules

from live import clean_slate, client

WRITE_METHODS = ("create", "write", "unlink", "action_feedback", "message_post")



def sync(state: str, as_of: date) -> dict:
    out = subprocess.run([sys.executable, "-m", "clientcare.jobs.cli", "sync", "--state", state,
                          "--as-of", as_of.isoformat(), "--json"], capture_output=True, text=True, check=False)
    if not out.stdout.strip():
        sys.exit(f"sync printed nothing (exit {out.returncode}): {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def writes(summary: dict) -> int:
    return sum(n for k, n in summary["rpc_by_method"].items() if k.rsplit(".", 1)[1] in WRITE_METHODS)


def listed_records(snapshot, day: date) -> dict[str, frozenset]:
    """Per finding key, the records its evidence lists (not their day counts)."""
    out = {}
    enabled = [r for r in os.environ.get("CLIENTCARE_RULES_ENABLED", "").split(",") if r.strip()] or None
    for f in run_rules(snapshot, day, {}, {}, registry=load_rules(enabled=enabled)).findings:
        cols = [c for c in ("invoice_id", "move_id", "id") if c in (f.evidence_columns or [])]
        out[f.key] = frozenset(tuple(row[c] for c in cols) for row in f.evidence)
    return out


def last_id(c: OdooClient, model: str) -> int:
    ids = c.call(model, "search", [[]], {"limit": 1, "order": "id desc"})
    return ids[0] if ids else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", default="/tmp/clientcare-dayone.sqlite3")
    ap.add_argument("--as-of", type=date.fromisoformat, default=date.today())
    args = ap.parse_args(argv)
    c = client()
    clean_slate(c, args.state)
    mails_before = last_id(c, "mail.mail")
    first = sync(args.state, args.as_of)
    mails = c.call("mail.mail", "search_count", [[("id", ">", mails_before)]])
    created = c.search_read_all("mail.activity", [("note", "ilike", MARKER_PREFIX)], ["date_deadline"])
    past = [a for a in created if a["date_deadline"] < args.as_of.isoformat()]
    second = sync(args.state, args.as_of + timedelta(days=1))
    updates = [c["key"] for c in second["plan"]["changes"] if c["op"] == "update"]
    snapshot = Snapshot.load(snapshot_dir_for(open_store(args.state), c.scope))
    before, after = listed_records(snapshot, args.as_of), listed_records(snapshot, args.as_of + timedelta(days=1))
    day_alone = [k for k in updates if before.get(k) == after.get(k)]
    rows = [
        ("first sync: exit code", first["exit_code"], "0"),
        ("first sync: activities created", first["applied"].get("created", 0), "—"),
        ("first sync: notes posted", first["applied"].get("noted", 0), "—"),
        ("first sync: activities due before the run day", len(past), "0"),
        ("first sync: mails queued", mails, "0"),
        ("first sync: RPC calls", first["rpc_calls"], "—"),
        ("second sync (+1 day): exit code", second["exit_code"], "0"),
        ("second sync (+1 day): write calls", writes(second), "0"),
        ("second sync (+1 day): updates caused by the day alone", len(day_alone), "0"),
        ("second sync (+1 day): updates where records joined or left", len(updates) - len(day_alone), "—"),
        ("second sync (+1 day): plan", json.dumps(second["plan"].get("counts", {})), "leave only"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'measured':>10}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value!s:>10}  {goal}")
    ok = not past and not mails and not day_alone and first["exit_code"] == second["exit_code"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
