"""late_payment: overdue customer invoices per client and level, and chronic late payers.

One finding per client per escalation level lists that level's invoices, so a
call is about the client's whole situation, not one invoice at a time.
Levels are counted in days past the due date; grace days only delay the first
report.  Amounts still owed come from the residual (partial payments count),
after the client's open credit notes are applied to the oldest invoices; they
are shown in the invoice currency, totals in the company currency (the
``*_signed`` fields).  Disputed (``blocked``, 18+) and in-payment invoices are
not owed.  Due dates of the proposed activities come from the data (the day
the level was reached), so re-running the same day or the next changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from clientcare.rules import frames as F
from clientcare.rules.config import RuleConfig
from clientcare.rules.finding import ACTIVITY_TYPES, SEVERITIES, Action, Finding

name = "late_payment"
version = "1.0"
description = "Overdue customer invoices per client by escalation level, and chronic late payers"
needs = {"moves": [], "payments": []}

Severity = Literal["info", "low", "medium", "high", "critical"]
ActivityType = Literal["todo", "call", "email", "meeting"]
#: How each default level reads in an activity summary; other level names are used as they are.
VERBS = {"reminder": "send a payment reminder to", "call": "call",
         "manager": "manager: review the account of", "stop_work": "decide whether to stop work for"}


@dataclass(frozen=True)
class Config(RuleConfig):
    #: First day overdue of each level (ascending).
    levels: tuple[int, ...] = (1, 15, 30, 60)
    level_names: tuple[str, ...] = ("reminder", "call", "manager", "stop_work")
    severities: tuple[Severity, ...] = ("low", "medium", "high", "critical")
    activity_types: tuple[ActivityType, ...] = ("email", "call", "call", "todo")
    #: Nothing is reported until an invoice is more than this many days overdue.
    grace_days: int = 0
    #: A client's level is reported only when its amount owed (company currency) reaches this.
    min_amount: float = 0.0
    #: Apply the client's open credit notes to its oldest overdue invoices first.
    net_credit_notes: bool = True
    #: The manager who owns the findings from ``manager_from_level`` (1-based) on; else routing.
    manager_user_id: int | None = None
    manager_from_level: int = 3
    chronic: bool = True
    #: Chronic late payer: over invoices paid in the last ``chronic_window_days``, at least
    #: ``chronic_min_invoices`` of them, a share paid late and an average delay at or above these.
    chronic_window_days: int = 365
    chronic_min_invoices: int = 3
    chronic_min_share_late: float = 0.5
    chronic_min_avg_days_late: float = 7.0
    #: Paid within this many days after the due date still counts as on time.
    chronic_tolerance_days: int = 0

    def check(self) -> list[str]:
        out = []
        n = len(self.levels)
        if not n:
            out.append("levels must not be empty")
        if any(b <= a for a, b in zip(self.levels, self.levels[1:])) or any(d < 1 for d in self.levels):
            out.append(f"levels must be ascending days >= 1, not {list(self.levels)}")
        for label, seq in (("level_names", self.level_names), ("severities", self.severities),
                           ("activity_types", self.activity_types)):
            if len(seq) != n:
                out.append(f"{label} needs one entry per level ({n}), has {len(seq)}")
        if len(set(self.level_names)) != len(self.level_names):
            out.append("level_names must be distinct (they are part of the finding key)")
        bad = [s for s in self.severities if s not in SEVERITIES]
        bad += [a for a in self.activity_types if a not in ACTIVITY_TYPES]
        if bad:
            out.append(f"unknown severities or activity types: {bad}")
        for label in ("grace_days", "min_amount", "chronic_window_days", "chronic_min_invoices",
                      "chronic_tolerance_days", "chronic_min_avg_days_late"):
            if getattr(self, label) < 0:
                out.append(f"{label} must be >= 0")
        if not 0 <= self.chronic_min_share_late <= 1:
            out.append("chronic_min_share_late must be between 0 and 1")
        if not 1 <= self.manager_from_level <= max(n, 1):
            out.append(f"manager_from_level must be between 1 and {n}")
        return out


OVERDUE_COLUMNS = ["invoice", "invoice_id", "invoice_date", "due_date", "days_overdue", "currency",
                   "amount_total", "amount_due", "amount_due_company", "credit_applied", "company_currency",
                   "payment_state"]
CHRONIC_COLUMNS = ["invoice", "invoice_id", "due_date", "paid_date", "days_late", "currency", "amount_total"]


def evaluate(snapshot, as_of: date, config: Config) -> list[Finding]:
    out = _levels(snapshot, as_of, config)
    if config.chronic:
        out += _chronic(snapshot, as_of, config)
    return out


def _levels(snapshot, as_of: date, cfg: Config) -> list[Finding]:
    inv = F.overdue_invoices(snapshot, as_of, cfg.net_credit_notes)
    inv = inv.loc[(inv["days_overdue"] > cfg.grace_days) & (inv["days_overdue"] >= cfg.levels[0])
                  & (inv["net_company"] > 0)]
    if not len(inv):
        return []
    levels = np.asarray(cfg.levels)
    inv = inv.assign(level=np.searchsorted(levels, inv["days_overdue"].to_numpy(), side="right") - 1)
    # The minimum amount applies per client, level and company (each in its own currency).
    totals = inv.groupby(["client_id", "level", "company_id"])["net_company"].transform("sum")
    inv = inv.loc[totals >= cfg.min_amount - 1e-9]
    if not len(inv):
        return []
    inv = inv.assign(group=inv.groupby(["client_id", "level"], sort=False).ngroup())
    inv = inv.sort_values(["group", "due", "id"], kind="stable")
    groups = inv.groupby("group").agg(client_id=("client_id", "first"), level=("level", "first"),
                                      n=("id", "size"), first_due=("due", "min"),
                                      max_days=("days_overdue", "max"))
    money = inv.groupby(["group", "company_currency_id_name"])["net_company"].sum().round(2).reset_index()
    money["text"] = [f"{v:,.2f} {c}" for v, c in zip(money["net_company"], money["company_currency_id_name"])]
    money_text = F.grouped_lists(money, "group", "text")
    totals = F.grouped_lists(money.assign(pair=list(zip(money["company_currency_id_name"],
                                                        money["net_company"]))), "group", "pair")
    salespeople = F.ranked_users(inv, "group", "invoice_user_id")
    ids = F.grouped_lists(inv, "group", "id")
    evidence = F.grouped_records(
        inv.assign(invoice=F.invoice_names(snapshot, inv["id"]), invoice_id=inv["id"], due_date=inv["due"],
                   currency=inv["currency_id_name"], amount_due=inv["net_residual"],
                   amount_due_company=inv["net_company"], company_currency=inv["company_currency_id_name"]),
        "group", OVERDUE_COLUMNS)
    client_names = F.names(snapshot.partners, groups["client_id"]).tolist()
    first_due = groups["first_due"].dt.date.tolist()
    findings = []
    for g, cid, lvl, n, due0, max_days, cname in zip(
            groups.index.tolist(), groups["client_id"].tolist(), groups["level"].tolist(),
            groups["n"].tolist(), first_due, groups["max_days"].tolist(), client_names):
        level_name, threshold = cfg.level_names[lvl], cfg.levels[lvl]
        cname = cname if isinstance(cname, str) else f"partner {cid}"
        verb = VERBS.get(level_name, f"{level_name}:")
        upper = cfg.levels[lvl + 1] - 1 if lvl + 1 < len(cfg.levels) else None
        band = f"{threshold}+" if upper is None else f"{threshold}–{upper}"
        route = {"invoice_user_ids": salespeople.get(g, [])}
        if cfg.manager_user_id is not None and lvl + 1 >= cfg.manager_from_level:
            route.update(user_id=cfg.manager_user_id, why="late_payment.manager_user_id")
        summary = (f"{verb} {cname}: {_plural(n, 'invoice')} {threshold}+ days overdue "
                   f"({' + '.join(money_text[g])})")
        findings.append(Finding(
            rule=name, subject_model="res.partner", subject_id=cid, subject_name=cname,
            client_id=cid, severity=cfg.severities[lvl], level=level_name,
            summary=summary, evidence=evidence[g], evidence_columns=OVERDUE_COLUMNS,
            action=Action("activity", summary, cfg.activity_types[lvl],
                          due0 + timedelta(days=max(threshold, cfg.grace_days + 1))),
            resolved_when=f"no invoice of {cname} is {band} days overdue any more "
                          f"(paid, credited, disputed or moved to the next level)",
            data={"level": lvl + 1, "days": threshold, "totals_company_currency": dict(totals[g]),
                  "invoice_ids": ids[g], "max_days_overdue": max_days},
            route=route))
    return findings


def _chronic(snapshot, as_of: date, cfg: Config) -> list[Finding]:
    paid = F.settled_invoices(snapshot)
    today = F.day(as_of)
    paid = paid.loc[(paid["paid_date"] <= today)
                    & (paid["paid_date"] > today - pd.Timedelta(days=cfg.chronic_window_days))]
    if not len(paid):
        return []
    late = paid["days_late"] > cfg.chronic_tolerance_days
    paid = paid.assign(late=late, delay=paid["days_late"].clip(lower=0))
    stats = paid.groupby("client_id").agg(n=("id", "size"), n_late=("late", "sum"),
                                          avg_delay=("delay", "mean"))
    last_late = paid.loc[paid["late"]].groupby("client_id")["paid_date"].max()
    stats = stats.assign(share=stats["n_late"] / stats["n"], last_late=last_late)
    flagged = stats.loc[(stats["n"] >= cfg.chronic_min_invoices)
                        & (stats["share"] >= cfg.chronic_min_share_late - 1e-9)
                        & (stats["avg_delay"] >= cfg.chronic_min_avg_days_late - 1e-9)
                        & stats["last_late"].notna()]
    if not len(flagged):
        return []
    rows = paid.loc[paid["client_id"].isin(flagged.index)].sort_values(["client_id", "paid_date", "id"])
    salespeople = F.ranked_users(rows, "client_id", "invoice_user_id")
    evidence = F.grouped_records(
        rows.assign(invoice=F.invoice_names(snapshot, rows["id"]), invoice_id=rows["id"], due_date=rows["due"],
                    currency=rows["currency_id_name"], days_late=rows["days_late"].astype("int64")),
        "client_id", CHRONIC_COLUMNS)
    client_names = F.names(snapshot.partners, flagged.index.to_series()).tolist()
    findings = []
    for cid, n, n_late, share, avg, last, cname in zip(
            flagged.index.tolist(), flagged["n"].tolist(), flagged["n_late"].tolist(),
            flagged["share"].tolist(), flagged["avg_delay"].tolist(), flagged["last_late"].dt.date.tolist(),
            client_names):
        cname = cname if isinstance(cname, str) else f"partner {cid}"
        summary = (f"review payment terms with {cname}: {int(n_late)} of {_plural(n, 'invoice')} "
                   f"paid late, {avg:.0f} days late on average")
        findings.append(Finding(
            rule=name, subject_model="res.partner", subject_id=cid, subject_name=cname, client_id=cid,
            severity="medium", level="chronic", summary=summary, evidence=evidence[cid],
            evidence_columns=CHRONIC_COLUMNS, action=Action("activity", summary, "todo", last),
            resolved_when=(f"{cname} pays on time often enough: under {cfg.chronic_min_share_late:.0%} "
                           f"late or under {cfg.chronic_min_avg_days_late:g} days late on average over "
                           f"{cfg.chronic_window_days} days"),
            data={"invoices": int(n), "paid_late": int(n_late), "share_late": round(share, 3),
                  "avg_days_late": round(avg, 1), "window_days": cfg.chronic_window_days},
            route={"invoice_user_ids": salespeople.get(cid, [])}))
    return findings


def _plural(n, word: str) -> str:
    n = int(n)
    return f"{n} {word}" if n == 1 else f"{n} {word}s"

