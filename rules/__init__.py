"""ClientCare rules: the plugin API, the registry and the engine.

A third-party rule is a module registered under the ``clientcare.rules``
entry-point group (see :mod:`clientcare.rules.spec`); the built-in rules in
:mod:`clientcare.rules.builtin` are registered exactly the same way.
"""
from clientcare.connector.schema import TableSpec

from .config import RuleConfig, parse_config
from .finding import SEVERITIES, Action, Finding, NotJudged, NotRaised, Resolved, Rows, RuleOutput
from .registry import LoadFailure, Registry, load_rules
from .routing import STEPS as ROUTING_STEPS, RoutingConfig
from .context import RuleContext
from .engine import RunResult, run_rules
from .scripts import Script
from .spec import ENTRY_POINT_GROUP, ReportChart, Rule, RuleSpec, RuleSpecError, validate_rule
from .working_time import WorkCalendar, WorkingTime, WorkingTimeConfig

__all__ = [
    "ENTRY_POINT_GROUP", "SEVERITIES", "Action", "Finding", "LoadFailure", "NotJudged", "NotRaised", "Registry",
    "Resolved", "Rule", "RuleContext", "RuleOutput",
    "ROUTING_STEPS", "ReportChart", "RuleConfig", "RuleSpec", "RuleSpecError", "Script", "TableSpec", "RoutingConfig", "Rows", "RunResult", "load_rules",
    "parse_config", "run_rules", "validate_rule", "WorkCalendar", "WorkingTime", "WorkingTimeConfig",
]
