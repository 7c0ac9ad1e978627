"""Start-up of the commands that read only the profile or the state file, beside their goal.

    python benchmarks/start_up.py [--runs 9]

Each command is a fresh ``clientcare`` process (the console script beside this Python), run
``--runs`` times after one warm-up, against a generated config and state file (200 runs, 2,000
clients' health over 3 stretches each; in a temporary directory, removed afterwards).  Prints the
median wall time, CPU time and peak RSS of each, and ``python -c pass`` as the floor the machine allows.
The files are built by a child process: a process started from this one counts this one's
resident memory in its peak, so this one imports nothing of ClientCare.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

GOAL_S = 0.2
SCOPE = "https://odoo.example.com|prod"


def build_profile(directory: Path) -> Path:
    """A config file and a state file as a year of daily syncs leaves them."""
    from clientcare.jobs import health_history
    from clientcare.jobs.run_history import RunHistory
    from clientcare.jobs.run_session import open_store

    state_path = directory / "state.sqlite3"
    config = directory / "config.toml"
    config.write_text(f'[profiles.default]\nurl = "https://odoo.example.com"\ndb = "prod"\nlogin = "bot"\n'
                      f'password = "secret"\nstate_path = "{state_path}"\n')
    config.chmod(0o600)
    state = open_store(state_path)
    runs = RunHistory(state)
    for i in range(200):
        run_id = f"2026{i // 28 + 1:02d}{i % 28 + 1:02d}T060000Z-{i:06x}"
        runs.start(run_id, "default", "sync")
        runs.finish(run_id, "ok", 0, {"run_id": run_id, "pulled": {"moves": 100}})
    for k, day in enumerate(date(2026, 9, 1) + timedelta(days=30 * n) for n in range(3)):
        findings = [SimpleNamespace(level="checklist", subject_id=cid, subject_name=f"Client {cid}",
                                    data={"score": 100 - 10 * ((cid + k) % 5), "band": "good",
                                          "criteria": {"pays_on_time": "pass", "replies": "warn"}})
                    for cid in range(1, 2001)]
        health_history.record(state, SCOPE, f"run-{day}", day, findings, 400)
    state.close()
    return config


def measure(argv: list[str], runs: int, env: dict) -> tuple[float, float, float]:
    """(median wall s, median CPU s, median peak RSS MiB) of ``argv`` as a fresh process, after
    one warm-up.  CPU seconds (user + system) move less than wall time on a shared machine."""
    walls, cpus, peaks = [], [], []
    for i in range(runs + 1):
        with open(os.devnull, "wb") as null:
            t0 = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, env, file_actions=[
                (os.POSIX_SPAWN_DUP2, null.fileno(), 1), (os.POSIX_SPAWN_DUP2, null.fileno(), 2)])
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
        if i:  # the first run warms the file cache
            walls.append(wall)
            cpus.append(usage.ru_utime + usage.ru_stime)
            peaks.append(usage.ru_maxrss / 1024)
    return statistics.median(walls), statistics.median(cpus), statistics.median(peaks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9, help="measured runs per command (after one warm-up)")
    ap.add_argument("--build", metavar="DIR", help=argparse.SUPPRESS)  # the child that writes the files
    args = ap.parse_args()
    if args.build:
        build_profile(Path(args.build))
        return
    exe = str(Path(sys.executable).with_name("clientcare"))
    with tempfile.TemporaryDirectory(prefix="clientcare-start-up-") as tmp:
        subprocess.run([sys.executable, __file__, "--build", tmp], check=True)
        config = Path(tmp) / "config.toml"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTCARE_")}
        env["CLIENTCARE_CONFIG"] = str(config)
        commands = [("python -c pass (the floor)", [sys.executable, "-c", "pass"])] + [
            (f"clientcare {' '.join(a)}", [exe, *a]) for a in (
                ["--help"], ["--version"], ["runs"], ["runs", "--json"], ["config", "show"],
                ["history", "1234"], ["history", "Client 1234", "--format", "json"])]
        print(f"{'command':46} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9}  goal (wall, median)")
        for name, argv in commands:
            wall, cpu, peak = measure(argv, args.runs, env)
            goal = "" if argv[0] == sys.executable else \
                f"< {GOAL_S} s: {'met' if wall < GOAL_S else 'missed'}"
            print(f"{name:46} {wall:7.3f} {cpu:6.3f} {peak:9.1f}  {goal}", flush=True)


if __name__ == "__main__":
    main()
