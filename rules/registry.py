"""Finding rules through the ``clientcare.rules`` entry points, built-ins included.

A rule that fails to import or does not fulfil the spec becomes a
:class:`LoadFailure` (name, entry point, traceback) instead of an exception, so
the other rules still run and the run summary says what is missing; ``strict``
turns failures into an error for development and CI.
"""
from __future__ import annotations

import difflib
import logging
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable, Mapping

from clientcare.connector.errors import ConfigError

from .config import RuleConfig, parse_config
from .spec import DERIVED_TABLES, ENTRY_POINT_GROUP, Rule, RuleSpecError, validate_rule

log = logging.getLogger(__name__)

#: The package of the rules shipped with ClientCare (they register like any plugin).
BUILTIN_PACKAGE = "clientcare.rules.builtin"

#: Keys of a rule's config table handled by ClientCare itself, not by the rule's Config.
RESERVED_KEYS = ("enabled",)


@dataclass
class LoadFailure:
    name: str
    entry_point: str
    error: str
    traceback: str

    def to_dict(self) -> dict:
        return {"rule": self.name, "stage": "load", "entry_point": self.entry_point,
                "error": self.error, "traceback": self.traceback}


@dataclass
class Registry:
    """The rules that loaded, and the ones that did not (with why)."""

    rules: dict[str, Rule] = field(default_factory=dict)
    failures: list[LoadFailure] = field(default_factory=list)

    def __contains__(self, name: str) -> bool:
        return name in self.rules

    def get(self, name: str) -> Rule:
        try:
            return self.rules[name]
        except KeyError:
            raise ConfigError(_unknown_rule(name, self.known_names())) from None

    def failures_for(self, raw: Mapping[str, Any] | None = None, only: Iterable[str] | None = None
                     ) -> list[LoadFailure]:
        """The load failures of the rules this run asked for: all of them unless ``only`` names
        some, less those the config switches off (``enabled = false``)."""
        raw = raw or {}
        wanted = set(only) if only is not None else None
        return [f for f in self.failures
                if (wanted is None or f.name in wanted)
                and not (isinstance(raw.get(f.name), Mapping) and raw[f.name].get("enabled") is False)]

    def known_names(self) -> list[str]:
        return sorted(set(self.rules) | {f.name for f in self.failures})

    def unknown_problems(self, names: Iterable[str]) -> list[str]:
        """One problem per name that no rule has, loaded or failed (with the likely one meant)."""
        known = self.known_names()
        return [_unknown_rule(name, known) for name in names if name not in known]

    def describe(self) -> list[dict]:
        """One row per rule for ``rules list``: name, version, description, origin, status."""
        rows = [{"name": r.name, "version": r.version, "description": r.description,
                 "origin": r.origin, "status": "loaded"} for r in self.rules.values()]
        rows += [{"name": f.name, "version": "", "description": f.error, "origin": f.entry_point,
                  "status": "failed"} for f in self.failures]
        return sorted(rows, key=lambda r: r["name"])

    def configure(self, raw: Mapping[str, Any] | None = None, only: Iterable[str] | None = None
                  ) -> dict[str, RuleConfig]:
        """Validated configs of the enabled rules; every problem of every rule in one ConfigError.

        ``raw`` is the profile's ``rules`` table: rule name -> its settings, plus
        ``enabled = false`` to switch a rule off.  A rule named in the config
        that failed to load is not a config problem (its load failure is
        reported by the run); a name nobody provides is.
        """
        raw = dict(raw or {})
        problems = self.unknown_problems(raw)
        wanted = list(only) if only is not None else list(self.rules)
        problems += self.unknown_problems(wanted)
        configs: dict[str, RuleConfig] = {}
        for name in wanted:
            rule = self.rules.get(name)
            section = raw.get(name) or {}
            if not isinstance(section, Mapping):
                problems.append(f"rules.{name} must be a table")
                continue
            section = dict(section)
            enabled = section.pop("enabled", True)
            if not isinstance(enabled, bool):
                problems.append(f"rules.{name}.enabled must be true or false, not {enabled!r}")
                continue
            if rule is None or not enabled:
                continue
            config, sub = parse_config(rule.Config, section, f"rules.{name}")
            problems += sub
            if config is not None:
                configs[name] = config
        if problems:
            raise ConfigError(problems)
        return configs

    def tables(self, names: Iterable[str] | None = None, configs: Mapping[str, RuleConfig] | None = None
               ) -> dict[str, Any]:
        """The extra tables (name -> ``TableSpec``) the named rules declare (default: all), with
        those their ``config_tables`` derive from ``configs`` (e.g. watched models)."""
        out: dict[str, Any] = {}
        for name in (names if names is not None else self.rules):
            rule = self.rules.get(name)
            if rule is not None:
                out.update(rule.tables)
                if rule.config_tables is not None and configs and name in configs:
                    out.update({t.name: t for t in rule.config_tables(configs[name])})
        return out

    def accounts_for(self) -> dict[str, tuple[str, str]]:
        """Odoo model -> (rule, ``Finding.data`` key) of the loaded rules that account for its list."""
        return {model: (rule.name, key) for rule in self.rules.values() for model, key in rule.accounts_for.items()}

    def needs(self, names: Iterable[str] | None = None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """(required, optional): table -> extra fields, the union over the named rules.

        ``required`` goes to ``PullOptions.extra_fields`` and ``tables``;
        ``optional`` tables are worth pulling when the server lets us read them
        (rules treat a missing one as "unknown").
        """
        required: dict[str, set[str]] = {}
        optional: dict[str, set[str]] = {}
        for name in (names if names is not None else self.rules):
            rule = self.rules.get(name)
            if rule is None:
                continue
            for target, source in ((required, rule.needs), (optional, rule.optional_needs)):
                for table, fields in source.items():
                    table = DERIVED_TABLES.get(table, table)
                    target.setdefault(table, set()).update(fields)
        optional = {t: f for t, f in optional.items() if t not in required}
        return ({t: sorted(f) for t, f in required.items()}, {t: sorted(f) for t, f in optional.items()})


def discover() -> list[Any]:
    """The installed entry points of the ``clientcare.rules`` group (the one place that asks)."""
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def builtin_names() -> list[str]:
    """The rules ClientCare itself ships, as its own entry points declare them."""
    return sorted({ep.name for ep in discover() if ep.value.startswith(BUILTIN_PACKAGE + ".")})


def load_rules(entry_points: Iterable[Any] | None = None, *, strict: bool = False,
               enabled: Iterable[str] | None = None) -> Registry:
    """Load the rules of the ``clientcare.rules`` group (or the given entry points).

    ``enabled`` (the profile's ``rules_enabled``) names the installed rules to load; the
    others are not even imported, so an unrelated broken or new package cannot change a
    run.  A name in ``enabled`` that nothing provides is a load failure.
    """
    if entry_points is None:
        entry_points = discover()
    entry_points = _unique(entry_points)
    registry = Registry()
    if enabled is not None:
        enabled = list(enabled)
        provided = {ep.name for ep in entry_points}
        entry_points = [ep for ep in entry_points if ep.name in enabled]
        registry.failures += [LoadFailure(n, "", f"rule {n!r} is enabled but no installed package provides it"
                                          + _did_you_mean(n, sorted(provided)), "")
                              for n in sorted(set(enabled) - provided)]
    seen: dict[str, str] = {}
    for ep in sorted(entry_points, key=lambda e: (e.name, e.value)):
        where = f"{ep.value}" + (f" ({ep.dist.name} {ep.dist.version})" if getattr(ep, "dist", None) else "")
        if ep.name in seen:
            registry.failures.append(LoadFailure(
                ep.name, where, f"duplicate rule name: {seen[ep.name]} already provides {ep.name!r}", ""))
            continue
        try:
            obj = ep.load()
            rule = validate_rule(obj, expected_name=ep.name, origin=where)
        except RuleSpecError as exc:
            registry.failures.append(LoadFailure(ep.name, where, str(exc), traceback.format_exc()))
        except Exception as exc:  # noqa: BLE001 - any import error of a plugin is reported, not raised
            registry.failures.append(LoadFailure(ep.name, where, f"{type(exc).__name__}: {exc}",
                                                 traceback.format_exc()))
        else:
            clash = [t for t, spec in rule.tables.items() if registry.tables().get(t, spec) != spec]
            if not clash:
                registry.rules[rule.name] = rule
                seen[ep.name] = where
                continue
            registry.failures.append(LoadFailure(ep.name, where, f"declares table(s) {', '.join(clash)} "
                                                 f"differently from another rule", ""))
        seen[ep.name] = where
        # reported once, by the command that runs or lists the rules (not also by the log)
        log.debug("rule %s (%s) failed to load: %s", ep.name, where, registry.failures[-1].error)
    if strict and registry.failures:
        raise RuleSpecError(", ".join(f.name for f in registry.failures),
                            [f"{f.name}: {f.error}" for f in registry.failures])
    return registry


def _unique(entry_points: Iterable[Any]) -> list[Any]:
    """The same distribution can be visible twice (editable install + path); keep one."""
    out, keys = [], set()
    for ep in entry_points:
        key = (ep.name, ep.value)
        if key not in keys:
            keys.add(key)
            out.append(ep)
    return out


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_rule(name: str, known: list[str]) -> str:
    return f"rules.{name}: no such rule{_did_you_mean(name, known)}; installed: {', '.join(known) or 'none'}"
