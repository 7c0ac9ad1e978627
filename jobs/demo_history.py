"""The client health history the demo snapshot gives, so ``history --demo`` and the report of
``audit --demo`` can be tried without a server.  It runs the rules (which is why it is not in
:mod:`clientcare.connector.demo`) and stores through :mod:`clientcare.jobs.health_history`,
in a throwaway state file: nothing of the user's is written.
"""
from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TYPE_CHECKING

from clientcare.connector.state import StateStore
from clientcare.jobs.health_history import TABLES, load, record
from clientcare.jobs.previous_findings import by_rule

if TYPE_CHECKING:
    import pandas as pd


def demo_history(profile, rules, snapshot, day: date, last: bool = True, every_days: int = 14,
                 runs: int = 13) -> pd.DataFrame:
    """The history the demo snapshot gives when the rules of ``rules`` (a RuleSet) stating client
    health are evaluated every ``every_days`` up to ``day`` (before it unless ``last``), built in
    a throwaway state store."""
    routing_log = logging.getLogger("clientcare.rules.routing")  # who owns a finding: not shown here
    with tempfile.TemporaryDirectory(prefix="clientcare-demo-") as tmp, _quiet(routing_log):
        state = StateStore(f"{tmp}/demo.sqlite3", [TABLES])  # a throwaway file: this table alone
        try:
            previous, stating = {}, rules.only(rules.health_rules)
            for k in range(runs - last, -last, -1) if stating.names else ():
                run_day = day - timedelta(days=every_days * k)
                result = stating.evaluate(snapshot, run_day, previous=previous, history=load(state, "demo"))
                record(state, "demo", f"demo-{run_day.isoformat()}", run_day, result.findings, profile.history_days)
                previous = by_rule(result.findings, result.rules_run)
            return load(state, "demo")
        finally:
            state.close()


@contextmanager
def _quiet(logger: logging.Logger):
    """``logger`` says errors only while the demo runs."""
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
