"""late_payment: overdue customer invoices per client and level, and chronic late payers.

One finding per client per escalation level lists that level's invoices, so a
call is about the client's whole situation, not one invoice at a time.
Levels are counted in days past the due date; grace days only delay the first
report.  Amounts still owed come from the residual (partial payments count).
Open credit notes are never netted in silence: a ``credit_match`` finding asks
to match them; the chase shows what they leave owed, applied to the newest
invoices first so the oldest overdue invoice (the real age) stays visible.
Every overdue invoice Odoo lists is either in a finding or in a ``NotRaised``
with its reason.  Amounts are shown in the invoice currency, totals in the
company currency (the ``*_signed`` fields).  In-payment invoices are not owed.  Accounting decides
what is chased: an invoice it excluded from follow-up (the receivable line's "No Follow-up", the
invoice's ``no_followup``, a disputed payment state: :func:`facts.followup_excluded`) is in no
payment finding but in a ``NotRaised`` with that reason; when the flags could not be read, that
is said (``NotJudged``) and nothing is closed.  An earlier finding no longer found says what
happened to each of its invoices (paid on, cancelled, excluded, now at another level...): the
write-back closes its activity with that.  Due dates of the proposed activities come from the
data (the day the level was reached), so re-running the same day or the next changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from clientcare.rules import ReportChart, Script, frames as F
from clientcare.rules.config import RuleConfig
from clientcare.rules.context import RuleContext
from clientcare.connector import facts
from clientcare.connector.facts import ACTIVITY_TYPES, SEVERITIES, ActivityType, Severity
from clientcare.rules.finding import Action, Finding, NotJudged, NotRaised, Resolved, RuleOutput

name = "late_payment"
version = "1.0"
description = "Overdue customer invoices per client by escalation level, and chronic late payers"
needs = {"moves": [], "payments": []}
#: Which invoices accounting excluded from follow-up; without it that is said, not guessed.
optional_needs = {"followup_exclusions": []}
#: Every overdue invoice Odoo lists is in a finding's data["invoice_ids"] or a NotRaised.
accounts_for = {"account.move": "invoice_ids"}

#: How each default level reads in an activity summary; other level names are used as they are.
VERBS = {"reminder": "send a payment reminder to", "call": "call",
         "manager": "manager: review the account of", "stop_work": "decide whether to stop work for"}


_INVOICES = {"invoices": "evidence.invoice", "oldest_due": "data.oldest_due"}
#: Talking points per level (by its name: a renamed level needs its own script) and kind.
scripts = {
    "reminder": Script(("Check that {invoices} reached the right person at {client} (address, PO number).",
                        "Remind them kindly of the due date ({oldest_due}) and of how to pay.",
                        "Ask whether anything in the delivered work holds the payment up."), _INVOICES),
    "call": Script(("Confirm that {invoices} reached the right person at {client}.",
                    "Ask whether anything in the delivered work holds the payment up; if so, fix that first.",
                    "Agree a payment date and note it in Odoo."), _INVOICES),
    "manager": Script(("Before calling, review {client} with the salesperson: {invoices}, overdue since "
                       "{oldest_due}.",
                       "Call the person who approves payments: is anything disputed? Agree a date or a payment "
                       "plan and note it.",
                       "Decide whether new work waits for the payment."), _INVOICES),
    "stop_work": Script(("Decide with the project manager whether work for {client} pauses ({invoices} unpaid "
                         "since {oldest_due}).",
                         "Tell the client yourself, before anything stops, what is owed and what restarts the work.",
                         "Note the decision and the agreed date in Odoo."), _INVOICES),
    "credit_match": Script(("Match the open credit notes of {client} with its overdue invoices in Odoo ({moves}).",
                            "If the client expects a refund instead, confirm it with them first."),
                           {"moves": "evidence.move"}),
    "chronic": Script(("Review payment terms with {client}: {paid_late} of {invoices} invoices paid late, "
                       "{avg_days_late} days late on average.",
                       "Ask what gets in the way (approvals, who receives the invoices, PO numbers).",
                       "Agree terms that fit (deposit, smaller milestones, direct debit) and note them."),
                      {"paid_late": "data.paid_late", "invoices": "data.invoices", "avg_days_late": "data.avg_days_late"}),
}


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
    #: Chase only what open credit notes leave owed (applied newest invoice first); either way a
    #: ``credit_match`` finding asks to match them, and a fully covered invoice is not chased.
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


AGE_BUCKETS = [(1, 15, "1–15 days"), (16, 30, "16–30 days"), (31, 60, "31–60 days"),
               (61, 90, "61–90 days"), (91, 10**6, "over 90 days")]


def overdue_by_age(snapshot, as_of: date, client_ids: set[int] | None = None,
                   not_raised: list = ()) -> list[tuple[str, float]]:
    """Overdue receivables still owed after open credit notes, in company currency, by how late
    they are (every overdue invoice: the chart shows the debt, not only what is chased)."""
    inv = F.overdue_invoices(snapshot, as_of)
    if client_ids is not None:
        inv = inv.loc[inv["client_id"].isin(client_ids)]
    days, amount = inv["days_overdue"], inv["net_company"]
    return [(label, float(amount[(days >= lo) & (days <= hi)].sum())) for lo, hi, label in AGE_BUCKETS]


charts = (ReportChart("Overdue receivables by age, after open credit notes (company currency)",
                      bars=overdue_by_age, tone="scale", noun="rows"),)


OVERDUE_COLUMNS = ["invoice", "invoice_id", "invoice_date", "due_date", "days_overdue", "currency",
                   "amount_total", "amount_due", "amount_due_company", "credit_applied", "company_currency",
                   "payment_state"]
CREDIT_COLUMNS = ["kind", "move", "move_id", "date", "currency", "amount_open_company", "credit_applied",
                  "company_currency"]
CHRONIC_COLUMNS = ["invoice", "invoice_id", "due_date", "paid_date", "days_late", "currency", "amount_total"]


def evaluate(ctx: RuleContext[Config]) -> RuleOutput:
    snapshot, as_of, config = ctx.snapshot, ctx.as_of, ctx.config
    out = RuleOutput()
    unknown = F.followup_exclusions_unknown(snapshot)
    if unknown:
        out.not_judged.append(NotJudged(name, f"{name}:*", f"{unknown}: an invoice accounting excluded "
                                                           f"from follow-up may be chased"))
    out.not_raised += _excluded(snapshot, as_of)
    inv = F.overdue_invoices(snapshot, as_of)
    inv = inv.loc[inv["followup_excluded"].isna()]
    _levels(snapshot, inv, config, out)
    out.findings += _credit_matches(snapshot, inv)
    if config.chronic:
        if "payments" in snapshot.tables:
            out.findings += _chronic(snapshot, as_of, config)
        else:
            out.not_judged.append(NotJudged(name, f"{name}:*:chronic", "payment dates were not pulled"))
    out.resolved += _closings(ctx, out)
    return out


def _excluded(snapshot, as_of: date) -> list[NotRaised]:
    """Past-due invoices accounting took out of follow-up, each with the reason: not chased,
    still listed (an overdue one is in Odoo's list; a disputed one a person may look for)."""
    inv = F.invoices(snapshot)
    left = inv.loc[inv["is_invoice"] & ~inv["settled"] & inv["followup_excluded"].notna().to_numpy(dtype=bool)
                   & (inv["due"] < F.day(as_of))]
    return [NotRaised(name, "account.move", int(i), F.opt_id(c), str(r)) for i, c, r in zip(
        left["id"].tolist(), left["client_id"].tolist(), left["followup_excluded"].tolist())]


def _closings(ctx: RuleContext[Config], out: RuleOutput) -> list[Resolved]:
    """What happened to each invoice of a previous level finding no longer found: the write-back
    closes its activity with this instead of a bare "no longer finds this"."""
    current = {f.key for f in out.findings}
    gone = [p for p in ctx.previous if p.get("key") not in current and "days" in (p.get("data") or {})
            and (p.get("data") or {}).get("invoice_ids")]
    if not any(p.get("key") not in current for p in ctx.previous):
        return []
    snapshot, today = ctx.snapshot, F.day(ctx.as_of)
    now_at = {i: f.level for f in out.findings if "days" in f.data for i in f.data.get("invoice_ids", ())}
    not_raised = {n.res_id: n.reason for n in out.not_raised if n.model == "account.move"}
    moves = snapshot.tables.get("moves")
    move_state = F.by_id(moves, "state") if moves is not None else {}
    posted = F.invoices(snapshot).drop_duplicates("id").set_index("id")

    def fate(i: int) -> str:
        if i not in move_state:
            return "no longer in Odoo"
        if move_state[i] == facts.CANCELLED_MOVE_STATE:
            return "cancelled"
        if move_state[i] == facts.DRAFT_MOVE_STATE:
            return "reset to draft"
        row = posted.loc[i]
        if not pd.isna(row["followup_excluded"]):
            return str(row["followup_excluded"])
        if row["settled"]:
            how = "paid" if pd.isna(row["credited_by"]) else f"credited by {row['credited_by']}"
            return f"{how} on {row['paid_date']:%Y-%m-%d}" if not pd.isna(row["paid_date"]) else how
        if row["payment_state"] == facts.REVERSED_STATE:
            return "credited (reversed by a credit note)"
        if i in now_at:
            return f"now at level {now_at[i]}"
        if i in not_raised:
            return not_raised[i]
        if row["owed"] and not pd.isna(row["due"]) and row["due"] >= today:
            return f"no longer overdue (due {row['due']:%Y-%m-%d})"
        return f"no longer owed (payment state {row['payment_state']})" if not row["owed"] \
            else "no longer overdue at this level"

    resolved = _other_closings(ctx, current, fate)
    for prev in gone:
        names = {r.get("invoice_id"): r.get("invoice") for r in prev.get("evidence") or () if isinstance(r, dict)}
        by_fate: dict[str, list[str]] = {}
        for i in prev["data"]["invoice_ids"]:
            by_fate.setdefault(fate(int(i)), []).append(str(names.get(i) or f"invoice {i}"))
        how = "; ".join(f"{', '.join(invoices)} {what}" for what, invoices in by_fate.items())
        resolved.append(Resolved(name, prev["key"], how))
    return resolved


def _other_closings(ctx: RuleContext[Config], current: set[str], fate) -> list[Resolved]:
    """Why a previous ``credit_match`` or ``chronic`` finding is gone: the credit notes were
    matched (or the invoices they covered went, each with its fate), or the payment record no
    longer meets the chronic thresholds."""
    out = []
    open_credit = set(F.open_credits(ctx.snapshot)["id"].tolist())
    for prev in ctx.previous:
        data = prev.get("data") or {}
        if prev.get("key") in current or prev.get("level") not in ("credit_match", "chronic"):
            continue
        if prev.get("level") == "chronic":
            out.append(Resolved(name, prev["key"], "no longer a chronic late payer: its invoices paid in the "
                                                    f"last {ctx.config.chronic_window_days} days are below the "
                                                    "thresholds (share paid late, average delay)"))
            continue
        names = {r.get("move_id") or r.get("invoice_id"): r.get("move") or r.get("invoice")
                 for r in prev.get("evidence") or () if isinstance(r, dict)}
        matched = [str(names.get(i) or f"credit note {i}") for i in data.get("credit_note_ids", ())
                   if int(i) not in open_credit]
        parts = [f"{', '.join(matched)} matched or used"] if matched else []
        by_fate: dict[str, list[str]] = {}
        for i in data.get("invoice_ids", ()):
            what = fate(int(i))
            if not what.startswith("now at level"):
                by_fate.setdefault(what, []).append(str(names.get(i) or f"invoice {i}"))
        parts += [f"{', '.join(invoices)} {what}" for what, invoices in by_fate.items()]
        out.append(Resolved(name, prev["key"], "; ".join(parts) or "no open credit note covers an overdue "
                                                                   "invoice of this client any more"))
    return out


def _levels(snapshot, inv: pd.DataFrame, cfg: Config, out: RuleOutput) -> None:
    """Chase what is still owed per client and level; every overdue invoice left out goes to
    ``out.not_raised`` with its reason."""
    if not cfg.net_credit_notes:
        inv = inv.assign(net_company=inv["amount_company"], net_residual=inv["amount_residual"], credit_applied=0.0)
    levels = np.asarray(cfg.levels)
    inv = inv.assign(level=np.searchsorted(levels, inv["days_overdue"].to_numpy(), side="right") - 1)
    due = inv["due"].dt.strftime("%Y-%m-%d")
    credits = F.open_credits(snapshot)
    named = credits.assign(name=F.invoice_names(snapshot, credits["id"]).astype(str))
    rank = named.groupby(["client_id", "company_id"]).cumcount()
    listed = named.loc[rank < 5].groupby(["client_id", "company_id"])["name"].agg(", ".join)
    more = (rank >= 5).groupby([named["client_id"], named["company_id"]]).any().reindex(listed.index)
    listed = listed + np.where(more.fillna(False), ", ...", "")
    keys = pd.MultiIndex.from_arrays([inv["client_id"], inv["company_id"]])
    covered = ("covered by open credit note(s) " + pd.Series(listed.reindex(keys).to_numpy(), index=inv.index)
               .fillna("?") + ": match them in Odoo")
    why = pd.Series(None, index=inv.index, dtype=object)
    for mask, text in reversed([
            (inv["net_company"] <= 0, covered),
            (inv["days_overdue"] <= cfg.grace_days, "due " + due + f", within grace_days ({cfg.grace_days})"),
            (inv["level"] < 0, "due " + due + f", not yet at the first level ({cfg.levels[0]} days overdue)")]):
        why = why.mask(mask.to_numpy(dtype=bool), text)
    # The minimum amount applies per client, level and company (each in its own currency).
    chased = inv["net_company"].where(why.isna(), 0.0)
    totals = chased.groupby([inv["client_id"], inv["level"], inv["company_id"]]).transform("sum")
    small = (why.isna() & (totals < cfg.min_amount - 1e-9)).to_numpy(dtype=bool)
    why[small] = [f"the client's total at this level ({t:,.2f} {c}) is under min_amount ({cfg.min_amount:g})"
                  for t, c in zip(totals[small].tolist(), inv.loc[small, "company_currency_id_name"].tolist())]
    left = inv.loc[why.notna()]
    out.not_raised += [NotRaised(name, "account.move", int(i), F.opt_id(c), r) for i, c, r in zip(
        left["id"].tolist(), left["client_id"].tolist(), why.loc[why.notna()].tolist())]
    inv = inv.loc[why.isna()]
    if not len(inv):
        return
    inv = inv.assign(group=inv.groupby(["client_id", "level"], sort=False).ngroup())
    inv = inv.sort_values(["group", "due", "id"], kind="stable")
    groups = inv.groupby("group").agg(client_id=("client_id", "first"), level=("level", "first"),
                                      n=("id", "size"), first_due=("due", "min"))
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
    for g, cid, lvl, n, due0, cname in zip(
            groups.index.tolist(), groups["client_id"].tolist(), groups["level"].tolist(),
            groups["n"].tolist(), first_due, client_names):
        level_name, threshold = cfg.level_names[lvl], cfg.levels[lvl]
        cname = cname if isinstance(cname, str) else f"partner {cid}"
        verb = VERBS.get(level_name, f"{level_name}:")
        upper = cfg.levels[lvl + 1] - 1 if lvl + 1 < len(cfg.levels) else None
        band = f"{threshold}+" if upper is None else f"{threshold}–{upper}"
        route = {"invoice_user_ids": salespeople.get(g, [])}
        if cfg.manager_user_id is not None and lvl + 1 >= cfg.manager_from_level:
            route.update(user_id=cfg.manager_user_id, why="late_payment.manager_user_id")
        summary = (f"{verb} {F.short(cname)}: {_plural(n, 'invoice')} {threshold}+ days overdue "
                   f"({' + '.join(money_text[g])})")
        out.findings.append(Finding(
            rule=name, subject_model="res.partner", subject_id=cid, subject_name=cname,
            client_id=cid, severity=cfg.severities[lvl], level=level_name,
            summary=summary, evidence=evidence[g], evidence_columns=OVERDUE_COLUMNS,
            action=Action("activity", summary, cfg.activity_types[lvl],
                          due0 + timedelta(days=max(threshold, cfg.grace_days + 1))),
            resolved_when=f"no invoice of {cname} is {band} days overdue any more "
                          f"(paid, credited, disputed or moved to the next level)",
            data={"level": lvl + 1, "days": threshold, "totals_company_currency": dict(totals[g]),
                  "invoice_ids": ids[g], "oldest_due": due0.isoformat()},
            route=route, daily=("days_overdue",)))


def _credit_matches(snapshot, inv: pd.DataFrame) -> list[Finding]:
    """A ``credit_match`` finding per client whose open credit notes would cover (part of) its
    overdue invoices: someone has to match them in Odoo, the rule never nets them in silence."""
    covered = inv.loc[inv["credit_applied"] > 0]
    if not len(covered):
        return []
    credits = F.open_credits(snapshot)
    credits = credits.loc[credits["client_id"].isin(covered["client_id"])]
    rows = pd.concat([
        pd.DataFrame({"client_id": credits["client_id"].to_numpy(), "kind": "credit note",
                      "move_id": credits["id"].to_numpy(), "date": credits["invoice_date"].to_numpy(),
                      "currency": credits["currency_id_name"].astype(object).to_numpy(),
                      "amount_open_company": credits["amount_company"].to_numpy(), "credit_applied": np.nan,
                      "company_currency": credits["company_currency_id_name"].astype(object).to_numpy()}),
        pd.DataFrame({"client_id": covered["client_id"].to_numpy(), "kind": "overdue invoice",
                      "move_id": covered["id"].to_numpy(), "date": covered["due"].to_numpy(),
                      "currency": covered["currency_id_name"].astype(object).to_numpy(),
                      "amount_open_company": covered["amount_company"].to_numpy(),
                      "credit_applied": covered["credit_applied"].to_numpy(),
                      "company_currency": covered["company_currency_id_name"].astype(object).to_numpy()}),
    ], ignore_index=True)
    rows["client_id"] = rows["client_id"].astype("int64")
    rows["move"] = F.invoice_names(snapshot, rows["move_id"]).to_numpy()
    rows = rows.sort_values(["client_id", "kind", "date", "move_id"], kind="stable")
    evidence = F.grouped_records(rows, "client_id", CREDIT_COLUMNS)
    credit_ids = F.grouped_lists(rows.loc[rows["kind"] == "credit note"], "client_id", "move_id")
    invoice_ids = F.grouped_lists(rows.loc[rows["kind"] != "credit note"], "client_id", "move_id")
    money = credits.groupby(["client_id", "company_currency_id_name"], observed=True)["amount_company"].sum()
    money = money.round(2).reset_index()
    money["client_id"] = money["client_id"].astype("int64")
    money["text"] = [f"{v:,.2f} {c}" for v, c in zip(money["amount_company"], money["company_currency_id_name"])]
    money_text = F.grouped_lists(money, "client_id", "text")
    # due: the day both existed, from the data (the later of the first credit note and the first
    # covered invoice falling overdue), so re-runs do not move it
    first_credit = credits.groupby("client_id")["invoice_date"].min()
    first_overdue = covered.groupby("client_id")["due"].min() + pd.Timedelta(days=1)
    since = pd.concat([first_credit, first_overdue], axis=1).max(axis=1)
    salespeople = F.ranked_users(pd.concat([credits[["client_id", "invoice_user_id"]],
                                            covered[["client_id", "invoice_user_id"]]]), "client_id",
                                 "invoice_user_id")
    clients = since.index.to_series().astype("int64")
    client_names = F.names(snapshot.partners, clients).tolist()
    out = []
    for cid, when, cname in zip(clients.tolist(), since.dt.date.tolist(), client_names):
        cname = cname if isinstance(cname, str) else f"partner {cid}"
        n = len(credit_ids.get(cid, []))
        summary = (f"match {_plural(n, 'credit note')} ({' + '.join(money_text.get(cid, []))}) "
                   f"with overdue invoices of {F.short(cname)}")
        out.append(Finding(
            rule=name, subject_model="res.partner", subject_id=cid, subject_name=cname, client_id=cid,
            severity="medium", level="credit_match", summary=summary, evidence=evidence[cid],
            evidence_columns=CREDIT_COLUMNS, action=Action("activity", summary, "todo", when),
            resolved_when=f"no open credit note of {cname} is left beside an overdue invoice "
                          f"(matched, refunded or the invoices paid)",
            data={"credit_note_ids": credit_ids.get(cid, []), "invoice_ids": invoice_ids.get(cid, [])},
            route={"invoice_user_ids": salespeople.get(cid, []),
                   "first": "invoice_salesperson"}))  # whoever handles the client's invoicing
    return out


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

