"""What ``clientcare rules list|show|tables`` print: the installed rules, one rule's config
schema and tables, and every table and view a rule can read."""
from __future__ import annotations

import dataclasses

from clientcare.connector.schema import TABLES
from clientcare.jobs.ruleset import load_registry
from clientcare.rules.config import describe_type
from clientcare.rules.spec import DERIVED_TABLES


def describe_rules() -> tuple[list[dict], list[dict]]:
    reg = load_registry()
    infos = [{"name": r.name, "version": r.version, "package": r.origin, "description": r.description}
             for r in sorted(reg.rules.values(), key=lambda r: r.name)]
    failures = [{"name": f.name, "error": f.error, "entry_point": f.entry_point} for f in reg.failures]
    return infos, failures


def describe_rule(name: str) -> dict:
    rule = load_registry().get(name)
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
    from clientcare.connector.demo import demo_snapshot

    snap = demo_snapshot()
    odoo_types = snap.meta.get("field_types", {})
    sources = {derived: f"derived from {table}" for derived, table in DERIVED_TABLES.items()}
    out = []
    for name in sorted(set(TABLES) | set(snap.tables)):
        frame = snap.tables.get(name)
        spec = TABLES.get(name)
        out.append(_describe(name, "table", spec.model if spec else sources.get(name, ""), frame,
                             odoo_types.get(name, {}), spec))
    for name, spec in sorted(load_registry().tables().items()):  # declared by installed rules
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
