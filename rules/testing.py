"""The test kit for rule authors, shipped with ClientCare: build a snapshot in a few lines, load
the demo snapshot, run a rule and check its findings, with no server and whatever else is
installed.

    from clientcare.rules.testing import AS_OF, SnapshotBuilder, keys, run

    b = SnapshotBuilder(17).client(10, "Azure Interior").invoice(1, 10, due=-40, total=500.0)
    result = run(my_rule, b.build(), AS_OF)
    assert keys(result) == ["my_rule:account.move:1"]
"""
from __future__ import annotations

import contextlib
import re
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from clientcare.connector.demo import demo_as_of, demo_snapshot
from clientcare.connector.snapshot import Snapshot

from .snapshot_builder import ADMIN, AS_OF, BOT, INACTIVE, MANAGER, SALES, SnapshotBuilder
from .config import RuleConfig
from .context import RuleContext
from .finding import Finding
from .finding_table import FindingTable
from .registry import Registry, builtin_names, load_rules
from .bidi import strip_controls
from .engine import RunResult, check_as_of, run_rules
from .spec import validate_rule
from .working_time import WorkCalendar, WorkingTime, WorkingTimeConfig

__all__ = ["ADMIN", "AS_OF", "BOT", "INACTIVE", "MANAGER", "SALES", "SnapshotBuilder", "WorkCalendar", "WorkingTime",
           "WorkingTimeConfig", "builtin_rules", "demo", "evaluate", "keys", "marked", "pseudo_language", "registry_of", "run",
           "visible"]


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
    if isinstance(findings, FindingTable):
        return sorted(findings.keys().tolist())
    return sorted(f.key for f in findings)


#: The marks of the pseudo language (:func:`pseudo_language`).
OPEN, CLOSE = "⟦", "⟧"


def marked(text: str, pieces: bool = True) -> str:
    """A message as the pseudo language writes it: each literal run between ``{placeholders}`` in
    ⟦⟧ (``pieces``; a value filled in stays outside, so an English word passed as a value shows),
    else the whole text in one pair."""
    if not pieces:
        return OPEN + text + CLOSE
    parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", text)
    return "".join(p if not p or re.fullmatch(r"\{[A-Za-z_][A-Za-z0-9_]*\}", p) else OPEN + p + CLOSE for p in parts)


@contextlib.contextmanager
def pseudo_language(directory, lang: str = "fr", *, pieces: bool = True, extra: Iterable[str] = (),
                    sources=None, domain: str | None = None):
    """Every message of the code (``sources``: ClientCare's by default; a plugin passes its own
    folder and ``domain``) in a made-up catalog for ``lang`` whose texts are :func:`marked`, used
    instead of the shipped one inside the block: whatever a person would read untranslated is
    what is left outside ⟦⟧.  ``lang`` gives the formats (dates, numbers); ``extra``: message ids
    of a test's own."""
    from babel.messages.pofile import write_po

    from . import catalogs, i18n
    domain = domain or i18n.DOMAIN
    catalog = catalogs.extract(sources or catalogs.SOURCES, domain)
    for msgid in extra:
        catalog.add(msgid)
    catalog.locale = lang
    catalog._num_plurals, catalog._plural_expr = catalogs._plural_rule(lang)  # as the shipped catalogs
    for m in catalog:
        if m.id:
            m.string = (tuple(marked(i, pieces) for i in m.id) if isinstance(m.id, (list, tuple))
                        else marked(m.id, pieces))
    path = Path(directory) / lang / "LC_MESSAGES" / f"{domain}.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog)
    before = i18n._DOMAINS.get(domain)
    i18n.register_domain(domain, directory)
    i18n._translations.cache_clear()
    try:
        yield lang
    finally:
        if before is None:
            i18n._DOMAINS.pop(domain, None)
        else:
            i18n.register_domain(domain, before)
        i18n._translations.cache_clear()
