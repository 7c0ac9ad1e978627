"""Kill test: ``kill -9`` a live ``clientcare sync`` at random moments, rerun, count damage.

Against the live Odoo named by CLIENTCARE_URL, CLIENTCARE_DB, CLIENTCARE_LOGIN and
CLIENTCARE_PASSWORD (a populated database makes the write-back long enough to hit):

    python benchmarks/kill_live.py --runs 25 --state /tmp/kill.sqlite3

Starts from a clean slate (removes every ClientCare activity), then RUNS times: start a
sync, SIGKILL it after a random 0.3–MAX seconds. Finally one sync runs to the end, and
the open ClientCare activities are compared with the findings that want one:
duplicates (a key with two open activities) and missing (a finding with none).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter

from clientcare.connector.client import OdooClient
from clientcare.connector.facts import ours, parse_marker

from live import clean_slate, client


def open_activity_keys(c: OdooClient) -> Counter:
    rows = c.search_read_all("mail.activity", [ours("note"), ("active", "=", True)], ["note"])
    return Counter(m.key for r in rows if (m := parse_marker(r["note"])))


def sync_cmd(state: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "clientcare.jobs.cli", "-q", "--profile", "kill", "sync",
            "--state", state, *extra]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--max-delay", type=float, default=12.0)
    ap.add_argument("--state", default="/tmp/clientcare-kill.sqlite3")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    c = client()
    clean_slate(c, args.state)
    env = dict(os.environ, CLIENTCARE_CONFIG=os.devnull)
    # warm-up: one full pull (a dry run writes nothing), so later runs reach the write-back
    subprocess.run(sync_cmd(args.state, "--dry-run"), env=env, stdout=subprocess.DEVNULL, check=False)
    killed = finished = 0
    for i in range(args.runs):
        delay = rng.uniform(0.3, args.max_delay)
        proc = subprocess.Popen(sync_cmd(args.state), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
            finished += 1
            what = f"finished (exit {proc.returncode})"
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed += 1
            what = "killed"
        open_now = open_activity_keys(c)
        print(f"run {i + 1:2}: {what} after {delay:5.2f}s; open activities {sum(open_now.values())}, "
              f"duplicated keys {sum(1 for n in open_now.values() if n > 1)}", flush=True)
    final = subprocess.run(sync_cmd(args.state, "--json"), env=env, capture_output=True, text=True)
    summary = json.loads(final.stdout)
    check = subprocess.run(sync_cmd(args.state, "--dry-run", "--json"), env=env, capture_output=True, text=True)
    plan = json.loads(check.stdout)["plan"]["counts"]
    open_now = open_activity_keys(c)
    duplicates = sum(n - 1 for n in open_now.values() if n > 1)
    # the dry run reads Odoo's open activities: a finding still to create is a missing one
    missing = sum(counts.get("create", 0) for counts in plan.values())
    pending = sum(counts.get(op, 0) for counts in plan.values() for op in ("create", "update", "close"))
    print(f"\n{args.runs} runs: {killed} killed mid-run, {finished} finished; final sync exit "
          f"{final.returncode}, applied {summary['applied']}")
    print(f"open ClientCare activities {sum(open_now.values())} for {len(open_now)} keys; "
          f"duplicates {duplicates}; missing {missing}; still to do after the final sync {pending}")
    return 0 if duplicates == 0 and pending == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
