"""late_payment: overdue customer invoices, one activity per client, and chronic late payers.

One finding per client (key ``late_payment:res.partner:<id>``) for the client's collector, at
the client's highest escalation level, lists each chased invoice with its days overdue and its
level, and the open credit notes to match: a call is about the client's whole situation, and a
level change updates that activity instead of closing one and opening another.  It takes over
the keys of the per-level findings earlier versions made (``replaces``).  When the highest level
asks for the manager (``manager_user_id`` from ``manager_from_level``) the manager gets one
activity of their own (part ``manager``).
Levels are counted in days past the due date; grace days only delay the first
report.  Amounts still owed come from the residual (partial payments count).
Open credit notes are never netted in silence: the client's activity asks to match them (alone
when they cover every overdue invoice); the chase shows what they leave owed, applied to the newest
invoices first so the oldest overdue invoice (the real age) stays visible.
Every overdue invoice Odoo lists is either in a finding or in a ``NotRaised``
with its reason.  Amounts are shown in the invoice currency, totals in the
company currency (the ``*_signed`` fields).  In-payment invoices are not owed.  Accounting decides
what is chased: an invoice it excluded from follow-up (the receivable line's "No Follow-up", the
invoice's ``no_followup``, a disputed payment state: :func:`facts.followup_excluded`) is in no
payment finding but in a ``NotRaised`` with that reason; when the flags could not be read, that
is said (``NotJudged``) and nothing is closed.  An earlier finding no longer found says what
happened to each of its invoices and credit notes (paid on, cancelled, excluded, matched...): the
write-back closes its activity with that.  Due dates of the proposed activities come from the
data (the day the level was reached), so re-running the same day or the next changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from clientcare.rules import FindingTable, ReportChart, Script, const, frames as F, object_column
from clientcare.rules.config import RuleConfig
from clientcare.rules.context import RuleContext
from clientcare.connector import facts
from clientcare.connector.facts import ACTIVITY_TYPES, OWED_CURRENCY, SEVERITIES, ActivityType, Severity
from clientcare.rules import i18n
from clientcare.rules.i18n import (N_, EvidenceView, Num, Percent, _, each, gettext_rows, money, money_list,
                                   ngettext_rows, pgettext)
from clientcare.rules.finding import NotJudged, NotRaised, Resolved, RuleOutput

name = "late_payment"
version = "1.0"
description = "Overdue customer invoices, one activity per client at its escalation level, and chronic late payers"
needs = {"moves": [], "payments": []}
#: Which invoices accounting excluded from follow-up; without it that is said, not guessed.
optional_needs = {"followup_exclusions": []}
#: Every overdue invoice Odoo lists is in a finding's data["invoice_ids"] or a NotRaised.
accounts_for = {"account.move": "invoice_ids"}

#: How each default level reads in an activity summary; other level names are used as they are.
VERBS = {"reminder": pgettext("late payment: what to do", "send a payment reminder to"),
         "call": pgettext("late payment: what to do", "call"),
         "manager": pgettext("late payment: what to do", "manager: review the account of"),
         "stop_work": pgettext("late payment: what to do", "decide whether to stop work for")}
#: The evidence rows' kinds (compared as text: ``row["kind"] == KIND_INVOICE``).
KIND_INVOICE, KIND_CREDIT_NOTE = N_("overdue invoice"), N_("credit note")
#: Why accounting's exclusions are not chased, as :data:`facts.EXCLUSION_REASONS` writes them
#: (the English is the same text: the test checks it).
EXCLUDED = {facts.EXCLUSION_REASONS[facts.EXCLUDED_ON_LINE]:
            N_("excluded from follow-up by accounting (No Follow-up on the receivable line)"),
            facts.EXCLUSION_REASONS[facts.EXCLUDED_ON_INVOICE]:
            N_("excluded from follow-up by accounting (No Follow-up on the invoice)"),
            facts.EXCLUSION_REASONS[facts.DISPUTED_STATE]: N_("disputed (payment blocked by accounting)")}
#: The default levels in words (a renamed level reads as configured).
LEVELS = {"reminder": pgettext("late payment level", "reminder"), "call": pgettext("late payment level", "call"),
          "manager": pgettext("late payment level", "manager"),
          "stop_work": pgettext("late payment level", "stop work")}
#: How the evidence reads: level names in words.
VIEW = EvidenceView(values={"level": LEVELS})


def _level_word(level: str):
    return LEVELS.get(level, level)


def _excluded_reason(text):
    return EXCLUDED.get(str(text), text)


_INVOICES = {"invoices": "data.invoice_names", "oldest_due": "data.oldest_due"}
#: Talking points per level (by its name: a renamed level needs its own script) and kind.
scripts = {
    "reminder": Script((N_("Check that {invoices} reached the right person at {client} (address, PO number)."),
                        N_("Remind them kindly of the due date ({oldest_due}) and of how to pay."),
                        N_("Ask whether anything in the delivered work holds the payment up.")), _INVOICES),
    "call": Script((N_("Confirm that {invoices} reached the right person at {client}."),
                    N_("Ask whether anything in the delivered work holds the payment up; if so, fix that first."),
                    N_("Agree a payment date and note it in Odoo.")), _INVOICES),
    "manager": Script((N_("Before calling, review {client} with the salesperson: {invoices}, overdue since "
                          "{oldest_due}."),
                       N_("Call the person who approves payments: is anything disputed? Agree a date or a payment "
                          "plan and note it."),
                       N_("Decide whether new work waits for the payment.")), _INVOICES),
    "stop_work": Script((N_("Decide with the project manager whether work for {client} pauses ({invoices} unpaid "
                            "since {oldest_due})."),
                         N_("Tell the client yourself, before anything stops, what is owed and what restarts the "
                            "work."),
                         N_("Note the decision and the agreed date in Odoo.")), _INVOICES),
    "credit_match": Script((N_("Match the open credit notes of {client} with its overdue invoices in Odoo ({moves})."),
                            N_("If the client expects a refund instead, confirm it with them first.")),
                           {"moves": "evidence.invoice"}),
    # TRANSLATORS: {paid_late} of {invoices} are counts of invoices; {avg_days_late} a number of days
    "chronic": Script((N_("Review payment terms with {client}: {paid_late} of {invoices} invoices paid late, "
                          "{avg_days_late} days late on average."),
                       N_("Ask what gets in the way (approvals, who receives the invoices, PO numbers)."),
                       N_("Agree terms that fit (deposit, smaller milestones, direct debit) and note them.")),
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
    #: A client is chased only when its amount overdue (per company, in its currency) reaches this.
    min_amount: float = 0.0
    #: Chase only what open credit notes leave owed (applied newest invoice first); either way the
    #: client's activity asks to match them, and a fully covered invoice is not chased.
    net_credit_notes: bool = True
    #: The manager who gets an activity of their own (part ``manager``) for a client whose highest
    #: level is ``manager_from_level`` (1-based) or more; the collector keeps the client's.
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
            out.append("level_names must be distinct (earlier versions' keys; the activity says them)")
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


AGE_BUCKETS = [(1, 15, N_("1–15 days")), (16, 30, N_("16–30 days")), (31, 60, N_("31–60 days")),
               (61, 90, N_("61–90 days")), (91, 10**6, N_("over 90 days"))]


def overdue_by_age(snapshot, as_of: date, client_ids: set[int] | None = None,
                   not_raised: list = ()) -> list[tuple[str, float]]:
    """Overdue receivables still owed after open credit notes, in company currency, by how late
    they are (every overdue invoice: the chart shows the debt, not only what is chased): one
    series per company currency, each bar labelled with it, so no bar adds two currencies."""
    inv = F.overdue_invoices(snapshot, as_of)
    if client_ids is not None:
        inv = inv.loc[inv["client_id"].isin(client_ids)]
    currencies = sorted(inv[OWED_CURRENCY].dropna().astype(str).unique().tolist())
    bars = []
    for currency in currencies or [None]:
        mine = inv if currency is None else inv.loc[inv[OWED_CURRENCY].astype(str) == currency]
        days, amount = mine["days_overdue"], mine["net_company"]
        # TRANSLATORS: a bar of the overdue-by-age chart: its age bucket, then the company currency
        bars += [(label if currency is None else _("{bucket} ({currency})", bucket=label, currency=currency),
                  float(amount[(days >= lo) & (days <= hi)].sum())) for lo, hi, label in AGE_BUCKETS]
    return bars


charts = (ReportChart(N_("Overdue receivables by age, after open credit notes (per company currency)"),
                      bars=overdue_by_age, tone="scale", noun="rows"),)


#: A client's evidence: its overdue invoices (chased with their level, or covered by credit),
#: then its open credit notes to match (negative amounts).
EVIDENCE_COLUMNS = ["kind", "invoice", "invoice_id", "level", "invoice_date", "due_date", "days_overdue", "currency",
                    "amount_total", "amount_due", "amount_due_company", "credit_applied", "company_currency",
                    "payment_state"]
CHRONIC_COLUMNS = ["invoice", "invoice_id", "due_date", "paid_date", "days_late", "currency", "amount_total"]


def evaluate(ctx: RuleContext[Config]) -> RuleOutput:
    snapshot, as_of, config = ctx.snapshot, ctx.as_of, ctx.config
    out = RuleOutput()
    unknown = F.followup_exclusions_unknown(snapshot)
    if unknown:
        out.not_judged.append(NotJudged(name, f"{name}:*", _("{why}: an invoice accounting excluded from follow-up "
                                                             "may be chased", why=unknown)))
    out.not_raised += _excluded(snapshot, as_of)
    inv = F.overdue_invoices(snapshot, as_of)
    inv = inv.loc[inv["followup_excluded"].isna()]
    chase = _chased(snapshot, inv, config, out)
    parts = [_clients(snapshot, inv, chase, config)]
    if config.chronic:
        if "payments" in snapshot.tables:
            parts.append(_chronic(snapshot, as_of, config))
        else:
            out.not_judged.append(NotJudged(name, f"{name}:*:chronic", _("payment dates were not pulled")))
    out.findings = FindingTable.concat(parts)
    out.resolved += _closings(ctx, out, chase)
    return out


def _excluded(snapshot, as_of: date) -> list[NotRaised]:
    """Past-due invoices accounting took out of follow-up, each with the reason: not chased,
    still listed (an overdue one is in Odoo's list; a disputed one a person may look for)."""
    inv = F.invoices(snapshot)
    left = inv.loc[inv["is_invoice"] & ~inv["settled"] & inv["followup_excluded"].notna().to_numpy(dtype=bool)
                   & (inv["due"] < F.day(as_of))]
    return [NotRaised(name, "account.move", int(i), F.opt_id(c), _excluded_reason(r)) for i, c, r in zip(
        left["id"].tolist(), left["client_id"].tolist(), left["followup_excluded"].tolist())]


def _closings(ctx: RuleContext[Config], out: RuleOutput, chase: pd.DataFrame) -> list[Resolved]:
    """What happened to each invoice and credit note of a previous finding no longer found: the
    write-back closes its activity with this instead of a bare "no longer finds this".  A key a
    current finding takes over (``replaces``: the level keys before one activity per client)
    is merged by the write-back, not closed: nothing to say.  ``chase``: the invoices chased."""
    if not ctx.previous:
        return []
    current = set(out.findings.keys().tolist())
    taken = {k for keys in out.findings.column("replaces").tolist() for k in keys}
    gone = [p for p in ctx.previous if p.get("key") not in current and p.get("key") not in taken]
    if not gone:
        return []
    snapshot, today, cfg = ctx.snapshot, F.day(ctx.as_of), ctx.config
    # each chased client's level (its finding's kind), each chased invoice's level
    names = np.asarray(cfg.level_names, dtype=object)
    top = chase.groupby("client_id")["level"].max()
    levels = dict(zip(top.index.tolist(), names[top.to_numpy(dtype="int64")].tolist()))
    now_at = {i: level for i, level in zip(chase["id"].tolist(), names[chase["level"].to_numpy()].tolist()) if level}
    not_raised = {n.res_id: n.reason for n in out.not_raised if n.model == "account.move"}
    moves = snapshot.tables.get("moves")
    move_state = F.by_id(moves, "state") if moves is not None else {}
    posted = F.invoices(snapshot).drop_duplicates("id").set_index("id")
    open_credit = set(F.open_credits(snapshot)["id"].tolist())

    def fate(i: int):
        if i not in move_state:
            return _("no longer in Odoo")
        if move_state[i] == facts.CANCELLED_MOVE_STATE:
            return _("cancelled")
        if move_state[i] == facts.DRAFT_MOVE_STATE:
            return _("reset to draft")
        row = posted.loc[i]
        if not pd.isna(row["followup_excluded"]):
            return _excluded_reason(row["followup_excluded"])
        if row["settled"]:
            paid_on = None if pd.isna(row["paid_date"]) else row["paid_date"].date()
            if pd.isna(row["credited_by"]):
                return _("paid on {date}", date=paid_on) if paid_on else _("paid")
            return (_("credited by {credit_note} on {date}", credit_note=row["credited_by"], date=paid_on) if paid_on
                    else _("credited by {credit_note}", credit_note=row["credited_by"]))
        if row["payment_state"] == facts.REVERSED_STATE:
            return _("credited (reversed by a credit note)")
        if i in now_at:
            return _("now at level {level}", level=_level_word(now_at[i]))
        if i in not_raised:
            return not_raised[i]
        if row["owed"] and not pd.isna(row["due"]) and row["due"] >= today:
            return _("no longer overdue (due {date})", date=row["due"].date())
        # TRANSLATORS: {state} is Odoo's payment state as stored (e.g. invoicing_legacy)
        return _("no longer owed (payment state {state})", state=row["payment_state"]) if not row["owed"] \
            else _("no longer overdue at this level")

    resolved = []
    for prev in gone:
        data = prev.get("data") or {}
        if prev.get("level") == "chronic":
            resolved.append(Resolved(name, prev["key"], _(
                "no longer a chronic late payer: its invoices paid in the last {days} days are below the "
                "thresholds (share paid late, average delay)", days=cfg.chronic_window_days)))
            continue
        if prev.get("part") == "manager" and prev.get("client_id") in levels:
            resolved.append(Resolved(name, prev["key"], _(
                "now at level {level}, below the level from which the manager reviews the account ({from_level})",
                level=_level_word(levels[prev["client_id"]]), from_level=_level_word(cfg.level_names[cfg.manager_from_level - 1]))))
            continue
        names = {r.get("invoice_id") or r.get("move_id"): r.get("invoice") or r.get("move")
                 for r in prev.get("evidence") or () if isinstance(r, dict)}
        matched = [names.get(i) or _("credit note {id}", id=str(int(i))) for i in data.get("credit_note_ids", ())
                   if int(i) not in open_credit]
        # TRANSLATORS: {credit_notes}: credit note numbers
        parts = [_("{credit_notes} matched or used", credit_notes=_Names(matched))] if matched else []
        by_fate: dict[str, tuple] = {}
        for i in data.get("invoice_ids", ()):
            what = fate(int(i))
            by_fate.setdefault(what, (what, []))[1].append(names.get(i) or _("invoice {id}", id=str(int(i))))
        # TRANSLATORS: {invoices}: invoice numbers; {what}: what happened to them ("paid on 2026-03-01")
        parts += [_("{invoices} {what}", invoices=_Names(invoices), what=what) for what, invoices in by_fate.values()]
        if parts or data.get("credit_note_ids"):
            resolved.append(Resolved(name, prev["key"], _joined(parts) if parts else _(
                "no open credit note covers an overdue invoice of this client any more")))
    return resolved


class _Names(str):
    """Record names (invoice numbers), all of them, as one text; a name that is a message (an
    invoice without a number) is rendered in the reader's language."""

    def __new__(cls, names):
        self = super().__new__(cls, ", ".join(map(str, names)))
        self.names = tuple(names)
        return self

    def __reduce__(self):
        return (_Names, (self.names,))

    def render(self, lang: str) -> str:
        return ", ".join(i18n.render(n, lang) for n in self.names)



def _joined(parts: list):
    """Facts of one closing in one message, in order."""
    text = parts[0]
    for part in parts[1:]:
        # TRANSLATORS: two facts of one closing text, one after the other
        text = _("{first}; {then}", first=text, then=part)
    return text


def _chased(snapshot, inv: pd.DataFrame, cfg: Config, out: RuleOutput) -> pd.DataFrame:
    """The overdue invoices chased, each with its ``level`` (0-based); every overdue invoice left
    out goes to ``out.not_raised`` with its reason."""
    if not cfg.net_credit_notes:
        inv = inv.assign(net_company=inv["amount_company"], net_residual=inv["amount_residual"], credit_applied=0.0)
    levels = np.asarray(cfg.levels)
    inv = inv.assign(level=np.searchsorted(levels, inv["days_overdue"].to_numpy(), side="right") - 1)
    due = F.days(inv["due"])
    # the first reason that applies, in this order (an object array: the reasons are messages)
    why = np.empty(len(inv), dtype=object)
    unset = np.ones(len(inv), dtype=bool)

    def put(mask, reasons) -> None:
        rows = np.flatnonzero(np.asarray(mask, dtype=bool) & unset)
        if len(rows):
            why[rows] = object_column(reasons(rows))
            unset[rows] = False

    # TRANSLATORS: {credit_notes}: credit note numbers
    put(inv["net_company"] <= 0, lambda k: gettext_rows(
        "covered by open credit note(s) {credit_notes}: match them in Odoo",
        credit_notes=each(_credit_notes_listed(snapshot, inv.iloc[k]))))
    put(inv["days_overdue"] <= cfg.grace_days, lambda k: ngettext_rows(
        "due {date}, within the grace period ({n} day)", "due {date}, within the grace period ({n} days)",
        cfg.grace_days, date=each(due[k])))
    put(inv["level"] < 0, lambda k: gettext_rows("due {date}, not yet at the first level ({days} days overdue)",
                                                 date=each(due[k]), days=cfg.levels[0]))
    # The minimum amount applies per client and company (each in its own currency): one activity
    # per client chases all of it.
    chased = inv["net_company"].where(unset, 0.0)
    totals = chased.groupby([inv["client_id"], inv["company_id"]]).transform("sum").to_numpy(dtype="float64")
    currency = inv["company_currency_id_name"].to_numpy(dtype=object)
    put(unset & (totals < cfg.min_amount - 1e-9), lambda k: gettext_rows(
        "the client's total overdue ({amount}) is under the minimum ClientCare chases ({min_amount})",
        amount=each(money(t, c) for t, c in zip(totals[k].tolist(), currency[k].tolist())),
        min_amount=Num(cfg.min_amount, "g")))
    left = inv.loc[~unset]
    out.not_raised += [NotRaised(name, "account.move", int(i), F.opt_id(c), r) for i, c, r in zip(
        left["id"].tolist(), left["client_id"].tolist(), why[~unset].tolist())]
    return inv.loc[unset]


def _credit_notes_listed(snapshot, inv: pd.DataFrame) -> list[str]:
    """The open credit notes of each invoice's client and company, by number: the first five,
    then "...", "?" when there is none."""
    credits = F.open_credits(snapshot)
    named = credits.assign(name=F.invoice_names(snapshot, credits["id"]).astype(str))
    rank = named.groupby(["client_id", "company_id"]).cumcount()
    listed = named.loc[rank < 5].groupby(["client_id", "company_id"])["name"].agg(", ".join)
    more = (rank >= 5).groupby([named["client_id"], named["company_id"]]).any().reindex(listed.index)
    listed = listed + np.where(more.fillna(False), ", ...", "")
    keys = pd.MultiIndex.from_arrays([inv["client_id"], inv["company_id"]])
    return pd.Series(listed.reindex(keys).to_numpy()).fillna("?").tolist()


def _texts(text, n: int) -> pd.Series:
    """A column holding one message ``n`` times (pandas would make plain strings of it)."""
    return pd.Series([text] * n, dtype=object)






def _clients(snapshot, inv: pd.DataFrame, chase: pd.DataFrame, cfg: Config) -> FindingTable:
    """One finding per client: its chased invoices, each with its days overdue and level, and the
    open credit notes to match (with the overdue invoices they would cover); at the client's
    highest level.  Plus the manager's own finding when that level asks for the manager."""
    # the credit part: clients whose open credit notes would cover (part of) an overdue invoice
    covered = inv.loc[inv["credit_applied"] > 0]
    credits = F.open_credits(snapshot)
    credits = credits.loc[credits["client_id"].isin(covered["client_id"])]
    if not len(chase) and not len(covered):
        return FindingTable.empty()
    levels = np.asarray(cfg.level_names, dtype=object)
    unchased = covered.loc[~covered["id"].isin(chase["id"])]
    shown = pd.concat([chase.assign(level_name=levels[chase["level"].to_numpy()]),
                       unchased.assign(level_name=None, net_company=unchased["net_company"].clip(lower=0),
                                       net_residual=unchased["net_residual"].clip(lower=0))], ignore_index=True)
    rows = pd.concat([
        pd.DataFrame({"client_id": shown["client_id"].to_numpy(), "section": 0,
                      "kind": _texts(KIND_INVOICE, len(shown)),
                      "invoice_id": shown["id"].to_numpy(), "level": shown["level_name"].to_numpy(dtype=object),
                      "invoice_date": shown["invoice_date"].to_numpy(), "due_date": shown["due"].to_numpy(),
                      "days_overdue": shown["days_overdue"].to_numpy(dtype=object),
                      "currency": shown["currency_id_name"].astype(object).to_numpy(),
                      "amount_total": shown["amount_total"].to_numpy(), "amount_due": shown["net_residual"].to_numpy(),
                      "amount_due_company": shown["net_company"].to_numpy(),
                      "credit_applied": shown["credit_applied"].to_numpy(),
                      "company_currency": shown["company_currency_id_name"].astype(object).to_numpy(),
                      "payment_state": shown["payment_state"].astype(object).to_numpy()}),
        pd.DataFrame({"client_id": credits["client_id"].to_numpy(), "section": 1,
                      "kind": _texts(KIND_CREDIT_NOTE, len(credits)),
                      "invoice_id": credits["id"].to_numpy(), "level": None,
                      "invoice_date": credits["invoice_date"].to_numpy(), "due_date": pd.NaT, "days_overdue": None,
                      "currency": credits["currency_id_name"].astype(object).to_numpy(),
                      "amount_total": -credits["amount_total"].to_numpy(),
                      "amount_due": -credits["amount_residual"].abs().to_numpy(),
                      "amount_due_company": -credits["amount_company"].to_numpy(), "credit_applied": np.nan,
                      "company_currency": credits["company_currency_id_name"].astype(object).to_numpy(),
                      "payment_state": credits["payment_state"].astype(object).to_numpy()}),
    ], ignore_index=True)
    rows["client_id"] = rows["client_id"].astype("int64")
    rows["invoice"] = F.invoice_names(snapshot, rows["invoice_id"]).to_numpy()
    # invoices by due date, then the credit notes by date (each then by id)
    rows["when"] = rows["due_date"].where(rows["section"] == 0, rows["invoice_date"])
    rows = rows.sort_values(["client_id", "section", "when", "invoice_id"], kind="stable")
    evidence = F.grouped_records(rows, "client_id", EVIDENCE_COLUMNS)
    invoice_rows = rows.loc[rows["section"] == 0]
    invoice_ids = F.grouped_lists(invoice_rows, "client_id", "invoice_id")
    credit_ids = F.grouped_lists(rows.loc[rows["section"] == 1], "client_id", "invoice_id")
    names = F.grouped_lists(invoice_rows.loc[invoice_rows["invoice_id"].isin(chase["id"])], "client_id", "invoice")
    owed_pairs = F.per_currency(chase, "client_id", "net_company") if len(chase) else {}
    credit_pairs = F.per_currency(credits, "client_id", "amount_company") if len(credits) else {}
    per = chase.groupby("client_id").agg(top=("level", "max"), n=("id", "size"), first_due=("due", "min"))
    level_counts = chase.groupby(["client_id", "level"]).size()
    # the credit part is due the day both existed, from the data (the later of the first credit
    # note and the first covered invoice falling overdue), so re-runs do not move it
    since = pd.concat([credits.groupby("client_id")["invoice_date"].min(),
                       covered.groupby("client_id")["due"].min() + pd.Timedelta(days=1)], axis=1).max(axis=1)
    salespeople = F.ranked_users(pd.concat([chase[["client_id", "invoice_user_id"]],
                                            unchased[["client_id", "invoice_user_id"]],
                                            credits[["client_id", "invoice_user_id"]]]), "client_id", "invoice_user_id")
    clients = np.union1d(per.index.to_numpy(dtype="int64"), since.index.to_numpy(dtype="int64"))
    ids = clients.tolist()
    found = F.names(snapshot.partners, pd.Series(clients)).tolist()
    c = {"id": clients, "name": object_column(n if isinstance(n, str) else f"partner {i}" for n, i in zip(found, ids))}
    c["short"] = object_column(F.short(n) for n in c["name"].tolist())
    c["evidence"] = object_column(evidence[i] for i in ids)
    c["route"] = object_column({"invoice_user_ids": salespeople.get(i, [])} for i in ids)
    c["data"] = object_column({"invoice_ids": invoice_ids.get(i, []), "credit_note_ids": credit_ids.get(i, [])}
                         for i in ids)
    c["n_credit"] = np.array([len(credit_ids.get(i, ())) for i in ids], dtype="int64")
    c["match"] = np.empty(len(clients), dtype=object)
    c["match"].fill("")
    with_credit = c["n_credit"] > 0
    # TRANSLATORS: {amounts}: what the credit notes are worth, per currency
    c["match"][with_credit] = object_column(ngettext_rows(
        "match {n} credit note ({amounts})", "match {n} credit notes ({amounts})", each(c["n_credit"][with_credit]),
        amounts=each(money_list(credit_pairs.get(i, [])) for i in clients[with_credit].tolist())))
    olds = [old for old in (*cfg.level_names, "credit_match") if cfg.manager_user_id is None or old != "manager"]
    keys = [f"{name}:res.partner:{i}:" for i in ids]
    c["replaces"] = object_column(zip(*([key + old for key in keys] for old in olds)))
    chased = np.isin(clients, per.index.to_numpy(dtype="int64"))
    credit_only, chased = np.flatnonzero(~chased), np.flatnonzero(chased)
    tables, at = zip((_credit_matches(c, credit_only, since), credit_only),
                     *_chases(c, chased, per, level_counts, owed_pairs, names, cfg))
    # in the order of the clients, the manager's finding right after its client's
    return FindingTable.concat(tables).take(np.argsort(np.concatenate(at), kind="stable"))


def _credit_matches(c: dict, at: np.ndarray, since: pd.Series) -> FindingTable:
    """The findings of the clients at ``at`` (of the clients' columns ``c``), which only have
    credit notes to match: no chase, one activity asking to match them."""
    client = each(c["short"][at])
    # TRANSLATORS: {match}: "match 2 credit notes (1,000.00 EUR)"
    summary = gettext_rows("{match} with overdue invoices of {client}", match=each(c["match"][at]), client=client)
    return FindingTable(
        len(at), rule=name, subject_model="res.partner", subject_id=c["id"][at], subject_name=c["name"][at],
        client_id=c["id"][at], severity="medium", summary=summary, evidence=c["evidence"][at],
        evidence_columns=const(EVIDENCE_COLUMNS), view=VIEW, action_kind="activity", action_summary=summary,
        activity_type="todo", due_date=F.days(since.reindex(c["id"][at])),
        resolved_when=gettext_rows("no open credit note of {client} is left beside an overdue invoice "
                                   "(matched, refunded or the invoices paid)", client=client),
        data=[{"kind": "credit_match", **d} for d in c["data"][at].tolist()],
        route=[dict(r, first="invoice_salesperson") for r in c["route"][at].tolist()],
        daily=const(("days_overdue",)), replaces=c["replaces"][at])


def _chases(c: dict, at: np.ndarray, per: pd.DataFrame, level_counts: pd.Series, owed_pairs: dict,
            names: dict, cfg: Config) -> list[tuple[FindingTable, np.ndarray]]:
    """The findings of the chased clients at ``at`` (of the clients' columns ``c``), each at its
    highest level, and the manager's own where that level asks for the manager; each table with
    the positions of its clients."""
    ids = c["id"][at].tolist()
    per = per.reindex(c["id"][at])
    top = per["top"].to_numpy(dtype="int64")
    thresholds = np.asarray(cfg.levels, dtype="int64")[top]
    first_due = per["first_due"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    counts: dict[int, dict[str, int]] = {}
    for (cid, lvl), k in level_counts.items():
        counts.setdefault(int(cid), {})[cfg.level_names[int(lvl)]] = int(k)
    # TRANSLATORS: {days}: the first day overdue of the level reached; {amounts}: owed, per currency
    what = object_column(ngettext_rows("{n} invoice {days}+ days overdue ({amounts})",
                                  "{n} invoices overdue, the oldest {days}+ days ({amounts})",
                                  each(per["n"].to_numpy(dtype="int64")), days=each(thresholds),
                                  amounts=each(money_list(owed_pairs[i]) for i in ids)))
    # a level without a verb of its own is named as configured
    # TRANSLATORS: a level someone named in the settings, standing for what to do ("dunning:")
    verbs = object_column(VERBS.get(level) or _("{level}:", level=level) for level in cfg.level_names)[top]
    client, match, matching = c["short"][at], c["match"][at], c["n_credit"][at] > 0
    summary, resolved = np.empty(len(at), dtype=object), np.empty(len(at), dtype=object)
    m, o = matching, ~matching
    # TRANSLATORS: {verb}: what to do ("call", "send a payment reminder to"); {what}: the invoices
    summary[m] = object_column(gettext_rows("{verb} {client}: {what}; {match}", verb=each(verbs[m]), client=each(client[m]),
                                       what=each(what[m]), match=each(match[m])))
    summary[o] = object_column(gettext_rows("{verb} {client}: {what}", verb=each(verbs[o]), client=each(client[o]),
                                       what=each(what[o])))
    resolved[m] = object_column(gettext_rows("no invoice of {client} is overdue any more (paid, credited or disputed) and "
                                        "its credit notes are matched", client=each(client[m])))
    resolved[o] = object_column(gettext_rows("no invoice of {client} is overdue any more (paid, credited or disputed)",
                                        client=each(client[o])))
    chase_data = [{**d, "level": t + 1, "days": days, "levels": counts.get(i, {}),
                   "totals_company_currency": dict(owed_pairs[i]), "oldest_due": due.isoformat(),
                   "invoice_names": names.get(i, [])}
                  for d, i, t, days, due in zip(c["data"][at].tolist(), ids, top.tolist(), thresholds.tolist(),
                                                first_due.astype(object).tolist())]
    severity = np.asarray(cfg.severities, dtype=object)[top]
    activity = np.asarray(cfg.activity_types, dtype=object)[top]
    common = dict(rule=name, subject_model="res.partner", evidence_columns=const(EVIDENCE_COLUMNS), view=VIEW,
                  action_kind="activity", daily=const(("days_overdue",)))
    chases = FindingTable(
        len(at), subject_id=c["id"][at], subject_name=c["name"][at], client_id=c["id"][at], severity=severity,
        summary=summary, evidence=c["evidence"][at], action_summary=summary, activity_type=activity,
        due_date=_after(first_due, np.maximum(thresholds, cfg.grace_days + 1)), resolved_when=resolved,
        data=[{"kind": cfg.level_names[t], **d} for t, d in zip(top.tolist(), chase_data)],
        route=c["route"][at], replaces=c["replaces"][at], **common)
    if cfg.manager_user_id is None:
        return [(chases, at)]
    mine = np.flatnonzero(top + 1 >= cfg.manager_from_level)
    first_level = cfg.manager_from_level - 1
    summary = gettext_rows("review the account of {client} with its collector: {what}", client=each(client[mine]),
                           what=each(what[mine]))
    managers = FindingTable(
        len(mine), subject_id=c["id"][at][mine], subject_name=c["name"][at][mine], client_id=c["id"][at][mine],
        severity=severity[mine], part="manager", summary=summary, evidence=c["evidence"][at][mine],
        action_summary=summary, activity_type=activity[mine],
        due_date=_after(first_due[mine], max(cfg.levels[first_level], cfg.grace_days + 1)),
        resolved_when=gettext_rows("no invoice of {client} is {days}+ days overdue any more (level {level}, from "
                                   "which the manager reviews the account)", client=each(client[mine]),
                                   days=cfg.levels[first_level], level=_level_word(cfg.level_names[first_level])),
        data=[{"kind": "manager", **chase_data[k]} for k in mine.tolist()],
        route=[{**r, "user_id": cfg.manager_user_id, "why": "late_payment.manager_user_id"}
               for r in c["route"][at][mine].tolist()], **common)
    return [(chases, at), (managers, at[mine])]


def _after(days: np.ndarray, n) -> np.ndarray:
    """``n`` days after each of ``days`` (datetime64[D]), as ``date`` objects."""
    return (days + np.asarray(n, dtype="int64").astype("timedelta64[D]")).astype(object)


def _chronic(snapshot, as_of: date, cfg: Config) -> FindingTable:
    paid = F.settled_invoices(snapshot)
    today = F.day(as_of)
    paid = paid.loc[(paid["paid_date"] <= today)
                    & (paid["paid_date"] > today - pd.Timedelta(days=cfg.chronic_window_days))]
    if not len(paid):
        return FindingTable.empty()
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
        return FindingTable.empty()
    rows = paid.loc[paid["client_id"].isin(flagged.index)].sort_values(["client_id", "paid_date", "id"])
    salespeople = F.ranked_users(rows, "client_id", "invoice_user_id")
    evidence = F.grouped_records(
        rows.assign(invoice=F.invoice_names(snapshot, rows["id"]), invoice_id=rows["id"], due_date=rows["due"],
                    currency=rows["currency_id_name"], days_late=rows["days_late"].astype("int64")),
        "client_id", CHRONIC_COLUMNS)
    ids = flagged.index.to_numpy(dtype="int64")
    cnames = [c if isinstance(c, str) else f"partner {i}"
              for c, i in zip(F.names(snapshot.partners, flagged.index.to_series()).tolist(), ids.tolist())]
    client = each(F.short(c) for c in cnames)
    n, n_late = flagged["n"].to_numpy(dtype="int64"), flagged["n_late"].to_numpy(dtype="int64")
    share, avg = flagged["share"].tolist(), flagged["avg_delay"].tolist()
    # TRANSLATORS: {late} of {n} invoices; {avg_days}: their average delay in days
    summary = ngettext_rows("review payment terms with {client}: {late} of {n} invoice paid late, {avg_days} days "
                            "late on average", "review payment terms with {client}: {late} of {n} invoices paid late, "
                            "{avg_days} days late on average", each(n), client=client, late=each(n_late),
                            avg_days=each(Num(a, ".0f") for a in avg))
    return FindingTable(
        len(ids), rule=name, subject_model="res.partner", subject_id=ids, subject_name=cnames, client_id=ids,
        severity="medium", level="chronic", summary=summary, evidence=object_column(evidence[i] for i in ids.tolist()),
        view=VIEW, evidence_columns=const(CHRONIC_COLUMNS), action_kind="activity", action_summary=summary,
        activity_type="todo", due_date=F.days(flagged["last_late"]),
        resolved_when=gettext_rows("{client} pays on time often enough: under {share} late or under {avg_days} days "
                                   "late on average over {window} days", client=client,
                                   share=Percent(cfg.chronic_min_share_late),
                                   avg_days=Num(cfg.chronic_min_avg_days_late, "g"), window=cfg.chronic_window_days),
        data=[{"invoices": k, "paid_late": late, "share_late": round(sh, 3), "avg_days_late": round(a, 1),
               "window_days": cfg.chronic_window_days}
              for k, late, sh, a in zip(n.tolist(), n_late.tolist(), share, avg)],
        route=[{"invoice_user_ids": salespeople.get(i, [])} for i in ids.tolist()])
