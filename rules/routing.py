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
from typing import Any, Mapping

import pandas as pd

from clientcare.connector.errors import ConfigError
from clientcare.connector.snapshot import Snapshot

from .config import RuleConfig, parse_config
from .finding import Finding

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


def assign(findings: list[Finding], snapshot: Snapshot, routing: RoutingConfig) -> None:
    """Set ``responsible_user_id`` and ``routed_by`` on every finding (vectorised over findings)."""
    if not findings:
        return
    active = active_users(snapshot)
    n = len(findings)
    frame = pd.DataFrame({
        "client_id": pd.array([f.client_id for f in findings], dtype="Int64"),
        "project_id": pd.array([f.route.get("project_id") for f in findings], dtype="Int64"),
        "preset": pd.array([f.route.get("user_id") for f in findings], dtype="Int64"),
        "order": [tuple(f.route.get("order") or routing.order_for(f.rule)) for f in findings],
    })
    candidates: dict[str, pd.Series] = {
        "client_salesperson": _lookup(frame["client_id"], snapshot.tables.get("partners"), "user_id"),
        "project_manager": _lookup(frame["project_id"], snapshot.tables.get("projects"), "user_id"),
        "task_assignee": _first_active(findings, "task_user_ids", active),
        "invoice_salesperson": _first_active(findings, "invoice_user_ids", active),
    }
    default_user, default_how = fallback_user(snapshot, routing)
    candidates["default"] = pd.Series(pd.array([default_user] * n, dtype="Int64"))
    candidates = {k: v.where(v.isin(active)) for k, v in candidates.items()}
    preset = frame["preset"].where(frame["preset"].isin(active))

    user = preset.copy()
    how = pd.Series(["rule"] * n, dtype=object).where(preset.notna(), None)
    for order, idx in frame.groupby("order", sort=False).groups.items():
        for step in order:
            cand = candidates[step].loc[idx]
            take = user.loc[idx].isna() & cand.notna()
            hit = take[take].index
            user.loc[hit] = cand.loc[hit]
            how.loc[hit] = default_how if step == "default" else step
        rest = user.loc[idx].isna()
        hit = rest[rest].index
        if default_user is not None and len(hit):  # the chain always ends with someone
            user.loc[hit] = default_user
            how.loc[hit] = default_how
    if default_how == FALLBACK and (how == FALLBACK).any():
        log.warning("%d finding(s) no one owns go to user %s: set routing.default_user_id",
                    int((how == FALLBACK).sum()), default_user)
    for f, u, h in zip(findings, user.tolist(), how.tolist()):
        f.responsible_user_id = None if u is pd.NA else int(u)
        if h == "rule":
            h = f"rule: {f.route.get('why') or 'named by the rule'}"
        f.routed_by = h or "unrouted"


def _lookup(keys: pd.Series, table: pd.DataFrame | None, column: str) -> pd.Series:
    if table is None or column not in table:
        return pd.Series(pd.array([None] * len(keys), dtype="Int64"))
    mapping = table.drop_duplicates("id").set_index("id")[column]
    return keys.map(mapping).astype("Int64").reset_index(drop=True)


def _first_active(findings: list[Finding], hint: str, active: pd.Index) -> pd.Series:
    """Per finding, the first active user of its hint list (the rule lists the most relevant first)."""
    rows = [(i, u) for i, f in enumerate(findings) for u in (f.route.get(hint) or ())]
    out = pd.Series(pd.array([None] * len(findings), dtype="Int64"))
    if rows:
        long = pd.DataFrame(rows, columns=["i", "user"])
        long = long.loc[long["user"].isin(active)]
        first = long.drop_duplicates("i").set_index("i")["user"]
        out.loc[first.index] = first.to_numpy()
    return out
