"""Kill test: stop a live ``clientcare sync`` at random moments (``kill -9``, ``kill -INT`` or
``kill -TERM``), rerun, count damage.

Against the live Odoo named by CLIENTCARE_URL, CLIENTCARE_DB, CLIENTCARE_LOGIN and
CLIENTCARE_PASSWORD (a populated database makes the write-back long enough to hit):

    python benchmarks/kill_live.py --runs 25 --state /tmp/kill.sqlite3
    python benchmarks/kill_live.py --signal INT,TERM --at-create 4 --runs 12 --state /tmp/kill.sqlite3

Starts from a clean slate (removes every ClientCare activity), then RUNS times: start a
sync, send it the signal after a random 0.3–MAX seconds (``--signal INT,TERM`` alternates).
With ``--at-create N`` the first N runs are instead signalled at the worst moment of the
write-back: a loopback proxy in front of Odoo forwards the first ``mail.activity`` ``create``,
Odoo applies it, and the signal is sent before the answer is passed on (what was written is not
yet in the ledger).  Every run goes through that proxy, so all share one database scope.

After each run caught by SIGINT or SIGTERM, its ``runs`` row must say ``interrupted`` with the
exit code the process ended with (130 / 143), the lock must be free and stderr one line; a run
that finished first must be recorded as it ended; no run may stay ``running``.  Finally one sync
runs to the end, and the open ClientCare activities are compared with the findings that want
one: duplicates (a key with two open activities), missing (a finding with none), and the ledger
(every open activity recorded ``open`` under its Odoo id; nothing left ``pending``).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from clientcare.connector.client import OdooClient
from clientcare.connector.facts import ours, parse_marker
from clientcare.connector.errors import LockedError
from clientcare.jobs import ledger
from clientcare.jobs.run_history import RunHistory, profile_lock
from clientcare.jobs.run_session import open_store

from live import clean_slate, client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from faultproxy import FaultProxy  # noqa: E402

SIGNALS = {"KILL": signal.SIGKILL, "INT": signal.SIGINT, "TERM": signal.SIGTERM}


class SignalAtCreate(FaultProxy):
    """Forwards everything; while armed, the first ``mail.activity`` ``create`` is forwarded
    (Odoo applies it), then ``on_create()`` runs (it signals the sync) and the answer is held
    back until the client hangs up."""

    def __init__(self, upstream: str):
        super().__init__(upstream, rate=0.0, upstream_timeout=300)
        self.armed: threading.Event = threading.Event()
        self.on_create = lambda: None
        self.hits = 0

    def _answer(self, sock, event, method, target, headers, body) -> None:
        is_create = b"mail.activity" in body and (b"<string>create</string>" in body or b'"create"' in body)
        if not (is_create and self.armed.is_set()):
            return super()._answer(sock, event, method, target, headers, body)
        self.armed.clear()
        answer = self._forward(event, method, target, headers, body)
        self.hits += answer is not None
        self.on_create()
        self.stall_seconds = 300
        self._stall(sock)  # the answer is never passed on: the client is gone by now
        sock.close()


def open_activity_keys(c: OdooClient) -> Counter:
    rows = c.search_read_all("mail.activity", [ours("note"), ("active", "=", True)], ["note"])
    return Counter(m.key for r in rows if (m := parse_marker(r["note"])))


def open_activity_ids(c: OdooClient) -> dict[str, set[int]]:
    rows = c.search_read_all("mail.activity", [ours("note"), ("active", "=", True)], ["note"])
    out: dict[str, set[int]] = {}
    for r in rows:
        if m := parse_marker(r["note"]):
            out.setdefault(m.key, set()).add(r["id"])
    return out


def sync_cmd(state: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "clientcare.jobs.cli", "-q", "--profile", "kill", "sync",
            "--state", state, *extra]


def runs_of(state: str) -> list[dict]:
    """The run history, newest first (none before the first run)."""
    if not os.path.exists(state):
        return []
    store = open_store(state)
    try:
        return RunHistory(store).list(1_000_000)
    finally:
        store.close()


def lock_free(state: str) -> bool:
    try:
        with profile_lock(Path(state)):
            return True
    except LockedError:
        return False


def check_run(proc: subprocess.Popen, err: str, signum: int, run: dict | None, state: str) -> list[str]:
    """What is wrong with how the run ended and was recorded (empty: nothing).  ``run``: its row,
    None when the process died before it started one (a signal during start-up)."""
    problems = []
    if not lock_free(state):
        problems.append("lock still held")
    if run is None:  # stopped before it began a run (starting up, loading the rules): nothing to record
        stopped = proc.returncode in (-signum, 128 + signum)
        return problems if stopped else problems + [f"exit {proc.returncode} and no run row"]
    if proc.returncode == -signal.SIGKILL:  # kill -9 cannot be recorded: the row stays running
        return problems
    if run["status"] == "running":
        problems.append("run row left 'running'")
    if proc.returncode == 128 + signum:  # caught by ClientCare
        if (run["status"], run["exit_code"]) != ("interrupted", proc.returncode):
            problems.append(f"row {run['status']} exit {run['exit_code']}, process exit {proc.returncode}")
        lines = [line for line in err.splitlines() if line.strip()]
        if len(lines) != 1 or not lines[0].startswith("Error: interrupted by"):
            problems.append(f"stderr {lines!r}")
    elif run["exit_code"] != proc.returncode or run["status"] == "interrupted":
        problems.append(f"exit {proc.returncode} but recorded {run['status']} {run['exit_code']}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--max-delay", type=float, default=12.0)
    ap.add_argument("--state", default="/tmp/clientcare-kill.sqlite3")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--signal", default="KILL", help="KILL, INT, TERM, or several separated by commas "
                                                     "(used in turn)")
    ap.add_argument("--at-create", type=int, default=0, metavar="N",
                    help="signal the first N runs just after Odoo applied an activity create")
    args = ap.parse_args(argv)
    signals = [SIGNALS[s.strip().upper()] for s in args.signal.split(",")]
    rng = random.Random(args.seed)
    c = client()
    clean_slate(c, args.state)
    with SignalAtCreate(os.environ["CLIENTCARE_URL"]) as proxy:
        env = dict(os.environ, CLIENTCARE_CONFIG=os.devnull, CLIENTCARE_URL=proxy.url)
        # warm-up: one full pull (a dry run writes nothing), so later runs reach the write-back
        subprocess.run(sync_cmd(args.state, "--dry-run"), env=env, stdout=subprocess.DEVNULL, check=False)
        stopped = finished = at_create = 0
        problems: list[str] = []
        statuses: Counter = Counter()
        for i in range(args.runs):
            signum = signals[i % len(signals)]
            known_runs = len(runs_of(args.state))
            proc = subprocess.Popen(sync_cmd(args.state), env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
            if i < args.at_create:
                proxy.on_create = lambda p=proc, s=signum: p.send_signal(s)
                proxy.armed.set()
                hits = proxy.hits
                _, err = proc.communicate()
                proxy.armed.clear()
                when = "at a create" if proxy.hits > hits else "(no create left)"
                at_create += proxy.hits > hits
            else:
                delay = rng.uniform(0.3, args.max_delay)
                when = f"after {delay:5.2f}s"
                try:
                    _, err = proc.communicate(timeout=delay)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signum)
                    _, err = proc.communicate()
            name = signal.Signals(signum).name
            if proc.returncode in (-signum, 128 + signum):
                stopped += 1
                what = f"{name}: exit {proc.returncode}"
            else:
                finished += 1
                what = f"finished (exit {proc.returncode})"
            rows = runs_of(args.state)
            run = rows[0] if len(rows) > known_runs else None
            statuses[run["status"] if run else "no run"] += 1
            wrong = check_run(proc, err, signum, run, args.state)
            problems += [f"run {i + 1}: {w}" for w in wrong]
            open_now = open_activity_keys(c)
            print(f"run {i + 1:2}: {what} {when}; recorded {run['status'] if run else '-'} exit "
                  f"{run['exit_code'] if run else '-'}; open activities {sum(open_now.values())}, duplicated keys "
                  f"{sum(1 for n in open_now.values() if n > 1)}" + (f"; WRONG: {wrong}" if wrong else ""),
                  flush=True)
        final = subprocess.run(sync_cmd(args.state, "--json"), env=env, capture_output=True, text=True)
        summary = json.loads(final.stdout)
        check = subprocess.run(sync_cmd(args.state, "--dry-run", "--json"), env=env, capture_output=True, text=True)
        plan = json.loads(check.stdout)["plan"]["counts"]
        scope = f"{proxy.url}|{os.environ['CLIENTCARE_DB']}"
    open_now = open_activity_keys(c)
    duplicates = sum(n - 1 for n in open_now.values() if n > 1)
    # the dry run reads Odoo's open activities: a finding still to create is a missing one
    missing = sum(counts.get("create", 0) for counts in plan.values())
    pending = sum(counts.get(op, 0) for counts in plan.values() for op in ("create", "update", "close"))
    store = open_store(args.state)
    try:
        known = ledger.activities(store, scope)
    finally:
        store.close()
    ids = open_activity_ids(c)
    ledger_wrong = sorted(k for k, found in ids.items()
                          if k not in known or known[k].status != "open" or {known[k].odoo_id} != found)
    ledger_pending = sum(1 for k in known.values() if k.status == "pending")
    print(f"\n{args.runs} runs ({args.signal}): {stopped} stopped mid-run ({at_create} at a create), "
          f"{finished} finished; rows {dict(statuses)}; final sync exit {final.returncode}, "
          f"applied {summary['applied']}")
    print(f"open ClientCare activities {sum(open_now.values())} for {len(open_now)} keys; "
          f"duplicates {duplicates}; missing {missing}; still to do after the final sync {pending}; "
          f"ledger: {len(ledger_wrong)} open activities not recorded open under their id, "
          f"{ledger_pending} left pending; wrong endings {len(problems)}")
    for p in problems:
        print("  " + p)
    ok = duplicates == 0 and pending == 0 and not ledger_wrong and not ledger_pending and not problems
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
