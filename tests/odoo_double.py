"""A small in-memory stand-in for the few Odoo calls the write-back makes.

Only for what no cassette can reach: crashing at every batch boundary,
between the Odoo write and the ledger write, and faults on single records.
Everything it does is checked against the real servers by the cassette tests.
"""
from __future__ import annotations

from types import SimpleNamespace

from clientcare.connector import errors as E
from clientcare.connector.facts import parse_marker


#: Partners as Odoo's ``author_id`` reads them: the ClientCare user's, and a salesperson's.
BOT = (3, "ClientCare Bot")
MARC = (7, "Marc Demo")


class Crash(BaseException):
    """Simulates the process dying (not an Exception, so nothing catches it)."""


def _match(record: dict, domain: list) -> bool:
    stack = []
    for token in reversed(domain):
        if token == "|":
            a, b = stack.pop(), stack.pop()
            stack.append(a or b)
        elif token == "&":
            a, b = stack.pop(), stack.pop()
            stack.append(a and b)
        else:
            field, op, value = token
            have = record.get(field)
            if op == "ilike":
                stack.append(value.lower() in str(have or "").lower())
            elif op == "in":
                stack.append(have in value)
            elif op == "=":
                stack.append(have == value)
            elif op == "!=":
                stack.append(have != value)
            elif op == ">":
                stack.append(have > value)
            else:
                raise NotImplementedError(op)
    return all(stack)


XMLIDS = {"mail.mail_activity_data_todo": ("mail.activity.type", 1),
          "mail.mail_activity_data_call": ("mail.activity.type", 2),
          "mail.mail_activity_data_email": ("mail.activity.type", 3),
          "mail.mail_activity_data_meeting": ("mail.activity.type", 4),
          "mail.mt_note": ("mail.message.subtype", 5)}


class OdooDouble:
    def __init__(self, major: int = 18):
        self.scope = "double|db"
        self.profile = SimpleNamespace(major=major, has=lambda model, field: False)
        self.records = {"mail.activity": {}, "mail.message": {}}
        self.next_id = 100
        self.write_calls = 0
        self.crash_at: int | None = None       # die at this write call …
        self.crash_after_write = False         # … before (False) or after (True) Odoo applied it
        self.fail_res_ids: set[int] = set()    # records whose create fails validation
        self.message_create_allowed = True
        self.contexts: list[dict] = []         # the context of every write call
        self.transport = SimpleNamespace(call_count=0, calls={}, retries=0)
        #: Who is acting (their partner, as Odoo's ``author_id`` reads) and when: the bot for
        #: ClientCare's calls; :meth:`mark_done` acts as a person.
        self.acting = BOT
        self.now = "2026-11-22 09:00:00"

    def context(self, **extra):
        return dict(extra)

    # -- the OdooClient surface the write-back uses ---------------------------------
    def call(self, model, method, args=(), kwargs=None, retry=True):
        kwargs = kwargs or {}
        if model in ("ir.model", "ir.model.data") and method != "check_object_reference":
            raise E.AccessError(f"You are not allowed to access '{model}' records (administrators only)")
        if method == "check_object_reference":
            return list(XMLIDS[f"{args[0]}.{args[1]}"])
        if method == "search_read":
            return self._search_read(model, kwargs["domain"], kwargs["fields"])
        if method == "read":
            store = self.records.get(model, {})
            return [{"id": i, **{f: store[i].get(f) for f in kwargs["fields"]}} for i in args[0] if i in store]
        return self._write(model, method, args, kwargs)

    def load_fields(self, models):
        pass

    def search_read_all(self, model, domain, fields):
        return self._search_read(model, domain, fields)

    # -- internals ------------------------------------------------------------------
    def _search_read(self, model, domain, fields):
        rows = [r for r in self.records.get(model, {}).values() if r.get("active", True)
                and _match(r, domain)]
        return [{"id": r["id"], **{f: r.get(f) for f in fields}} for r in sorted(rows, key=lambda r: r["id"])]

    def _write(self, model, method, args, kwargs):
        self.write_calls += 1
        self.contexts.append(kwargs.get("context") or {})
        crash_now = self.crash_at == self.write_calls
        if crash_now and not self.crash_after_write:
            raise Crash(f"died before write #{self.write_calls}")
        result = self._apply(model, method, args, kwargs)
        if crash_now:
            raise Crash(f"died after write #{self.write_calls}")
        return result

    def _apply(self, model, method, args, kwargs):
        store = self.records.setdefault(model, {})
        if method == "create":
            vals_list = args[0]
            if model == "mail.message" and not self.message_create_allowed:
                raise E.AccessError("not allowed to create mail.message")
            bad = [v for v in vals_list if v.get("res_id") in self.fail_res_ids]
            if bad:
                raise E.UserError(f"invalid record {bad[0]['res_id']}")
            ids = []
            for vals in vals_list:
                self.next_id += 1
                rec = dict(vals, id=self.next_id, active=True)
                if model == "mail.activity":  # what mail.activity.default_get does with the context
                    assert "res_model_id" not in vals
                    rec["res_model"] = kwargs["context"]["default_res_model"]
                if model == "mail.message":
                    rec.setdefault("mail_activity_type_id", False)
                store[self.next_id] = rec
                ids.append(self.next_id)
            return ids
        if method == "write":
            for i in args[0]:
                store[i].update(args[1])
            return True
        if method == "action_feedback":  # as Odoo's mail.message_activity_done: feedback, then the note
            for i in args[0]:
                act = store[i]
                self.next_id += 1
                feedback = f"<div>{kwargs['feedback']}</div>" if kwargs.get("feedback") else ""
                self.records["mail.message"][self.next_id] = {
                    "id": self.next_id, "model": act["res_model"], "res_id": act["res_id"],
                    "message_type": "notification", "mail_activity_type_id": act.get("activity_type_id") or 1,
                    "author_id": list(self.acting), "date": self.now,
                    "body": f"<p><span>Call</span> done<span>: </span><span>{act.get('summary')}</span></p>"
                            f"{feedback}<div class=\"o_mail_note_title\"><strong>Original note:</strong></div>"
                            f"<div>{act['note']}</div>", "active": True}
                if self.profile.major >= 17:
                    act["active"], act["feedback"] = False, kwargs.get("feedback")
                else:
                    del store[i]
            return True
        if method == "unlink":
            for i in args[0]:
                store.pop(i, None)
            return True
        if method == "message_post":
            self.next_id += 1
            self.records["mail.message"][self.next_id] = {
                "id": self.next_id, "model": model, "res_id": args[0][0], "body": kwargs["body"],
                "message_type": "comment", "mail_activity_type_id": False, "active": True}
            return self.next_id
        raise NotImplementedError(f"{model}.{method}")

    def open_activities(self) -> list[dict]:
        return [r for r in self.records["mail.activity"].values() if r["active"]]

    def messages(self) -> list[dict]:
        """ClientCare's notes (comments), not Odoo's "activity done" messages."""
        return [m for m in self.records["mail.message"].values() if not m["mail_activity_type_id"]]

    def mark_done(self, activity_id: int, feedback: str = "called them", by: tuple[int, str] = MARC,
                  when: str | None = None) -> None:
        """A person (their partner id and name) marks an activity done in Odoo."""
        self.acting, now = by, self.now
        self.now = when or now
        try:
            self._apply("mail.activity", "action_feedback", [[activity_id]], {"feedback": feedback})
        finally:
            self.acting, self.now = BOT, now


def keys_in(records: list[dict], field: str) -> list[str]:
    return sorted(m.key for r in records if (m := parse_marker(r.get(field))))
