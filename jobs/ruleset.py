"""The rules a profile runs, resolved once at start-up: a :class:`RuleSet`.

The profile names the rules to load (``rules_enabled``), their settings, the routing and
the talking points; the RuleSet is what the commands need of those, computed once and only
read afterwards: the registry, each enabled rule's validated config, the tables and fields
to pull, the report's charts and which rules state client health.  ``--rules`` narrows it
(:meth:`RuleSet.only`), once per command.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from clientcare.connector.errors import ConfigError
from clientcare.connector.schema import TABLES
from clientcare.connector.snapshot import Snapshot
from clientcare.jobs.config import Profile, load_profile
from clientcare.rules import coverage, scripts
from clientcare.rules.config import RuleConfig
from clientcare.rules.engine import RunResult, run_rules
from clientcare.rules.registry import LoadFailure, Registry, load_rules
from clientcare.rules.routing import RoutingConfig
from clientcare.rules.scripts import Script
from clientcare.rules.spec import DERIVED_TABLES, ReportChart, Rule
from clientcare.rules.working_time import WorkingTimeConfig


@functools.lru_cache(maxsize=4)
def load_registry(enabled: tuple[str, ...] | None = None) -> Registry:
    """The installed rules (only the ``enabled`` ones when given), imported once per process;
    a test that installs an entry point clears this cache."""
    return load_rules(enabled=enabled)


@dataclass(frozen=True)
class RuleSet:
    """What a command needs of the rules, resolved from one profile (:meth:`from_profile`)."""

    #: The rules the profile loads (``rules_enabled``), with the ones that failed to load.
    registry: Registry = field(repr=False)
    #: Enabled rule -> its validated config, in name order: the rules that run.
    configs: Mapping[str, RuleConfig]
    routing: RoutingConfig = field(repr=False)
    #: Rule -> kind -> talking points, the profile's replacing the rules' own.
    talking_points: Mapping[str, Mapping[str, Script]] = field(repr=False)
    #: Put the talking points in the activities (the profile's ``talking_points``).
    fill_talking_points: bool
    #: Load failures of the rules this set would run (asked for and not switched off).
    failures: tuple[LoadFailure, ...]
    #: Table -> extra fields the rules read, from required and optional tables alike (what to pull).
    needs: Mapping[str, list[str]]
    #: Tables some rule needs to run; tables only worth pulling when readable (in the order
    #: the rules name them).
    required_tables: tuple[str, ...]
    optional_tables: tuple[str, ...]
    #: Name -> ``TableSpec`` of the tables the rules declare beyond the connector's, with those
    #: their settings ask for (``config_tables``).
    declared_tables: Mapping[str, Any]
    #: Odoo model -> the rules that read it (required or optional), for ``check``.
    readers: Mapping[str, list[str]]
    #: Rule -> the report charts it declares.
    charts: Mapping[str, tuple[ReportChart, ...]]
    #: The rules whose findings state client health (``states_client_health`` on the spec).
    health_rules: frozenset[str]
    #: The profile's ``[working_time]`` over Odoo's calendars (empty: Odoo's values).
    working_time: WorkingTimeConfig = field(default_factory=WorkingTimeConfig, repr=False)

    @classmethod
    def from_profile(cls, profile: Profile) -> "RuleSet":
        """Resolve the profile's rules; every rule, routing and script problem in one ConfigError
        (``load_profile`` reports them with the profile's own: see :func:`load_with_rules`)."""
        registry = load_registry(profile.rules_enabled)
        resolved = _every_problem(
            configs=lambda: registry.configure(profile.rules),
            routing=lambda: RoutingConfig.from_mapping(profile.routing, default_user_id=profile.default_user_id),
            talking_points=lambda: scripts.configure(
                {name: rule.scripts for name, rule in registry.rules.items()}, profile.scripts),
            working_time=lambda: WorkingTimeConfig.parse(profile.working_time))
        return cls.of(registry, resolved["configs"], resolved["routing"], resolved["talking_points"],
                      profile.talking_points, registry.failures_for(profile.rules), resolved["working_time"])

    @classmethod
    def of(cls, registry: Registry, configs: Mapping[str, RuleConfig], routing: RoutingConfig,
           talking_points: Mapping[str, Mapping[str, Script]], fill_talking_points: bool,
           failures: Iterable[LoadFailure], working_time: WorkingTimeConfig | None = None) -> "RuleSet":
        """The set running ``configs``' rules, with what follows from them computed here, once."""
        names = sorted(configs)
        required, optional = registry.needs(names)
        rules = [registry.rules[name] for name in names]
        return cls(registry=registry, configs={name: configs[name] for name in names}, routing=routing,
                   talking_points=talking_points, fill_talking_points=fill_talking_points,
                   failures=tuple(failures), needs={**optional, **required},
                   required_tables=tuple(required), optional_tables=tuple(optional),
                   declared_tables=registry.tables(names, configs), readers=_readers(rules),
                   charts={rule.name: rule.charts for rule in rules if rule.charts},
                   health_rules=frozenset(rule.name for rule in rules if rule.states_client_health),
                   working_time=working_time or WorkingTimeConfig())

    def only(self, names: Iterable[str] | None) -> "RuleSet":
        """This set narrowed to the named rules (``--rules``); None: the whole set.  A name no
        loaded or failed rule has is a ConfigError; a rule switched off just does not run."""
        if names is None:
            return self
        names = list(names)
        problems = self.registry.unknown_problems(names)
        if problems:
            raise ConfigError(problems)
        return self.of(self.registry, {n: c for n, c in self.configs.items() if n in names}, self.routing,
                       self.talking_points, self.fill_talking_points,
                       [f for f in self.failures if f.name in names], self.working_time)

    @property
    def names(self) -> list[str]:
        """The rules that run, in name order."""
        return list(self.configs)

    def require_loaded(self) -> None:
        """``--strict``: a rule that failed to load is a configuration error (exit 2), not a
        partial run."""
        if self.failures:
            raise ConfigError([f"rule {f.name} failed to load: {f.error}" for f in self.failures],
                              hint="fix or uninstall the rule's package, or leave it out of rules_enabled")

    def evaluate(self, snapshot: Snapshot, as_of: date, previous: dict[str, list[dict]] | None = None,
                 history=None, broken_dates=None) -> RunResult:
        """Run the set's rules; those needing a table the server would not give are skipped.  The
        overdue invoices and late tasks of a rule that did not run are listed as not raised."""
        unavailable = snapshot.unavailable
        skipped = []
        for name in self.names:
            needs = self.registry.rules[name].needs
            missing = [t for t in needs if t in unavailable]
            absent = [t for t in needs if t not in unavailable and t not in snapshot.tables]
            if missing:
                skipped.append({"rule": name, "stage": "skipped", "traceback": "",
                                "error": f"needs {', '.join(missing)}, unavailable "
                                         f"({'; '.join(unavailable[t] for t in missing)})"})
            elif absent:  # a saved or demo snapshot pulled without this rule
                skipped.append({"rule": name, "stage": "skipped", "traceback": "",
                                "error": f"needs {', '.join(absent)}, not in this snapshot"})
        run = [n for n in self.names if n not in {s["rule"] for s in skipped}]
        result = run_rules(snapshot, as_of, {n: self.configs[n] for n in run}, self.routing,
                           registry=self.registry, only=run, previous=previous, history=history,
                           broken_dates=broken_dates, working_time=self.working_time)
        result.errors[:0] = [f.to_dict() for f in self.failures]
        result.errors += skipped
        result.not_raised += coverage.not_run(snapshot, as_of, result, self.registry.accounts_for())
        if self.fill_talking_points:
            ids = list(set(result.findings.column("client_id").tolist()) - {None})
            partners = snapshot.partners.drop_duplicates("id").set_index("id")["name"]
            scripts.fill(result.findings, self.talking_points, partners.reindex(ids).dropna().to_dict())
        return result


def load_with_rules(name: str | None = None, config_path: str | Path | None = None, overrides: dict[str, Any] | None = None, *,
                    env: dict[str, str] | None = None, require_connection: bool = True
                    ) -> tuple[Profile, RuleSet]:
    """The profile and its RuleSet, each resolved once: the rules' problems are load_profile's
    validators, reported with the profile's own, all together."""
    resolved: list[RuleSet] = []
    profile = load_profile(name, config_path, overrides, env=env, require_connection=require_connection,
                           validators=(lambda p: resolved.append(RuleSet.from_profile(p)),))
    return profile, resolved[0]


def _readers(rules: list[Rule]) -> dict[str, list[str]]:
    """Odoo model -> the rules that read it (required or optional)."""
    out: dict[str, set[str]] = {}
    for rule in rules:
        for table in {**rule.optional_needs, **rule.needs}:
            table = DERIVED_TABLES.get(table, table)
            out.setdefault((rule.tables.get(table) or TABLES[table]).model, set()).add(rule.name)
    return {m: sorted(r) for m, r in sorted(out.items())}


def _every_problem(**steps: Callable[[], Any]) -> dict[str, Any]:
    """Each step's result; the problems of all failing steps raised together (ConfigError)."""
    out, problems = {}, []
    for name, step in steps.items():
        try:
            out[name] = step()
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return out
