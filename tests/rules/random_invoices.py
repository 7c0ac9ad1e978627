"""100,000 random invoices (with their clients, tasks, messages...) judged by the built-in rules
twice, the second run 17 days later with the first run's findings as ``previous``: the reference
that columnar rules must reproduce exactly (issue 24).  The generator is the benchmarks' own
(``benchmarks/rules_bench.py``, typed as the connector types a pull) with a fixed seed; the
reference was written by the object-per-finding rules of 399aad5."""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "random_100k.json.xz"
SIZE = dict(n_invoices=100_000, n_clients=10_000, n_tasks=20_000, seed=24)
CONFIG = {"follow_up": {"fix_projects": list(range(1, 200))}}
ROUTING = {"default_user_id": 2}
LATER = timedelta(days=17)


def snapshot():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import rules_bench
    finally:
        sys.path.pop(0)
    return rules_bench.generate(**SIZE), rules_bench.AS_OF


def judge() -> dict:
    """Both runs as JSON values (``RunResult.to_dict`` without the timings)."""
    from clientcare.rules import run_rules
    from clientcare.rules.testing import builtin_rules

    snap, as_of = snapshot()
    registry = builtin_rules()
    first = run_rules(snap, as_of, CONFIG, ROUTING, registry=registry)
    previous: dict[str, list[dict]] = {}
    for f in first.findings:
        previous.setdefault(f.rule, []).append(f.to_dict())
    second = run_rules(snap, as_of + LATER, CONFIG, ROUTING, registry=registry, previous=previous)
    return {"first": _plain(first), "second": _plain(second)}


def _plain(result) -> dict:
    out = result.to_dict()
    out.pop("seconds")
    out["resolved"] = [r.to_dict() for r in result.resolved]
    return out
