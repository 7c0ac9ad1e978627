"""The plan's shortcut (offline double): an activity Odoo holds as ClientCare left it from the same
finding inputs (the digest in the ledger) is unchanged without a fingerprint; every decision is the
one the full path takes, people's changes included; a state file from before digests gains them
without a write to Odoo; activity-type ids are asked of Odoo once, and again when a kept one fails."""
from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from clientcare.connector import errors as E
from clientcare.jobs import ledger, writeback
from clientcare.jobs.run_session import open_store
from clientcare.jobs.writeback import WriteBack

from odoo_double import XMLIDS, OdooDouble
from writeback_findings import finding

AS_OF = date(2026, 11, 22)


def plan(odoo, state, found, run_id, as_of=AS_OF):
    wb = WriteBack(odoo, state, run_id, as_of=as_of)
    return wb, wb.plan(found)


def sync(odoo, state, found, run_id, as_of=AS_OF):
    wb, p = plan(odoo, state, found, run_id, as_of)
    return p, wb.apply(p)


def digests(state) -> dict[str, int | None]:
    return {k: v.digest for k, v in ledger.activities(state, odoo_scope()).items()}


def odoo_scope() -> str:
    return OdooDouble().scope


def counting_fingerprints(monkeypatch) -> list:
    calls = []
    real = writeback.fingerprint
    monkeypatch.setattr(writeback, "fingerprint", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    return calls


def test_an_unchanged_activity_needs_no_fingerprint_and_a_change_still_updates(state, monkeypatch):
    odoo = OdooDouble()
    found = [finding(i, daily=("days_late",)) for i in (1, 2, 3)]
    sync(odoo, state, found, "run1")
    assert all(digests(state).values())  # stored with the fingerprint of each create
    calls = counting_fingerprints(monkeypatch)
    tomorrow = [finding(i, daily=("days_late",), days_late=17) for i in (1, 2, 3)]
    p, done = sync(odoo, state, tomorrow, "run2", AS_OF + timedelta(days=1))
    assert done == {} and [it.reason for it in p.items] == ["unchanged"] * 3 and calls == []
    changed = [finding(1, daily=("days_late",), amount=999.0), *tomorrow[1:]]
    p, done = sync(odoo, state, changed, "run3", AS_OF + timedelta(days=1))
    assert done == {"updated": 1} and p.items[0].reason == "changed: evidence" and len(calls) == 1


def test_a_state_file_from_before_digests_gains_them_without_writing_to_odoo(tmp_path, monkeypatch):
    path = tmp_path / "v5.sqlite3"
    state = open_store(path)
    odoo = OdooDouble()
    found = [finding(i) for i in (1, 2)]
    sync(odoo, state, found, "run1")
    state.close()
    db = sqlite3.connect(path)  # as version 5 left it: no digest column, no kept ids
    db.executescript("ALTER TABLE ledger DROP COLUMN digest; DROP TABLE xmlid_cache; PRAGMA user_version=5;")
    db.close()
    state = open_store(path)
    assert digests(state) == {k: None for k in digests(state)} and len(digests(state)) == 2
    writes = odoo.write_calls
    p, done = sync(odoo, state, found, "run2")
    assert done == {} and odoo.write_calls == writes and [it.reason for it in p.items] == ["unchanged"] * 2
    assert all(digests(state).values())
    calls = counting_fingerprints(monkeypatch)
    p, done = sync(odoo, state, found, "run3")
    assert done == {} and calls == [] and [it.reason for it in p.items] == ["unchanged"] * 2
    state.close()


def test_people_outrank_the_shortcut(state):
    """Each person's change gets the decision the full path gives (compared with the digests cleared)."""
    odoo = OdooDouble()
    found = [finding(i) for i in (1, 2, 3, 4)]
    sync(odoo, state, found, "run1")
    acts = {a["res_id"]: a for a in odoo.open_activities()}
    acts[1001]["user_id"] = 7  # given to someone else
    acts[1002]["date_deadline"] = "2026-11-25"  # a date agreed, passed below
    acts[1003]["note"] = acts[1003]["note"].replace("</p>", " <b>Anna pays Friday.</b></p>", 1)  # written in
    odoo.mark_done(acts[1004]["id"])
    later = AS_OF + timedelta(days=5)
    _, shortcut = plan(odoo, state, found, "run2", later)
    with sqlite3.connect(state.path) as db:
        db.execute("UPDATE ledger SET digest=NULL")
    _, full = plan(odoo, state, found, "run2", later)
    assert shortcut.to_dict(sample=None)["decisions"] == full.to_dict(sample=None)["decisions"]
    reasons = {it.res_id: it.reason for it in shortcut.items}
    assert "(kept with user 7, to whom a person gave it)" in reasons[1001] and reasons[1002] == "changed: promise"
    assert reasons[1003] == "unchanged" and reasons[1004].startswith("done by Marc Demo")


def test_a_new_owner_language_rewrites_once(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1)], "run1")
    wb = WriteBack(odoo, state, "run2", as_of=AS_OF, langs={2: "fr_FR"})
    p = wb.plan([finding(1)])
    assert p.items[0].op == "update" and p.items[0].reason == "changed: language"


class TypedOdoo(OdooDouble):
    """Refuses an activity whose type does not exist, as Odoo does; counts the xml id look-ups."""

    def __init__(self):
        super().__init__()
        self.profile.version = "18.0"
        self.xmlids = dict(XMLIDS)
        self.asked = 0

    def call(self, model, method, args=(), kwargs=None, retry=True):
        if method == "check_object_reference":
            self.asked += 1
            return list(self.xmlids[f"{args[0]}.{args[1]}"])
        if model == "mail.activity" and method in ("create", "write"):
            types = {v[1] for k, v in self.xmlids.items() if k.startswith("mail.mail_activity_data")}
            vals = args[0] if method == "create" else [args[1]]
            if any(v.get("activity_type_id") not in types for v in vals if "activity_type_id" in v):
                raise E.ServerError("insert or update on table mail_activity violates a foreign key constraint")
        return super().call(model, method, args, kwargs, retry)


def test_activity_type_ids_are_kept_and_asked_again_when_a_kept_one_fails(state):
    odoo = TypedOdoo()
    sync(odoo, state, [finding(1)], "run1")
    assert odoo.asked == 5
    sync(odoo, state, [finding(1), finding(2)], "run2")
    assert odoo.asked == 5 and len(odoo.open_activities()) == 2  # kept: not asked again
    odoo.xmlids["mail.mail_activity_data_call"] = ("mail.activity.type", 12)  # recreated by an administrator
    wb = WriteBack(odoo, state, "run3", as_of=AS_OF)
    p = wb.plan([finding(1), finding(2), finding(3)])
    assert wb.apply(p) == {"created": 1} and wb.errors == [] and odoo.asked == 10
    assert [a["activity_type_id"] for a in odoo.open_activities() if a["res_id"] == 1003] == [12]
    sync(odoo, state, [finding(4)], "run4")
    assert odoo.asked == 10  # the new ids are kept
