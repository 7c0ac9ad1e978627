"""People outrank rules (offline double; tests/jobs/test_people_cassettes.py shows the same on
real Odoo 16-19): a person's "done" is an answer quoted when the situation persists, new records
are new work, a person's owner and date are kept, undo spares what people worked on."""
from __future__ import annotations

import dataclasses
import html
from datetime import date, timedelta

from clientcare.rules.testing import visible
from clientcare.jobs import ledger
from clientcare.jobs.writeback import WriteBack, done_feedback, undo_run

from odoo_double import MARC, OdooDouble
from writeback_findings import finding

AS_OF = date(2026, 11, 22)
MARC_USER = 6
STAFF = {MARC[0]: MARC_USER}
NAMES = {2: "Mitchell Admin", MARC_USER: "Marc Demo", 9: "Joel Willis"}


def sync(odoo, state, found, run_id, as_of=AS_OF, recheck=None, apply=True):
    wb = WriteBack(odoo, state, run_id, as_of=as_of, staff=STAFF, user_names=NAMES,
                   recheck_after_days=recheck or {})
    plan = wb.plan(found, rules_run={"late_payment"})
    if not apply:
        return plan, None
    done = wb.apply(plan)
    wb.forget_resolved(plan, found)  # as sync does
    return plan, done


def only(odoo) -> dict:
    acts = odoo.open_activities()
    assert len(acts) == 1, acts
    return acts[0]


def reason(plan) -> str:
    return visible(next(it.reason for it in plan.items if it.key.startswith("late_payment:res.partner:1001")))


def test_done_with_feedback_is_quoted_when_the_situation_persists_a_week_later(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    odoo.mark_done(only(odoo)["id"], "client promised to pay on Friday", when="2026-11-22 15:00:00")
    for day in range(1, 8):  # the week after: left, saying until when (a Sunday: Marc's next working day)
        plan, done = sync(odoo, state, [finding(1, invoices=(11,))], f"d{day}", AS_OF + timedelta(days=day))
        assert done == {} and reason(plan) == ("done by Marc Demo on 2026-11-22 — they noted: 'client promised "
                                               "to pay on Friday'; raised again on 2026-11-30 if still found")
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "d8", AS_OF + timedelta(days=8))
    assert done == {"created": 1}
    act = only(odoo)
    assert act["user_id"] == MARC_USER  # the same person
    assert visible(act["summary"]).endswith("— still open a week after your 'done' on 2026-11-22 — you noted: "
                                   "'client promised to pay on Friday'")
    assert "Still open a week after your" in act["note"]
    assert reason(plan).startswith("still found 7 days after Marc Demo marked it done on 2026-11-22")
    known = ledger.activities(state, odoo.scope)[act["note"].split("key=")[1].split()[0]]
    assert (known.done_by, known.done_at, known.feedback) == ("Marc Demo", "2026-11-22",
                                                              "client promised to pay on Friday")


def test_a_new_invoice_joining_a_done_finding_is_raised_at_once(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    odoo.mark_done(only(odoo)["id"], "client promised to pay on Friday")
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "run2", AS_OF + timedelta(days=1))
    assert done == {}
    plan, done = sync(odoo, state, [finding(1, invoices=(11, 12))], "run3", AS_OF + timedelta(days=2))
    assert done == {"created": 1}
    assert reason(plan) == "new since Marc Demo marked it done on 2026-11-22: INV/12"
    assert visible(only(odoo)["summary"]).endswith("— new since your 'done' on 2026-11-22: INV/12")
    assert only(odoo)["user_id"] == MARC_USER


def test_recheck_after_days_zero_never_raises_again_and_a_rule_may_set_its_own(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    odoo.mark_done(only(odoo)["id"], "")
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "run2", AS_OF + timedelta(days=90),
                      recheck={"late_payment": 0})
    assert done == {} and reason(plan) == ("done by Marc Demo on 2026-11-22; not raised again while the "
                                           "situation lasts (recheck_after_days = 0)")
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "run3", AS_OF + timedelta(days=3),
                      recheck={"late_payment": 3})
    assert done == {"created": 1} and "after your 'done' on 2026-11-22" in only(odoo)["summary"]


def test_an_activity_removed_without_done_is_a_dismissal_until_new_records_join(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    odoo.records["mail.activity"].clear()  # a person deleted it: Odoo writes no message
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "run2", AS_OF + timedelta(days=30))
    assert done == {} and reason(plan) == "removed in Odoo by a person: not raised again while the situation lasts"
    plan, done = sync(odoo, state, [finding(1, invoices=(11, 13))], "run3", AS_OF + timedelta(days=31))
    assert done == {"created": 1} and reason(plan) == "new since its activity was removed in Odoo: INV/13"


def test_clientcare_closing_is_not_a_persons_done(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    sync(odoo, state, [], "run2")  # resolved: ClientCare closes it (author: the bot)
    assert odoo.open_activities() == []
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "run3")  # back: a fresh activity
    assert done == {"created": 1} and reason(plan) == "new finding"


def test_a_persons_reassignment_is_kept_and_told_once(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    act = only(odoo)
    act["user_id"] = [9, "Joel Willis"]  # a person gives it to a colleague
    plan, done = sync(odoo, state, [finding(1, invoices=(11,), amount=50.0)], "run2")  # a partial payment
    assert done == {"updated": 1}
    act = only(odoo)
    assert act["user_id"] == 9, "the person's choice is not undone"
    assert "stays with <bdi>Joel Willis</bdi>, to whom a person gave it (ClientCare's routing names Mitchell Admin)" \
        in html.unescape(act["note"])
    act["user_id"] = [9, "Joel Willis"]
    plan, done = sync(odoo, state, [finding(1, invoices=(11,), amount=50.0)], "run3")
    assert done == {} and reason(plan) == "unchanged (with Joel Willis, to whom a person gave it)"
    act["user_id"] = [9, "Joel Willis"]
    plan, done = sync(odoo, state, [finding(1, invoices=(11,), amount=50.0, owner=MARC_USER)], "run4")
    assert done == {"updated": 1} and only(odoo)["user_id"] == 9  # routing changed: a line, not a move
    assert "(ClientCare's routing names Marc Demo)" in html.unescape(only(odoo)["note"])


def test_routing_still_moves_an_activity_no_person_reassigned(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    plan, done = sync(odoo, state, [finding(1, invoices=(11,), owner=MARC_USER)], "run2")
    assert done == {"updated": 1} and only(odoo)["user_id"] == MARC_USER and reason(plan) == "changed: owner"


def test_a_moved_deadline_is_kept_and_its_passing_is_said_once(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    only(odoo)["date_deadline"] = "2026-11-25"  # a person agreed a date with the client
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "run2", AS_OF + timedelta(days=3))
    assert done == {} and reason(plan) == "unchanged"
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "run3", AS_OF + timedelta(days=4))
    assert done == {"updated": 1} and reason(plan) == "changed: promise"
    act = only(odoo)
    assert act["date_deadline"] == "2026-11-25"
    assert "2026-11-26: the agreed date 2026-11-25 passed and the situation is unchanged." in act["note"]
    plan, done = sync(odoo, state, [finding(1, invoices=(11,))], "run4", AS_OF + timedelta(days=5))
    assert done == {} and reason(plan) == "unchanged"


def test_undo_lists_what_people_worked_on_and_removes_it_only_with_force(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(i, invoices=(10 + i,)) for i in (1, 2, 3, 4)], "run1")
    acts = {a["res_id"]: a for a in odoo.open_activities()}
    acts[1001]["date_deadline"] = "2026-12-10"
    acts[1002]["note"] = acts[1002]["note"].replace("</p>", " Spoke to their accountant Jane.</p>", 1)
    acts[1003]["user_id"] = 9
    report = undo_run(odoo, "run1", state)
    assert report["activities_removed"] == 1 and [a["res_id"] for a in odoo.open_activities()] == [1001, 1002, 1003]
    assert {k["res_id"]: k["why"] for k in report["kept"]} == {
        1001: "rescheduled to 2026-12-10", 1002: "note written in", 1003: "given to user 9"}
    report = undo_run(odoo, "run1", state, force=True)
    assert report["activities_removed"] == 3 and report["kept"] == [] and odoo.open_activities() == []


def test_done_feedback_is_read_from_odoos_own_message_shapes():
    v16 = ('\n    <p>\n        <span class="fa fa-envelope fa-fw"></span><span>Email</span> done\n         '
           '(originally assigned to <span>Marc Demo</span>)\n        <span>: </span><span>reply to Rita</span>\n'
           '    </p>\n    <div>\n            client promised to pay on Friday\n    </div>\n    \n        '
           '<div class="o_mail_note_title"><strong>Original note:</strong></div>\n        <div><p>reply</p></div>')
    assert done_feedback(v16) == "client promised to pay on Friday"
    v19 = ('<div>\n    <p>\n        <span class="fa fa-phone fa-fw"></span><span>Call</span> done\n        <span>: '
           '</span><span>call Gemini Furniture</span>\n    </p>\n    \n        <div class="o_mail_note_title fw-bold">'
           'Original note:</div>\n        <div><p>call Gemini Furniture</p><!-- clientcare key=k run=r fp=0 --></div>\n'
           '    <div>\n        <div class="fw-bold">Feedback:</div>\n            client promised to pay on Friday\n'
           '    </div>\n</div>')
    assert done_feedback(v19) == "client promised to pay on Friday"
    assert done_feedback("<p><span>Call</span> done</p>") is None
    assert done_feedback("<p>Call done</p><div>a &amp; b<br>c</div>") == "a & b c"


def test_a_dry_run_plan_records_nothing(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, invoices=(11,))], "run1")
    odoo.mark_done(only(odoo)["id"], "later")
    before = ledger.activities(state, odoo.scope)
    sync(odoo, state, [finding(1, invoices=(11,))], "run2", apply=False)
    assert ledger.activities(state, odoo.scope) == before


def test_finding_records_come_from_its_id_lists():
    f = dataclasses.replace(finding(1, invoices=(12, 11)), data={"invoice_ids": [12, 11], "credit_note_ids": [5],
                                                                  "level": 2})
    assert f.record_ids() == (5, 11, 12) and f.record_name(12) == "INV/12" and f.record_name(5) == "#5"


def test_a_version_3_ledger_gains_what_people_did_and_keeps_its_rows(tmp_path):
    import sqlite3

    from clientcare.jobs.run_session import open_store

    path = tmp_path / "v3.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE ledger; DROP TABLE xmlid_cache;" + ledger.TABLES.ddl[1] + ";INSERT INTO ledger VALUES "
                     "('late_payment:res.partner:1001:level1', 's', 'res.partner', 1001, 'activity', 512, 'r1', "
                     "'open', 'fp', '2026-11-01');PRAGMA user_version=3;")
    db.close()
    store = open_store(path)
    known = ledger.activities(store, "s")["late_payment:res.partner:1001:level1"]
    # nothing known of owner or deadline: people's changes win; no digest: the next run computes it
    assert known == ledger.Known("open", 512, "r1", fingerprint="fp", digest=None)
    store.close()


def test_a_passed_agreed_date_is_kept_in_the_ledger_and_reaches_the_rules(state):
    from clientcare.jobs.sync import broken_dates
    from clientcare.rules.context import BrokenDate

    odoo = OdooDouble()
    f = finding(1, invoices=(11,))
    sync(odoo, state, [f], "run1")
    only(odoo)["date_deadline"] = "2026-11-25"
    sync(odoo, state, [f], "run2", AS_OF + timedelta(days=4))
    only(odoo)["date_deadline"] = "2026-11-28"  # agreed again, and broken again
    sync(odoo, state, [f], "run3", AS_OF + timedelta(days=7))
    key = f.key
    assert ledger.broken_dates(state, odoo.scope) == {key: ("2026-11-25", "2026-11-28")}
    previous = {"late_payment": [{"key": key, "client_id": 1001}]}
    assert broken_dates(state, odoo.scope, previous) == {1001: (
        BrokenDate("late_payment", key, date(2026, 11, 25)), BrokenDate("late_payment", key, date(2026, 11, 28)))}


def test_moving_the_date_again_rewrites_nothing_until_it_passes(state):
    odoo = OdooDouble()
    f = finding(1, invoices=(11,))
    sync(odoo, state, [f], "run1")
    only(odoo)["date_deadline"] = "2026-11-25"
    plan, done = sync(odoo, state, [f], "run2", AS_OF + timedelta(days=4))
    assert done == {"updated": 1}
    only(odoo)["date_deadline"] = "2026-12-05"  # the client agreed a new date
    for day in (5, 6, 12):
        plan, done = sync(odoo, state, [f], f"d{day}", AS_OF + timedelta(days=day))
        assert done == {} and reason(plan) == "unchanged"
    plan, done = sync(odoo, state, [f], "d14", AS_OF + timedelta(days=14))
    assert done == {"updated": 1} and "the agreed date 2026-12-05 passed" in only(odoo)["note"]
