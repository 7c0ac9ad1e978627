"""Who owns a finding: the routing chain, resolved for all findings at once.

Default chain: the client's salesperson → the project manager → the task
assignees → the invoice salesperson → the default user.  The profile's
``[routing]`` table can reorder or shorten it, globally or per rule; a rule
can also name the user itself (e.g. a configured escalation manager), which
wins when that user is active.  Inactive or unknown users are skipped, so a
departed salesperson never receives work.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller
from typing import Any, Mapping

import numpy as np
import pandas as pd

from clientcare.connector.errors import ConfigError
from clientcare.connector.snapshot import Snapshot

from .config import RuleConfig, parse_config
from .finding import Finding
from .finding_table import FindingTable

log = logging.getLogger(__name__)

FALLBACK = "fallback (lowest-id active user; set routing.default_user_id)"
STEPS = ("client_salesperson", "project_manager", "task_assignee", "invoice_salesperson", "default")
DEFAULT_ORDER = STEPS


@dataclass(frozen=True)
class RuleRouting(RuleConfig):
    order: tuple[str, ...] = DEFAULT_ORDER

    def check(self) -> list[str]:
        return _order_problems(self.order)


@dataclass(frozen=True)
class RoutingConfig(RuleConfig):
    """The profile's ``[routing]`` table."""

    order: tuple[str, ...] = DEFAULT_ORDER
    default_user_id: int | None = None
    rules: dict[str, RuleRouting] = field(default_factory=dict)

    def check(self) -> list[str]:
        return _order_problems(self.order)

    def order_for(self, rule: str) -> tuple[str, ...]:
        return self.rules[rule].order if rule in self.rules else self.order

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None, default_user_id: int | None = None) -> "RoutingConfig":
        raw = dict(raw or {})
        if default_user_id is not None:
            raw.setdefault("default_user_id", default_user_id)
        config, problems = parse_config(cls, raw, "routing")
        if problems:
            raise ConfigError(problems)
        return config


def _order_problems(order: tuple[str, ...]) -> list[str]:
    bad = [s for s in order if s not in STEPS]
    out = [f"unknown routing step(s) {', '.join(map(repr, bad))}; steps: {', '.join(STEPS)}"] if bad else []
    if len(set(order)) != len(order):
        out.append("a routing step is listed twice")
    return out


def active_users(snapshot: Snapshot) -> pd.Index:
    users = snapshot.tables.get("users")
    if users is None or not len(users):
        return pd.Index([], dtype="int64")
    keep = users["active"].astype(bool)
    if "login" in users:
        keep &= users["login"].fillna("") != "__system__"
    return pd.Index(users.loc[keep, "id"].astype("int64"))


def fallback_user(snapshot: Snapshot, routing: RoutingConfig) -> tuple[int | None, str]:
    """The last resort: the configured default user if active, else the lowest-id active user."""
    active = active_users(snapshot)
    if routing.default_user_id is not None:
        if routing.default_user_id in active:
            return routing.default_user_id, "default"
        log.warning("routing.default_user_id %s is not an active internal user of this database",
                    routing.default_user_id)
    if len(active):
        return int(active.min()), FALLBACK
    return None, "unrouted"


def assign(findings: FindingTable | list[Finding], snapshot: Snapshot, routing: RoutingConfig) -> None:
    """Set the ``responsible_user_id`` and ``routed_by`` columns of ``findings`` (array work; a
    list of Finding is set finding by finding).

    Each step is looked up only for the findings no earlier step resolved, so the usual
    case (the client has an active salesperson) costs one lookup.  A ``route`` the same for
    every finding of the table (or none) is read once; a column of them, once per finding.
    """
    if isinstance(findings, list):
        table = FindingTable.from_findings(findings)
        assign(table, snapshot, routing)
        for f, user, how in zip(findings, table.column("responsible_user_id").tolist(),
                                table.column("routed_by").tolist()):
            f.responsible_user_id, f.routed_by = user, how
        return
    n = len(findings)
    if not n:
        return
    active = active_users(snapshot).to_numpy()
    default_user, default_how = fallback_user(snapshot, routing)
    tables = snapshot.tables
    shared, route = findings.constant("route")
    routes = None if shared else findings.column("route")

    def hint(key: str, idx: np.ndarray) -> list:
        if shared:
            return [route.get(key)] * len(idx)
        return list(map(methodcaller("get", key), (routes if len(idx) == n else routes[idx]).tolist()))

    def candidates(step: str, idx: np.ndarray) -> np.ndarray:
        if step == "client_salesperson":
            found = _lookup(_ids(findings.column("client_id")[idx]), tables.get("partners"))
        elif step == "project_manager":
            found = _lookup(_ids(hint("project_id", idx)), tables.get("projects"))
        elif step in ("task_assignee", "invoice_salesperson"):
            key = "task_user_ids" if step == "task_assignee" else "invoice_user_ids"
            found = _first_active([ids or () for ids in hint(key, idx)], active)
        else:
            found = np.full(len(idx), np.nan if default_user is None else float(default_user))
        return np.where(np.isin(found, active), found, np.nan)

    everyone = np.arange(n)
    preset = _ids(hint("user_id", everyone))
    user = np.where(np.isin(preset, active), preset, np.nan)
    how = np.where(np.isnan(user), None, "rule").astype(object)
    rule_code, rules = pd.factorize(findings.column("rule"))
    configured = [tuple(routing.order_for(rule)) for rule in rules.tolist()]
    codes: dict[tuple, int] = {}
    if shared:  # one chain per rule
        order_code = np.array([codes.setdefault(_order(route, c), len(codes)) for c in configured],
                              dtype=np.int64)[rule_code]
    else:  # one chain per rule, but for the findings whose route names its own
        by_rule = np.array([codes.setdefault(c, len(codes)) for c in configured], dtype=np.int64)
        order_code = by_rule[rule_code]
        for i, r in enumerate(routes.tolist()):
            if "order" in r or "first" in r:
                order_code[i] = codes.setdefault(_order(r, configured[rule_code[i]]), len(codes))
    for order, code in codes.items():
        for step in order + ("default",):  # the chain always ends with someone
            idx = np.flatnonzero((order_code == code) & np.isnan(user))
            if not len(idx):
                break
            found = candidates(step, idx)
            hit = ~np.isnan(found)
            user[idx[hit]] = found[hit]
            how[idx[hit]] = default_how if step == "default" else step
    fell_back = how == FALLBACK
    if fell_back.any():
        log.warning("%d finding(s) no one owns go to user %s: set routing.default_user_id",
                    int(fell_back.sum()), default_user)
    by_rule = np.flatnonzero(how == "rule")
    how[by_rule] = [f"rule: {why or 'named by the rule'}" for why in hint("why", by_rule)]
    how[how == None] = "unrouted"  # noqa: E711 - elementwise
    owned = ~np.isnan(user)
    if owned.all():
        findings.set("responsible_user_id", user.astype(np.int64))
    else:
        owner = np.full(n, None, dtype=object)
        owner[owned] = user[owned].astype(np.int64)
        findings.set("responsible_user_id", owner)
    findings.set("routed_by", how)


def _order(route: Mapping[str, Any], configured: tuple[str, ...]) -> tuple[str, ...]:
    """A finding's chain: its own ``order``, or the configured one with its ``first`` step first."""
    if route.get("order"):
        return tuple(route["order"])
    first = route.get("first")
    return (first, *(s for s in configured if s != first)) if first else configured


def _ids(values: list) -> np.ndarray:
    """Optional ids as floats (NaN for none): user and record ids fit exactly."""
    try:
        return np.array(values, dtype="float64")  # ints and None (NaN) in one C pass
    except (TypeError, ValueError):
        return np.array([np.nan if v is None or v is pd.NA or v != v else v for v in values], dtype="float64")


def _lookup(keys: np.ndarray, table: pd.DataFrame | None, column: str = "user_id") -> np.ndarray:
    if table is None or column not in table or not len(table):
        return np.full(len(keys), np.nan)
    unique = table.drop_duplicates("id")
    index = pd.Index(unique["id"].to_numpy(dtype="float64"))
    values = unique[column].to_numpy(dtype="float64", na_value=np.nan)
    pos = index.get_indexer(keys)
    return np.where(pos >= 0, values[pos], np.nan)


def _first_active(lists: list, active: np.ndarray) -> np.ndarray:
    """Per finding, the first active user of its hint list (rules list the most relevant first)."""
    out = np.full(len(lists), np.nan)
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    if not lengths.sum():
        return out
    owner = np.repeat(np.arange(len(lists)), lengths)
    users = np.fromiter(chain.from_iterable(lists), dtype="float64", count=int(lengths.sum()))
    keep = np.isin(users, active)
    owner, users = owner[keep], users[keep]
    first_owner, first_pos = np.unique(owner, return_index=True)
    out[first_owner] = users[first_pos]
    return out
