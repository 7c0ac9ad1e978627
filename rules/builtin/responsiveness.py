"""responsiveness: the unanswered client and the broken promise.

Clients judge a firm by how quickly their messages are answered and whether people do what
they said they would.  Two kinds, each switchable in ``kinds``:

* ``unanswered`` — an email or comment whose author is the client or one of its contacts
  (not an internal user's partner) on a record of the client (the partner, its projects,
  tasks and invoices, and the records of the models listed in ``watch_models``, e.g.
  quotations or leads: read only when listed), with no later email or discussion message by an internal user on that
  record within ``reply_within_hours`` working hours, counted on the calendar of the person
  expected to answer (the record's salesperson or assignee, as routing would pick first; else
  the record's company): Odoo's working time (``RuleContext.working_time``), which this rule's
  own ``working_days``, ``working_hours`` and ``timezone`` override when set.  An internal note is not a reply.
  One finding per record, for the record's responsible user, and never more than one activity
  per client and person: the records waiting for the same person fold into the oldest one
  (``fold = "unanswered"``, the rest listed in it); once someone answers, the
  activity is closed with "answered by … on …" as its feedback.  Judged per day: raised at
  the first run on a day that starts after the reply was due.
* ``broken_promises`` — people's own open activities (ClientCare's are not pulled) on the
  client's records, overdue by more than ``overdue_after_days`` (Odoo's "Late Activities":
  deadline before today): one finding per client for its salesperson, for
  ``manager_user_id`` once the oldest is ``escalate_after_days`` overdue; resolved when they
  are done or rescheduled.

Without the ``messages`` (``activities``) table a kind is not judged: unknown is not resolved.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import re

import numpy as np
import pandas as pd


from clientcare.connector.facts import DISCUSSION_SUBTYPE_NAME
from clientcare.rules import (FindingTable, Script, TableSpec, WorkCalendar, WorkingTime, WorkingTimeConfig, const,
                              frames as F)
from clientcare.rules.config import RuleConfig
from clientcare.rules.context import RuleContext
from clientcare.rules.finding import NotJudged, Resolved, RuleOutput
from clientcare.rules.i18n import N_, EvidenceView, Num, _, ngettext

name = "responsiveness"
version = "1.0"
description = "Unanswered client messages and overdue activities staff promised clients (broken promises)"
needs = {"partners": [], "projects": [], "tasks": []}
optional_needs = {"moves": [], "messages": [], "activities": []}

Kind = Literal["unanswered", "broken_promises"]
KINDS = ("unanswered", "broken_promises")
#: The records a client's messages and activities sit on, with who answers on each.
RECORD_MODELS = ("res.partner", "project.project", "project.task", "account.move")
CLIENT_TYPES = ("email", "comment")
REPLY_TYPES = ("email", "email_outgoing")
MESSAGE_COLUMNS = ["signal", "message", "record", "author", "date", "value"]
PROMISE_COLUMNS = ["activity", "record", "summary", "owner", "deadline", "days_overdue"]

scripts = {
    "unanswered": Script(
        (N_("Answer {contact} today, on {subject} where they wrote, even if only to say when you will "
            "have a full answer."),
         N_("Ask what they need and by when; promise only a date you can keep and note it in Odoo."),
         N_("Waiting since {since}: apologise for the delay if it was long.")),
        {"contact": "data.contact", "since": "data.since"}),
    "broken_promises": Script(
        (N_("Go through the overdue activities ({activities}) with their owners ({owners})."),
         N_("For each: do it now, or tell {client} the new date yourself before rescheduling it."),
         N_("Mark what was done as done in Odoo, so the client's record shows the promise was kept.")),
        {"activities": "evidence.summary", "owners": "evidence.owner"}),
}
#: How the evidence reads (headings: the shared ones of :mod:`clientcare.rules.evidence_labels`);
#: the message, activity and record references (``mail.message,5``) are not for people to read:
#: the finding is on the waiting record itself, which the note links.
MESSAGE_VIEW = EvidenceView(hidden=("message", "record"))
PROMISE_VIEW = EvidenceView(hidden=("activity", "record"))
CLIENT_MESSAGE = N_("client message")
NO_REPLY = N_("no reply by a colleague since")
REPLY_DUE = N_("reply was due")
ANSWERED = N_("a colleague emails or posts a message (not an internal note) on the record")


@dataclass(frozen=True)
class Config(RuleConfig):
    kinds: tuple[Kind, ...] = KINDS
    #: Working hours within which a client's message gets a reply (on the answerer's calendar).
    reply_within_hours: float = 8.0
    #: For this rule only, over the run's working time (Odoo's calendars and the profile's
    #: ``[working_time]``): start and end hour of every working day (not set: from Odoo).
    working_hours: tuple[float, float] | None = None
    #: ISO weekdays worked (1 = Monday ... 7 = Sunday; not set: from Odoo).
    working_days: tuple[int, ...] | None = None
    #: IANA time zone of everyone's working hours (e.g. "Europe/Brussels"; not set: each answerer's).
    timezone: str | None = None
    #: Client messages older than this are not chased (an old thread is not a fresh request).
    look_back_days: int = 30
    #: An activity overdue by more than this many days is a broken promise.
    overdue_after_days: int = 3
    #: Dates people agreed on ClientCare's own activities about a client (a deadline they moved;
    #: payment dates apart) that passed with the situation unchanged: from this many, they are
    #: broken promises too (0: not counted).
    broken_dates_to_raise: int = 2
    #: From this many days overdue (the oldest), the finding goes to ``manager_user_id``.
    escalate_after_days: int = 14
    #: The manager escalated promises go to (default: the routing's default user).
    manager_user_id: int | None = None
    #: Other models whose records' chatter is watched (e.g. "sale.order", "crm.lead"): they need
    #: ``partner_id`` and ``user_id`` (the record's responsible) and a chatter.
    watch_models: tuple[str, ...] = ()

    def check(self) -> list[str]:
        out = [f"{k} must be >= 0" for k in ("reply_within_hours", "look_back_days", "overdue_after_days")
               if getattr(self, k) < 0]
        out += self.working_time().check()
        if self.escalate_after_days <= self.overdue_after_days:
            out.append("escalate_after_days must be more than overdue_after_days")
        for model in self.watch_models:
            if not MODEL_RE.match(model):
                out.append(f"watch_models: {model!r} is not an Odoo model name (like 'sale.order')")
            elif model in RECORD_MODELS:
                out.append(f"watch_models: {model!r} is watched already")
        if len(set(self.watch_models)) != len(self.watch_models):
            out.append("watch_models: a model is listed twice")
        return out

    def working_time(self) -> WorkingTimeConfig:
        """This rule's own working-time keys, laid over the run's."""
        return WorkingTimeConfig(working_days=self.working_days, working_hours=self.working_hours,
                                 timezone=self.timezone)


#: The fields of the connector's ``messages`` table, read on watched models too.
MESSAGE_FIELDS = ("date", "model", "res_id", "message_type", "author_id", "mail_activity_type_id", "subtype_id",
                  "create_date")
MODEL_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _watched(model: str) -> tuple[str, str]:
    """The snapshot tables of a watched model: its records, and the messages on them."""
    base = "watch_" + model.replace(".", "_")
    return base, base + "_messages"


def config_tables(config: Config) -> list[TableSpec]:
    """The records and chatter of each watched model (pulled only when a profile lists one)."""
    out = []
    for model in config.watch_models:
        records, msgs = _watched(model)
        out += [TableSpec(records, model, fields=("partner_id", "user_id", "create_date"), optional=("name",)),
                TableSpec(msgs, "mail.message",
                          domain=(("model", "=", model), ("message_type", "in", list(CLIENT_TYPES + REPLY_TYPES))),
                          fields=MESSAGE_FIELDS)]
    return out


#: Who answered, when the message's author is not known.
A_COLLEAGUE = N_("a colleague")
PATTERNS = {"unanswered": "responsiveness:*:unanswered", "broken_promises": "responsiveness:*:broken_promises"}
TABLE = {"unanswered": "messages", "broken_promises": "activities"}


def evaluate(ctx: RuleContext[Config]) -> RuleOutput:
    out, found = RuleOutput(), []
    for kind in ctx.config.kinds:
        table = TABLE[kind]
        if table not in ctx.snapshot.tables:
            why = ctx.unavailable.get(table, "not pulled")
            out.not_judged.append(NotJudged(name, PATTERNS[kind], f"{table} not readable ({why})"))
        elif kind == "unanswered":
            for model in ctx.config.watch_models:
                missing = [t for t in _watched(model) if t not in ctx.snapshot.tables]
                if missing:
                    why = "; ".join(ctx.unavailable.get(t, "not pulled") for t in missing)
                    out.not_judged.append(NotJudged(name, f"responsiveness:{model}:*:unanswered",
                                                    f"{model} or its messages not readable ({why})"))
            found.append(_unanswered(ctx, out))
        else:
            found.append(_broken_promises(ctx))
            out.resolved += _promises_kept(ctx, found[-1])
    out.findings = FindingTable.concat(found)
    return out


# -- working hours ---------------------------------------------------------------------------------
def reply_due(sent: datetime, cfg: Config, calendar: WorkCalendar) -> datetime:
    """When a message sent at ``sent`` (aware) must be answered: ``reply_within_hours`` working
    hours later on the answerer's ``calendar`` (aware UTC)."""
    return calendar.add_working_hours(sent, cfg.reply_within_hours)


def _day_start(as_of: date, calendar: WorkCalendar) -> datetime:
    """The start of ``as_of`` where the calendar's person works."""
    return datetime.combine(as_of, time(0), ZoneInfo(calendar.tz))


def answerer_calendar(ctx: RuleContext[Config], wt: WorkingTime, model: str, rid: int, cid: int | None
                      ) -> WorkCalendar:
    """The calendar of the person expected to answer on a record: the user its routing hint names
    first (the record's responsible, assignee or salesperson, else the client's salesperson), else
    the record's company; ``wt``: the run's working time under the rule's own keys."""
    s = ctx.snapshot
    _, route = _record(s, model, rid)
    user = route.get("user_id")
    if user is None:
        hints = {"task_assignee": route.get("task_user_ids"), "invoice_salesperson": route.get("invoice_user_ids")}
        user = next(iter(hints.get(route.get("first")) or ()), None)
    if user is None and route.get("project_id") is not None:
        user = F.opt_id(_field(s, "project.project", route["project_id"], "user_id"))
    if user is None and cid is not None:
        user = F.opt_id(_field(s, "res.partner", cid, "user_id"))
    if user is not None:
        return wt.for_user(user)
    return wt.for_company(F.opt_id(_field(s, model, rid, "company_id")))


# -- unanswered -------------------------------------------------------------------------------------
def _unanswered(ctx: RuleContext[Config], out: RuleOutput) -> FindingTable:
    """The unanswered findings (returned) and how last run's ones were answered (``out.resolved``)."""
    s, cfg = ctx.snapshot, ctx.config
    msgs = s.tables["messages"]
    parts = [msgs.loc[msgs["model"].isin(RECORD_MODELS).fillna(False).astype(bool)]]
    parts += [s.tables[m] for r, m in map(_watched, cfg.watch_models) if r in s.tables and m in s.tables]
    msgs = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    msgs = msgs.loc[F.by_people(s, msgs).to_numpy()]  # ClientCare's own messages answer nobody
    res_id = F.ref_ids(msgs["res_id"])
    client = F.record_clients(s, msgs["model"], res_id)
    for model in cfg.watch_models:
        records = s.tables.get(_watched(model)[0])
        mask = (msgs["model"] == model).fillna(False).astype(bool)
        if records is not None and mask.any():
            partner = F.lookup(records.drop_duplicates("id").set_index("id")["partner_id"], res_id.loc[mask])
            client.loc[mask] = F.commercial(s, partner.astype("Int64")).where(partner.notna()).astype("Int64")
    users = s.users
    staff = users["partner_id"].dropna().astype("int64")
    author = msgs["author_id"].astype("Int64")
    internal = author.isin(staff).fillna(False).astype(bool).to_numpy()
    logged = msgs["mail_activity_type_id"].notna().to_numpy()
    mtype = msgs["message_type"].astype(object).to_numpy()
    discussion = (msgs["subtype_id_name"] == DISCUSSION_SUBTYPE_NAME).fillna(False).astype(bool).to_numpy() \
        if "subtype_id_name" in msgs else np.zeros(len(msgs), dtype=bool)
    from_client = (~internal & ~logged & np.isin(mtype, CLIENT_TYPES) & author.notna().to_numpy()
                   & (F.commercial(s, author) == client).fillna(False).astype(bool).to_numpy())
    reply = internal & ~logged & (np.isin(mtype, REPLY_TYPES) | ((mtype == "comment") & discussion))
    author_name = F.names(s.partners, author)
    if "author_id_name" in msgs:
        author_name = author_name.fillna(msgs["author_id_name"].astype("string"))
    m = pd.DataFrame({"id": msgs["id"].to_numpy(), "model": msgs["model"].to_numpy(dtype=object),
                      "res_id": res_id.to_numpy(dtype=object), "client_id": client.to_numpy(dtype=object),
                      "author_id": author.to_numpy(dtype=object),
                      # the partner's own name ("Rita"), not Odoo's display name ("Acme, Rita")
                      "author": author_name.to_numpy(dtype=object, na_value=None), "date": _as_column(msgs["date"]),
                      "from_client": from_client, "reply": reply})
    m = m.loc[m["from_client"] | m["reply"]].sort_values(["date", "id"])
    last_reply = m.loc[m["reply"]].groupby(["model", "res_id"])["date"].max()
    wt = ctx.working_time.overridden(cfg.working_time())
    floor = pd.Timestamp(_day_start(ctx.as_of, wt.for_company(None)) - timedelta(days=cfg.look_back_days))
    c = m.loc[m["from_client"] & (m["date"] >= floor)]
    replied = pd.Series([last_reply.get((mo, r)) for mo, r in zip(c["model"], c["res_id"])], index=c.index,
                        dtype="datetime64[ns, UTC]")
    waiting = c.loc[replied.isna() | (c["date"] > replied)]
    findings = []
    for (model, rid), g in waiting.groupby(["model", "res_id"], sort=True):
        first = g.iloc[0]
        sent = first["date"].to_pydatetime()
        calendar = answerer_calendar(ctx, wt, model, int(rid), int(first["client_id"]))
        due = reply_due(sent, cfg, calendar)
        if due > _day_start(ctx.as_of, calendar):
            continue
        findings.append(_unanswered_finding(ctx, model, int(rid), int(first["client_id"]), g, sent, due, calendar))
    findings = _table(findings, UNANSWERED)
    current = set(findings.keys().tolist())
    replies = m.loc[m["reply"]]
    for prev in ctx.previous:
        if prev.get("data", {}).get("kind") != "unanswered" or prev["key"] in current:
            continue
        since = pd.Timestamp(prev["data"]["since_utc"])
        r = replies.loc[(replies["model"] == prev["subject_model"]) & (replies["res_id"] == prev["subject_id"])
                        & (replies["date"] > since)]
        if len(r):
            tz = answerer_calendar(ctx, wt, prev["subject_model"], int(prev["subject_id"]), prev.get("client_id")).tz
            who, when = r.iloc[0]["author"], r.iloc[0]["date"].tz_convert(tz)
            how = _("answered by {person} on {date} {time} ({tz})", person=who or A_COLLEAGUE, date=when.date(),
                    time=when.strftime("%H:%M"), tz=tz)
        elif prev["data"].get("message_ids") and not msgs["id"].isin(prev["data"]["message_ids"]).any():
            how = N_("the client's message was deleted")
        elif since < floor:
            # TRANSLATORS: {since} is a date and time
            how = _("the client's message of {since} is over {days} days old: no longer chased",
                    since=prev["data"].get("since"), days=cfg.look_back_days)
        else:
            how = _("no message of the client waits for an answer there on {date}", date=ctx.as_of)
        if (prev.get("action") or {}).get("kind") == "activity":
            out.resolved.append(Resolved(name, prev["key"], how))
    return findings


def _table(rows: list[dict], shared: dict) -> FindingTable:
    """Findings given as one dict of column values each (a record's calendar is read one by
    one) and the ``shared`` constant columns, as a table: no Finding object made."""
    if not rows:
        return FindingTable.empty()
    return FindingTable(len(rows), **shared, **{col: [r[col] for r in rows] for col in rows[0]})


def _as_column(values: pd.Series):
    """A column's values for a new frame: date-times stay an array (``to_numpy`` would make
    one Timestamp object per row, for the frame to parse them back)."""
    return values.array if isinstance(values.dtype, pd.DatetimeTZDtype) else values.to_numpy()


#: What a finding needs of the record it is on: its name, who answers there and its company.
RECORD_COLUMNS = {"project.task": ("name", "user_ids", "project_id", "company_id"),
                  "account.move": ("name", "invoice_user_id", "company_id"),
                  "res.partner": ("name", "user_id", "company_id"), "project.project": ("name", "user_id", "company_id")}


def _indexed(s, model: str) -> tuple[dict, dict]:
    """(id -> row position, column -> plain values) of ``model``'s records, built once per snapshot."""
    def build():
        frame = {"res.partner": s.partners, "project.project": s.tables.get("projects"),
                 "project.task": s.tasks, "account.move": s.invoices}.get(model)
        frame = s.tables[_watched(model)[0]] if frame is None else frame
        frame = frame.drop_duplicates("id")
        wanted = RECORD_COLUMNS.get(model, ("name", "user_id", "company_id"))
        cols = {c: F.plain_values(frame[c]) for c in wanted if c in frame}
        return dict(zip(frame["id"].tolist(), range(len(frame)))), cols
    return F.memo(s, ("responsiveness_records", model), build)


def _field(s, model: str, rid: int, column: str):
    """One column of one record (None when unknown)."""
    positions, cols = _indexed(s, model)
    at = positions.get(rid)
    return None if at is None or column not in cols else cols[column][at]


def _record(s, model: str, rid: int) -> tuple[str | None, dict]:
    """The record's name and its routing hints: who answers on it."""
    positions, cols = _indexed(s, model)
    at = positions.get(rid)

    def get(column):
        return None if at is None or column not in cols else cols[column][at]
    if model == "res.partner":
        return get("name"), {"first": "client_salesperson"}
    if model == "project.project":
        return get("name"), {"project_id": rid, "first": "project_manager"}
    if model == "project.task":
        return get("name"), {"task_user_ids": list(get("user_ids") or []), "project_id": F.opt_id(get("project_id")),
                             "first": "task_assignee"}
    if model == "account.move":
        user = F.opt_id(get("invoice_user_id"))
        return get("name"), {"invoice_user_ids": [user] if user else [], "first": "invoice_salesperson"}
    route = {"first": "client_salesperson"}  # a watched model: its own responsible, then the salesperson
    user = F.opt_id(get("user_id"))
    if user is not None:
        route.update(user_id=user, why=f"{model} responsible (user_id)")
    return get("name"), route


def _unanswered_finding(ctx, model: str, rid: int, cid: int, g: pd.DataFrame, sent: datetime,
                        due: datetime, calendar: WorkCalendar) -> dict:
    s, cfg = ctx.snapshot, ctx.config
    tz = ZoneInfo(calendar.tz)
    rname, route = _record(s, model, rid)
    rname = rname if isinstance(rname, str) else f"{model} {rid}"
    cname = _record(s, "res.partner", cid)[0] or f"partner {cid}"
    contact = g.iloc[0]["author"]
    contact = contact if isinstance(contact, str) else cname
    local = sent.astimezone(tz)
    since, at = f"{local:%Y-%m-%d %H:%M}", f"{local:%H:%M}"
    # TRANSLATORS: {date} {time} ({tz}): when the client wrote, in the answerer's time zone
    summary = (_("reply to {contact} of {client}: waiting since {date} {time} ({tz})", contact=F.short(contact),
                 client=F.short(cname), date=local.date(), time=at, tz=calendar.tz)
               if model == "res.partner" else
               _("reply to {contact} of {client}: waiting since {date} {time} ({tz}) on {record}",
                 contact=F.short(contact), client=F.short(cname), date=local.date(), time=at,
                 tz=calendar.tz, record=F.short(rname)))
    rows = [{"signal": CLIENT_MESSAGE, "message": f"mail.message,{int(i)}", "record": f"{model},{rid}",
             "author": a if isinstance(a, str) else None, "date": f"{d.tz_convert(tz):%Y-%m-%d %H:%M}",
             "value": NO_REPLY} for i, a, d in zip(g["id"], g["author"], g["date"])]
    rows.append({"signal": REPLY_DUE, "message": None, "record": f"{model},{rid}", "author": None,
                 "date": f"{due.astimezone(tz):%Y-%m-%d %H:%M}",
                 "value": ngettext("{hours} working hours", "{hours} working hours", int(cfg.reply_within_hours),
                                   hours=Num(cfg.reply_within_hours, "g"))})
    return dict(  # one row of the unanswered findings (the columns all share: :data:`UNANSWERED`)
        subject_model=model, subject_id=rid, subject_name=rname, client_id=cid, summary=summary, evidence=rows,
        action_summary=summary, due_date=due.astimezone(tz).date(),
        data={"kind": "unanswered", "contact": contact, "since": since, "since_utc": sent.isoformat(),
              "message_ids": [int(i) for i in g["id"]]},
        route=route)


#: What every unanswered finding has: one activity per client and person (``fold``), the rest listed in it.
UNANSWERED = dict(rule=const(name), severity=const("medium"), part=const("unanswered"),
                  evidence_columns=const(MESSAGE_COLUMNS), action_kind=const("activity"),
                  activity_type=const("email"), resolved_when=const(ANSWERED), fold=const("unanswered"),
                  view=const(MESSAGE_VIEW))


# -- broken promises ----------------------------------------------------------------------------------
def _broken_promises(ctx: RuleContext[Config]) -> FindingTable:
    s, cfg = ctx.snapshot, ctx.config
    acts = F.open_activity_rows(s.tables["activities"])
    a = acts.loc[acts["res_model"].isin(RECORD_MODELS).fillna(False).astype(bool)]
    res_id = F.ref_ids(a["res_id"])
    overdue = F.days_since(F.day(ctx.as_of), F.to_day(a["date_deadline"]))
    a = a.assign(res_id=res_id, client_id=F.record_clients(s, a["res_model"], res_id), days_overdue=overdue)
    a = a.loc[a["client_id"].notna() & (a["days_overdue"] > cfg.overdue_after_days)]
    agreed = _agreed_dates_passed(ctx)
    if len(agreed):
        a = pd.concat([a.assign(clientcare=False), agreed], ignore_index=True)
    a = a.sort_values(["client_id", "date_deadline", "id"]).assign(client_id=lambda x: x["client_id"].astype("int64"))
    evidence = pd.DataFrame({
        "client_id": a["client_id"], "activity": "mail.activity," + a["id"].astype(str),
        "record": a["res_model"].astype(object) + "," + a["res_id"].astype(str),
        "summary": a["summary"].fillna(""), "owner": a["user_id_name"] if "user_id_name" in a else None,
        "deadline": a["date_deadline"], "days_overdue": a["days_overdue"].astype("int64")})
    if len(agreed):  # ClientCare's own activities: named by their finding key, not an activity id
        ours = a["clientcare"].fillna(False).astype(bool).to_numpy()
        evidence.loc[ours, "activity"] = "ClientCare " + a.loc[ours, "key"].astype(str)
    rows = F.grouped_records(evidence, "client_id", PROMISE_COLUMNS)
    ids = F.grouped_lists(a.loc[a["id"].notna()].astype({"id": "int64"}), "client_id", "id")
    per_client = a.groupby("client_id", sort=True).agg(n=("id", "size"), oldest=("date_deadline", "min"),
                                                        worst=("days_overdue", "max"))
    n_agreed = (a.loc[a["clientcare"].fillna(False).astype(bool)].groupby("client_id").size()
                .reindex(per_client.index, fill_value=0) if "clientcare" in a
                else pd.Series(0, index=per_client.index)).to_numpy(dtype="int64")
    cids = per_client.index.to_numpy(dtype="int64")
    n_all = per_client["n"].to_numpy(dtype="int64")
    escalated = per_client["worst"].to_numpy() >= cfg.escalate_after_days
    positions, cols = _indexed(s, "res.partner")
    known = cols.get("name")
    cnames = [(known[positions[c]] if known is not None and c in positions else None) or f"partner {c}"
              for c in cids.tolist()]
    oldest = per_client["oldest"].dt.date.tolist()
    summaries = np.empty(len(cids), dtype=object)
    for i, (cid, cname, n, mine, first, high) in enumerate(zip(
            cids.tolist(), cnames, n_all.tolist(), n_agreed.tolist(), oldest, escalated.tolist())):
        overdue = ngettext("{n} overdue activity", "{n} overdue activities", n - mine) if n > mine else None
        agreed = ngettext("{n} agreed date passed", "{n} agreed dates passed", mine) if mine else None
        promises = (_("{activities} and {dates}", activities=overdue, dates=agreed) if overdue and agreed
                    else overdue or agreed)
        what = _("{promises} on {client}, the oldest due {date}", promises=promises, client=F.short(cname),
                 date=first)
        summaries[i] = (_("manager: promises to the client are not kept: {what}", what=what) if high
                        else _("keep the promises made to the client: {what}", what=what))
    high_route = {"first": "client_salesperson"}
    if cfg.manager_user_id is not None:
        high_route.update(user_id=cfg.manager_user_id, why="responsiveness.manager_user_id")
    else:
        high_route["order"] = ("default",)
    routes = [dict(high_route) if high else {"first": "client_salesperson"} for high in escalated.tolist()]
    late = [timedelta(days=cfg.overdue_after_days + 1), timedelta(days=cfg.escalate_after_days)]
    client_ids = cids.astype(object)
    return FindingTable(
        len(cids), rule=const(name), subject_model=const("res.partner"), subject_id=cids,
        subject_name=cnames, client_id=client_ids,
        severity=np.where(escalated, "high", "medium").astype(object), part=const("broken_promises"),
        summary=summaries, evidence=[rows[c] for c in cids.tolist()], evidence_columns=const(PROMISE_COLUMNS),
        action_kind=const("activity"), action_summary=summaries, activity_type=const("todo"),
        due_date=[d + late[h] for d, h in zip(oldest, escalated.tolist())],
        resolved_when=const(_("each listed activity is done or rescheduled to a date no more than {days} days past",
                              days=cfg.overdue_after_days)),
        data=[{"kind": "broken_promises", "activity_ids": ids.get(c, []), "escalated": h,
               "oldest_deadline": d.isoformat()} for c, h, d in zip(cids.tolist(), escalated.tolist(), oldest)],
        route=routes, daily=const(("days_overdue",)), view=const(PROMISE_VIEW))


def _agreed_dates_passed(ctx: RuleContext[Config]) -> pd.DataFrame:
    """Dates people agreed on ClientCare's own activities about a client (``ctx.broken_dates``;
    late-payment ones are the client's payment promises, counted by the fit checklist) that
    passed unchanged, for the clients with at least ``broken_dates_to_raise`` of them in the
    look-back window: rows shaped like the activities they join."""
    cfg = ctx.config
    since = ctx.as_of - timedelta(days=cfg.look_back_days)
    if not cfg.broken_dates_to_raise:
        return pd.DataFrame()
    rows = []
    for cid, dates in ctx.broken_dates.items():
        mine = [b for b in dates if b.rule != "late_payment" and b.agreed >= since]
        if len(mine) >= cfg.broken_dates_to_raise:
            for b in mine:
                model, res_id = (b.key.split(":") + ["", "0"])[1:3]
                rows.append({"id": pd.NA, "key": b.key, "res_model": model, "res_id": int(res_id), "client_id": cid,
                             # TRANSLATORS: {rule} is the name of a ClientCare rule (late_payment...)
                             "summary": _("date agreed on ClientCare's {rule} activity", rule=b.rule),
                             "date_deadline": pd.Timestamp(b.agreed), "days_overdue": (ctx.as_of - b.agreed).days,
                             "clientcare": True})
    out = pd.DataFrame(rows)
    if len(out):  # an object column: pandas would make the messages plain text
        out["summary"] = pd.Series([r["summary"] for r in rows], index=out.index, dtype=object)
    return out


def _promises_kept(ctx: RuleContext[Config], found: FindingTable) -> list[Resolved]:
    """How last run's broken promises that are gone were kept: each listed activity done (on
    its day, from 17 on), rescheduled (to its new date) or deleted (16 deletes done ones)."""
    gone = [p for p in F.gone_activity_findings(ctx.previous, found.keys().tolist())
            if (p.get("data") or {}).get("kind") == "broken_promises"]
    if not gone:
        return []
    acts = ctx.snapshot.tables["activities"].drop_duplicates("id").set_index("id")
    still_open = set(F.open_activity_rows(acts.reset_index())["id"].tolist())
    out = []
    for prev in gone:
        reasons = []
        for row in prev.get("evidence") or []:
            if not str(row.get("activity") or "").startswith("mail.activity,"):
                continue  # a date agreed on ClientCare's own activity: the write-back tells of those
            aid = int(str(row.get("activity") or "0").rsplit(",", 1)[-1])
            activity = F.short(row.get("summary")) if row.get("summary") else _("activity {id}", id=aid)
            if aid not in acts.index:
                reasons.append(_("'{activity}' done or deleted", activity=activity))
            elif aid not in still_open:
                done = acts.at[aid, "date_done"] if "date_done" in acts else pd.NaT
                reasons.append(_("'{activity}' done on {date}", activity=activity, date=pd.Timestamp(done).date())
                               if pd.notna(done) else _("'{activity}' done", activity=activity))
            else:
                deadline = F.to_day(acts.loc[[aid], "date_deadline"]).iloc[0]
                before = pd.Timestamp(str(row.get("deadline"))[:10]) if row.get("deadline") else pd.NaT
                if pd.notna(deadline) and (pd.isna(before) or deadline > before):
                    reasons.append(_("'{activity}' rescheduled to {date}", activity=activity, date=deadline.date()))
        how = F.joined(reasons) or _("no activity on the client is overdue by more than {days} days on {date}",
                                     days=ctx.config.overdue_after_days, date=ctx.as_of)
        out.append(Resolved(name, prev["key"], how))
    return out
