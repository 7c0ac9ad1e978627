"""Test kit for rule authors (shipped): a registry of chosen rules, build or load a snapshot,
run a rule and look at its findings, without a server or the person's installed plugins."""
from __future__ import annotations

from datetime import date
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from clientcare.connector.snapshot import Snapshot

from .config import RuleConfig
from .context import RuleContext
from .registry import Registry, builtin_names, load_rules
from .runner import check_as_of
from .spec import validate_rule


def builtin_rules(*extra: str) -> Registry:
    """ClientCare's own rules (plus ``extra`` installed ones), whatever else is installed:
    a test's result must not change because someone installed a plugin."""
    return load_rules(enabled=[*builtin_names(), *extra])


def registry_of(names: Iterable[str]) -> Registry:
    """Exactly the named installed rules."""
    return load_rules(enabled=list(names))


def evaluate(rule: Any, snapshot: Snapshot, as_of: date | str, config: RuleConfig | None = None, *,
             previous: Iterable[Mapping[str, Any]] = (), unavailable: Mapping[str, str] | None = None):
    """Call one rule (a module or object fulfilling the spec) as the engine would, without
    routing or output checks: what its ``evaluate`` returns."""
    checked = validate_rule(rule)
    ctx = RuleContext(snapshot, check_as_of(as_of), config if config is not None else checked.default_config(),
                      tuple(previous), MappingProxyType(dict(unavailable or {})))
    return checked.evaluate(ctx)
