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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from clientcare.connector import errors as E, field_cache
from clientcare.connector.facts import (ACTIVITY_TYPE_XMLIDS, NOTE_SUBTYPE_XMLID, compose_marker, marked_key,
                                        marked_run, marker_key, marker_keys, ours, parse_marker, severity_rank,
                                        strip_marker)
from clientcare.connector.facts import FEEDBACK_PREFIX, OWN_FEEDBACK
from clientcare.connector.client import OdooClient
from clientcare.connector.state import StateStore
from clientcare.jobs import ledger as ledger_table
from clientcare.jobs.ledger import Done, Entry, Known
from clientcare.jobs.ramp import DEFAULT_PER_DAY, Creation, deadline, ramp
from clientcare.rules.bidi import FSI, PDI, bdi, isolate, open_isolates, unmatched_closers
from clientcare.rules.i18n import (COMMON_VIEW, SOURCE, EvidenceView, _, is_source, iso_day, listing, money, ngettext,
                                   normalize, pgettext, pick, render)
from clientcare.rules.working_time import WorkingTime

log = logging.getLogger(__name__)
#: The xml ids the write-back looks up (:meth:`WriteBack.lookups`).
XMLIDS = (*ACTIVITY_TYPE_XMLIDS.values(), NOTE_SUBTYPE_XMLID)

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
#: Days after a person's "done" before a finding still there is raised again, unless its rule's
#: ``recheck_after_days`` says otherwise (:class:`~clientcare.rules.config.RuleConfig`).
RECHECK_AFTER_DAYS = 7


#: Why an activity ClientCare wrote is no longer open, before Odoo's "done" message is read.
GONE = "no longer open in Odoo"


def done_feedback(body: str) -> str | None:
    """A person's feedback in Odoo's "activity done" message.  Its first paragraph says "<type>
    done: <summary>"; on 16-17 the feedback follows, then "Original note:" and the note; from 18 on
    the note comes first and the feedback last, after "Feedback:" (read on live 16-19 and in
    ``mail.message_activity_done``).  Odoo writes those labels in the language of the person who
    marked it done, so their HTML classes find them too."""
    body = body or ""
    label = list(re.finditer(r'<div class="fw-bold">[^<]*</div>', body))  # 18+: the feedback's label
    if "Feedback:" in body:
        text = body.rsplit("Feedback:", 1)[1]
    elif label:
        text = body[label[-1].end():]
    else:
        text = re.split(r'Original note:|<div class="o_mail_note_title', body, maxsplit=1)[0]
        text = text.split("</p>", 1)[1] if "</p>" in text else ""
    text = " ".join(html.unescape(re.sub(r"<!--.*?-->|<[^>]*>", " ", text, flags=re.S)).split())
    return text or None


def _days(n: int) -> str:
    return _("a week") if n == 7 else ngettext("{n} day", "{n} days", n)


def _name(user) -> str:
    """A many2one user as Odoo reads it: its name."""
    if isinstance(user, (list, tuple)) and len(user) > 1:
        return isolate(user[1])
    # TRANSLATORS: a person ClientCare knows only by their Odoo user id
    return _("user {id}", id=user) if user else _("nobody")


def _day(value: Any) -> Any:
    """An ISO day as a date (formatted per language), anything else as it is."""
    try:
        return date.fromisoformat(str(value)[:10]) if value else value
    except ValueError:
        return value


def same_lang(a: Any, b: Any) -> bool:
    """Whether two language codes read the same (every English is English)."""
    return (is_source(a) and is_source(b)) or normalize(a) == normalize(b)


def _sentence(text: Any, lang: str) -> str:
    """A line of a note as a sentence: rendered, capitalised, with its full stop, escaped."""
    line = render(text, lang)
    return f"<p>{esc(line[:1].upper() + line[1:])}.</p>"


#: What an update changed, in words (the plan's reason keeps the keys).
CHANGED = {"summary": pgettext("changed", "summary"), "owner": pgettext("changed", "owner"),
           "type": pgettext("changed", "type"), "merged": pgettext("changed", "merged"),
           "promise": pgettext("changed", "promise"), "evidence": pgettext("changed", "evidence"),
           "language": pgettext("changed", "language")}


def esc(value: Any) -> str:
    """Every value that comes from Odoo data is escaped before it is posted back; isolated
    names become ``<bdi>`` and stray bidi controls are dropped (:func:`~clientcare.rules.bidi.bdi`)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    return bdi(value)


def esc_name(value: Any) -> str:
    """A name from Odoo data (client, contact, project, user) in HTML: escaped, in ``<bdi>``."""
    return esc(isolate(value)) if isinstance(value, str) and value else esc(value)


def record_url(model: str, res_id: int, base_url: str = "") -> str:
    """A link that opens a record in Odoo's web client (``/web#``: 16-17 read it, 18-19 redirect
    it to ``/odoo/...``), as an ``href`` value (escaped): relative in Odoo's own notes, after
    ``base_url`` (the server's address) in a page outside Odoo."""
    return html.escape(f"{base_url.rstrip('/')}/web#model={model}&id={int(res_id)}&view_type=form")


def _cell(view: EvidenceView, row: Mapping, column: str, lang: str, base_url: str | None = "") -> str:
    """One evidence value as a person reads it: money with its currency, a name linking to its
    record, a raw value in words, dates and numbers in the reader's format."""
    raw = row.get(column)
    if raw is None or raw is False or (isinstance(raw, float) and raw != raw):
        return ""
    currency = view.currency_of(column)
    if currency and isinstance(raw, (int, float)) and row.get(currency):
        return esc(render(money(raw, _code(row[currency])), lang))
    link = view.link_of(column)
    if link is not None and isinstance(raw, str) and base_url is not None:
        model, id_column = link
        rid = row.get(id_column)
        rid = rid[0] if isinstance(rid, (list, tuple)) and rid else rid
        if isinstance(rid, int) or type(rid).__name__.startswith("int"):
            return f'<a href="{record_url(model, int(rid), base_url)}">{esc_name(raw)}</a>'
    value = view.value(column, raw)
    value = iso_day(value) or value  # rules keep days as ISO text in their evidence
    if isinstance(value, float) and is_source(lang):
        return esc(value)
    return esc(render(value, lang)) if not isinstance(value, str) or hasattr(value, "render") else esc(value)


def _code(currency: Any) -> str:
    """A currency as its code (a many2one reads ``[id, "EUR"]``)."""
    return str(currency[1] if isinstance(currency, (list, tuple)) and len(currency) > 1 else currency)


def evidence_table(rows: list[dict], columns: list[str] | None = None, view: EvidenceView | None = None,
                   lang: str = SOURCE, base_url: str | None = "") -> str:
    """A small HTML table of the evidence (invoices, amounts, days late; tasks, deadlines) as a
    colleague would show it (:class:`~clientcare.rules.i18n.EvidenceView`): translated headings,
    no ids, names linking to their records (``base_url``: see :func:`record_url`; None: a page
    that knows no server, names without links)."""
    if not rows:
        return ""
    view = view or COMMON_VIEW
    columns = view.shown(columns or [c for c in rows[0] if not c.startswith("_")])
    head = "".join(f"<th>{esc(render(view.label(c), lang))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(view, r, c, lang, base_url)}</td>" for c in columns) + "</tr>"
                   for r in rows[:50])
    more = ngettext("… and {n} more", "… and {n} more", len(rows) - 50) if len(rows) > 50 else ""
    more = f"<p>{esc(render(more, lang))}</p>" if more else ""
    return f'<table class="table table-sm"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}'


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """Head and tail with "…" between: the tail of a summary holds the amount.  A cut inside
    an isolated name closes the isolate in the head and reopens it in the tail, so the pairs
    stay balanced (an open isolate would swallow the rest of the summary)."""
    if len(text) <= limit:
        return text
    head, tail = (limit - 1) // 2, limit - 1 - (limit - 1) // 2
    while True:
        left, right = text[:head], text[len(text) - tail:]
        left += PDI * open_isolates(left)
        right = FSI * unmatched_closers(right) + right
        if len(left) + 1 + len(right) <= limit:
            return left + "…" + right
        head, tail = (head - 1, tail) if len(left) - head >= len(right) - tail else (head, tail - 1)


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
    #: A person's "done" this item follows (recorded in the ledger when the plan is applied).
    done: Done | None = None
    #: The records the finding lists (kept in the ledger: one joining later is new work).
    records: tuple[int, ...] | None = None
    #: A date a person agreed (a deadline they moved) that passed with the situation unchanged.
    broken: str | None = None
    #: The key whose open activity this item takes over (rewritten under its own key), and for a
    #: "merge" item the key of the activity it is merged into.
    took_over: str | None = None
    into: str | None = None
    #: The rule's own date of the situation (its action's due date): the ramp takes the oldest first.
    since: date | None = None
    #: The language of what is written (the owner's), and what a merge or close says in it.
    lang: str = SOURCE
    told: Any = None
    #: A merged activity as the one it goes into describes it.
    said: Any = None
    #: The digest of the finding's inputs (:mod:`clientcare.rules.digest`) when what is written
    #: (its fingerprint) follows from them alone, recorded with the fingerprint; else None.
    digest: int | None = None
    #: For an activity found unchanged whose ledger row lacks them: (fingerprint, digest) to record.
    remember: tuple[str, int] | None = None

    @property
    def why(self) -> str:
        """The reason without what names one key (a person, a day, a quote): for counts."""
        if self.done is not None and self.op == "leave":
            return "done by a person (raised again after recheck_after_days if still found)"
        return self.reason.split(":")[0] if self.reason.startswith("removed in Odoo") else self.reason

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
    #: The ramp's figures per person with creations this run (:meth:`WriteBack._ramp`): name,
    #: created today, queued, until when.
    people: list[dict] = field(default_factory=list)

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
        kept = Counter(it.why for it in self.items if it.op == "leave")
        out = {"run_id": self.run_id, "counts": self.counts(),
               "changes": [{"op": it.op, "key": it.key, "odoo_id": it.odoo_id} for it in changes],
               "left": dict(sorted(kept.items())), "adopted": len(self.adopted),
               "sample": [it.public() for it in changes][:sample], "sample_total": len(changes),
               "queued": len(self.of("queue")), "people": self.people}
        if sample is None:  # a dry run: what happens to every key, and why (``explain`` says the same)
            out["decisions"] = [{"key": it.key, "op": it.op, "reason": it.reason} for it in self.items]
        return out


def fingerprint(vals: dict, evidence: list[dict] | None = None, daily: tuple[str, ...] = (),
                points: tuple[str, ...] = (), said: Mapping[str, Any] | None = None) -> str:
    """What an activity asks the person to do: summary, type, owner, talking points and the
    evidence without the columns that change with the date alone.  Never the deadline: a day
    passing must not rewrite anything.  Notes (posted once) hash their body.  ``said``: what the
    note told of people's changes (the owner a person chose), so it is told once."""
    rows = [{k: v for k, v in row.items() if k not in daily} for row in evidence or []]
    what = {"summary": vals.get("summary"), "activity_type_id": vals.get("activity_type_id"),
            "user_id": vals.get("user_id"), "body": vals.get("body"), "evidence": rows}
    if points:  # absent when there are none: activities written before scripts keep their fingerprint
        what["talking_points"] = list(points)
    if said:
        what["said"] = dict(said)
    payload = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


class WriteBack:
    """Plans and applies the write-back of one run on one database."""

    def __init__(self, client: OdooClient, state: StateStore | None, run_id: str, *,
                 max_creations: int = 500, batch_size: int = 100, as_of: date | None = None,
                 notify_assignees: bool = False, recheck_after_days: Mapping[str, int] | None = None,
                 staff: Mapping[int, int] | None = None, user_names: Mapping[int, str] | None = None,
                 max_new_per_person_per_day: int = DEFAULT_PER_DAY, working_time: WorkingTime | None = None,
                 langs: Mapping[int, str] | None = None, company_lang: str | None = None):
        """``recheck_after_days``: per rule (default :data:`RECHECK_AFTER_DAYS`); ``staff``: the
        internal users by partner id (who marked an activity done); ``user_names`` by user id;
        ``max_new_per_person_per_day``: the ramp (:mod:`clientcare.jobs.ramp`, 0: no limit);
        ``working_time``: each person's working days, for deadlines and the ramp; ``langs``: the
        language each user reads (their Odoo language, else their company's), ``company_lang``
        the one of ClientCare's company (notes, and owners without one); English by default."""
        self.client = client
        self.state = state
        self.run_id = run_id
        self.max_creations = max_creations
        self.per_day = max_new_per_person_per_day
        self.working_time = working_time or WorkingTime.weekdays()
        self.batch_size = batch_size
        self.as_of = as_of or date.today()
        self.notify_assignees = notify_assignees
        self.recheck_after_days = dict(recheck_after_days or {})
        self.staff = dict(staff or {})
        self.user_names = dict(user_names or {})
        self.langs = dict(langs or {})
        self.company_lang = pick(company_lang)
        self.errors: list[dict] = []
        self.warnings: list[str] = []
        self._type_ids: dict[str, int] | None = None
        self._note_subtype: int | None = None
        self._kept = False  # the ids above come from the state file, not from Odoo this run
        self._applying: list[Item] = []  # the items :meth:`apply` writes
        #: What the last :meth:`plan` could judge: (rules_run, client_ids, not_judged).
        self._judged: tuple = (None, None, ())
        self._how: dict[str, str] = {}
        self._client_keys: set[str] = set()
        self._langs: dict[Any, str] = {}  # lang_of, per owner
        self._relang: dict[tuple[str, str], bool] = {}  # not same_lang, per pair

    # -- lookups (a constant number of calls, all allowed to any internal user) ---------
    def lookups(self, again: bool = False) -> dict[str, int]:
        """Activity type ids by friendly name, and the note subtype, from their xml ids: asked of
        Odoo once per database and server version, then kept in the state file
        (:mod:`clientcare.connector.field_cache`); ``again``: ask Odoo anew (a write failed with
        kept ids, :meth:`_ids_again`)."""
        if self._type_ids is None or again:
            version = getattr(self.client.profile, "version", None)
            keep = self.state is not None and not self.state.read_only and isinstance(version, str)
            ids = field_cache.load_xmlids(self.state, self.client.scope, version) if keep and not again else {}
            self._kept = all(ids.get(x) for x in XMLIDS)
            if not self._kept:
                ids = {x: self._xmlid(x) for x in XMLIDS}
                if keep and all(ids.values()):  # one missing may come back: asked again next run
                    field_cache.save_xmlids(self.state, self.client.scope, version, ids)
            self._type_ids = {name: ids[x] for name, x in ACTIVITY_TYPE_XMLIDS.items() if ids.get(x)}
            self._note_subtype = ids.get(NOTE_SUBTYPE_XMLID)
            if "todo" not in self._type_ids:
                self.warnings.append(f"activity type {ACTIVITY_TYPE_XMLIDS['todo']} not found or not "
                                     f"readable: Odoo picks each activity's default type")
        return self._type_ids

    def _ids_again(self) -> bool:
        """After a write error with ids kept from an earlier run: ask Odoo for them again; when
        they changed (an administrator recreated a type), the planned values take the new ones and
        True says to retry.  The fingerprints in those notes keep the old ids: the next run
        rewrites them once."""
        if not self._kept:
            return False
        before = dict(self._type_ids or {})
        self.lookups(again=True)
        if before == self._type_ids:
            return False
        new = {before[name]: self._type_ids.get(name) for name in before}
        for it in self._applying:
            if it.vals.get("activity_type_id") in new:
                it.vals["activity_type_id"] = new[it.vals["activity_type_id"]]
                if it.vals["activity_type_id"] is None:
                    del it.vals["activity_type_id"]
        return True

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
            row.update(zip(m._fields, m))
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

    def done_messages(self, candidates: list[Item]) -> dict[str, Done]:
        """Who marked the candidates' activities done, when, and their feedback, from Odoo's
        "activity done" messages (they quote the note with its marker, on 16 where done
        activities are deleted and 17+ where they are archived); the latest per key.  One
        search bounded to the candidates' records; ClientCare's own closes are not a person's."""
        if not candidates:
            return {}
        wanted = {it.key for it in candidates}
        rows = self.client.search_read_all("mail.message", [
            ("mail_activity_type_id", "!=", False), ours("body"),
            ("model", "in", sorted({it.res_model for it in candidates})),
            ("res_id", "in", sorted({it.res_id for it in candidates}))], ["body"])
        latest: dict[str, dict] = {}
        for row in sorted(rows, key=lambda r: r["id"]):  # ids grow with time: the last one wins
            body = row.get("body") or ""
            m = parse_marker(body)
            if m and m.key in wanted and not any(own in html.unescape(body) for own in OWN_FEEDBACK):
                latest[m.key] = row
        if not latest:
            return {}
        who = {r["id"]: r for r in self.client.call("mail.message", "read", [sorted(r["id"] for r in latest.values())],
                                                     {"fields": ["author_id", "date"]})}
        out: dict[str, Done] = {}
        for key, row in latest.items():
            author = who.get(row["id"], {}).get("author_id")
            partner, name = (author[0], author[1]) if isinstance(author, (list, tuple)) and author else (None, None)
            user = self.staff.get(partner) if partner else None
            name = self.user_names.get(user) or name  # "Marc Demo", not the partner's "YourCompany, Marc Demo"
            out[key] = Done(key, name, user,
                            str(who.get(row["id"], {}).get("date") or "")[:10] or None, done_feedback(row["body"]))
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
        gone: list[tuple[Item, Any]] = []
        col = self._columns(findings)
        kinds, keys, digests = col["action_kind"], col["key"], col["digest"]
        current = {key for key, kind in zip(keys, kinds) if kind is not None and kind != "note"}
        claimed: set[str] = set()  # keys of earlier activities merged into a current one
        knowns: dict[str, Known] = {}  # what the ledger knows per key (or of the key it replaces)
        note_findings = []
        for i, (kind, key, digest) in enumerate(zip(kinds, keys, digests)):
            if kind is None:
                continue
            if kind == "note":
                note_findings.append(findings[i])
                continue
            old, known, merges = existing.get(key), ledger.get(key), []
            if old is not None and known is not None and digest == known.digest \
                    and not any(k != key and k in existing for k in col["replaces"][i]):
                item = self._as_left(col, i, old, known)
                if item is not None:  # the finding is not even read as a Finding
                    knowns[key] = known
                    items.append(item)
                    continue
            f = findings[i]
            if f.replaces:
                old, known, merges = self._take_over(f, key, old, known, existing, ledger, current, claimed)
            item = self._plan_activity(f, key, old, known, [m.said for m in merges], digest)
            if known is not None:
                knowns[key] = known
            items.append(item)
            for m in merges:
                m.into = key
            items += merges
            if item.op == "leave" and item.reason == GONE or fresh and item.op == "create":
                gone.append((item, f))
        if gone:
            asked = [it for it, _f in gone if not (knowns.get(it.key) and knowns[it.key].status == "done"
                                                   and knowns[it.key].done_at)]
            dones = self.done_messages(asked)
            for it, f in gone:
                known = knowns.get(it.key)
                done = dones.get(it.key)
                if done is None and known is not None and known.status == "done" and known.done_at:
                    done = Done(it.key, known.done_by, known.done_by_user_id, known.done_at, known.feedback)
                if known is None and done is None:
                    continue  # fresh state file, never done: the create stands
                self._after_done(it, f, known, done)
        for key, old in existing.items():
            if key not in current and key not in claimed:
                items.append(self._plan_close(key, old, fresh))
        if note_findings:
            items += self._plan_notes(note_findings)
        adopted = [Item("leave", "activity", key, key.split(":", 1)[0], old["res_model"], old["res_id"],
                        old.get("summary") or "", odoo_id=old["id"], reason="adopted", run=old["run"],
                        vals={"user_id": _norm(old.get("user_id")), "date_deadline": old.get("date_deadline")})
                   for key, old in existing.items() if key not in ledger]
        # a create whose answer never came (Ctrl-C, SIGTERM, kill -9 after Odoo applied it): its
        # activity is in Odoo, the ledger still says pending with no id; recorded open now, with
        # what ClientCare set (kept in the ledger), not what a person may have changed since
        adopted += [Item("leave", "activity", key, key.split(":", 1)[0], old["res_model"], old["res_id"],
                         old.get("summary") or "", odoo_id=old["id"], reason="adopted", run=old["run"],
                         vals={"user_id": ledger[key].assigned_user_id, "date_deadline": ledger[key].deadline})
                    for key, old in existing.items() if key in ledger and ledger[key].status == "pending"]
        return self._cap(self._ramp(Plan(items, self.run_id, adopted)))

    def _take_over(self, f, key: str, old: dict | None, known: Known | None, existing: dict[str, dict],
                   ledger: dict[str, Known], current: set[str], claimed: set[str]
                   ) -> tuple[dict | None, Known | None, list[Item]]:
        """Earlier ClientCare activities under the keys ``f`` replaces (an earlier version of its
        rule, findings folded into it) become one: without an open activity of its own, ``f``
        takes over one on its own record (a person's work on it first, else the oldest), with
        what the ledger knows of it; the others are merged into it (closed as merged, never as
        resolved).  Without any open one, a person's "done" on a replaced key stands for ``f``."""
        replaced = [k for k in dict.fromkeys(marker_key(r) for r in f.replaces)
                    if k != key and k not in current and k not in claimed]
        olds = [k for k in replaced if k in existing]
        claimed.update(olds)
        if old is None:
            same = [k for k in olds if existing[k]["res_model"] == f.subject_model
                    and existing[k]["res_id"] == int(f.subject_id)]
            if same:
                pick = min(same, key=lambda k: (not touched_by_a_person(existing[k], ledger.get(k)),
                                                existing[k]["id"]))
                olds.remove(pick)
                old = dict(existing[pick], took_over=pick)
                known = known or ledger.get(pick)
        if known is None and old is None:
            dones = [ledger[k] for k in replaced if k in ledger and ledger[k].status == "done" and ledger[k].done_at]
            known = max(dones, key=lambda k: k.done_at, default=None)
        merges = []
        for k in olds:
            a = existing[k]
            touched = touched_by_a_person(a, ledger.get(k))
            merged = Item("merge", "activity", k, k.split(":", 1)[0], a["res_model"], a["res_id"],
                          a.get("summary") or "", odoo_id=a["id"], run=a["run"],
                          reason=f"merged: '{a.get('summary') or k}'" + (f" ({', '.join(touched)})"
                                                                          if touched else ""),
                          lang=self.lang_of(a.get("user_id")), told=f.action.summary or f.summary,
                          # what the activity it goes into says of it (its summary as Odoo holds it, what people did)
                          said=(_("'{summary}' ({what})", summary=a.get("summary") or "", what=listing(touched))
                                if touched else _("'{summary}'", summary=a.get("summary") or "")))
            merges.append(merged)
        return old, known, merges

    def _plan_activity(self, f, key: str, old: dict | None, known: Known | None, merged: list = (),
                       digest: int | None = None) -> Item:
        """``merged``: the earlier activities merged into this one (said once in its note).  An
        open activity written in another language than its owner's now is rewritten in theirs,
        once (the fingerprint is the English text's: a language alone changes nothing else).
        ``digest``: of the finding's inputs, recorded with the fingerprint (:meth:`_as_left`)."""
        item = Item("leave", "activity", key, f.rule, f.subject_model, int(f.subject_id),
                    shorten(f.action.summary or f.summary), severity=f.severity, since=f.action.due_date,
                    digest=digest)
        if old is not None:
            item.odoo_id, item.run, item.took_over = old["id"], old["run"], old.get("took_over")
            routed, owner, moved_by_person, broken, lang, relang = self._people(_routed(f.responsible_user_id), old, known)
            if moved_by_person:  # what is written then follows from people's changes too
                item.digest = None
        item.records = f.record_ids()
        if old is None and known is not None and known.status in ("open", "done"):
            # we created it and it is no longer open: a person marked it done (or deleted it);
            # :meth:`_after_done` decides with what Odoo says of it
            item.reason = GONE
            return item
        merged_lines = [ngettext("this activity replaces ClientCare's earlier activity for the same work, now closed "
                                 "as merged: {merged}", "this activity replaces ClientCare's earlier {n} activities for "
                                 "the same work, now closed as merged: {merged}", len(merged),
                                 merged=listing(merged, sep="; ", limit=None))] if merged else []
        if old is None:
            return self._plan_create(item, f, "new finding" + (f" (merges {_n_activities(len(merged))})"
                                                               if merged else ""), lines=merged_lines)
        vals, due = self._activity_vals(f, with_note=False)  # the fingerprint needs no HTML
        item.summary = vals["summary"]
        extra: dict[str, Any] = {}
        if moved_by_person:
            vals["user_id"] = owner
            extra["kept_with"], extra["routed_to"] = owner, routed
        fp = fingerprint(vals, list(f.evidence or []), tuple(f.daily), tuple(f.talking_points), extra)
        if old["fp"] == fp and not broken and not merged and not item.took_over and not relang:
            item.reason = "unchanged" + (f" (with {_name(old.get('user_id'))}, to whom a person gave it)"
                                         if moved_by_person else "")
            if item.digest is not None and known is not None and (known.digest, known.fingerprint) != (item.digest, fp):
                item.remember = (fp, item.digest)
            return item
        vals, due = self._activity_vals(f, lang=lang)  # the note is rendered only for what is written
        summary = f.action.summary or f.summary
        vals["summary"] = shorten(render(summary, lang))
        if moved_by_person:
            vals["user_id"] = owner
        # what it said before, in the language it said it in
        before = dict(vals, summary=shorten(render(summary, old.get("lang") or SOURCE)))
        changed = [name for name, k in (("summary", "summary"), ("owner", "user_id"), ("type", "activity_type_id"))
                   if _norm(old.get(k)) != _norm(before.get(k))]
        lines = []
        if moved_by_person:
            lines.append(_("stays with {person}, to whom a person gave it (ClientCare's routing names {routed})",
                           person=_name(old.get("user_id")), routed=self._person(routed)) if routed else
                         _("stays with {person}, to whom a person gave it", person=_name(old.get("user_id"))))
        if broken:
            item.broken = broken
            lines.append(_("the agreed date {day} passed and the situation is unchanged", day=_day(broken)))
        if item.took_over:
            lines.append(_("ClientCare now keeps one activity for this (it was '{summary}')",
                           summary=old.get("summary") or ""))
        lines += merged_lines
        changed = (["merged"] if item.took_over or merged else []) + changed + (["language"] if relang else [])
        changed = changed or (["promise"] if broken and old["fp"] == fp else ["evidence"])
        if "owner" in changed:  # a new owner: a fresh deadline, on one of their working days
            vals["date_deadline"] = self._deadline(f, vals["user_id"]).isoformat()
        else:
            del vals["date_deadline"]  # a person's date or ClientCare's, it stays
        edited = old.get("nh") and old["nh"] != note_hash(old.get("note"))
        # TRANSLATORS: a line ClientCare adds to an activity's note on the day it updates it
        said = "".join("<p>" + esc(render(_("{day}: {line}.", day=self.as_of, line=line), lang)) + "</p>"
                       for line in lines)
        if edited:  # a person wrote in the note: keep it, say what changed, keep the hash unmatched
            kept = strip_marker(old["note"])
            update = _("{day}, ClientCare update ({changed}): {summary}", day=self.as_of,
                       changed=listing(CHANGED.get(c, c) for c in changed), summary=vals["summary"])
            vals["note"] = (kept + f"<p>{esc(render(update, lang))}</p>" + said
                            + compose_marker(key, old["run"], fp, old["nh"], lang))
        else:
            vals["note"] += said
            vals["note"] += compose_marker(key, old["run"], fp, note_hash(vals["note"]), lang)
        del vals["res_id"]
        item.op, item.vals = "update", vals
        item.reason = "changed: " + ", ".join(changed) + (" (the person's note is kept)" if edited else "") \
            + (f" (kept with {_name(old.get('user_id'))}, to whom a person gave it)" if moved_by_person else "")
        return item

    def _as_left(self, col: dict[str, list], i: int, old: dict, known: Known) -> Item | None:
        """Finding ``i``'s activity, unchanged, when Odoo holds it as ClientCare left it from the same
        inputs: the ledger's digest (the caller compared it) with the fingerprint Odoo's marker holds,
        and nothing a person did since (owner, agreed date) nor a new language; None otherwise (the
        full path decides).  Read from columns: nothing rendered, fingerprinted or materialised."""
        routed = _routed(col["responsible_user_id"][i])
        _, _owner, moved_by_person, broken, _lang, relang = self._people(routed, old, known)
        if moved_by_person or broken or relang or known.fingerprint != old["fp"]:
            return None
        return Item("leave", "activity", col["key"][i], col["rule"][i], col["subject_model"][i],
                    int(col["subject_id"][i]), shorten(col["action_summary"][i] or col["summary"][i]),
                    odoo_id=old["id"], reason="unchanged", severity=col["severity"][i], run=old["run"],
                    since=col["due_date"][i], digest=col["digest"][i])

    def _people(self, routed: int | bool, old: dict, known: Known | None) -> tuple:
        """What people did to an open activity ``old`` routing gives to ``routed``: (``routed``, the
        owner in Odoo, whether a person gave it to someone else, a date a person agreed that passed
        with the situation unchanged, the language it is for now, whether it is written in another)."""
        owner = _norm(old.get("user_id"))
        # a person gave it to someone else: it stays with them while the situation lasts
        moved_by_person = bool(owner) and owner != routed and (known is None or known.assigned_user_id is None
                                                               or owner != known.assigned_user_id)
        agreed = str(old.get("date_deadline") or "")
        # a person moved the date, it passed with the situation unchanged, and it was not said yet
        broken = agreed if (known is not None and known.deadline and agreed and agreed != known.deadline
                            and agreed < self.as_of.isoformat() and agreed not in known.broken_dates) else None
        lang = self.lang_of(owner if moved_by_person else routed)
        written = old.get("lang") or SOURCE
        relang = self._relang.get((written, lang))
        if relang is None:
            relang = self._relang[written, lang] = not same_lang(written, lang)
        return routed, owner, moved_by_person, broken, lang, relang

    def _plan_create(self, item: Item, f, reason: str = "new finding", again: str = "",
                     user_id: int | None = None, lines: list[str] = ()) -> Item:
        """A new activity; ``again`` (a sentence quoting a person's "done") leads its summary
        and note, ``user_id`` overrides the routed owner (the person who marked it done); ``lines``
        end its note (the earlier activities it merges)."""
        lang = self.lang_of(user_id or f.responsible_user_id)
        vals, _due = self._activity_vals(f, user_id=user_id, lang=lang)
        vals["note"] += "".join(_sentence(line, lang) for line in lines)
        summary = f.action.summary or f.summary
        if again:
            summary = _("{summary} — {again}", summary=summary, again=again)
            vals["summary"] = shorten(str(summary))
            vals["note"] = _sentence(again, lang) + vals["note"]
        if user_id:
            vals["user_id"] = user_id
        if again or user_id:  # what is written follows from a person's "done" too
            item.digest = None
        fp = fingerprint(vals, list(f.evidence or []), tuple(f.daily), tuple(f.talking_points))  # of the English
        item.summary = vals["summary"]
        vals["summary"] = shorten(render(summary, lang))
        vals["note"] += compose_marker(item.key, self.run_id, fp, note_hash(vals["note"]), lang)
        item.op, item.vals, item.reason, item.lang = "create", vals, reason, lang
        return item

    def _after_done(self, item: Item, f, known: Known | None, done: Done | None) -> None:
        """A person's "done" is an answer, not a dismissal: a record that joined since is new
        work (raised now); while the situation lasts it is raised again ``recheck_after_days``
        after, for the same person, quoting them.  An activity removed without a "done" is a
        dismissal: only new records raise it again."""
        item.op, item.vals = "leave", {}  # a fresh state file planned a create: decided anew here
        then = set(known.records) if known is not None and known.records is not None else None
        new = [i for i in f.record_ids() if then is not None and i not in then]
        names = listing(isolate(f.record_name(i)) for i in new)
        if done is None:
            if new:
                self._plan_create(item, f, f"new since its activity was removed in Odoo: {names}",
                                  _("new since the last one was removed: {names}", names=names))
            else:
                item.reason = "removed in Odoo by a person: not raised again while the situation lasts"
            return
        if not done.at:  # Odoo's message gave no date: the day ClientCare saw it done
            done = done._replace(at=self.as_of.isoformat())
        item.done = done
        by = done.by or "a person"
        day = done.at or "an unknown day"
        quote = f" — they noted: '{isolate(done.feedback)}'" if done.feedback else ""
        days = self.recheck_after_days.get(f.rule, RECHECK_AFTER_DAYS)
        if new:
            self._plan_create(item, f, f"new since {by} marked it done on {day}: {names}",
                              _("new since your 'done' on {day}: {names}", day=_day(day), names=names),
                              done.by_user_id)
            return
        # on a working day of the person it goes to
        again_on = (self.working_time.for_user(done.by_user_id or f.responsible_user_id).on_or_after(
            date.fromisoformat(done.at) + timedelta(days=days)) if days and done.at else None)
        if again_on is not None and self.as_of >= again_on:
            again = (_("still open {days} after your 'done' on {day} — you noted: '{feedback}'", days=_days(days),
                       day=_day(day), feedback=isolate(done.feedback)) if done.feedback else
                     _("still open {days} after your 'done' on {day}", days=_days(days), day=_day(day)))
            self._plan_create(item, f, f"still found {days} days after {by} marked it done on {day}{quote}",
                              again, done.by_user_id)
            return
        item.reason = (f"done by {by} on {day}{quote}; "
                       + (f"raised again on {again_on} if still found" if again_on else
                          "not raised again while the situation lasts (recheck_after_days = 0)"))

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
            item.op, item.lang = "close", self.lang_of(old.get("user_id"))
            item.told = self._how.get(key) or _("no longer found on {day}", day=self.as_of)
            item.reason = str(item.told)
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
            lang = self.company_lang  # a note in the chatter is for everyone: the company's language
            fp = fingerprint({"body": self._note_body(f)})  # of the English
            body = (self._note_body(f, lang) if not is_source(lang) else "") or self._note_body(f)
            body += compose_marker(key, self.run_id, fp, lang=lang)
            items.append(Item("note", "note", key, f.rule, f.subject_model, int(f.subject_id),
                              f.summary, {"body": body}, reason="new note", severity=f.severity, lang=lang))
        return items

    def _ledger_keys(self) -> dict[str, Known]:
        """Activity keys the ledger knows for this database."""
        if self.state is None:
            return {}
        return ledger_table.activities(self.state, self.client.scope)

    def forget_resolved(self, plan: Plan, findings: list) -> None:
        """Keys whose situation went away may raise a new activity when it comes back; a key
        this run could not judge (as in :meth:`plan`) stays remembered as done."""
        if self.state is None:
            return
        from clientcare.rules.finding_table import findings_of
        current = set(marker_keys(findings_of(findings).keys().tolist()))
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

    def _activity_vals(self, f, with_note: bool = True, user_id: int | None = None,
                       lang: str = SOURCE) -> tuple[dict, date]:
        """Values of a new activity (for ``user_id``, else the routed owner), and the rule's due
        date.  The deadline is never before the day it is created and falls on a working day of
        its owner; the note says since when the situation exists (rendered only ``with_note``:
        most findings of a sync are unchanged and need none) in ``lang``; the summary is the
        English one (what the fingerprint holds)."""
        a = f.action
        owner = user_id or _routed(f.responsible_user_id)
        type_id = self._type_id(a.activity_type)
        due = a.due_date or self.as_of
        note = self._activity_note(f, due, lang) if with_note else ""
        vals = {
            "res_id": int(f.subject_id),
            "summary": shorten(a.summary or f.summary),
            "note": note,
            "date_deadline": self._deadline(f, owner).isoformat(),
            "user_id": owner,
        }
        if type_id:
            vals["activity_type_id"] = type_id
        return vals, due

    def _type_id(self, activity_type: str | None) -> int | None:
        return self._type_ids.get(activity_type or "todo") or self._type_ids.get("todo")

    #: The columns :meth:`plan` reads of every finding (:meth:`_as_left`).
    COLUMNS = ("action_kind", "rule", "subject_model", "subject_id", "summary", "action_summary", "severity",
               "due_date", "responsible_user_id")

    def _columns(self, findings) -> dict[str, list]:
        """Per finding, read column-wise: :data:`COLUMNS`, its key and the keys it replaces as
        markers hold them, and the digest of its inputs (:func:`clientcare.rules.digest.digests`)
        with the activity type's id and the owner's language, as a signed 64-bit integer (SQLite's)."""
        if not len(findings):
            return {name: [] for name in (*self.COLUMNS, "key", "replaces", "digest")}
        import numpy as np

        from clientcare.rules.digest import digests
        from clientcare.rules.finding_table import findings_of

        table = findings_of(findings)
        out = {name: table.column(name).tolist() for name in self.COLUMNS}
        activities = table.take(table.column("action_kind") == "activity")  # notes are posted once: no digest
        types, owners = activities.column("activity_type"), activities.column("responsible_user_id")
        type_ids = {t: self._type_id(t) for t in set(types)}
        langs = {u: self.lang_of(u) for u in set(owners)}
        found = digests(activities, type_id=[type_ids[t] for t in types], lang=[langs[u] for u in owners])
        out["digest"] = np.full(len(table), None, dtype=object)
        out["digest"][table.column("action_kind") == "activity"] = found.view("int64").tolist()
        out["digest"] = out["digest"].tolist()
        out["key"] = marker_keys(table.keys().tolist())
        replaces = table.column("replaces").tolist()
        flat = iter(marker_keys([k for keys in replaces for k in keys]))
        out["replaces"] = [[next(flat) for _ in keys] for keys in replaces]
        return out

    def _deadline(self, f, owner: int | None) -> date:
        """The deadline of ``f``'s activity created today for ``owner``."""
        return deadline(f.action, self.as_of, self.working_time.for_user(owner or None))

    def _ramp(self, plan: Plan) -> Plan:
        """New activities over a person's cap for today wait for their working days (op
        ``queue``, nothing written, not in the ledger); the next runs create them on their day.
        Notes are not ramped, nor an activity that merges open ones (the person has them already).
        Counts what each person already received from ClientCare today;
        an open activity the ledger did not know (adopted: a fresh state file, a create whose
        answer never came) counts as received today, since when it was created is unknown."""
        holding = {it.into for it in plan.items if it.op == "merge"}  # they replace what the person has
        creates = [it for it in plan.items if it.op == "create" and it.kind == "activity" and it.key not in holding]
        if not creates:
            return plan
        received = Counter(self._received())
        received.update(_norm(it.vals.get("user_id")) or None for it in plan.adopted)
        days = ramp([Creation(it.key, it.vals.get("user_id") or None, it.severity, it.since) for it in creates],
                    self.per_day, self.as_of, self.working_time, received)
        for it in creates:
            day = days.days[it.key]
            if day > self.as_of:
                owner = it.vals.get("user_id") or None
                it.op = "queue"
                it.reason = (f"queued: {days.ahead[it.key]} ahead for {self._person(owner)}, today's cap "
                             f"{self.per_day}; created on {day}")
                # created on ``day``: due then at the earliest (already a working day of theirs)
                it.vals["date_deadline"] = max(it.vals["date_deadline"], day.isoformat())
        plan.people = [dict(p.to_dict(), name=self._person(p.owner))
                       for p in sorted(days.people.values(), key=lambda p: (-p.queued, -p.today, str(p.owner)))]
        return plan

    def lang_of(self, user_id: Any) -> str:
        """The language written for ``user_id`` (a many2one or an id): theirs, else the company's."""
        user = _norm(user_id)
        lang = self._langs.get(user)
        if lang is None:
            lang = self._langs[user] = pick(self.langs.get(user) if user_id else None, self.company_lang)
        return lang

    def _person(self, user_id: int | None) -> str:
        return self.user_names.get(user_id, f"user {user_id}") if user_id else "nobody"

    def _received(self) -> dict[int | None, int]:
        """Per person, the activities ClientCare created for them that they see today: created
        today, or on their days off since their last working day (seen on the next one)."""
        if self.state is None:
            return {}
        out: Counter = Counter()
        for (user, day), n in ledger_table.created_since(self.state, self.client.scope,
                                                         self.as_of - timedelta(days=31)).items():
            calendar = self.working_time.for_user(user)
            if day <= self.as_of and calendar.on_or_after(day) == calendar.on_or_after(self.as_of):
                out[user] += n
        return dict(out)

    def _activity_note(self, f, due: date, lang: str = SOURCE) -> str:
        """The activity's note in ``lang``: summary, since when, talking points (not the summary
        again), evidence."""
        summary = render(f.summary, lang)
        since = _("Since {day}.", day=due)
        since = f"<p>{esc(render(since, lang))}</p>" if due < self.as_of else ""
        said = [render(p, lang) for p in f.talking_points]
        if said and any(_visible(s) in _visible(said[0]) for s in {summary, render(f.action.summary, lang)} if s):
            said = said[1:]  # a script opening with the summary ("Check in with X: {summary}."): said once, above
        points = "".join(f"<li>{esc(p)}</li>" for p in said)
        heading = render(_("Talking points:"), lang)
        return (f"<p>{esc(summary)}</p>{since}"
                + (f"<p>{esc(heading)}</p><ul>{points}</ul>" if points else "")
                + self._evidence(f, lang))

    def _note_body(self, f, lang: str = SOURCE) -> str:
        return f"<p><strong>ClientCare</strong>: {esc(render(f.summary, lang))}</p>" + self._evidence(f, lang)

    @staticmethod
    def _evidence(f, lang: str) -> str:
        return evidence_table(list(f.evidence or []), getattr(f, "evidence_columns", None),
                              getattr(f, "view", None), lang)

    # -- apply ----------------------------------------------------------------------
    def apply(self, plan: Plan) -> dict[str, int]:
        """Carry out the plan in batches; a failing record fails alone (batches are split)."""
        done: Counter = Counter()
        self._applying = plan.items
        self._ledger(plan.adopted, "open")
        if self.state is not None:  # so the next run knows them unchanged without fingerprinting
            ledger_table.record_digests(self.state, self.client.scope,
                                        [(it.key, *it.remember) for it in plan.items if it.remember])
        gone = [it for it in plan.of("leave") if it.reason == GONE or it.done is not None
                or it.reason.startswith("removed in Odoo")]
        self._ledger(gone, "done")
        dones = [it.done for it in plan.items if it.done is not None]
        if self.state is not None and dones:  # before the creates that follow a "done" reopen the key
            ledger_table.record_done(self.state, self.client.scope, dones)
        by_model: dict[str, list[Item]] = defaultdict(list)
        for it in plan.of("create"):
            by_model[it.res_model].append(it)
        for model, creates in sorted(by_model.items()):
            for start in range(0, len(creates), self.batch_size):
                done["created"] += self._create_activities(model, creates[start:start + self.batch_size])
        for it in plan.of("update"):
            if self._guard(it, lambda it=it: self.client.call(
                    "mail.activity", "write", [[it.odoo_id], it.vals], {"context": self._context()})):
                if it.took_over and self.state is not None:  # what ClientCare set on it goes with it
                    ledger_table.rekey(self.state, self.client.scope, it.took_over, it.key)
                self._ledger([it], "open")
                if it.broken and self.state is not None:
                    ledger_table.record_broken(self.state, self.client.scope, [(it.key, it.broken)])
                done["updated"] += 1
        by_reason: dict[str, list[Item]] = defaultdict(list)
        for it in plan.of("close"):
            by_reason[it.reason].append(it)
        for reason, its in by_reason.items():
            for start in range(0, len(its), self.batch_size):
                done["closed"] += self._split(its[start:start + self.batch_size], lambda batch, reason=reason:
                                              self._close(batch, reason))
        landed = {it.key for it in plan.of("create") if it.odoo_id} | {
            it.key for it in plan.of("update", "leave") if it.odoo_id} - {e["key"] for e in self.errors}
        merges = [it for it in plan.of("merge") if it.into in landed]  # never before their activity exists
        for start in range(0, len(merges), self.batch_size):
            done["merged"] = done.get("merged", 0) + self._split(merges[start:start + self.batch_size], self._merge)
        notes = plan.of("note")
        for start in range(0, len(notes), self.batch_size):
            done["noted"] += self._post_notes(notes[start:start + self.batch_size])
        return dict(done)

    def _merge(self, batch: list[Item]) -> None:
        """Close activities a newer one of ClientCare's took over: "merged", not resolved (in the
        language of each one's owner, after ClientCare's own prefix)."""
        for (_into, lang), its in _grouped(batch, lambda it: (it.into, it.lang)):
            # TRANSLATORS: the feedback of an activity closed because another one now holds its work
            said = _("merged: one activity now holds this: {summary}", summary=its[0].told) if its[0].told \
                else _("merged: one activity now holds this")
            self.client.call("mail.activity", "action_feedback", [[it.odoo_id for it in its]],
                             {"feedback": FEEDBACK_PREFIX + render(said, lang)})
        self._ledger(batch, "merged")

    def _close(self, batch: list[Item], reason: str) -> None:
        for lang, its in _grouped(batch, lambda it: it.lang):
            # TRANSLATORS: the feedback of an activity ClientCare closes; {how}: how the situation went away
            said = _("resolved: {how}", how=its[0].told if its[0].told is not None else reason)
            self.client.call("mail.activity", "action_feedback", [[it.odoo_id for it in its]],
                             {"feedback": FEEDBACK_PREFIX + render(said, lang)})
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
            if self._ids_again():
                return self._split(batch, fn)
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
        ledger_table.record(self.state, self.client.scope, status, [Entry(
            it.key, it.res_model, it.res_id, it.kind, it.odoo_id, it.run or self.run_id, _marker_fp(it),
            digest=it.digest, assigned_user_id=(it.vals.get("user_id") or None) if it.op in ("create", "leave") or
            "owner" in it.reason.split(" (")[0] else None,
            deadline=it.vals.get("date_deadline"), records=it.records if it.op != "leave" or
            it.reason == "adopted" else None,
            # adopted: when Odoo got it is unknown, so it counts as received today (the ramp)
            created_on=self.as_of.isoformat() if it.op == "create" or it.reason == "adopted" else None)
            for it in items])


def undo_run(client: OdooClient, run_id: str, state: StateStore | None = None, force: bool = False) -> dict:
    """Remove what one run created: its open activities and, where permitted, its notes.

    An activity a person worked on since (another owner or deadline than ClientCare set, words
    added to its note) is listed in ``kept``, not removed, unless ``force``: people's work is
    not ClientCare's to delete.  Only ClientCare's own notes are removed (comments without an
    activity type): Odoo's "activity done" messages quote the activity's note with its marker,
    and are the history of what people did.  The ledger marks the activities removed, so a
    later sync raises them again if the situation is still there (unlike an activity a person
    marked done).
    """
    report = {"activities_removed": 0, "notes_removed": 0, "not_removed": [], "kept": []}
    acts = client.search_read_all("mail.activity", [marked_run("note", run_id)] + open_only(client),
                                  ["note", "res_model", "res_id", "summary", "user_id", "date_deadline"])
    acts = [a for a in acts if (m := parse_marker(a["note"])) and m.run == run_id]
    known = ledger_table.by_odoo_id(state, client.scope, [a["id"] for a in acts]) if state is not None else {}
    ids = []
    for act in acts:
        touched = [] if force else touched_by_a_person(act, known.get(act["id"]))
        if touched:
            report["kept"].append({"model": act["res_model"], "res_id": act["res_id"], "id": act["id"],
                                   "summary": act.get("summary") or "", "why": ", ".join(touched)})
        else:
            ids.append(act["id"])
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


def touched_by_a_person(activity: dict, known: Known | None) -> list[str]:
    """What a person changed on an open ClientCare activity: its note (the marker's hash of the
    note as written no longer matches), its owner or its deadline (not what ClientCare last set)."""
    out = []
    m = parse_marker(activity.get("note"))
    if m and m.nh and m.nh != note_hash(activity.get("note")):
        out.append(_("note written in"))
    if known is not None:
        if known.assigned_user_id and _norm(activity.get("user_id")) != known.assigned_user_id:
            out.append(_("given to {person}", person=_name(activity.get("user_id"))))
        if known.deadline and activity.get("date_deadline") and str(activity["date_deadline"]) != known.deadline:
            out.append(_("rescheduled to {day}", day=_day(activity["date_deadline"])))
    return out


def _routed(responsible_user_id: Any) -> int | bool:
    """The owner routing gave a finding (False: nobody; Odoo then picks the current user)."""
    return int(responsible_user_id) if responsible_user_id else False


def _grouped(items: list[Item], by) -> list[tuple[Any, list[Item]]]:
    out: dict[Any, list[Item]] = defaultdict(list)
    for it in items:
        out[by(it)].append(it)
    return list(out.items())


def _n_activities(n: int) -> str:
    return "activity" if n == 1 else f"{n} activities"


def _visible(text: str) -> str:
    """Text as compared by a reader: no bidi controls, case or final stop."""
    return "".join(ch for ch in str(text) if ch not in "\u2066\u2067\u2068\u2069").strip().rstrip(".").casefold()


def _marker_fp(it: Item) -> str | None:
    m = parse_marker(it.vals.get("note") or it.vals.get("body"))
    return m.fp if m else None


def _norm(value):
    if isinstance(value, (list, tuple)) and value:
        return value[0]
    return value

