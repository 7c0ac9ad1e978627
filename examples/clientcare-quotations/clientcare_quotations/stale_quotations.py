"""stale_quotations: a quotation sent to a client and not answered (still "sent", neither
confirmed nor cancelled) for ``after_days`` days gets a follow-up activity for its
salesperson, on the quotation itself."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from clientcare.rules import Action, Finding, RuleConfig, RuleContext, TableSpec, frames

name = "stale_quotations"
version = "1.0"
description = "Quotations sent and not answered for some days: a follow-up activity on the quotation"
# sale.order is not one of ClientCare's tables: declare it, it is pulled like them
tables = [TableSpec("quotations", "sale.order", domain=(("state", "=", "sent"),),
                    fields=("name", "partner_id", "user_id", "date_order", "amount_total", "currency_id"))]
needs = {"quotations": []}


@dataclass(frozen=True)
class Config(RuleConfig):
    after_days: int = 14                  # days after the quotation date
    activity_type: str = "call"

    def check(self):
        return [] if self.after_days >= 1 else ["after_days must be at least 1"]


def evaluate(ctx: RuleContext[Config]) -> list[Finding]:
    quotes = ctx.snapshot.table("quotations")
    dated = frames.to_day(quotes["date_order"])
    # the activity is due when the quotation went stale: a date from the data, never the run day
    stale_on = dated + pd.Timedelta(days=ctx.config.after_days)
    late = stale_on <= pd.Timestamp(ctx.as_of)
    quotes, dated, stale_on = quotes.loc[late], dated.loc[late], stale_on.loc[late]
    clients = ctx.snapshot.commercial_of(quotes["partner_id"])
    out = []
    for q, day, due, client in zip(quotes.itertuples(), dated, stale_on, clients):
        summary = f"follow up quotation {q.name} sent to {frames.short(q.partner_id_name)} on {day:%Y-%m-%d}"
        out.append(Finding(
            rule=name, subject_model="sale.order", subject_id=int(q.id), subject_name=q.name,
            client_id=frames.opt_id(client), severity="low", summary=summary,
            evidence=[{"quotation_id": int(q.id), "quotation": q.name, "date_order": f"{day:%Y-%m-%d}",
                       "amount_total": float(q.amount_total), "currency": q.currency_id_name}],
            action=Action("activity", summary, ctx.config.activity_type, due.date()),
            resolved_when=f"{q.name} is confirmed or cancelled",
            route={"user_id": frames.opt_id(q.user_id), "why": "the quotation's salesperson"}))
    return out
