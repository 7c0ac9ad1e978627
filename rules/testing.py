"""The test kit for rule authors, shipped with ClientCare: build a snapshot in a few lines, load
the demo snapshot, run a rule and check its findings, with no server and whatever else is
installed.

    from clientcare.rules.testing import AS_OF, SnapshotBuilder, keys, run

    b = SnapshotBuilder(17).client(10, "Azure Interior").invoice(1, 10, due=-40, total=500.0)
    result = run(my_rule, b.build(), AS_OF)
    assert keys(result) == ["my_rule:account.move:1"]
"""
from __future__ import annotations

from datetime import date
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from clientcare.connector.demo import demo_as_of, demo_snapshot
from clientcare.connector.snapshot import Snapshot

from .snapshot_builder import ADMIN, AS_OF, BOT, INACTIVE, MANAGER, SALES, SnapshotBuilder
from .config import RuleConfig
from .context import RuleContext
from .finding import Finding
from .registry import Registry, builtin_names, load_rules
from .bidi import strip_controls
from .engine import RunResult, check_as_of, run_rules
from .spec import validate_rule
from .working_time import WorkCalendar, WorkingTime, WorkingTimeConfig

__all__ = ["ADMIN", "AS_OF", "BOT", "INACTIVE", "MANAGER", "SALES", "SnapshotBuilder", "WorkCalendar", "WorkingTime",
           "WorkingTimeConfig", "builtin_rules", "demo", "evaluate", "keys", "registry_of", "run", "visible"]


def visible(text: str) -> str:
    """A summary, talking point or closing as a person sees it: without the bidi isolates
    around its names (:func:`~clientcare.rules.bidi.isolate`), for comparing with plain text."""
    return strip_controls(text)


def builtin_rules(*extra: str) -> Registry:
    """ClientCare's own rules (plus ``extra`` installed ones), whatever else is installed:
    a test's result must not change because someone installed a plugin."""
    return load_rules(enabled=[*builtin_names(), *extra])


def registry_of(names: Iterable[str]) -> Registry:
    """Exactly the named installed rules."""
    return load_rules(enabled=list(names))


def demo() -> tuple[Snapshot, date]:
    """The demo snapshot shipped with ClientCare and its day (``clientcare audit --demo``)."""
    snapshot = demo_snapshot()
    return snapshot, demo_as_of(snapshot)


def evaluate(rule: Any, snapshot: Snapshot, as_of: date | str, config: RuleConfig | None = None, *,
             previous: Iterable[Mapping[str, Any]] = (), unavailable: Mapping[str, str] | None = None,
             history: Any = None, broken_dates: Mapping[int, tuple] | None = None,
             working_time: WorkingTime | WorkingTimeConfig | Mapping[str, Any] | None = None):
    """Call one rule (a module or object fulfilling the spec) as the engine would, without
    routing or output checks: what its ``evaluate`` returns (``history``, ``broken_dates``,
    ``working_time``: see RuleContext; ``working_time`` as for :func:`run`)."""
    checked = validate_rule(rule)
    if not isinstance(working_time, WorkingTime):
        working_time = WorkingTime.from_snapshot(snapshot, working_time)
    ctx = RuleContext(snapshot, check_as_of(as_of), config if config is not None else checked.default_config(),
                      tuple(previous), MappingProxyType(dict(unavailable or {})), history,
                      MappingProxyType(dict(broken_dates or {})), working_time)
    return checked.evaluate(ctx)


def run(rule: Any, snapshot: Snapshot, as_of: date | str, config: RuleConfig | Mapping[str, Any] | None = None,
        *, previous: Iterable[Mapping[str, Any]] = (), routing: Mapping[str, Any] | None = None,
        broken_dates: Mapping[int, tuple] | None = None,
        working_time: WorkingTime | WorkingTimeConfig | Mapping[str, Any] | None = None) -> RunResult:
    """Run one rule as ``audit`` does (spec checked, output checked, findings routed); ``config`` is
    a ``Config`` or the profile's table for the rule.  ``working_time``: a :class:`WorkingTime`
    (e.g. ``WorkingTime.weekdays()``), or a ``[working_time]`` table applied over the snapshot's
    calendars (the builder's :meth:`~SnapshotBuilder.calendar`...; none: Monday to Friday UTC).
    Any error of the rule fails the test."""
    checked = validate_rule(rule)
    registry = Registry(rules={checked.name: checked})
    configs = {checked.name: config} if isinstance(config, RuleConfig) else {checked.name: dict(config or {})}
    result = run_rules(snapshot, as_of, configs, routing, registry=registry,
                       previous={checked.name: list(previous)}, broken_dates=broken_dates,
                       working_time=working_time)
    if result.errors:
        raise AssertionError(f"rule {checked.name} failed: "
                             + "; ".join(f"{e['stage']}: {e['error']}" for e in result.errors))
    return result


def keys(found: RunResult | Iterable[Finding]) -> list[str]:
    """The sorted finding keys of a run or a list of findings (what a test usually compares)."""
    findings = found.findings if isinstance(found, RunResult) else found
    return sorted(f.key for f in findings)
