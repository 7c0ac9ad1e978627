"""Benchmark (not a test): the client health history and the decline check at scale.

    python benchmarks/health_bench.py [--clients 100000]

Stores the checklists of ``--clients`` clients three times (first run, an unchanged run, a run
where two thirds changed), loads the history, and times fit_checklist's decline check on it
with no client declining and with every client declining.  Goals on a 2-core machine: each
store and the load under 3 s, an unchanged run adds no row, the decline check under 2 s when
nothing declines.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from types import SimpleNamespace

import pandas as pd

from clientcare.jobs import health_history as history
from clientcare.jobs.run_session import open_store
from clientcare.rules.builtin import fit_checklist as fc

DAY = date(2026, 11, 30)


def timed(label: str, goal: str, fn):
    start = time.perf_counter()
    out = fn()
    print(f"{label:<48} {time.perf_counter() - start:6.2f} s   (goal {goal})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100_000)
    n = parser.parse_args().clients
    criteria = {c: "pass" for c in fc.CRITERIA}

    def checklists(shift: int) -> list:
        return [SimpleNamespace(level="checklist", subject_id=i, subject_name=f"Client {i}",
                                data={"score": 100 - ((i + shift) % 3) * 10 * bool(shift), "band": "good",
                                      "criteria": criteria}) for i in range(n)]

    first, changed = checklists(0), checklists(1)
    with tempfile.TemporaryDirectory() as tmp:
        state = open_store(f"{tmp}/bench.sqlite3")
        for label, day, found in (("store a first run", 20, first), ("store an unchanged run", 10, first),
                                  ("store a run where 2/3 changed", 0, changed)):
            rows = timed(label, "< 3 s", lambda: history.record(state, "bench", label, DAY - timedelta(days=day),
                                                                  found, 400))
            print(f"{'':<48} {rows} row(s) added")
        frame = timed(f"load the history ({n} clients)", "< 3 s", lambda: history.load(state, "bench"))
        idx = pd.Index(range(n))
        status = pd.DataFrame({c: "pass" for c in fc.CRITERIA}, index=idx, dtype=object)
        parts = {c: pd.DataFrame({"value": "figures"}, index=idx) for c in fc.CRITERIA}
        names = pd.Series([f"Client {i}" for i in idx], index=idx)
        ctx = SimpleNamespace(config=fc.Config(), previous=(), history=frame, as_of=DAY)
        for label, score, band, goal in (("decline check, none declining", 100.0, "good", "< 2 s"),
                                         ("decline check, every client declining", 40.0, "poor", "none")):
            out, _ = timed(label, goal, lambda: fc._declines(ctx, names, status, pd.Series(score, index=idx),
                                                             pd.Series(band, index=idx), parts, {i: [] for i in idx}))
            print(f"{'':<48} {len(out)} decline finding(s)")
        state.close()


if __name__ == "__main__":
    main()
