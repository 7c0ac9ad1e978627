"""ClientCare rules: the plugin API, the registry and the engine.

A third-party rule is a module registered under the ``clientcare.rules``
entry-point group (see :mod:`clientcare.rules.spec`); the built-in rules in
:mod:`clientcare.rules.builtin` are registered exactly the same way.

The names below are loaded on first use (PEP 562): ``from clientcare.rules import Finding``
works as always, while a command that needs only a light module of the package
(:mod:`clientcare.rules.i18n`, :mod:`clientcare.rules.words`) does not load pandas with the engine.
"""
from __future__ import annotations

import importlib

#: Public name -> (module, attribute).
_EXPORTS = {
    "TableSpec": ("clientcare.connector.schema", "TableSpec"),
    "RuleConfig": (".config", "RuleConfig"), "parse_config": (".config", "parse_config"),
    **{n: (".finding", n) for n in ("SEVERITIES", "Action", "Finding", "NotJudged", "NotRaised", "Resolved",
                                    "Rows", "RuleOutput")},
    **{n: (".finding_table", n) for n in ("FindingTable", "const", "findings_of", "object_column")},
    "LoadFailure": (".registry", "LoadFailure"), "Registry": (".registry", "Registry"),
    "load_rules": (".registry", "load_rules"),
    "ROUTING_STEPS": (".routing", "STEPS"), "RoutingConfig": (".routing", "RoutingConfig"),
    "RuleContext": (".context", "RuleContext"),
    "RunResult": (".engine", "RunResult"), "run_rules": (".engine", "run_rules"),
    "Script": (".scripts", "Script"), "filled": (".scripts", "filled"),
    **{n: (".spec", n) for n in ("ENTRY_POINT_GROUP", "ReportChart", "Rule", "RuleSpec", "RuleSpecError",
                                 "validate_rule")},
    **{n: (".working_time", n) for n in ("WorkCalendar", "WorkingTime", "WorkingTimeConfig")},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
