"""Write-back: findings become activities and chatter notes in Odoo, idempotently.

Every record ClientCare creates carries an HTML comment marker
(:func:`~clientcare.connector.facts.compose_marker`).  Measured live on
Odoo 16-19: comments survive the HTML sanitiser of activity notes and message bodies
(``data-*`` attributes do not), users never see them, and ``ilike`` finds them.  So Odoo
itself says which findings already have an open activity, even when a run died after
Odoo created records but before the ledger was written; the SQLite ledger adds run
ownership (for ``undo``) and history.

Plan per finding key: create, update (what the activity asks of the person changed:
summary, type, owner, evidence apart from day counts), close (the rule ran, judged the
key and no longer finds it), or leave.  Never a second open activity for one key, never
a deadline in the past, never a rewrite only because a day passed.

Only what a least-rights bot may do is used (no ``ir.model``/``ir.model.data`` reads):
activities are created per document model with ``default_res_model`` in the context
(``mail.activity.default_get`` turns it into ``res_model_id`` with the ORM's own
``ir.model._get``), and activity types are found by xml id with
``ir.model.data.check_object_reference``, which any user may call.
"""
from __future__ import annotations

import fnmatch
import hashlib
import html
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from clientcare.connector import errors as E
from clientcare.connector.facts import (ACTIVITY_TYPE_XMLIDS, NOTE_SUBTYPE_XMLID, compose_marker, marked_key,
                                        marked_run, marker_key, ours, parse_marker, severity_rank, strip_marker)
from clientcare.connector.client import OdooClient
from clientcare.connector.state import StateStore
from clientcare.jobs import ledger as ledger_table

log = logging.getLogger(__name__)

WRITE_MODELS = {"mail.activity": {"read", "create", "write"}, "mail.message": {"read", "create"}}
#: The right Odoo requires on a document to post an activity or a note on it (its
#: ``_mail_post_access``; ``mail.thread`` defaults to write).  Read in the 16-19 sources:
#: ``account.move`` and ``project.task`` lower it to read, ``res.partner`` and
#: ``project.project`` keep write.  Closing an activity posts an "activity done" message: same right.
MAIL_POST_ACCESS = {"res.partner": "write", "project.project": "write", "project.task": "read",
                    "account.move": "read"}
#: The smallest standard group that grants it (measured on 16-19, see docs/odoo.md).
GROUP_FOR = {
    ("res.partner", "write"): "Extra Rights / Contact Creation (base.group_partner_manager)",
    ("project.project", "write"): "Project / Administrator (project.group_project_manager)",
    ("project.task", "read"): "Project / User (project.group_project_user)",
    ("account.move", "read"): "Show Accounting Features - Readonly (account.group_account_readonly)",
}


def rights_hint(model: str) -> str:
    """What to give the bot when Odoo refuses an activity or note on ``model`` (Odoo's own
    message names no group for it)."""
    op = MAIL_POST_ACCESS.get(model, "write")
    group = GROUP_FOR.get((model, op), f"a group with {op} rights on {model}")
    return f"Odoo needs {op} rights on {model} to post activities and notes there: add the ClientCare user to {group}"


SENDER_HINT = "give the ClientCare user an email address: Odoo posts and notifies as that user"
#: Odoo's activity ``summary`` is a Char; long ones are shortened in the middle.
SUMMARY_MAX = 250
#: Feedback of the activities ClientCare closes, quoted by Odoo's "activity done" message:
#: tells ClientCare's closes from a person's "done".
CLOSE_FEEDBACK = "ClientCare: resolved: "


def esc(value: Any) -> str:
    """Every value that comes from Odoo data is escaped before it is posted back."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    return html.escape(str(value), quote=True)


def evidence_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A small HTML table of the evidence (invoices, amounts, days late; tasks, deadlines)."""
    if not rows:
        return ""
    columns = columns or [c for c in rows[0] if not c.startswith("_")]
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows[:50])
    more = f"<p>… and {len(rows) - 50} more</p>" if len(rows) > 50 else ""
    return f'<table class="table table-sm"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}'


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """Head and tail with "…" between: the tail of a summary holds the amount."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def note_hash(note: str | None) -> str:
    """Hash of a note's visible text: Odoo's sanitiser may rewrite our HTML, not the text."""
    text = re.sub(r"<!--.*?-->|<[^>]*>", " ", note or "", flags=re.S)
    text = " ".join(html.unescape(text).split())
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def open_only(client) -> list:
    """Domain part for open activities only: done ones are archived from 17 on (deleted in 16)
    and pulls read archived records too (``active_test=False``), so it must be explicit."""
    client.load_fields(["mail.activity"])
    return [("active", "=", True)] if client.profile.has("mail.activity", "active") else []


# -- the plan -----------------------------------------------------------------------
@dataclass
class Item:
    """One decided action on one finding key."""

    op: str                 # create | update | close | leave | note | skip
    kind: str               # activity | note
    key: str
    rule: str
    res_model: str
    res_id: int
    summary: str = ""
    vals: dict = field(default_factory=dict)
    odoo_id: int | None = None
    reason: str = ""
    severity: str = ""
    #: The run that created the record, when not this one (adopted or updated activities).
    run: str | None = None

    def public(self) -> dict:
        return {"op": self.op, "kind": self.kind, "key": self.key, "rule": self.rule,
                "res_model": self.res_model, "res_id": self.res_id, "summary": self.summary,
                "odoo_id": self.odoo_id, "reason": self.reason, "severity": self.severity,
                "user_id": self.vals.get("user_id"), "date_deadline": self.vals.get("date_deadline")}


@dataclass
class Plan:
    items: list[Item]
    run_id: str
    #: Open activities the ledger did not know (a fresh state file): recorded as ours.
    adopted: list[Item] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter] = defaultdict(Counter)
        for it in self.items:
            out[it.rule][it.op] += 1
        return {rule: dict(c) for rule, c in sorted(out.items())}

    def of(self, *ops: str) -> list[Item]:
        return [it for it in self.items if it.op in ops]

    def to_dict(self, sample: int | None = 10) -> dict:
        """The plan as JSON; ``sample`` changes in full (None: all of them), and
        ``sample_total`` says how many there are, so a shortened list is visible."""
        changes = [it for it in self.items if it.op != "leave"]
        kept = Counter(it.reason for it in self.items if it.op == "leave")
        return {"run_id": self.run_id, "counts": self.counts(),
                "changes": [{"op": it.op, "key": it.key, "odoo_id": it.odoo_id} for it in changes],
                "left": dict(sorted(kept.items())), "adopted": len(self.adopted),
                "sample": [it.public() for it in changes][:sample], "sample_total": len(changes)}


def fingerprint(vals: dict, evidence: list[dict] | None = None, daily: tuple[str, ...] = (),
                points: tuple[str, ...] = ()) -> str:
    """What an activity asks the person to do: summary, type, owner, talking points and the
    evidence without the columns that change with the date alone.  Never the deadline: a day
    passing must not rewrite anything.  Notes (posted once) hash their body."""
    rows = [{k: v for k, v in row.items() if k not in daily} for row in evidence or []]
    what = {"summary": vals.get("summary"), "activity_type_id": vals.get("activity_type_id"),
            "user_id": vals.get("user_id"), "body": vals.get("body"), "evidence": rows}
    if points:  # absent when there are none: activities written before scripts keep their fingerprint
        what["talking_points"] = list(points)
    payload = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


class WriteBack:
    """Plans and applies the write-back of one run on one database."""

    def __init__(self, client: OdooClient, state: StateStore | None, run_id: str, *,
                 max_creations: int = 500, batch_size: int = 100, as_of: date | None = None,
                 notify_assignees: bool = False):
        self.client = client
        self.state = state
        self.run_id = run_id
        self.max_creations = max_creations
        self.batch_size = batch_size
        self.as_of = as_of or date.today()
        self.notify_assignees = notify_assignees
        self.errors: list[dict] = []
        self.warnings: list[str] = []
        self._type_ids: dict[str, int] | None = None
        self._note_subtype: int | None = None
        #: What the last :meth:`plan` could judge: (rules_run, client_ids, not_judged).
        self._judged: tuple = (None, None, ())
        self._how: dict[str, str] = {}
        self._client_keys: set[str] = set()

    # -- lookups (a constant number of calls, all allowed to any internal user) ---------
    def lookups(self) -> dict[str, int]:
        """Activity type ids by friendly name, and the note subtype, from their xml ids."""
        if self._type_ids is None:
            self._type_ids = {}
            for name, xmlid in ACTIVITY_TYPE_XMLIDS.items():
                res_id = self._xmlid(xmlid)
                if res_id:
                    self._type_ids[name] = res_id
            self._note_subtype = self._xmlid(NOTE_SUBTYPE_XMLID)
            if "todo" not in self._type_ids:
                self.warnings.append(f"activity type {ACTIVITY_TYPE_XMLIDS['todo']} not found or not "
                                     f"readable: Odoo picks each activity's default type")
        return self._type_ids

    def _xmlid(self, xmlid: str) -> int | None:
        module, name = xmlid.split(".", 1)
        try:
            _model, res_id = self.client.call("ir.model.data", "check_object_reference", [module, name])
        except (E.ServerError, E.UserError, E.MissingRecordError):  # deleted by an administrator
            return None
        return res_id or None

    def _context(self, **extra) -> dict:
        """Assignment mails only when the profile asks for them (``notify_assignees``)."""
        if not self.notify_assignees:
            extra["mail_activity_quick_update"] = True
        return self.client.context(**extra)

    def existing_activities(self) -> dict[str, dict]:
        """Open ClientCare activities in Odoo by finding key (one paged search_read)."""
        rows = self.client.search_read_all(
            "mail.activity", [ours("note")] + open_only(self.client),
            ["res_model", "res_id", "user_id", "date_deadline", "summary", "note", "activity_type_id"])
        out: dict[str, dict] = {}
        for row in rows:
            m = parse_marker(row.get("note"))
            if not m:
                continue
            row.update(m._asdict())
            if m.key in out:  # a duplicate from a crash elsewhere: keep the oldest open one
                self.warnings.append(f"duplicate open activity for {m.key}: {row['id']}")
                continue
            out[m.key] = row
        return out

    def posted_notes(self, keys: list[str]) -> set[str]:
        """Which of these note keys already have a message in Odoo (checked per batch)."""
        found: set[str] = set()
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start:start + self.batch_size]
            domain = ["|"] * (len(chunk) - 1) + [marked_key("body", k) for k in chunk]
            rows = self.client.search_read_all("mail.message", domain, ["body"])
            for row in rows:
                m = parse_marker(row.get("body"))
                if m:
                    found.add(m.key)
        return found

    def done_by_a_person(self, candidates: list[Item]) -> set[str]:
        """Keys among ``candidates`` whose activity a person marked done, from Odoo's "activity
        done" messages (they quote the note with its marker, on 16 where done activities are
        deleted and 17+ where they are archived).  One search bounded to the candidates'
        records; for a fresh state file only (otherwise the ledger knows)."""
        if not candidates:
            return set()
        wanted = {it.key for it in candidates}
        rows = self.client.search_read_all("mail.message", [
            ("mail_activity_type_id", "!=", False), ours("body"),
            ("model", "in", sorted({it.res_model for it in candidates})),
            ("res_id", "in", sorted({it.res_id for it in candidates}))], ["body"])
        out = set()
        for row in rows:
            body = row.get("body") or ""
            m = parse_marker(body)
            if m and m.key in wanted and CLOSE_FEEDBACK not in html.unescape(body):
                out.add(m.key)
        return out

    # -- plan -----------------------------------------------------------------------
    def plan(self, findings: list, *, rules_run: set[str] | None = None,
             client_ids: set[int] | None = None, not_judged: list | tuple = (), resolved: list | tuple = (),
             client_keys: set[str] = frozenset()) -> Plan:
        """Decide create / update / close / leave for every finding and open activity.

        An activity is closed only when its rule ran to the end (``rules_run``) and judged its
        key (no ``not_judged`` pattern matches it), within ``client_ids`` for targeted runs,
        and never by a fresh state file (empty ledger): unknown is not resolved.  ``resolved``
        says how a key went away, when its rule knows (the closing feedback); ``client_keys``
        are the keys of ``client_ids``' findings on their other records (a quotation...).
        """
        self._how = {marker_key(r.key): r.how for r in resolved}
        self._client_keys = {marker_key(k) for k in client_keys}
        self._judged = (rules_run, client_ids, tuple(not_judged))
        self.lookups()
        existing = self.existing_activities()
        ledger = self._ledger_keys()
        fresh = not ledger
        items: list[Item] = []
        current: set[str] = set()
        note_findings = []
        for f in findings:
            if f.action is None:
                continue
            if f.action.kind == "note":
                note_findings.append(f)
                continue
            key = marker_key(f.key)
            current.add(key)
            items.append(self._plan_activity(f, key, existing.get(key), ledger))
        if fresh:
            creates = [it for it in items if it.op == "create"]
            done = self.done_by_a_person(creates)
            for it in creates:
                if it.key in done:
                    it.op, it.reason, it.vals = "leave", "done in Odoo", {}
        for key, old in existing.items():
            if key not in current:
                items.append(self._plan_close(key, old, fresh))
        if note_findings:
            items += self._plan_notes(note_findings)
        adopted = [Item("leave", "activity", key, key.split(":", 1)[0], old["res_model"], old["res_id"],
                        old.get("summary") or "", odoo_id=old["id"], reason="adopted", run=old["run"])
                   for key, old in existing.items() if key not in ledger]
        return self._cap(Plan(items, self.run_id, adopted))

    def _plan_activity(self, f, key: str, old: dict | None, ledger: dict[str, str]) -> Item:
        vals, due = self._activity_vals(f, with_note=False)  # the fingerprint needs no HTML
        fp = fingerprint(vals, list(f.evidence or []), tuple(f.daily), tuple(f.talking_points))
        item = Item("leave", "activity", key, f.rule, f.subject_model, int(f.subject_id), vals["summary"],
                    severity=f.severity)
        if old is None and ledger.get(key) in ("open", "done"):
            # we created it and it is no longer open: a person marked it done (or deleted it).
            # Not again until the situation goes away and comes back.
            item.reason = "done in Odoo"
            return item
        if old is not None and old["fp"] == fp:
            item.odoo_id, item.run, item.reason = old["id"], old["run"], "unchanged"
            return item
        vals, due = self._activity_vals(f)  # the note is rendered only for what is written
        if old is None:
            vals["note"] += compose_marker(key, self.run_id, fp, note_hash(vals["note"]))
            item.op, item.vals, item.reason = "create", vals, "new finding"
            return item
        item.odoo_id, item.run = old["id"], old["run"]
        changed = [name for name, k in (("summary", "summary"), ("owner", "user_id"), ("type", "activity_type_id"))
                   if _norm(old.get(k)) != _norm(vals.get(k))] or ["evidence"]
        if _norm(old.get("user_id")) == vals["user_id"]:
            del vals["date_deadline"]  # a new owner gets a fresh deadline; otherwise it stays
        else:
            vals["date_deadline"] = f.action.due_on(self.as_of).isoformat()
        edited = old.get("nh") and old["nh"] != note_hash(old.get("note"))
        if edited:  # a person wrote in the note: keep it, say what changed, keep the hash unmatched
            kept = strip_marker(old["note"])
            vals["note"] = (kept + f"<p>{self.as_of:%Y-%m-%d}, ClientCare update ({esc(', '.join(changed))}): "
                            f"{esc(vals['summary'])}</p>" + compose_marker(key, old["run"], fp, old["nh"]))
        else:
            vals["note"] += compose_marker(key, old["run"], fp, note_hash(vals["note"]))
        del vals["res_id"]
        item.op, item.vals = "update", vals
        item.reason = "changed: " + ", ".join(changed) + (" (the person's note is kept)" if edited else "")
        return item

    def _plan_close(self, key: str, old: dict, fresh: bool) -> Item:
        rule = key.split(":", 1)[0]
        item = Item("leave", "activity", key, rule, old["res_model"], old["res_id"], old.get("summary") or "",
                    odoo_id=old["id"], run=old["run"])
        unknown = self._unknown(key, old["res_model"], old["res_id"])
        if unknown:
            item.reason = unknown
        elif fresh:
            item.reason = "fresh state file: not closed"
        else:
            item.op = "close"
            item.reason = self._how.get(key) or f"{rule} no longer finds this on {self.as_of:%Y-%m-%d}"
        return item

    def _unknown(self, key: str, res_model: str, res_id: int) -> str:
        """Why this run cannot say that a key without a finding is resolved ("" when it can)."""
        rules_run, client_ids, not_judged = self._judged
        rule = key.split(":", 1)[0]
        if rules_run is not None and rule not in rules_run:
            return "rule did not run"
        unjudged = next((nj for nj in not_judged if nj.rule == rule and fnmatch.fnmatchcase(key, nj.pattern)),
                        None)
        if unjudged is not None:
            return f"not judged: {unjudged.reason}"
        if client_ids is not None and not (res_model == "res.partner" and res_id in client_ids) \
                and key not in self._client_keys:
            return "other client"
        return ""

    def _plan_notes(self, note_findings: list) -> list[Item]:
        items = []
        already = self.posted_notes([marker_key(f.key) for f in note_findings])
        for f in note_findings:
            key = marker_key(f.key)
            if key in already:
                items.append(Item("leave", "note", key, f.rule, f.subject_model, int(f.subject_id),
                                  f.summary, reason="already posted", severity=f.severity))
                continue
            body = self._note_body(f)
            body += compose_marker(key, self.run_id, fingerprint({"body": body}))
            items.append(Item("note", "note", key, f.rule, f.subject_model, int(f.subject_id),
                              f.summary, {"body": body}, reason="new note", severity=f.severity))
        return items

    def _ledger_keys(self) -> dict[str, str]:
        """Activity keys the ledger knows for this database, with their status."""
        if self.state is None:
            return {}
        return ledger_table.activity_statuses(self.state, self.client.scope)

    def forget_resolved(self, plan: Plan, findings: list) -> None:
        """Keys whose situation went away may raise a new activity when it comes back; a key
        this run could not judge (as in :meth:`plan`) stays remembered as done."""
        if self.state is None:
            return
        current = {marker_key(f.key) for f in findings}
        ledger_table.forget_done(self.state, self.client.scope, lambda key, res_model, res_id:
                                 key not in current and not self._unknown(key, res_model, res_id))

    def _cap(self, plan: Plan) -> Plan:
        creations = plan.of("create", "note")
        if self.max_creations < 0:
            raise ValueError(f"max_creations must be 0 or more, not {self.max_creations}")
        if self.max_creations == 0:  # creations turned off on purpose: not a partial run
            for it in creations:
                it.op, it.reason = "skip", "max_creations is 0: nothing is created"
            return plan
        if len(creations) <= self.max_creations:
            return plan
        keep = set(id(it) for it in sorted(creations, key=lambda it: severity_rank(it.severity))
                   [:self.max_creations])
        skipped = 0
        for it in creations:
            if id(it) not in keep:
                it.op, it.reason = "skip", f"over the per-run cap of {self.max_creations} creations"
                skipped += 1
        self.warnings.append(f"{len(creations)} creations planned, over the cap of {self.max_creations}: "
                             f"{skipped} skipped (check the rules' configuration, or raise max_creations)")
        log.warning(self.warnings[-1])
        return plan

    def _activity_vals(self, f, with_note: bool = True) -> tuple[dict, date]:
        """Values of a new activity, and the rule's due date.  The deadline is never before
        the day it is created; the note says since when the situation exists (rendered only
        ``with_note``: most findings of a sync are unchanged and need none)."""
        a = f.action
        type_id = self._type_ids.get(a.activity_type or "todo") or self._type_ids.get("todo")
        due = a.due_date or self.as_of
        note = self._activity_note(f, due) if with_note else ""
        vals = {
            "res_id": int(f.subject_id),
            "summary": shorten(a.summary or f.summary),
            "note": note,
            "date_deadline": a.due_on(self.as_of).isoformat(),
            "user_id": int(f.responsible_user_id) if f.responsible_user_id else False,
        }
        if type_id:
            vals["activity_type_id"] = type_id
        return vals, due

    def _activity_note(self, f, due: date) -> str:
        """The activity's note: summary, since when, talking points, evidence."""
        since = f"<p>Since {esc(due)}.</p>" if due < self.as_of else ""
        points = "".join(f"<li>{esc(p)}</li>" for p in f.talking_points)
        return (f"<p>{esc(f.summary)}</p>{since}" + (f"<p>Talking points:</p><ul>{points}</ul>" if points else "")
                + evidence_table(list(f.evidence or []), getattr(f, "evidence_columns", None)))

    def _note_body(self, f) -> str:
        return (f"<p><strong>ClientCare</strong>: {esc(f.summary)}</p>"
                + evidence_table(list(f.evidence or []), getattr(f, "evidence_columns", None)))

    # -- apply ----------------------------------------------------------------------
    def apply(self, plan: Plan) -> dict[str, int]:
        """Carry out the plan in batches; a failing record fails alone (batches are split)."""
        done: Counter = Counter()
        self._ledger(plan.adopted, "open")
        self._ledger([it for it in plan.of("leave") if it.reason == "done in Odoo"], "done")
        by_model: dict[str, list[Item]] = defaultdict(list)
        for it in plan.of("create"):
            by_model[it.res_model].append(it)
        for model, creates in sorted(by_model.items()):
            for start in range(0, len(creates), self.batch_size):
                done["created"] += self._create_activities(model, creates[start:start + self.batch_size])
        for it in plan.of("update"):
            if self._guard(it, lambda it=it: self.client.call(
                    "mail.activity", "write", [[it.odoo_id], it.vals], {"context": self._context()})):
                self._ledger([it], "open")
                done["updated"] += 1
        by_reason: dict[str, list[Item]] = defaultdict(list)
        for it in plan.of("close"):
            by_reason[it.reason].append(it)
        for reason, its in by_reason.items():
            for start in range(0, len(its), self.batch_size):
                done["closed"] += self._split(its[start:start + self.batch_size], lambda batch, reason=reason:
                                              self._close(batch, reason))
        notes = plan.of("note")
        for start in range(0, len(notes), self.batch_size):
            done["noted"] += self._post_notes(notes[start:start + self.batch_size])
        return dict(done)

    def _close(self, batch: list[Item], reason: str) -> None:
        self.client.call("mail.activity", "action_feedback", [[it.odoo_id for it in batch]],
                         {"feedback": CLOSE_FEEDBACK + reason})
        self._ledger(batch, "done")

    def _create_activities(self, model: str, batch: list[Item]) -> int:
        """One ``create`` per batch of one document model: ``default_res_model`` in the
        context sets each activity's ``res_model_id`` inside Odoo."""
        self._ledger(batch, "pending")
        context = self._context(default_res_model=model)

        def create(part: list[Item]) -> None:
            ids = self._create_once("mail.activity", part, context, self.existing_activities)
            for it, odoo_id in zip(part, ids):
                it.odoo_id = odoo_id
            self._ledger(part, "open")
        return self._split(batch, create)

    def _create_once(self, model: str, part: list[Item], context: dict, find_existing) -> list[int]:
        """``create`` is not retried blindly: after a lost answer, Odoo is asked which
        markers exist and only the missing records are created."""
        try:
            ids = self.client.call(model, "create", [[it.vals for it in part]], {"context": context},
                                   retry=False)
            return ids if isinstance(ids, list) else [ids]
        except E.RetriableError as exc:
            log.warning("create on %s interrupted (%s); checking what landed", model, exc)
            landed = find_existing()
            missing = [it for it in part if it.key not in landed]
            if missing:
                self.client.call(model, "create", [[it.vals for it in missing]], {"context": context})
                landed = find_existing()
            return [landed[it.key]["id"] for it in part]

    def _post_notes(self, batch: list[Item]) -> int:
        """Notes in one ``mail.message`` create where rights allow, else ``message_post`` each."""
        self._ledger(batch, "pending")

        def post(part: list[Item]) -> None:
            vals = [{"model": it.res_model, "res_id": it.res_id, "body": it.vals["body"],
                     "message_type": "comment", "subtype_id": self._note_subtype} for it in part]
            try:
                ids = self.client.call("mail.message", "create", [vals], retry=False)
                ids = ids if isinstance(ids, list) else [ids]
            except E.AccessError:
                ids = []
                for it in part:
                    kw = {"body": it.vals["body"], "message_type": "comment",
                          "subtype_xmlid": NOTE_SUBTYPE_XMLID}
                    if self.client.profile.major >= 17:
                        kw["body_is_html"] = True
                    res = self.client.call(it.res_model, "message_post", [[it.res_id]], kw)
                    ids.append(res[0] if isinstance(res, list) else res)
            for it, odoo_id in zip(part, ids):
                it.odoo_id = odoo_id
            self._ledger(part, "posted")
        return self._split(batch, post)

    def _split(self, batch: list[Item], fn) -> int:
        """Run ``fn`` on the batch; on a record-level error split it to find the culprit."""
        try:
            fn(batch)
            return len(batch)
        except (E.UserError, E.AccessError, E.MissingRecordError, E.ServerError) as exc:
            if len(batch) == 1:
                it = batch[0]
                hint = (f" ({rights_hint(it.res_model)})" if isinstance(exc, E.AccessError)
                        else f" ({SENDER_HINT})" if "sender's email" in str(exc) else "")
                self.errors.append({"key": it.key, "op": it.op, "res_model": it.res_model,
                                    "res_id": it.res_id, "error": f"{type(exc).__name__}: {exc}{hint}"})
                log.error("%s %s on %s,%s failed: %s", it.op, it.key, it.res_model, it.res_id, exc)
                self._ledger([it], "failed")
                return 0
            mid = len(batch) // 2
            return self._split(batch[:mid], fn) + self._split(batch[mid:], fn)

    def _guard(self, it: Item, fn) -> bool:
        return self._split([it], lambda _batch: fn()) == 1

    # -- ledger ---------------------------------------------------------------------
    def _ledger(self, items: list[Item], status: str) -> None:
        if self.state is None or not items:
            return
        ledger_table.record(self.state, self.client.scope, status,
                            [(it.key, it.res_model, it.res_id, it.kind, it.odoo_id, it.run or self.run_id,
                              _marker_fp(it)) for it in items])


def undo_run(client: OdooClient, run_id: str, state: StateStore | None = None) -> dict:
    """Remove what one run created: its open activities and, where permitted, its notes.

    Only ClientCare's own notes are removed (comments without an activity type): Odoo's
    "activity done" messages quote the activity's note with its marker, and are the
    history of what people did.  The ledger marks the activities removed, so a later sync
    may raise them again if the situation is still there (unlike an activity a person
    marked done).
    """
    report = {"activities_removed": 0, "notes_removed": 0, "not_removed": []}
    acts = client.search_read_all("mail.activity", [marked_run("note", run_id)] + open_only(client), ["note"])
    ids = [a["id"] for a in acts if (m := parse_marker(a["note"])) and m.run == run_id]
    if ids:
        client.call("mail.activity", "unlink", [ids])
        report["activities_removed"] = len(ids)
        if state is not None:
            ledger_table.mark_removed(state, client.scope, ids)
    msgs = client.search_read_all("mail.message", [marked_run("body", run_id), ("message_type", "=", "comment"),
                                                   ("mail_activity_type_id", "=", False)], ["body"])
    ids = [m_["id"] for m_ in msgs if (m := parse_marker(m_["body"])) and m.run == run_id]
    for start in range(0, len(ids), 100):
        chunk = ids[start:start + 100]
        try:
            client.call("mail.message", "unlink", [chunk])
            report["notes_removed"] += len(chunk)
        except (E.AccessError, E.UserError) as exc:
            report["not_removed"] += [{"model": "mail.message", "id": i, "why": str(exc)} for i in chunk]
    return report


def _marker_fp(it: Item) -> str | None:
    m = parse_marker(it.vals.get("note") or it.vals.get("body"))
    return m.fp if m else None


def _norm(value):
    if isinstance(value, (list, tuple)) and value:
        return value[0]
    return value

