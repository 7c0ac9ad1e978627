"""Running rules over a snapshot: isolated failures, checked output, routed findings.

Each rule runs on its own: one that raises, or returns findings that break
the contract (no evidence, bad severity, duplicate keys), is reported with its
name and traceback and the run is marked partial; the other rules' findings
are kept.  Configuration problems are different: they are the person's to fix
before anything runs, so they raise one :class:`ConfigError` listing them all.
"""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from clientcare.connector.errors import ConfigError
from clientcare.connector.schema import gc_paused
from clientcare.connector.snapshot import Snapshot

from .config import RuleConfig
from .context import RuleContext
from .finding import Finding, NotJudged, NotRaised, Resolved, RuleOutput
from .finding_table import FindingTable
from .folding import fold
from .registry import Registry, load_rules
from .routing import RoutingConfig, assign
from .working_time import WorkingTime, WorkingTimeConfig

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    as_of: date
    #: The routed findings of every rule, as columns (a Sequence of Finding copies to iterate).
    findings: FindingTable = field(default_factory=FindingTable.empty)
    #: JSON-ready problems: rule, stage (load | evaluate | output), error, traceback.
    errors: list[dict] = field(default_factory=list)
    #: Rules that ran to the end: only their earlier activities may be closed as resolved.
    rules_run: set[str] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=dict)
    #: Records a person would expect a finding about, and why there is none.
    not_raised: list[NotRaised] = field(default_factory=list)
    #: Finding keys (patterns) the rules could not decide: never closed as resolved.
    not_judged: list[NotJudged] = field(default_factory=list)
    #: How earlier findings went away, when a rule knows (the feedback of the closed activity).
    resolved: list[Resolved] = field(default_factory=list)
    #: The run's working time (what the rules counted on; the write-back's deadlines use it too).
    working_time: WorkingTime = field(default_factory=WorkingTime.weekdays)

    @property
    def partial(self) -> bool:
        return bool(self.errors)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {name: 0 for name in sorted(self.rules_run)}
        codes, rules = pd.factorize(self.findings.column("rule"))  # in the order rules first appear
        for rule, count in zip(rules.tolist(), np.bincount(codes, minlength=len(rules)).tolist()):
            out[rule] = out.get(rule, 0) + count
        return out

    def summary(self) -> dict:
        not_raised: dict[str, int] = {}
        for n in self.not_raised:
            not_raised[n.rule] = not_raised.get(n.rule, 0) + 1
        return {"as_of": self.as_of.isoformat(), "partial": self.partial, "findings": self.counts(),
                "not_raised": not_raised, "not_judged": [n.to_dict() for n in self.not_judged],
                "rules_run": sorted(self.rules_run), "seconds": self.seconds,
                "errors": [{k: v for k, v in e.items() if k != "traceback"} for e in self.errors]}

    def to_dict(self) -> dict:
        return dict(self.summary(), errors=self.errors, findings=self.findings.to_dicts(),
                    not_raised=[n.to_dict() for n in self.not_raised])


def run_rules(snapshot: Snapshot, as_of: date, configs: Mapping[str, Any] | None = None,
              routing: RoutingConfig | Mapping[str, Any] | None = None, *,
              registry: Registry | None = None, only: Iterable[str] | None = None,
              previous: Mapping[str, list[dict]] | None = None,
              unavailable: Mapping[str, str] | None = None, history: Any = None,
              broken_dates: Mapping[int, tuple] | None = None,
              working_time: WorkingTime | WorkingTimeConfig | Mapping[str, Any] | None = None) -> RunResult:
    """Evaluate the enabled rules at ``as_of`` and route their findings.

    ``configs`` is the profile's ``rules`` table (raw, validated here) or the
    output of :meth:`Registry.configure`; ``previous`` the last run's findings
    per rule (``Finding.to_dict()``); ``unavailable`` the tables the server would
    not give (default: what the pull recorded in the snapshot); ``history`` the stored client
    health (None: no state store); ``broken_dates`` the agreed dates that passed, per client
    (:class:`~clientcare.rules.context.BrokenDate`); ``working_time`` the profile's
    ``[working_time]`` table (or its :class:`WorkingTimeConfig`) over Odoo's calendars in the
    snapshot, or a ready :class:`WorkingTime`.  Each rule gets them in its :class:`RuleContext`.
    """
    as_of = check_as_of(as_of)
    registry = registry if registry is not None else load_rules()
    raw = None
    if configs and all(isinstance(c, RuleConfig) for c in configs.values()):
        parsed = dict(configs)
    else:
        raw = configs
        parsed = registry.configure(configs, only)
    if only is not None:
        parsed = {k: v for k, v in parsed.items() if k in set(only)}
    routing = routing if isinstance(routing, RoutingConfig) else RoutingConfig.from_mapping(routing)
    unknown = sorted(set(routing.rules) - set(registry.known_names()))
    if unknown:
        raise ConfigError([f"routing.rules.{n}: no such rule" for n in unknown])
    missing = MappingProxyType(dict(snapshot.unavailable if unavailable is None else unavailable))
    broken = MappingProxyType(dict(broken_dates or {}))
    if not isinstance(working_time, WorkingTime):
        working_time = WorkingTime.from_snapshot(snapshot, working_time)
    contexts = {name: RuleContext(snapshot, as_of, config, tuple((previous or {}).get(name) or ()), missing,
                                  history, broken, working_time) for name, config in parsed.items()}
    with gc_paused():
        result = _run(snapshot, as_of, contexts, registry, routing)
    result.working_time = working_time
    result.errors[:0] = [f.to_dict() for f in registry.failures_for(raw, only)]
    return result


def _run(snapshot: Snapshot, as_of: date, contexts: dict[str, RuleContext], registry: Registry,
         routing: RoutingConfig) -> RunResult:
    result = RunResult(as_of)
    parts: list[FindingTable] = []
    for name, ctx in contexts.items():
        rule = registry.rules[name]
        started = time.perf_counter()
        try:
            found = rule.evaluate(ctx)
        except Exception as exc:  # noqa: BLE001 - a broken rule must not stop the others
            log.error("rule %s raised %s: %s", name, type(exc).__name__, exc)
            result.errors.append({"rule": name, "stage": "evaluate", "error": f"{type(exc).__name__}: {exc}",
                                  "traceback": traceback.format_exc()})
            continue
        finally:
            result.seconds[name] = round(time.perf_counter() - started, 4)
        if isinstance(found, RuleOutput):
            result.not_raised += [n for n in found.not_raised if isinstance(n, NotRaised)]
            result.not_judged += [n for n in found.not_judged if isinstance(n, NotJudged)]
            result.resolved += [r for r in found.resolved if isinstance(r, Resolved)]
            found = found.findings
        good, problems = _check_output(name, found)
        if problems:
            shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
            log.error("rule %s returned %d unusable finding(s): %s", name, len(problems), shown[0])
            result.errors.append({"rule": name, "stage": "output", "error": "; ".join(shown), "traceback": ""})
        parts.append(good)
        if not problems:
            result.rules_run.add(name)
    started = time.perf_counter()
    findings = FindingTable.concat(parts)
    assign(findings, snapshot, routing)
    result.findings = fold(findings)  # who gets what is known only now
    result.seconds["routing"] = round(time.perf_counter() - started, 4)
    return result


def check_as_of(as_of: Any) -> date:
    """``as_of`` must be given (a calendar date); only the CLI defaults it to today."""
    if isinstance(as_of, pd.Timestamp):
        as_of = as_of.to_pydatetime()
    if isinstance(as_of, datetime):
        if as_of.time() != datetime.min.time():
            raise ConfigError(f"as_of must be a calendar date, not the time {as_of.isoformat()}")
        return as_of.date()
    if isinstance(as_of, date):
        return as_of
    if isinstance(as_of, str):
        try:
            return date.fromisoformat(as_of)
        except ValueError:
            pass
    raise ConfigError(f"as_of must be a date (YYYY-MM-DD), not {as_of!r}")


def _check_output(name: str, found: Any) -> tuple[FindingTable, list[str]]:
    """The findings of rule ``name`` that meet the contract, as a table, and what is wrong with
    the others (:meth:`FindingTable.checked`; a list's items that are no Finding said in place)."""
    if isinstance(found, FindingTable):
        good, problems = found.checked(name)
        return good, [p for _, p in problems]
    if not isinstance(found, (list, tuple)):
        return FindingTable.empty(), [f"evaluate returned {type(found).__name__}, not a list of findings"]
    at = [i for i, f in enumerate(found) if isinstance(f, Finding)]
    good, problems = FindingTable.from_findings([found[i] for i in at]).checked(name)
    if len(at) < len(found):  # each where it was in the list
        problems = sorted([(at[row], p) for row, p in problems]
                          + [(i, f"{type(f).__name__} is not a Finding") for i, f in enumerate(found)
                             if not isinstance(f, Finding)], key=lambda p: p[0])
    return good, [p for _, p in problems]
