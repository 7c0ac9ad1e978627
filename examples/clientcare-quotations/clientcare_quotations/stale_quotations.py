"""stale_quotations: a quotation sent to a client and not answered (still "sent", neither
confirmed nor cancelled) for ``after_days`` days gets a follow-up activity for its
salesperson, on the quotation itself.

It speaks its reader's language from its own catalog (``locale/fr/LC_MESSAGES``): texts go
through a translator of its own domain, values (dates, amounts) stay typed so each language
formats them.  ``python -m clientcare.rules.catalogs update --domain=clientcare_quotations
--source=clientcare_quotations --locale-dir=clientcare_quotations/locale`` keeps it in step."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clientcare.rules import Action, Finding, RuleConfig, RuleContext, TableSpec, frames, i18n

T = i18n.translator("clientcare_quotations", Path(__file__).with_name("locale"))
_ = T.gettext

name = "stale_quotations"
version = "1.0"
description = "Quotations sent and not answered for some days: a follow-up activity on the quotation"
# sale.order is not one of ClientCare's tables: declare it, it is pulled like them
tables = [TableSpec("quotations", "sale.order", domain=(("state", "=", "sent"),),
                    fields=("name", "partner_id", "user_id", "date_order", "amount_total", "currency_id"))]
needs = {"quotations": []}

#: How the evidence reads in the activity's note: the quotation opens in Odoo, its amount shows
#: with its currency.
VIEW = i18n.EvidenceView(
    labels={"quotation": T.pgettext("evidence column", "quotation"),
            "date_order": T.pgettext("evidence column", "quotation date"),
            "amount_total": T.pgettext("evidence column", "amount")},
    money={"amount_total": "currency"}, links={"quotation": ("sale.order", "quotation_id")})


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
        summary = _("follow up quotation {quotation} sent to {client} on {date}",
                    quotation=q.name, client=frames.short(q.partner_id_name), date=day.date())
        out.append(Finding(
            rule=name, subject_model="sale.order", subject_id=int(q.id), subject_name=q.name,
            client_id=frames.opt_id(client), severity="low", summary=summary,
            evidence=[{"quotation_id": int(q.id), "quotation": q.name, "date_order": day.date(),
                       "amount_total": float(q.amount_total), "currency": q.currency_id_name}],
            action=Action("activity", summary, ctx.config.activity_type, due.date()),
            resolved_when=_("{quotation} is confirmed or cancelled", quotation=q.name),
            route={"user_id": frames.opt_id(q.user_id), "why": "the quotation's salesperson"}, view=VIEW))
    return out
