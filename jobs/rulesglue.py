"""The jobs' view of the rules: one registry per process, configured from the profile."""
from __future__ import annotations

import dataclasses
import functools
from datetime import date

from clientcare.connector.errors import ConfigError
from clientcare.connector.schema import TABLES
from clientcare.connector.snapshot import Snapshot
from clientcare.jobs.config import Profile
from clientcare.rules import coverage, scripts
from clientcare.rules.config import describe_type
from clientcare.rules.registry import LoadFailure, Registry, load_rules
from clientcare.rules.routing import RoutingConfig
from clientcare.rules.runner import RunResult, run_rules
from clientcare.rules.spec import DERIVED_TABLES


def registry(profile: Profile | None = None) -> Registry:
    """The rules the profile enables (``rules_enabled``), or every installed one."""
    enabled = (profile.values.get("rules_enabled") if profile is not None else None)
    return _load(tuple(enabled) if enabled is not None else None)


@functools.lru_cache(maxsize=4)
def _load(enabled: tuple[str, ...] | None) -> Registry:
    return load_rules(enabled=enabled)


def load_failures(profile: Profile, rule_names: list[str] | None = None) -> list[LoadFailure]:
    """The load failures of the rules this run would run (asked for and not switched off)."""
    return registry(profile).failures_for(profile.rules, rule_names)


def require_loaded(profile: Profile, rule_names: list[str] | None = None) -> None:
    """``--strict``: a rule that failed to load is a configuration error (exit 2), not a partial run."""
    failures = load_failures(profile, rule_names)
    if failures:
        raise ConfigError([f"rule {f.name} failed to load: {f.error}" for f in failures],
                          hint="fix or uninstall the rule's package, or leave it out of rules_enabled")


def routing(profile: Profile) -> RoutingConfig:
    return RoutingConfig.from_mapping(profile.routing, default_user_id=profile.values.get("default_user_id"))


def validate(profile: Profile, rule_names: list[str] | None = None) -> None:
    """Every rule, routing and script problem of the profile, raised together (ConfigError)."""
    problems = []
    for check in (lambda: registry(profile).configure(profile.rules, rule_names), lambda: routing(profile),
                  lambda: talking_points(profile)):
        try:
            check()
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)


def talking_points(profile: Profile) -> dict:
    """Rule -> kind -> :class:`~clientcare.rules.scripts.Script`, the profile's replacing the rules'."""
    reg = registry(profile)
    return scripts.configure({name: rule.scripts for name, rule in reg.rules.items()}, profile.scripts)


def enabled(profile: Profile, rule_names: list[str] | None = None) -> list[str]:
    return sorted(registry(profile).configure(profile.rules, rule_names))


def needs(profile: Profile, rule_names: list[str] | None = None) -> dict[str, list[str]]:
    """Table -> extra fields over the enabled rules (required and optional tables alike)."""
    required, optional = registry(profile).needs(enabled(profile, rule_names))
    return {**optional, **required}


def declared_tables(profile: Profile, rule_names: list[str] | None = None) -> dict:
    """Name -> ``TableSpec`` of the tables the enabled rules declare beyond the connector's,
    with those their settings ask for."""
    configs = registry(profile).configure(profile.rules, rule_names)
    return registry(profile).tables(sorted(configs), configs)


def optional_tables(profile: Profile, rule_names: list[str] | None = None) -> set[str]:
    required, optional = registry(profile).needs(enabled(profile, rule_names))
    return set(optional) - set(required)


def readers(profile: Profile) -> dict[str, list[str]]:
    """Odoo model -> the enabled rules that read it (required or optional)."""
    reg = registry(profile)
    out: dict[str, set[str]] = {}
    for name in enabled(profile):
        rule = reg.rules[name]
        for table in {**rule.optional_needs, **rule.needs}:
            table = DERIVED_TABLES.get(table, table)
            out.setdefault((rule.tables.get(table) or TABLES[table]).model, set()).add(name)
    return {m: sorted(r) for m, r in sorted(out.items())}


def evaluate(snapshot: Snapshot, as_of: date, profile: Profile, rule_names: list[str] | None = None,
             previous: dict[str, list[dict]] | None = None, history=None) -> RunResult:
    """Run the enabled rules; those needing a table the server would not give are skipped.  The
    overdue invoices and late tasks of a rule that did not run are listed as not raised."""
    reg = registry(profile)
    unavailable = snapshot.unavailable
    names = enabled(profile, rule_names)
    skipped = []
    for name in names:
        missing = [t for t in reg.rules[name].needs if t in unavailable]
        absent = [t for t in reg.rules[name].needs if t not in unavailable and t not in snapshot.tables]
        if missing:
            skipped.append({"rule": name, "stage": "skipped", "traceback": "",
                            "error": f"needs {', '.join(missing)}, unavailable "
                                     f"({'; '.join(unavailable[t] for t in missing)})"})
        elif absent:  # a saved or demo snapshot pulled without this rule
            skipped.append({"rule": name, "stage": "skipped", "traceback": "",
                            "error": f"needs {', '.join(absent)}, not in this snapshot"})
    run = [n for n in names if n not in {s["rule"] for s in skipped}]
    result = run_rules(snapshot, as_of, profile.rules, routing(profile), registry=reg, only=run,
                       previous=previous, history=history)
    result.errors[:0] = [f.to_dict() for f in reg.failures_for(profile.rules, rule_names)]
    result.errors += skipped
    result.not_raised += coverage.not_run(snapshot, as_of, result, reg.accounts_for())
    if profile.values.get("talking_points", True):
        ids = list({f.client_id for f in result.findings if f.client_id is not None})
        partners = snapshot.partners.drop_duplicates("id").set_index("id")["name"]
        scripts.fill(result.findings, talking_points(profile), partners.reindex(ids).dropna().to_dict())
    return result


def charts(profile: Profile) -> dict[str, tuple]:
    """Rule name -> the report charts it declares, for the enabled rules."""
    reg = registry(profile)
    return {name: reg.rules[name].charts for name in enabled(profile) if reg.rules[name].charts}


def describe_rules() -> tuple[list[dict], list[dict]]:
    reg = registry()
    infos = [{"name": r.name, "version": r.version, "package": r.origin, "description": r.description}
             for r in sorted(reg.rules.values(), key=lambda r: r.name)]
    failures = [{"name": f.name, "error": f.error, "entry_point": f.entry_point} for f in reg.failures]
    return infos, failures


def describe_rule(name: str) -> dict:
    rule = registry().get(name)
    hints = {}
    try:
        import typing
        hints = typing.get_type_hints(rule.Config)
    except Exception:  # noqa: BLE001 - a description must not fail on exotic annotations
        pass
    default = rule.Config()
    config = [{"key": f.name, "type": describe_type(hints.get(f.name, f.type)),
               "default": getattr(default, f.name)} for f in dataclasses.fields(rule.Config) if f.init]
    needs_all = {**{t: list(v) for t, v in rule.optional_needs.items()},
                 **{t: list(v) for t, v in rule.needs.items()}}
    tables = {t: {"model": spec.model, "domain": list(spec.domain), "fields": list(spec.fields)}
              for t, spec in rule.tables.items()}
    return {"name": rule.name, "version": rule.version, "package": rule.origin,
            "description": rule.description, "config": config, "needs": needs_all, "tables": tables}


#: Derived frames of the snapshot a rule may read, besides its tables (``snapshot.<name>``),
#: with the table their columns come from.
VIEWS = {"clients": "partners", "contacts": None, "invoices": "moves", "tasks": "tasks"}


def describe_tables() -> list[dict]:
    """Every table and view a rule can read, each column with its pandas dtype and Odoo type,
    as the demo snapshot (a real Odoo 19 pull) has them; a rule's ``needs`` may add fields."""
    from clientcare.jobs.demo import demo_snapshot

    snap = demo_snapshot()
    odoo_types = snap.meta.get("field_types", {})
    sources = {derived: f"derived from {table}" for derived, table in DERIVED_TABLES.items()}
    out = []
    for name in sorted(set(TABLES) | set(snap.tables)):
        frame = snap.tables.get(name)
        spec = TABLES.get(name)
        out.append(_describe(name, "table", spec.model if spec else sources.get(name, ""), frame,
                             odoo_types.get(name, {}), spec))
    for name, spec in sorted(registry().tables().items()):  # declared by installed rules
        out.append(_describe(name, "table", f"{spec.model}, declared by a rule", None, {}, spec))
    for name, base in VIEWS.items():
        out.append(_describe(name, "view", f"snapshot.{name}", getattr(snap, name), odoo_types.get(base, {}), None))
    return out


def _describe(name: str, kind: str, source: str, frame, types: dict, spec) -> dict:
    columns = []
    if frame is not None:
        for col, dtype in frame.dtypes.items():
            odoo = types.get(col) or (f"{types[col[:-5]]} name" if col.endswith("_name") and col[:-5] in types else "")
            columns.append({"name": col, "dtype": str(dtype), "odoo_type": odoo})
    elif spec is not None:  # not in the demo: the declared fields (types come from the server)
        columns = [{"name": f, "dtype": "", "odoo_type": ""} for f in ("id", *spec.fields, *spec.optional)]
    return {"name": name, "kind": kind, "source": source, "columns": columns}
