"""The contract every rule fulfils, built-in or third-party (no implementation here).

A rule is one module (or any object) registered in the ``clientcare.rules``
entry-point group, with::

    name = "big_invoices"                 # equal to the entry-point name
    version = "1.0"
    description = "Invoices above a threshold, per client"   # one line
    Config = BigInvoicesConfig             # frozen dataclass, subclass of RuleConfig (optional)
    needs = {"moves": ["amount_total"]}    # table -> fields beyond the defaults
    optional_needs = {"ratings": []}       # tables used when readable (optional attribute)
    charts = (ReportChart("Big invoices per owner"),)   # in the HTML report (optional attribute)
    tables = [TableSpec("quotations", "sale.order", domain=(("state", "=", "sent"),),
                        fields=("name", "partner_id", "date_order"))]   # extra tables (optional)
    scripts = {"big": Script(("Thank {client} for the order",))}   # talking points per kind (optional)
    def config_tables(config): return [...]   # tables the settings ask for (optional)
    states_client_health = True            # its HEALTH_LEVEL findings are the client health (optional)

    def evaluate(ctx: RuleContext) -> list[Finding] | RuleOutput: ...

``ctx`` (:class:`~clientcare.rules.context.RuleContext`) holds the snapshot, the run's
day, the parsed config, the rule's previous findings and the unavailable tables.
The first API's ``evaluate(snapshot, as_of, config)`` still loads: :func:`validate_rule`
adapts it (the one place that knows both).  ``evaluate`` returns its findings, or a
``RuleOutput`` that adds what it left out and why (``NotRaised``) and the finding keys it
could not decide this run (``NotJudged``: the write-back never closes those).

A rule that ``states_client_health`` gives each client a finding of level ``HEALTH_LEVEL``
whose ``data`` holds ``score``, ``band`` and ``criteria`` (the fit checklist does): when it
runs, sync and live audits read and extend the stored client health history, the report draws
it, and ``health_tags`` follow it.

The spec is plain data (no plugin framework to learn) and every implementation is checked
against it when loaded: a missing or misspelled attribute, a wrong ``evaluate`` signature, an
unknown or clashing table is an error naming the rule, never silently ignored.
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from clientcare.connector.errors import FatalError
from clientcare.connector.schema import TABLES, TableSpec

from .config import RuleConfig, config_class_problems
from .context import RuleContext
from .finding import Finding, RuleOutput
from .scripts import Script, spec_problems

ENTRY_POINT_GROUP = "clientcare.rules"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
EVALUATE_PARAMS = ("ctx",)
LEGACY_PARAMS = ("snapshot", "as_of", "config")
REQUIRED = ("name", "version", "description", "needs", "evaluate")
#: ``Config`` defaults to :class:`RuleConfig` (a rule without settings).
OPTIONAL = ("Config", "optional_needs", "charts", "tables", "accounts_for", "scripts", "config_tables",
            "states_client_health")
#: The models whose Odoo lists (overdue invoices, late tasks) every run accounts for.
COVERED_MODELS = ("account.move", "project.task")
MODEL_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
#: How a chart's bars are coloured (the report picks the colours): one neutral colour, the
#: colour of trouble, or a scale from mildest to worst (one colour per bar, in order).
CHART_TONES = ("neutral", "alert", "scale")
#: Tables a rule may name: the connector's, plus what the pull looks up beside ``moves`` (payment
#: dates, invoices accounting excluded from follow-up).
DERIVED_TABLES = {"payments": "moves", "followup_exclusions": "moves"}


class RuleSpec(Protocol):
    """What a rule module provides (for type checkers and readers; checked by :func:`validate_rule`)."""

    name: str
    version: str
    description: str
    Config: type[RuleConfig]
    needs: Mapping[str, Sequence[str]]

    def evaluate(self, ctx: RuleContext) -> list[Finding] | RuleOutput: ...


class RuleSpecError(FatalError):
    """A rule does not fulfil the spec; ``problems`` lists every reason."""

    def __init__(self, rule: str, problems: list[str]):
        self.rule = rule
        self.problems = problems
        super().__init__(f"rule {rule!r} does not fulfil the rule spec:\n"
                         + "\n".join(f"  - {p}" for p in problems),
                         hint="fix the rule module, or uninstall the package that provides it")


@dataclass(frozen=True)
class ReportChart:
    """A bar chart in the HTML report: declared by the rule, drawn by the report (which names no
    rule).  Of the rule's findings: with ``value`` (a key of ``Finding.data``) one bar per finding,
    lowest first; without, the number of findings per owner.  With ``bars``, of the situation the
    rule judges instead (these come first in the report)."""

    title: str
    #: Only findings of this level.
    level: str | None = None
    value: str | None = None
    #: A key of ``Finding.data`` holding a band (good / fair / poor) that colours the bar.
    band: str | None = None
    scale_max: float | None = None
    #: Appended to the title with the number of findings that have no ``value``.
    missing: str = ""
    noun: str = "findings"
    #: ``bars(snapshot, as_of, client_ids, not_raised) -> [(label, value)]``: bars computed from
    #: the snapshot, for the audited clients (``client_ids``; ``None``: all) and without what the
    #: rule did not raise (its ``NotRaised``), so the chart agrees with the findings.
    bars: Callable[..., list[tuple[str, float]]] | None = None
    #: One of :data:`CHART_TONES` (a ``band`` colours the bars by band instead).
    tone: str = "neutral"


@dataclass(frozen=True)
class Rule:
    """A rule checked against the spec: what the registry hands to the engine."""

    name: str
    version: str
    description: str
    Config: type
    needs: dict[str, tuple[str, ...]]
    optional_needs: dict[str, tuple[str, ...]]
    evaluate: Callable[[RuleContext], list[Finding] | RuleOutput]
    origin: str = ""
    charts: tuple[ReportChart, ...] = ()
    #: Tables the rule declares beyond the connector's (pulled like them; always required).
    tables: dict[str, TableSpec] = field(default_factory=dict)
    #: Odoo model -> the ``Finding.data`` key listing its records: the rule accounts for the
    #: overdue invoices / late tasks Odoo lists (:mod:`clientcare.rules.coverage`).
    accounts_for: dict[str, str] = field(default_factory=dict)
    #: Talking points per kind of finding (:mod:`clientcare.rules.scripts`).
    scripts: dict[str, Script] = field(default_factory=dict)
    #: ``config_tables(config) -> [TableSpec]``: tables pulled only when the profile's settings
    #: ask for them (e.g. a model it lists); the rule treats a missing one as not judged.
    config_tables: Callable[[Any], Sequence[TableSpec]] | None = None
    #: Its findings of level ``HEALTH_LEVEL`` state each client's health (score, band, criteria):
    #: the health history and tags follow them.
    states_client_health: bool = False

    def default_config(self) -> RuleConfig:
        return self.Config()


def validate_rule(obj: Any, expected_name: str | None = None, origin: str = "") -> Rule:
    """Check ``obj`` against the spec and return it as a :class:`Rule`; raise listing every problem."""
    label = expected_name or getattr(obj, "name", None) or repr(obj)
    problems: list[str] = []
    public = [a for a in dir(obj) if not a.startswith("_")]
    for attr in REQUIRED:
        if not hasattr(obj, attr) and not (attr == "name" and expected_name):
            problems.append(f"missing {attr!r}" + _did_you_mean(attr, public))
    for attr in OPTIONAL:
        if not hasattr(obj, attr):
            near = [a for a in difflib.get_close_matches(attr, public, n=1, cutoff=0.8) if a not in REQUIRED]
            if near:
                problems.append(f"{near[0]!r} looks like a misspelling of the optional {attr!r}")
    if problems:
        raise RuleSpecError(label, problems)

    name = getattr(obj, "name", expected_name)  # the entry point names the rule; the module may too
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(f"name {name!r} must match {NAME_RE.pattern}")
    if expected_name is not None and name != expected_name:
        problems.append(f"name {name!r} differs from its entry-point name {expected_name!r}")
    if not isinstance(obj.version, str) or not obj.version.strip():
        problems.append("version must be a non-empty string")
    desc = obj.description
    if not isinstance(desc, str) or not desc.strip() or "\n" in desc.strip():
        problems.append("description must be one non-empty line")
    config_cls = getattr(obj, "Config", RuleConfig)
    problems += config_class_problems(config_cls)
    tables = _tables(getattr(obj, "tables", ()) or (), problems)
    needs = _needs(obj.needs, "needs", problems, tables)
    optional = _needs(getattr(obj, "optional_needs", {}) or {}, "optional_needs", problems, tables)
    needs.update({t: () for t in tables if t not in needs and t not in optional})
    accounts_for = dict(getattr(obj, "accounts_for", {}) or {})
    problems += [f"accounts_for: {m!r} is not one of {', '.join(COVERED_MODELS)}"
                 for m in accounts_for if m not in COVERED_MODELS]
    charts = tuple(getattr(obj, "charts", ()) or ())
    problems += [f"charts: {c!r} is not a ReportChart" for c in charts if not isinstance(c, ReportChart)]
    problems += [f"charts: {c.title!r}: tone {c.tone!r} is not one of {', '.join(CHART_TONES)}" for c in charts
                 if isinstance(c, ReportChart) and c.tone not in CHART_TONES]
    problems += [f"charts: {c.title!r}: bars must be callable" for c in charts
                 if isinstance(c, ReportChart) and c.bars is not None and not callable(c.bars)]
    scripts = dict(getattr(obj, "scripts", {}) or {})
    problems += spec_problems(scripts)
    if not callable(getattr(obj, "config_tables", None) or (lambda c: ())):
        problems.append("config_tables must be callable: config_tables(config) -> [TableSpec]")
    states_health = getattr(obj, "states_client_health", False)
    if not isinstance(states_health, bool):
        problems.append(f"states_client_health must be true or false, not {states_health!r}")
    legacy, sub = _evaluate_style(obj.evaluate)
    problems += sub
    if problems:
        raise RuleSpecError(label, problems)
    evaluate = _legacy_adapter(obj.evaluate) if legacy else obj.evaluate
    return Rule(name=name, version=obj.version, description=desc.strip(), Config=config_cls,
                needs=needs, optional_needs=optional, evaluate=evaluate, origin=origin, charts=charts,
                tables=tables, accounts_for=accounts_for, scripts=scripts,
                config_tables=getattr(obj, "config_tables", None), states_client_health=states_health)


def _legacy_adapter(fn: Callable) -> Callable[[RuleContext], Any]:
    """``evaluate(snapshot, as_of, config)`` of the first plugin API, called with a context."""
    def evaluate(ctx: RuleContext):
        return fn(ctx.snapshot, ctx.as_of, ctx.config)
    evaluate.__wrapped__ = fn
    return evaluate


def _did_you_mean(attr: str, public: list[str]) -> str:
    near = difflib.get_close_matches(attr, public, n=1, cutoff=0.75)
    return f" (found {near[0]!r}: misspelled?)" if near else ""


def _tables(value: Any, problems: list[str]) -> dict[str, TableSpec]:
    """The extra tables a rule declares: named apart from the connector's, on a real model name."""
    out: dict[str, TableSpec] = {}
    for spec in value:
        if not isinstance(spec, TableSpec):
            problems.append(f"tables: {spec!r} is not a TableSpec")
            continue
        if spec.name in TABLES or spec.name in DERIVED_TABLES or spec.name in out:
            problems.append(f"tables: {spec.name!r} is already a table")
        elif not NAME_RE.match(spec.name):
            problems.append(f"tables: name {spec.name!r} must match {NAME_RE.pattern}")
        elif not isinstance(spec.model, str) or not MODEL_RE.match(spec.model):
            problems.append(f"tables[{spec.name!r}]: model {spec.model!r} is not an Odoo model name")
        elif isinstance(spec.fields, str) or not all(isinstance(f, str) and f for f in spec.fields):
            problems.append(f"tables[{spec.name!r}]: fields must be a list of field names")
        else:
            out[spec.name] = dataclasses.replace(spec, fields=tuple(spec.fields), optional=tuple(spec.optional),
                                                 domain=tuple(spec.domain), watch=tuple(spec.watch))
    return out


def _needs(value: Any, label: str, problems: list[str], own: Mapping[str, TableSpec] = {}
           ) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        problems.append(f"{label} must map table names to field lists, not {type(value).__name__}")
        return {}
    out = {}
    known = set(TABLES) | set(DERIVED_TABLES) | set(own)
    for table, fields in value.items():
        if table not in known:
            problems.append(f"{label}: unknown table {table!r}" + _did_you_mean(table, sorted(known))
                            + f"; tables: {', '.join(sorted(known))}")
            continue
        if isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields):
            problems.append(f"{label}[{table!r}] must be a list of field names")
            continue
        out[table] = tuple(fields)
    return out


def _evaluate_style(fn: Any) -> tuple[bool, list[str]]:
    """(legacy?, problems): ``evaluate(ctx)``, or the first API's ``(snapshot, as_of, config)``."""
    if not callable(fn):
        return False, ["evaluate must be callable"]
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False, []
    params = [p for p in sig.parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in params if p.default is p.empty]
    required_kw = [p.name for p in sig.parameters.values() if p.default is p.empty and p.kind is p.KEYWORD_ONLY]
    if any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()) or (len(required) <= 1 and params):
        legacy = False
        expected = EVALUATE_PARAMS
    elif len(params) >= len(LEGACY_PARAMS):
        legacy, expected = True, LEGACY_PARAMS
    else:
        return False, [f"evaluate{sig} must accept ({', '.join(EVALUATE_PARAMS)})"]
    if len(required) > len(expected) or required_kw:
        return legacy, [f"evaluate{sig} has required parameters beyond ({', '.join(expected)})"]
    return legacy, []
