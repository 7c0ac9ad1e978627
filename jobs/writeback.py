"""Write-back: findings become activities and chatter notes in Odoo, idempotently.

Every record ClientCare creates carries an HTML comment marker
``<!-- clientcare key=… run=… fp=… -->``.  Measured live on Odoo 16, 18 and 19:
comments survive the HTML sanitiser of activity notes and message bodies
(``data-*`` attributes do not), users never see them, and ``ilike`` finds them.
So Odoo itself says which findings already have an open activity, even when a
run died after Odoo created records but before the ledger was written; the
SQLite ledger adds run ownership (for ``undo``) and history.

Plan per finding key: create, update (the fingerprint of what we would write
changed: level, invoices, deadline, owner), close (the finding is gone: mark
the activity done with a feedback line), or leave.  Never a second open
activity for one key.
"""
from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable

from clientcare.connector import errors as E
from clientcare.connector.pull import OdooClient
from clientcare.connector.state import StateStore

log = logging.getLogger(__name__)

MARKER_PREFIX = "<!-- clientcare key="
MARKER_RE = re.compile(r"<!-- clientcare key=(?P<key>\S+) run=(?P<run>\S+) fp=(?P<fp>[0-9a-f]+) -->")

#: Friendly activity type names → the xml ids Odoo ships in ``mail``.
ACTIVITY_TYPES = {
    "todo": "mail_activity_data_todo",
    "call": "mail_activity_data_call",
    "email": "mail_activity_data_email",
    "meeting": "mail_activity_data_meeting",
}
WRITE_MODELS = {"mail.activity": {"read", "create", "write"}, "mail.message": {"read", "create"}}


def marker(key: str, run_id: str, fingerprint: str) -> str:
    return f"<!-- clientcare key={_safe_key(key)} run={run_id} fp={fingerprint} -->"


def _safe_key(key: str) -> str:
    """Keys go inside an HTML comment: no spaces, no ``--``, no ``>``."""
    return re.sub(r"[^A-Za-z0-9_.:/=+@-]", "_", key).replace("--", "-_")


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

    def public(self) -> dict:
        return {"op": self.op, "kind": self.kind, "key": self.key, "rule": self.rule,
                "res_model": self.res_model, "res_id": self.res_id, "summary": self.summary,
                "odoo_id": self.odoo_id, "reason": self.reason, "severity": self.severity,
                "user_id": self.vals.get("user_id"), "date_deadline": self.vals.get("date_deadline")}


@dataclass
class Plan:
    items: list[Item]
    run_id: str

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter] = defaultdict(Counter)
        for it in self.items:
            out[it.rule][it.op] += 1
        return {rule: dict(c) for rule, c in sorted(out.items())}

    def of(self, *ops: str) -> list[Item]:
        return [it for it in self.items if it.op in ops]

    def to_dict(self, sample: int = 10) -> dict:
        changes = [it for it in self.items if it.op != "leave"]
        return {"run_id": self.run_id, "counts": self.counts(),
                "changes": [{"op": it.op, "key": it.key, "odoo_id": it.odoo_id} for it in changes],
                "sample": [it.public() for it in changes][:sample]}


def fingerprint(vals: dict) -> str:
    payload = json.dumps({k: vals.get(k) for k in ("summary", "note", "date_deadline", "user_id",
                                                   "activity_type_id", "body")},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


class WriteBack:
    """Plans and applies the write-back of one run on one database."""

    def __init__(self, client: OdooClient, state: StateStore | None, run_id: str, *,
                 max_creations: int = 500, batch_size: int = 100, as_of: date | None = None):
        self.client = client
        self.state = state
        self.run_id = run_id
        self.max_creations = max_creations
        self.batch_size = batch_size
        self.as_of = as_of or date.today()
        self.errors: list[dict] = []
        self.warnings: list[str] = []
        self._model_ids: dict[str, int] = {}
        self._type_ids: dict[str, int] = {}
        self._note_subtype: int | None = None

    # -- lookups (a constant number of calls) -----------------------------------------
    def _lookups(self, models: Iterable[str]) -> None:
        models = sorted(set(models) - set(self._model_ids))
        if models:
            for row in self.client.call("ir.model", "search_read", [], {
                    "domain": [("model", "in", models)], "fields": ["model"]}):
                self._model_ids[row["model"]] = row["id"]
        if not self._type_ids:
            names = list(ACTIVITY_TYPES.values()) + ["mt_note"]
            rows = self.client.call("ir.model.data", "search_read", [], {
                "domain": [("module", "=", "mail"), ("name", "in", names)], "fields": ["name", "res_id"]})
            by_name = {r["name"]: r["res_id"] for r in rows}
            self._type_ids = {k: by_name[v] for k, v in ACTIVITY_TYPES.items() if v in by_name}
            self._note_subtype = by_name.get("mt_note")

    def existing_activities(self) -> dict[str, dict]:
        """Open ClientCare activities in Odoo by finding key (one paged search_read)."""
        rows = self.client.search_read_all(
            "mail.activity", [("note", "ilike", MARKER_PREFIX)] + open_only(self.client),
            ["res_model", "res_id", "user_id", "date_deadline", "summary", "note", "activity_type_id"])
        out: dict[str, dict] = {}
        for row in rows:
            m = MARKER_RE.search(row.get("note") or "")
            if not m:
                continue
            row.update(key=m["key"], run=m["run"], fp=m["fp"])
            if m["key"] in out:  # a duplicate from a crash elsewhere: keep the oldest open one
                self.warnings.append(f"duplicate open activity for {m['key']}: {row['id']}")
                continue
            out[m["key"]] = row
        return out

    def posted_notes(self, keys: list[str]) -> set[str]:
        """Which of these note keys already have a message in Odoo (checked per batch)."""
        found: set[str] = set()
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start:start + self.batch_size]
            domain = ["|"] * (len(chunk) - 1) + [("body", "ilike", f"clientcare key={_safe_key(k)} ")
                                                  for k in chunk]
            rows = self.client.search_read_all("mail.message", domain, ["body"])
            for row in rows:
                m = MARKER_RE.search(row.get("body") or "")
                if m:
                    found.add(m["key"])
        return found

    # -- plan -----------------------------------------------------------------------
    def plan(self, findings: list, *, rules_run: set[str] | None = None,
             client_ids: set[int] | None = None) -> Plan:
        """Decide create / update / close / leave for every finding and open activity.

        ``rules_run`` limits closing to activities of rules that ran (a rule that
        crashed or was filtered out must not have its activities closed), and
        ``client_ids`` likewise for targeted runs.
        """
        self._lookups({f.subject_model for f in findings} | {"res.partner"})
        existing = self.existing_activities()
        handled = self._handled_keys(existing)
        items: list[Item] = []
        current_activity_keys: set[str] = set()
        note_findings = []
        for f in findings:
            action = f.action
            if action is None:
                continue
            if action.kind == "note":
                note_findings.append(f)
                continue
            key = _safe_key(f.key)
            current_activity_keys.add(key)
            vals = self._activity_vals(f)
            fp = fingerprint(vals)
            old = existing.get(key)
            if old is None and key in handled:
                # we created it, it is no longer open: a person marked it done (or undo removed it).
                # Not again until the situation goes away and comes back.
                items.append(Item("leave", "activity", key, f.rule, f.subject_model, int(f.subject_id),
                                  vals["summary"], reason="done in Odoo", severity=f.severity))
                continue
            if old is None:
                vals["note"] += marker(key, self.run_id, fp)
                items.append(Item("create", "activity", key, f.rule, f.subject_model, int(f.subject_id),
                                  vals["summary"], vals, reason="new finding", severity=f.severity))
            elif old["fp"] != fp:
                vals["note"] += marker(key, old["run"], fp)
                changed = [k for k in ("summary", "date_deadline", "user_id", "activity_type_id")
                           if _norm(old.get(k)) != _norm(vals.get(k))] or ["evidence"]
                items.append(Item("update", "activity", key, f.rule, f.subject_model, int(f.subject_id),
                                  vals["summary"], vals, odoo_id=old["id"],
                                  reason="changed: " + ", ".join(changed), severity=f.severity))
            else:
                items.append(Item("leave", "activity", key, f.rule, f.subject_model, int(f.subject_id),
                                  vals["summary"], odoo_id=old["id"], reason="unchanged",
                                  severity=f.severity))
        for key, old in existing.items():
            if key in current_activity_keys:
                continue
            rule = key.split(":", 1)[0]
            if rules_run is not None and rule not in rules_run:
                continue
            if client_ids is not None and not _key_concerns(key, old, client_ids):
                continue
            items.append(Item("close", "activity", key, rule, old["res_model"], old["res_id"],
                              old.get("summary") or "", odoo_id=old["id"],
                              reason=f"resolved: {rule} no longer finds this on {self.as_of:%Y-%m-%d}"))
        if note_findings:
            already = self.posted_notes([_safe_key(f.key) for f in note_findings])
            for f in note_findings:
                key = _safe_key(f.key)
                if key in already:
                    items.append(Item("leave", "note", key, f.rule, f.subject_model, int(f.subject_id),
                                      f.summary, reason="already posted", severity=f.severity))
                    continue
                body = self._note_body(f)
                body += marker(key, self.run_id, fingerprint({"body": body}))
                items.append(Item("note", "note", key, f.rule, f.subject_model, int(f.subject_id),
                                  f.summary, {"body": body}, reason="new note", severity=f.severity))
        return self._cap(Plan(items, self.run_id))

    def _handled_keys(self, existing: dict[str, dict]) -> set[str]:
        """Activity keys the ledger says we created and that are no longer open in Odoo."""
        if self.state is None:
            return set()
        rows = self.state.db.execute(
            "SELECT finding_key FROM ledger WHERE scope=? AND kind='activity' AND status IN ('open','done')",
            (self.client.scope,)).fetchall()
        return {k for (k,) in rows if k not in existing}

    def forget_resolved(self, plan: Plan, findings: list) -> None:
        """Keys whose situation went away may raise a new activity when it comes back."""
        if self.state is None:
            return
        current = {_safe_key(f.key) for f in findings}
        with self.state.transaction() as db:
            rows = db.execute("SELECT finding_key FROM ledger WHERE scope=? AND kind='activity' "
                              "AND status='done'", (self.client.scope,)).fetchall()
            for (key,) in rows:
                if key not in current:
                    db.execute("DELETE FROM ledger WHERE scope=? AND kind='activity' AND finding_key=?",
                               (self.client.scope, key))

    def _cap(self, plan: Plan) -> Plan:
        creations = plan.of("create", "note")
        if len(creations) <= self.max_creations:
            return plan
        order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
        keep = set(id(it) for it in sorted(creations, key=lambda it: order.get(it.severity, 5))
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

    def _activity_vals(self, f) -> dict:
        a = f.action
        type_name = getattr(a, "activity_type", None) or "todo"
        type_id = self._type_ids.get(type_name) or self._type_ids.get("todo")
        due = getattr(a, "due_date", None) or self.as_of
        note = f"<p>{esc(f.summary)}</p>" + evidence_table(list(f.evidence or []),
                                                            getattr(f, "evidence_columns", None))
        vals = {
            "res_model_id": self._model_ids[f.subject_model],
            "res_id": int(f.subject_id),
            "summary": (getattr(a, "summary", None) or f.summary)[:250],
            "note": note,
            "date_deadline": due.strftime("%Y-%m-%d") if hasattr(due, "strftime") else str(due),
            "user_id": int(f.responsible_user_id) if f.responsible_user_id else False,
        }
        if type_id:
            vals["activity_type_id"] = type_id
        return vals

    def _note_body(self, f) -> str:
        return (f"<p><strong>ClientCare</strong>: {esc(f.summary)}</p>"
                + evidence_table(list(f.evidence or []), getattr(f, "evidence_columns", None)))

    # -- apply ----------------------------------------------------------------------
    def apply(self, plan: Plan) -> dict[str, int]:
        """Carry out the plan in batches; a failing record fails alone (batches are split)."""
        done: Counter = Counter()
        self._ledger([it for it in plan.of("leave") if it.reason == "done in Odoo"], "done")
        creates = plan.of("create")
        for start in range(0, len(creates), self.batch_size):
            done["created"] += self._create_activities(creates[start:start + self.batch_size])
        for it in plan.of("update"):
            if self._guard(it, lambda it=it: self.client.call("mail.activity", "write",
                                                               [[it.odoo_id], it.vals])):
                self._ledger([it], "open")
                done["updated"] += 1
        closes = plan.of("close")
        by_reason: dict[str, list[Item]] = defaultdict(list)
        for it in closes:
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
                         {"feedback": f"ClientCare: {reason}"})
        self._ledger(batch, "done")

    def _create_activities(self, batch: list[Item]) -> int:
        self._ledger(batch, "pending")

        def create(part: list[Item]) -> None:
            ids = self._create_once("mail.activity", part, lambda: self.existing_activities())
            for it, odoo_id in zip(part, ids):
                it.odoo_id = odoo_id
            self._ledger(part, "open")
        return self._split(batch, create)

    def _create_once(self, model: str, part: list[Item], find_existing) -> list[int]:
        """``create`` is not retried blindly: after a lost answer, Odoo is asked which
        markers exist and only the missing records are created."""
        try:
            ids = self.client.call(model, "create", [[it.vals for it in part]], retry=False)
            return ids if isinstance(ids, list) else [ids]
        except E.RetriableError as exc:
            log.warning("create on %s interrupted (%s); checking what landed", model, exc)
            landed = find_existing()
            missing = [it for it in part if it.key not in landed]
            if missing:
                self.client.call(model, "create", [[it.vals for it in missing]])
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
                          "subtype_xmlid": "mail.mt_note"}
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
                self.errors.append({"key": it.key, "op": it.op, "res_model": it.res_model,
                                    "res_id": it.res_id, "error": f"{type(exc).__name__}: {exc}"})
                log.error("%s %s on %s,%s failed: %s", it.op, it.key, it.res_model, it.res_id, exc)
                self._ledger([it], "failed")
                return 0
            mid = len(batch) // 2
            return self._split(batch[:mid], fn) + self._split(batch[mid:], fn)

    def _guard(self, it: Item, fn) -> bool:
        return self._split([it], lambda _batch: fn()) == 1

    # -- ledger ---------------------------------------------------------------------
    def _ledger(self, items: list[Item], status: str) -> None:
        if self.state is None:
            return
        now = datetime.now(timezone.utc).isoformat()
        with self.state.transaction() as db:
            for it in items:
                db.execute(
                    "INSERT INTO ledger(finding_key, scope, res_model, res_id, kind, odoo_id, run_id, "
                    "status, fingerprint, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(scope, finding_key, kind) DO UPDATE SET odoo_id=coalesce(excluded.odoo_id, "
                    "ledger.odoo_id), run_id=CASE WHEN excluded.status IN ('pending','open','posted') "
                    "AND ledger.status NOT IN ('open') THEN excluded.run_id ELSE ledger.run_id END, "
                    "status=excluded.status, updated_at=excluded.updated_at",
                    (it.key, self.client.scope, it.res_model, it.res_id, it.kind, it.odoo_id, self.run_id,
                     status, _marker_fp(it), now))


def undo_run(client: OdooClient, run_id: str, state: StateStore | None = None) -> dict:
    """Remove what one run created: its open activities and, where permitted, its notes.

    The ledger marks them removed, so a later sync may raise them again if the
    situation is still there (unlike an activity a person marked done).
    """
    tag = f"run={run_id} "
    report = {"activities_removed": 0, "notes_removed": 0, "not_removed": []}
    acts = client.search_read_all("mail.activity", [("note", "ilike", tag)] + open_only(client), ["note"])
    ids = [a["id"] for a in acts if (m := MARKER_RE.search(a["note"] or "")) and m["run"] == run_id]
    if ids:
        client.call("mail.activity", "unlink", [ids])
        report["activities_removed"] = len(ids)
        if state is not None:
            with state.transaction() as db:
                db.executemany("UPDATE ledger SET status='removed' WHERE scope=? AND kind='activity' "
                               "AND odoo_id=?", [(client.scope, i) for i in ids])
    msgs = client.search_read_all("mail.message", [("body", "ilike", tag)], ["body"])
    ids = [m_["id"] for m_ in msgs if (m := MARKER_RE.search(m_["body"] or "")) and m["run"] == run_id]
    for start in range(0, len(ids), 100):
        chunk = ids[start:start + 100]
        try:
            client.call("mail.message", "unlink", [chunk])
            report["notes_removed"] += len(chunk)
        except (E.AccessError, E.UserError) as exc:
            report["not_removed"] += [{"model": "mail.message", "id": i, "why": str(exc)} for i in chunk]
    return report


def _marker_fp(it: Item) -> str | None:
    m = MARKER_RE.search(it.vals.get("note") or it.vals.get("body") or "")
    return m["fp"] if m else None


def _norm(value):
    if isinstance(value, (list, tuple)) and value:
        return value[0]
    return value


def _key_concerns(key: str, old: dict, client_ids: set[int]) -> bool:
    return old.get("res_model") == "res.partner" and old.get("res_id") in client_ids
