"""follow_up: scheduled positive contact with clients, not only when something is wrong.

Five kinds, each switchable in ``kinds``:

* ``check_in`` — an active client with no logged contact (message, email, done
  activity on its partners, projects, tasks or invoices) for
  ``check_in_after_days``, and no open activity on the client;
* ``fix_check`` — ``fix_check_after_days`` after a task of a support/fix project
  (``fix_projects``) is done: "is the fix holding?";
* ``survey`` — a satisfaction survey every ``survey_every_days`` for an active
  client that gave no rating in that time, proposed during the first
  ``expire_after_days`` of each period (periods are staggered per client);
* ``punch_list`` — ``punch_list_after_days`` after a client's project completes;
* ``onboarding`` — the configured steps for a client first seen less than
  ``new_client_days`` ago, each with its owner: one activity per client and owner lists that
  owner's steps (``fold = "onboarding"``: the earliest step leads, the others are listed in it
  with their owner and date, and their keys taken over).

Contacts proposed to one client are spaced ``min_days_between_contacts`` apart
and that long after its last logged contact.  Due dates derive from the data
(last contact, closing date...), never from the run date, so re-runs leave the
activities alone.  Without the ``messages`` table check-ins are not proposed
(contact history unknown); one-off kinds then expire after ``expire_after_days``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from clientcare.connector.facts import ActivityType
from clientcare.rules import ROUTING_STEPS, FindingTable, ReportChart, Script, const, filled, frames as F, object_column
from clientcare.rules.config import RuleConfig
from clientcare.rules.context import RuleContext
from clientcare.rules.finding import NotJudged, Resolved, RuleOutput
from clientcare.rules.i18n import N_, EvidenceView, Num, _, each, gettext_rows, ngettext, ngettext_rows, pgettext

name = "follow_up"
version = "1.0"
description = "Scheduled positive contact: check-ins, fix check-ins, surveys, punch lists, onboarding steps"
needs = {"partners": [], "projects": [], "tasks": []}
optional_needs = {"moves": [], "messages": [], "activities": [], "ratings": []}
charts = (ReportChart(N_("Follow-ups due per owner")),)

Kind = Literal["check_in", "fix_check", "survey", "punch_list", "onboarding"]
KINDS = ("check_in", "fix_check", "survey", "punch_list", "onboarding")
CONTACT_KINDS = ("check_in", "fix_check", "survey", "punch_list")
COLUMNS = ["signal", "record", "date", "value"]
scripts = {
    "check_in": Script((N_("Call {client} to hear how things are going, with no request of your own."),
                        N_("Ask what is coming up for them and whether anything in our work could be better."),
                        N_("Mark this activity done with a short note of what you heard."))),
    "fix_check": Script((N_("Ask {client} whether the fix of '{subject}' holds and works as they expected."),
                         N_("If it does not, open a task now and tell them when you will be back."))),
    "survey": Script((N_("Send {client} the satisfaction survey and say why you ask: to do better for them."),
                      N_("When they answer, thank them and tell them what you will change."))),
    "punch_list": Script((N_("Walk through the finished project '{subject}' with {client}: is anything left open "
                             "or not as agreed?"),
                          N_("Agree who does each remaining item and by when; add them as tasks."),
                          N_("Ask whether they would recommend us, and for what."))),
    "onboarding": Script((N_("Onboarding of {client}: {summary}; each step, its owner and its date are listed "
                             "below."),
                          N_("Agree who does what on both sides, and how and how often you keep them informed."),
                          N_("Note what was agreed on the client in Odoo."))),
}
#: How the evidence reads (headings: the shared ones of :mod:`clientcare.rules.evidence_labels`);
#: the record references (``res.partner,12``) are not for people to read.
VIEW = EvidenceView(hidden=("record",))
#: Who the activity is with, when the client's name is not known.
THE_CLIENT = N_("the client")


@dataclass(frozen=True)
class OnboardingStep:
    """One onboarding step (a table of the rule's ``onboarding_steps``), validated like a config."""

    name: str = ""
    #: Activity summary; ``{client}`` is replaced by the client's name.
    summary: str = ""
    #: The routing step that owns it (client_salesperson, project_manager, ...), or a user id.
    owner: str = "client_salesperson"
    owner_user_id: int | None = None
    due_after_days: int = 1
    activity_type: ActivityType = "todo"

    def check(self) -> list[str]:
        out = [] if self.name and ":" not in self.name else ["onboarding step needs a name without ':'"]
        if self.owner not in ROUTING_STEPS:
            out.append(f"onboarding step {self.name!r}: owner {self.owner!r} is not one of "
                       f"{', '.join(ROUTING_STEPS)}")
        if self.due_after_days < 0:
            out.append(f"onboarding step {self.name!r}: due_after_days must be >= 0")
        return out


DEFAULT_STEPS = (
    OnboardingStep("expectations", N_("agree on expectations and how we work with {client}"),
                   "client_salesperson", None, 2, "meeting"),
    OnboardingStep("scope", N_("confirm the scope of work with {client}"), "project_manager", None, 5, "meeting"),
    OnboardingStep("payment_terms", N_("confirm payment terms with {client}"), "invoice_salesperson", None, 5,
                   "email"),
    OnboardingStep("responsibilities", N_("agree who does what, on both sides, with {client}"), "project_manager",
                   None, 10, "call"),
)


def step_summary(step: OnboardingStep, client) -> str:
    """An onboarding step's activity summary for ``client``: a built-in step's translated, a
    profile's own as written (its ``{client}`` filled either way)."""
    if not step.summary:
        # TRANSLATORS: {step} is the name a profile gave an onboarding step without a summary
        return _("onboarding: {step} with {client}", step=step.name, client=client)
    return filled(step.summary, {"client": client})


@dataclass(frozen=True)
class Config(RuleConfig):
    kinds: tuple[Kind, ...] = KINDS
    #: Active client: invoiced within this many days, or with an open task or running project.
    active_within_days: int = 365
    check_in_after_days: int = 60
    min_days_between_contacts: int = 14
    #: Support/fix projects (ids or names) whose closed tasks get a check-in.
    fix_projects: tuple[int | str, ...] = ()
    fix_check_after_days: int = 7
    #: 0 disables surveys.
    survey_every_days: int = 180
    punch_list_after_days: int = 14
    #: One-off follow-ups (fix check, punch list, survey) are dropped this long after they fell due.
    expire_after_days: int = 30
    new_client_days: int = 45
    onboarding_steps: tuple[OnboardingStep, ...] = DEFAULT_STEPS
    #: Other message authors (partner ids) whose messages are not contacts, e.g. an integration
    #: posting as its own user; ClientCare's own user never counts (``own_partner_id``).
    ignore_author_ids: tuple[int, ...] = ()

    def check(self) -> list[str]:
        out = [f"{k} must be >= 0" for k in ("active_within_days", "check_in_after_days",
                                              "min_days_between_contacts", "fix_check_after_days",
                                              "survey_every_days", "punch_list_after_days",
                                              "expire_after_days", "new_client_days")
               if getattr(self, k) < 0]
        names = [s.name for s in self.onboarding_steps]
        if len(set(names)) != len(names):
            out.append("onboarding step names must be distinct (they are part of the finding key)")
        return out


#: What each kind needs to be decided at all (a table that was not pulled or not readable);
#: without it the kind is not proposed and its keys are not judged (never closed as resolved).
NEEDS = {"check_in": (("messages", "activities"), "contact history or open activities not readable"),
         "survey": (("ratings",), "ratings not readable: whether the client rated is unknown"),
         "onboarding": (("moves",), "invoices not readable: when the client was first seen is unknown")}
PATTERNS = {"check_in": "follow_up:*:check_in", "survey": "follow_up:*:survey*",
            "onboarding": "follow_up:*:onboarding*"}


def evaluate(ctx: RuleContext[Config]) -> RuleOutput:
    snapshot, as_of, config = ctx.snapshot, ctx.as_of, ctx.config
    out = RuleOutput()
    kinds = []
    for kind in config.kinds:
        tables, why = NEEDS.get(kind, ((), ""))
        if all(t in snapshot.tables for t in tables):
            kinds.append(kind)
        else:
            out.not_judged.append(NotJudged(name, PATTERNS[kind], why))
    clients = _Clients(snapshot, as_of, config)
    parts = []
    for kind in kinds:
        frame = getattr(clients, kind)()
        if frame is not None and len(frame):
            parts.append(frame.assign(kind=kind))
    if parts:
        cand = pd.concat(parts, ignore_index=True)
        cand["due"] = _spaced(cand, clients, config)
        out.findings = _findings(cand, clients, config)
    else:
        out.findings = FindingTable.empty()
    for prev in F.gone_activity_findings(ctx.previous, out.findings.keys()):
        kind = (prev.get("data") or {}).get("kind")
        if kind in kinds:
            out.resolved.append(Resolved(name, prev["key"], clients.how_resolved(kind, prev)))
        elif kind in KINDS and kind not in config.kinds:
            # TRANSLATORS: {kind} is one of the follow-up kinds (KIND_WORDS)
            out.resolved.append(Resolved(name, prev["key"], _("{kind} follow-ups are turned off in ClientCare's settings",
                                                              kind=KIND_WORDS[kind])))
    return out


class _Clients:
    """Per-client signals shared by the kinds."""

    def __init__(self, snapshot, as_of: date, cfg: Config):
        self.s, self.cfg, self.as_of = snapshot, cfg, as_of
        self.today = F.day(as_of)
        clients = snapshot.clients.set_index("id")
        self.clients = clients.index
        self.names = clients["name"]
        inv = F.invoices(snapshot)
        t = F.tasks(snapshot)
        p = F.projects(snapshot)
        self.tasks, self.projects = t, p
        invoiced = inv.groupby("client_id")["invoice_date"]  # grouped once for the first and the last
        firsts = pd.concat([invoiced.min(),
                            p.groupby("client_id")["create_date"].min().pipe(F.to_day),
                            t.groupby("client_id")["create_day"].min()], axis=1).min(axis=1)
        self.first_seen = firsts.reindex(self.clients).fillna(F.to_day(clients["create_date"]))
        last_invoice = invoiced.max().reindex(self.clients)
        open_tasks = t.loc[t["is_open"]].groupby("client_id").size().reindex(self.clients).fillna(0)
        running = p.loc[p["active"] & ~p["is_done"]].groupby("client_id").size().reindex(self.clients).fillna(0)
        self.active = ((last_invoice > self.today - pd.Timedelta(days=cfg.active_within_days))
                       | (open_tasks > 0) | (running > 0)).fillna(False) & clients["active"].astype(bool)
        self.open_tasks, self.running, self.last_invoice = open_tasks, running, last_invoice
        self.inter = F.interactions(snapshot, cfg.ignore_author_ids)
        if self.inter is not None:
            latest = self.inter.loc[self.inter["day"] <= self.today].sort_values(["day", "message_id"])
            latest = latest.drop_duplicates("client_id", keep="last").set_index("client_id")
            self.last = latest.reindex(self.clients)
        else:
            self.last = None
        acts = F.open_activities(snapshot)
        self.busy = None if acts is None else self.clients.isin(acts["client_id"].dropna())
        self.project_hint = (p.loc[p["client_id"].notna()].sort_values(["create_date", "id"])
                             .drop_duplicates("client_id", keep="last").set_index("client_id")["id"])

    def last_contact_day(self) -> pd.Series:
        if self.last is None:
            return pd.Series(pd.NaT, index=self.clients, dtype="datetime64[ns]")
        return self.last["day"]

    def _contact_after(self, client_ids: pd.Series, when: pd.Series) -> np.ndarray:
        """Whether the client had a logged contact on or after ``when`` (False when unknown)."""
        if self.inter is None:
            return np.zeros(len(client_ids), dtype=bool)
        last_any = self.inter.groupby("client_id")["day"].max()
        return (F.lookup(last_any, client_ids) >= when.to_numpy()).fillna(False).to_numpy(dtype=bool)

    def _per_client(self, mask, kind_due) -> pd.DataFrame:
        ids = self.clients[np.asarray(mask, dtype=bool)]
        return pd.DataFrame({"subject_model": "res.partner", "subject_id": ids.to_numpy(),
                             "subject_name": self.names.reindex(ids).to_numpy(), "client_id": ids.to_numpy(),
                             "natural_due": kind_due.reindex(ids).to_numpy()})

    # -- how a follow-up went away ------------------------------------------------------------------
    def how_resolved(self, kind: str, prev: dict) -> str:
        """The closing feedback of last run's ``kind`` activity ``prev``, now gone: the contact
        logged (by whom, when), the activity planned, the rating given, the client gone or no
        longer active, the follow-up expired."""
        cfg, cid = self.cfg, prev.get("client_id")
        due = pd.Timestamp((prev.get("action") or {}).get("due_date") or self.as_of)
        gone = self._client_gone(cid)
        if kind == "onboarding":
            first = self.first_seen.get(cid, pd.NaT) if cid is not None else pd.NaT
            client, days = prev["subject_name"], cfg.new_client_days
            return gone or (_("{client} is no longer a new client (first seen {date}, {days} days)",
                              client=client, date=first.date(), days=days) if pd.notna(first)
                            else _("{client} is no longer a new client ({days} days)", client=client, days=days))
        if kind == "survey":
            period = prev.get("period")
            return gone or self._rated(cid, due) or _(
                "the survey period of {date} is over ({days} days)",
                date=date.fromisoformat(period) if period else due.date(), days=cfg.expire_after_days)
        if kind == "check_in":
            since = next((pd.Timestamp(r["date"]) for r in prev.get("evidence") or []
                          if r.get("signal") == SIGNALS["last"] and r.get("date")), pd.NaT)
            return (gone or self._contact_since(cid, since, _shown_message(prev)) or self._planned(cid)
                    or ("" if bool(self.active.get(cid, False)) else
                        _("{client} is no longer an active client (nothing invoiced in {days} days, no open "
                          "task or running project)", client=prev["subject_name"], days=cfg.active_within_days))
                    or _("no longer found on {date}", date=self.as_of))
        contact = self._contact_since(cid, due)
        if contact:
            return contact
        if self.today >= due + pd.Timedelta(days=cfg.expire_after_days):
            return _("expired on {date} without a logged contact",
                     date=(due + pd.Timedelta(days=cfg.expire_after_days)).date())
        if kind == "fix_check":
            t = self.tasks.loc[self.tasks["id"] == prev["subject_id"]]
            if not len(t) or not bool(t["is_done"].iloc[0]):
                return _("task '{task}' reopened or removed", task=F.short(prev["subject_name"]))
        if kind == "punch_list":
            p = self.projects.loc[self.projects["id"] == prev["subject_id"]]
            if not len(p) or not (bool(p["is_done"].iloc[0]) and bool(p["active"].iloc[0])):
                return _("project '{project}' reopened or archived", project=F.short(prev["subject_name"]))
        return gone or _("no longer found on {date}", date=self.as_of)

    def _client_gone(self, cid) -> str:
        if cid is None:
            return ""
        row = self.s.partners.loc[self.s.partners["id"] == cid]
        if len(row) and not bool(row["active"].iloc[0]):
            return _("client {client} archived", client=row["name"].iloc[0])
        return "" if cid in self.clients else N_("no longer a client")

    def _contact_since(self, cid, since, seen_message: int | None = None) -> str:
        """"contact logged: <kind> by <person> on <day>" for the client's latest contact on or after
        ``since`` (any, when ``since`` is unknown), other than the one already shown."""
        if self.inter is None or cid is None:
            return ""
        c = self.inter.loc[(self.inter["client_id"] == cid) & (self.inter["day"] <= self.today)]
        if pd.notna(since):
            c = c.loc[c["day"] >= since]
        if seen_message is not None:
            c = c.loc[c["message_id"] != seen_message]
        if not len(c):
            return ""
        last = c.sort_values(["day", "message_id"]).iloc[-1]
        what, day = CONTACT_WORDS.get(last["kind"], last["kind"]), last["day"].date()
        if isinstance(last["author"], str):
            return _("contact logged: {what} by {person} on {date}", what=what, person=last["author"], date=day)
        return _("contact logged: {what} on {date}", what=what, date=day)

    def _planned(self, cid) -> str:
        acts = F.open_activities(self.s)
        if acts is None or cid is None:
            return ""
        mine = acts.loc[acts["client_id"] == cid].sort_values(["due", "activity_id"])
        if not len(mine):
            return ""
        first = mine.iloc[0]
        summary = F.short(first["summary"]) if isinstance(first["summary"], str) and first["summary"] else None
        due = first["due"].date() if pd.notna(first["due"]) else None
        if summary is None:
            return (_("activity planned on the client, due {date}", date=due) if due
                    else N_("activity planned on the client"))
        return (_("activity '{summary}' planned on the client, due {date}", summary=summary, date=due) if due
                else _("activity '{summary}' planned on the client", summary=summary))

    def _rated(self, cid, since) -> str:
        r = F.ratings(self.s)
        if r is None or cid is None:
            return ""
        r = r.loc[(r["client_id"] == cid) & (r["day"] >= since) & (r["day"] <= self.today)]
        if not len(r):
            return ""
        last = r.sort_values(["day", "rating_id"]).iloc[-1]
        return _("rated {rating}/5 on {date}", rating=Num(float(last["rating"]), "g"), date=last["day"].date())

    # -- the kinds -------------------------------------------------------------------------------
    def check_in(self) -> pd.DataFrame | None:
        cfg = self.cfg
        since = self.last["day"].fillna(self.first_seen)
        idle = F.days_since(self.today, since)
        mask = self.active & ~self.busy & (idle >= cfg.check_in_after_days)
        out = self._per_client(mask, since + pd.Timedelta(days=cfg.check_in_after_days))
        return out.assign(since=since.reindex(out["client_id"]).to_numpy())

    def survey(self) -> pd.DataFrame | None:
        n = self.cfg.survey_every_days
        if n <= 0:
            return None
        ratings = F.ratings(self.s)
        r = ratings.loc[(ratings["day"] > self.today - pd.Timedelta(days=n)) & (ratings["day"] <= self.today)]
        recent = self.clients.isin(r["client_id"].dropna())
        old_enough = self.first_seen <= self.today - pd.Timedelta(days=n)
        # staggered periods: client c's period k covers days [k*n - c, (k+1)*n - c) (proleptic ordinals)
        offset = (self.as_of.toordinal() + self.clients.to_numpy()) // n
        start_ord = offset * n - self.clients.to_numpy()
        epoch = date(1970, 1, 1).toordinal()
        start = pd.Series(pd.Timestamp("1970-01-01") + pd.to_timedelta(start_ord - epoch, unit="D"),
                          index=self.clients)
        fresh = self.today < start + pd.Timedelta(days=self.cfg.expire_after_days)
        mask = self.active & ~recent & old_enough & fresh
        out = self._per_client(mask, start)
        return out.assign(period=pd.to_datetime(out["natural_due"]).dt.strftime("%Y-%m-%d"))

    def _due_without_contact(self, rows: pd.DataFrame, since: pd.Series, after_days: int):
        """Rows whose follow-up (``after_days`` after ``since``) is due and not yet expired, and
        whose client had no contact since it fell due; with those due dates."""
        due = since + pd.Timedelta(days=after_days)
        window = (due <= self.today) & (self.today < due + pd.Timedelta(days=self.cfg.expire_after_days))
        rows, due = rows.loc[window], due.loc[window]
        keep = ~self._contact_after(rows["client_id"], due)
        return rows.loc[keep], due.loc[keep]

    def fix_check(self) -> pd.DataFrame | None:
        cfg = self.cfg
        if not cfg.fix_projects:
            return None
        p = self.projects
        ids = [x for x in cfg.fix_projects if isinstance(x, int)]
        names = [x.lower() for x in cfg.fix_projects if isinstance(x, str)]
        fix = p.loc[p["id"].isin(ids) | p["name"].str.lower().isin(names).fillna(False).astype(bool), "id"]
        t = self.tasks.loc[self.tasks["is_done"] & self.tasks["project_id"].isin(fix)]
        t, due = self._due_without_contact(t, t["closed_on"], cfg.fix_check_after_days)
        return pd.DataFrame({"subject_model": "project.task", "subject_id": t["id"].to_numpy(),
                             "subject_name": F.task_names(self.s, t["id"]).to_numpy(dtype=object),
                             "client_id": t["client_id"].to_numpy(),
                             "natural_due": due.to_numpy(), "closed_on": t["closed_on"].to_numpy(),
                             "project_id": t["project_id"].to_numpy(), "project_name": t["project_id_name"].to_numpy(),
                             "task_users": t["user_ids"].to_numpy()})

    def punch_list(self) -> pd.DataFrame | None:
        cfg = self.cfg
        p = self.projects.loc[self.projects["active"] & self.projects["is_done"] & self.projects["client_id"].notna()]
        p, due = self._due_without_contact(p, p["completed_on"], cfg.punch_list_after_days)
        return pd.DataFrame({"subject_model": "project.project", "subject_id": p["id"].to_numpy(),
                             "subject_name": p["name"].to_numpy(), "client_id": p["client_id"].to_numpy(),
                             "natural_due": due.to_numpy(), "completed_on": p["completed_on"].to_numpy(),
                             "project_id": p["id"].to_numpy(), "n_tasks": p["n_tasks"].to_numpy()})

    def onboarding(self) -> pd.DataFrame | None:
        cfg = self.cfg
        if not cfg.onboarding_steps:
            return None
        new = (self.first_seen > self.today - pd.Timedelta(days=cfg.new_client_days)) & (self.first_seen <= self.today)
        ids = self.clients[new.to_numpy(dtype=bool)]
        if not len(ids):
            return None
        first = self.first_seen.reindex(ids)
        frames = [pd.DataFrame({"subject_model": "res.partner", "subject_id": ids.to_numpy(),
                                "subject_name": self.names.reindex(ids).to_numpy(), "client_id": ids.to_numpy(),
                                "natural_due": (first + pd.Timedelta(days=step.due_after_days)).to_numpy(),
                                "first_seen": first.to_numpy(), "step": i})
                  for i, step in enumerate(cfg.onboarding_steps)]
        return pd.concat(frames, ignore_index=True)


def _shown_message(prev: dict) -> int | None:
    """The message a check-in showed as the last logged contact (not a new contact)."""
    for row in prev.get("evidence") or []:
        record = row.get("record") or ""
        if row.get("signal") == SIGNALS["last"] and record.startswith("mail.message,"):
            return int(record.split(",", 1)[1])
    return None


def _spaced(cand: pd.DataFrame, ctx: _Clients, cfg: Config) -> pd.Series:
    """Due dates with contacts to one client at least ``min_days_between_contacts`` apart.

    due_i = max(natural_i, last contact + gap, due_{i-1} + gap), which is
    i*gap + cummax(base_j - j*gap) within a client: no loop over clients.
    """
    gap = pd.Timedelta(days=cfg.min_days_between_contacts)
    due = cand["natural_due"].copy()
    contact = cand["kind"].isin(CONTACT_KINDS) & cand["client_id"].notna()
    if not contact.any() or gap == pd.Timedelta(0):
        return due
    c = cand.loc[contact]
    last = F.lookup(ctx.last_contact_day(), c["client_id"]) + gap
    base = pd.concat([c["natural_due"], last], axis=1).max(axis=1)
    order = pd.DataFrame({"client": c["client_id"].astype("int64"), "base": base,
                          "rank": c["kind"].map({k: i for i, k in enumerate(CONTACT_KINDS)})})
    order = order.sort_values(["client", "base", "rank"], kind="stable")
    i = order.groupby("client").cumcount()
    shifted = order["base"] - i * gap
    due.loc[order.index] = (shifted.groupby(order["client"]).cummax() + i * gap).to_numpy()
    return due


#: How an onboarding step's owner reads in the activity (the routing step that owns it).
OWNER_WORDS = {"client_salesperson": N_("the client's salesperson"), "project_manager": N_("the project manager"),
               "task_assignee": N_("the assignee of the client's tasks"),
               "invoice_salesperson": N_("the salesperson of the client's invoices"),
               "default": N_("the default user")}
#: The kinds as a person reads them (the English is the kind's key, as the settings name it).
# TRANSLATORS: a kind of follow-up (check-in: a call to hear how things go; fix check: is a fix
# holding; punch list: what is left after a project; onboarding: the steps with a new client)
KIND_WORDS = {"check_in": pgettext("follow-up kind", "check-in"), "fix_check": pgettext("follow-up kind", "fix check"),
              "survey": pgettext("follow-up kind", "survey"), "punch_list": pgettext("follow-up kind", "punch list"),
              "onboarding": pgettext("follow-up kind", "onboarding")}
#: A logged contact as a person reads it (:func:`clientcare.connector.snapshot.interactions`' kinds).
CONTACT_WORDS = {"done activity": pgettext("logged contact", "done activity"),
                 "message": pgettext("logged contact", "message"), "email": pgettext("logged contact", "email")}
#: The records a contact is logged on, in words (the English keeps the model, as before).
# TRANSLATORS: the kind of record a contact was logged on: say it in words ("the client's card")
RECORD_WORDS = {"res.partner": pgettext("record kind", "res.partner"),
                "project.project": pgettext("record kind", "project.project"),
                "project.task": pgettext("record kind", "project.task"),
                "account.move": pgettext("record kind", "account.move")}
SEVERITY = {"check_in": "low", "fix_check": "low", "survey": "info", "punch_list": "low", "onboarding": "medium"}
ACTIVITY = {"check_in": "call", "fix_check": "call", "survey": "email", "punch_list": "meeting"}


RESOLVED = {
    "check_in": N_("a message, email or done activity is logged with the client, or an activity is planned"),
    "fix_check": N_("a contact with the client is logged after the check-in date, or it expires"),
    "punch_list": N_("a contact with the client is logged after the follow-up date, or it expires"),
}


def _findings(cand: pd.DataFrame, ctx: _Clients, cfg: Config) -> FindingTable:
    """The candidates as findings, column by column, in the candidates' order."""
    cand = cand.reset_index(drop=True)
    n = len(cand)
    # routing hints, for the clients concerned only
    concerned = cand["client_id"].dropna().unique()
    inv = F.invoices(ctx.s)
    invoice_users = F.ranked_users(inv.loc[inv["client_id"].isin(concerned), ["client_id", "invoice_user_id"]],
                                   "client_id", "invoice_user_id")
    t = ctx.tasks
    task_users = F.ranked_users(t.loc[t["is_open"] & t["client_id"].isin(concerned), ["client_id", "user_ids"]],
                                "client_id", "user_ids")
    kinds = cand["kind"].to_numpy(dtype=object)
    models = cand["subject_model"].to_numpy(dtype=object)
    cids = cand["client_id"].astype("Int64").to_numpy(dtype=object, na_value=None)
    subject_names = cand["subject_name"].to_numpy(dtype=object).copy()
    unnamed = np.fromiter((not isinstance(v, str) for v in subject_names), dtype=bool, count=n)
    if unnamed.any():
        subject_names[unnamed] = [f"{m} {i}" for m, i in zip(models[unnamed], cand["subject_id"][unnamed].tolist())]
    projects = (cand["project_id"] if "project_id" in cand else pd.Series(pd.NA, index=cand.index)).astype("Int64")
    projects = projects.fillna(F.lookup(ctx.project_hint.astype("Int64"), cand["client_id"]))
    own_users = cand["task_users"].to_numpy(dtype=object) if "task_users" in cand else np.full(n, None)
    route = [{"project_id": pid, "invoice_user_ids": invoice_users.get(cid, ()),
              "task_user_ids": own if isinstance(own, list) else task_users.get(cid, ())}
             for pid, cid, own in zip(projects.to_numpy(dtype=object, na_value=None).tolist(), cids.tolist(),
                                      own_users.tolist())]
    summary, resolved = np.empty(n, dtype=object), object_column(RESOLVED.get(k) for k in kinds)
    part, period = kinds.copy(), np.full(n, None, dtype=object)
    activity = object_column(ACTIVITY.get(k) for k in kinds)
    for kind in dict.fromkeys(kinds.tolist()):
        rows = np.flatnonzero(kinds == kind)
        names = object_column(F.short(v) for v in subject_names[rows])
        shown = each(names)
        if kind in ("fix_check", "punch_list"):
            client = each(F.short(c) if c else THE_CLIENT for c in F.lookup(ctx.names, cand["client_id"].iloc[rows])
                          .to_numpy(dtype=object, na_value=None))
        if kind == "check_in":
            summary[rows] = gettext_rows("check in with {client}: no logged contact for {days}+ days", client=shown,
                                         days=cfg.check_in_after_days)
        elif kind == "survey":
            period[rows] = cand["period"].to_numpy(dtype=object)[rows]
            summary[rows] = gettext_rows("ask {client} for feedback (satisfaction survey, every {days} days)",
                                         client=shown, days=cfg.survey_every_days)
            resolved[rows] = gettext_rows("{client} gives a rating; otherwise replaced by the next period's survey",
                                          client=shown)
        elif kind == "fix_check":
            summary[rows] = gettext_rows("is the fix holding? check with {client} about '{task}'", client=client,
                                         task=shown)
        elif kind == "punch_list":
            summary[rows] = gettext_rows("punch-list follow-up with {client}: project '{project}' completed",
                                         client=client, project=shown)
        else:
            resolved[rows] = gettext_rows("{client} is no longer a new client ({days} days after first seen)",
                                          client=shown, days=cfg.new_client_days)
            steps = cand["step"].to_numpy()[rows].astype("int64")
            for i, s in enumerate(cfg.onboarding_steps):
                mine = rows[steps == i]
                part[mine], activity[mine] = f"onboarding:{s.name}", s.activity_type
                summary[mine] = object_column(step_summary(s, v) for v in names[steps == i])
                extra = {"first": s.owner}
                if s.owner_user_id is not None:
                    extra.update(user_id=s.owner_user_id, why=f"onboarding step {s.name} owner")
                for k in mine.tolist():
                    route[k].update(extra)
    onboarding = kinds == "onboarding"
    fold = np.full(n, None, dtype=object)
    fold[onboarding] = "onboarding"  # one activity per client and owner
    return FindingTable(
        n, rule=name, subject_model=models, subject_id=cand["subject_id"].to_numpy(dtype="int64"),
        subject_name=subject_names, client_id=cids, severity=object_column(SEVERITY[k] for k in kinds), part=part,
        period=period, summary=summary, evidence=_evidence(cand, ctx, cfg), evidence_columns=const(COLUMNS),
        action_kind="activity", action_summary=summary, activity_type=activity,
        due_date=cand["due"].dt.date.to_numpy(dtype=object), resolved_when=resolved,
        data=[{"kind": k} for k in kinds.tolist()], route=route, fold=fold, view=const(VIEW))


#: The evidence's signals (words: equal to the English text the closing feedback looks for).
SIGNALS = {"active": N_("active client"), "last": N_("last logged contact"),
           "open": N_("open activities on the client"), "survey": N_("survey period starts"),
           "fix": N_("fix task done"), "check": N_("check after"), "completed": N_("project completed"),
           "after": N_("follow up after"), "first_seen": N_("client first seen"), "step": N_("onboarding step")}
NONE_LOGGED = N_("none logged; first seen")
#: A name Odoo does not give.
UNKNOWN = N_("?")




def _shared(make, *keys) -> np.ndarray:
    """``make(*distinct values)`` (a message each) spread over the rows: one message per distinct
    value (of each key, or combination of keys), the same for every row that has it."""
    if len(keys) == 1:
        codes, distinct = pd.factorize(np.asarray(keys[0], dtype=object), use_na_sentinel=False)
        return object_column(make(distinct.tolist()))[codes]
    codes, distinct = pd.factorize(object_column(zip(*keys)), use_na_sentinel=False)
    return object_column(make(*zip(*distinct.tolist())) if len(distinct) else [])[codes]




def _why_active(ctx: _Clients, cid: pd.Series) -> np.ndarray:
    """Why each client counts as active: its open tasks, else its running projects, else when
    it was last invoiced."""
    tasks = F.lookup(ctx.open_tasks, cid).to_numpy(dtype="float64", na_value=np.nan)
    running = F.lookup(ctx.running, cid).to_numpy(dtype="float64", na_value=np.nan)
    busy = tasks > 0
    runs = ~busy & (running > 0)
    rest = ~busy & ~runs
    out = np.empty(len(cid), dtype=object)
    out[busy] = _shared(lambda k: ngettext_rows("{n} open task(s)", "{n} open task(s)", each(k)),
                        tasks[busy].astype("int64"))
    out[runs] = _shared(lambda k: ngettext_rows("{n} running project(s)", "{n} running project(s)", each(k)),
                        running[runs].astype("int64"))
    out[rest] = _shared(lambda days: gettext_rows("invoiced on {date}", date=each(
        UNKNOWN if pd.isna(d) else d for d in days)), F.days(F.lookup(ctx.last_invoice, cid))[rest])
    return out


def _evidence(cand: pd.DataFrame, ctx: _Clients, cfg: Config) -> np.ndarray:
    """Evidence per candidate row: the same rows for every candidate of a kind, built column-wise."""
    out = np.empty(len(cand), dtype=object)
    last = ctx.last
    kinds = cand["kind"].to_numpy(dtype=object)
    for kind in dict.fromkeys(kinds.tolist()):
        at = np.flatnonzero(kinds == kind)
        c = cand.iloc[at]
        cid = c["client_id"]
        client_rec = ("res.partner," + cid.astype("string")).fillna("")
        rows: list[dict] = []
        if kind in ("check_in", "survey"):
            rows.append({"signal": SIGNALS["active"], "record": client_rec, "value": _why_active(ctx, cid)})
        if kind == "check_in":
            msg = F.lookup(last["message_id"], cid).astype("Int64")
            has = msg.notna().to_numpy()
            how = np.empty(len(c), dtype=object)
            how.fill(NONE_LOGGED)  # np.full would make it plain text
            how[has] = _shared(lambda what, model: gettext_rows(
                "{what} on {record}", what=each(CONTACT_WORDS.get(k, k) for k in what),
                record=each(RECORD_WORDS.get(m, m) for m in model)),
                F.lookup(last["kind"], cid).to_numpy(dtype=object)[has],
                F.lookup(last["model"], cid).to_numpy(dtype=object)[has])
            rows += [{"signal": SIGNALS["last"], "date": c["since"],
                      "record": np.where(has, ("mail.message," + msg.astype("string")).to_numpy(dtype=object),
                                         client_rec.to_numpy(dtype=object)),
                      "value": how},
                     {"signal": SIGNALS["open"], "record": client_rec, "value": 0}]
        elif kind == "survey":
            rows.append({"signal": SIGNALS["survey"], "date": c["natural_due"],
                         "value": ngettext("no rating in {n} days", "no rating in {n} days", cfg.survey_every_days)})
        elif kind == "fix_check":
            rows += [{"signal": SIGNALS["fix"], "record": "project.task," + c["subject_id"].astype(str),
                      "date": c["closed_on"],
                      "value": _shared(lambda p: gettext_rows("in project {project}", project=each(
                          v if isinstance(v, str) else UNKNOWN for v in p)), c["project_name"].to_numpy(dtype=object))},
                     {"signal": SIGNALS["check"], "date": c["natural_due"],
                      "value": ngettext("{n} days", "{n} days", cfg.fix_check_after_days)}]
        elif kind == "punch_list":
            rows += [{"signal": SIGNALS["completed"], "record": "project.project," + c["subject_id"].astype(str),
                      "date": c["completed_on"],
                      "value": _shared(lambda k: ngettext_rows("{n} task(s), none open", "{n} task(s), none open",
                                                               each(k)), c["n_tasks"].to_numpy(dtype="int64"))},
                     {"signal": SIGNALS["after"], "date": c["natural_due"],
                      "value": ngettext("{n} days", "{n} days", cfg.punch_list_after_days)}]
        elif kind == "onboarding":
            users = F.names(ctx.s.users, ctx.s.users["id"]).set_axis(ctx.s.users["id"]).to_dict()
            owners = [users.get(s.owner_user_id) or _("user {id}", id=s.owner_user_id) if s.owner_user_id is not None
                      else OWNER_WORDS.get(s.owner, s.owner) for s in cfg.onboarding_steps]
            shown = F.lookup(ctx.names, cid).to_numpy(dtype=object, na_value=None)
            steps = cfg.onboarding_steps
            step = c["step"].to_numpy(dtype="int64")
            labels = gettext_rows("{step} (owner: {owner})", step=each(
                step_summary(steps[i], v if v else THE_CLIENT) for i, v in zip(step.tolist(), shown.tolist())),
                owner=each(owners[i] for i in step.tolist()))
            rows += [{"signal": SIGNALS["first_seen"], "record": client_rec, "date": c["first_seen"],
                      "value": _("new client (< {days} days)", days=cfg.new_client_days)},
                     {"signal": SIGNALS["step"], "date": c["natural_due"], "value": object_column(labels)}]
        out[at] = object_column(F.stacked_rows(COLUMNS, len(c), rows))
    return out
