"""What makes a sales team trust the write-back (offline double; the cassette tests check the
same on the real servers): no reads a least-rights bot may not make, no mail flood, no
deadline in the past, no rewrite because a day passed, a person's note kept, unknown never
closed, undo sparing Odoo's "activity done" history."""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.jobs.writeback import SUMMARY_MAX, WriteBack, note_hash, shorten, undo_run
from clientcare.rules.finding import NotJudged

from odoo_double import OdooDouble
from writeback_findings import finding

AS_OF = date(2026, 11, 22)


def sync(odoo, state, found, run_id, as_of=AS_OF, **kw):
    wb = WriteBack(odoo, state, run_id, batch_size=kw.pop("batch_size", 4), as_of=as_of,
                   notify_assignees=kw.pop("notify_assignees", False))
    plan = wb.plan(found, **kw)
    return wb, plan, wb.apply(plan)


def activity(odoo, subject_id: int) -> dict:
    return next(a for a in odoo.open_activities() if a["res_id"] == subject_id)


def test_activities_are_created_per_model_without_reading_ir_model_and_without_mails(state):
    odoo = OdooDouble()  # answers AccessError to ir.model and ir.model.data reads, as for a bot
    project = dataclasses.replace(finding(9), rule="unmet_deadlines", subject_model="project.project",
                                  subject_id=7)
    _, _, done = sync(odoo, state, [finding(1), finding(2), project], "run1")
    assert done == {"created": 3}
    creates = [c for c in odoo.contexts if "default_res_model" in c]
    assert sorted(c["default_res_model"] for c in creates) == ["project.project", "res.partner"]
    assert all(c.get("mail_activity_quick_update") for c in creates)
    assert {a["res_model"] for a in odoo.open_activities()} == {"res.partner", "project.project"}
    assert activity(odoo, 1001)["activity_type_id"] == 2  # "call", found by its xml id


def test_notify_assignees_lets_odoo_send_the_assignment_mails(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1)], "run1", notify_assignees=True)
    assert odoo.contexts and not any("mail_activity_quick_update" in c for c in odoo.contexts)


def test_a_new_activity_is_never_due_before_the_day_it_is_created(state):
    odoo = OdooDouble()
    late = dataclasses.replace(finding(1), action=dataclasses.replace(finding(1).action,
                                                                      due_date=date(2026, 2, 3)))
    sync(odoo, state, [late, finding(2)], "run1")
    assert activity(odoo, 1001)["date_deadline"] == "2026-11-23"  # created on a Sunday: due on Monday
    assert "Since 2026-02-03." in activity(odoo, 1001)["note"]
    assert activity(odoo, 1002)["date_deadline"] == "2026-11-23"  # due tomorrow: kept
    assert "Since" not in activity(odoo, 1002)["note"]


def test_a_day_passing_rewrites_nothing(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, daily=("days_late",))], "run1")
    writes = odoo.write_calls
    tomorrow = finding(1, daily=("days_late",), days_late=17)
    _, plan, done = sync(odoo, state, [tomorrow], "run2", as_of=AS_OF + timedelta(days=1))
    assert done == {} and odoo.write_calls == writes
    assert [it.reason for it in plan.items] == ["unchanged"]


def test_an_update_keeps_the_deadline_unless_the_owner_changes(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1)], "run1")
    later = AS_OF + timedelta(days=10)
    _, _, done = sync(odoo, state, [finding(1, amount=999.0)], "run2", as_of=later)
    assert done == {"updated": 1}
    assert activity(odoo, 1001)["date_deadline"] == "2026-11-23"  # not moved
    _, plan, _ = sync(odoo, state, [finding(1, amount=999.0, owner=7)], "run3", as_of=later)
    assert plan.items[0].reason == "changed: owner"
    assert activity(odoo, 1001)["date_deadline"] == later.isoformat()  # new owner: due from today


def test_a_note_a_person_edited_is_kept(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1)], "run1")
    act = activity(odoo, 1001)
    act["note"] = act["note"].replace("</p>", " <b>Anna pays on Friday.</b></p>", 1)
    _, plan, done = sync(odoo, state, [finding(1, owner=7, summary="call Client 1: 3 invoices")], "run2")
    assert done == {"updated": 1} and "note is kept" in plan.items[0].reason
    act = activity(odoo, 1001)
    assert "Anna pays on Friday." in act["note"] and "ClientCare update (summary, owner)" in act["note"]
    assert act["note"].count("<!-- clientcare key=") == 1 and act["user_id"] == 7
    assert act["summary"] == "call Client 1: 3 invoices"
    # the next change still keeps the person's text
    sync(odoo, state, [finding(1, owner=2, summary="call Client 1: 3 invoices")], "run3")
    assert "Anna pays on Friday." in activity(odoo, 1001)["note"]


def test_an_unedited_note_and_an_old_marker_without_hash_are_rewritten(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1)], "run1")
    act = activity(odoo, 1001)
    act["note"] = act["note"].replace(" nh=", " xx=").split(" xx=")[0] + " -->"  # as the previous version wrote
    _, plan, _ = sync(odoo, state, [finding(1, summary="call Client 1: 3 invoices")], "run2")
    assert plan.items[0].reason == "changed: summary"
    note = activity(odoo, 1001)["note"]
    assert "call Client 1: 3 invoices" in note and "ClientCare update" not in note and " nh=" in note


def test_the_note_hash_ignores_what_the_sanitiser_changes():
    assert note_hash('<p>A &amp; "B"</p><!-- clientcare key=x run=r fp=0 -->') == \
        note_hash("<p>A &amp; &quot;B&quot;</p>\n<p></p>")


def test_unknown_is_not_resolved(state):
    odoo = OdooDouble()
    found = [finding(i) for i in (1, 2, 3)]
    sync(odoo, state, found, "run1")
    not_judged = [NotJudged("late_payment", "late_payment:res.partner:1002:*", "invoices unreadable")]
    _, plan, done = sync(odoo, state, [], "run2", rules_run={"late_payment"}, not_judged=not_judged)
    reasons = {it.key.split(":")[2]: it.reason for it in plan.items}
    assert reasons["1002"] == "not judged: invoices unreadable"
    assert done == {"closed": 2} and len(odoo.open_activities()) == 1
    _, plan, done = sync(odoo, state, [], "run3", rules_run={"unmet_deadlines"})
    assert done == {} and {it.reason for it in plan.items} == {"rule did not run"}


def test_a_fresh_state_file_adopts_closes_nothing_and_respects_done(tmp_path, state):
    from clientcare.jobs.run_session import open_store

    odoo = OdooDouble(major=16)  # done activities are deleted; Odoo's "done" message remains
    found = [finding(i) for i in (1, 2, 3, 4)]
    sync(odoo, state, found, "run1")
    odoo.mark_done(activity(odoo, 1001)["id"])
    sync(odoo, state, found[1:], "run2")  # 1002..1004 unchanged; nothing else
    fresh = open_store(tmp_path / "fresh.sqlite3")
    _, plan, done = sync(odoo, fresh, found[:3], "run3")  # 1004 resolved, but the file knows nothing
    assert done == {}
    reasons = {it.key.split(":")[2]: visible(it.reason) for it in plan.items}
    assert reasons == {"1001": "done by Marc Demo on 2026-11-22 — they noted: 'called them'; raised again on 2026-11-30 if still found", "1002": "unchanged", "1003": "unchanged",
                       "1004": "fresh state file: not closed"}
    assert len(plan.adopted) == 3
    _, plan, done = sync(odoo, fresh, found[:3], "run4")  # adopted: now it may close
    assert done == {"closed": 1} and len(odoo.open_activities()) == 2
    fresh.close()


def test_clientcare_closes_are_not_taken_for_a_persons_done(tmp_path, state):
    from clientcare.jobs.run_session import open_store

    odoo = OdooDouble(major=17)
    sync(odoo, state, [finding(1), finding(2)], "run1")
    sync(odoo, state, [finding(2)], "run2", rules_run={"late_payment"})  # 1001 resolved: closed by us
    fresh = open_store(tmp_path / "fresh.sqlite3")
    _, plan, done = sync(odoo, fresh, [finding(1), finding(2)], "run3")  # the situation came back
    assert done == {"created": 1}
    fresh.close()


def test_undo_keeps_odoos_activity_done_messages(state):
    odoo = OdooDouble(major=17)
    sync(odoo, state, [finding(1), finding(2, kind="note"), finding(3)], "run1")
    odoo.mark_done(activity(odoo, 1001)["id"])
    report = undo_run(odoo, "run1", state)
    assert report == {"activities_removed": 1, "notes_removed": 1, "not_removed": [], "kept": []}
    done = [m for m in odoo.records["mail.message"].values() if m["mail_activity_type_id"]]
    assert len(done) == 1 and "run=run1 " in done[0]["body"]


def test_undo_is_recorded_in_the_run_history(tmp_path, monkeypatch):
    from clientcare.jobs.run_session import open_store
    from clientcare.jobs import sync as sync_job
    from clientcare.jobs.config import load_profile
    from clientcare.jobs.run_history import RunHistory

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[profiles.t]\nurl = "http://odoo.invalid"\ndb = "d"\nlogin = "bot"\n'
                   f'state_path = "{tmp_path / "s.sqlite3"}"\n')
    profile = load_profile("t", cfg, env={"CLIENTCARE_PASSWORD": "x"})
    odoo = OdooDouble()
    store = open_store(profile.state_path)
    RunHistory(store).start("run1", "t", "sync")
    sync(odoo, store, [finding(1), finding(2)], "run1")
    store.close()
    monkeypatch.setattr(sync_job, "open_client", lambda profile, state, progress=None: odoo)
    summary = sync_job.undo(profile, "run1")
    assert summary.exit_code == 0 and summary.applied == {"activities_removed": 2, "notes_removed": 0}
    store = open_store(profile.state_path)
    runs = RunHistory(store).list()
    assert runs[0]["command"] == "undo run1" and runs[0]["status"] == "ok"
    store.close()


def test_long_summaries_keep_their_tail():
    text = "call Société Générale: " + "INV/2026/0001, " * 40 + "total 12,345.67 EUR"
    short = shorten(text)
    assert len(short) == SUMMARY_MAX and short.endswith("total 12,345.67 EUR") and "…" in short
    assert short.startswith("call Société Générale")
    assert shorten("short") == "short"


def test_a_done_activity_is_not_forgotten_while_its_key_is_not_judged(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1), finding(2)], "run1")
    odoo.mark_done(activity(odoo, 1001)["id"])
    _, plan, _ = sync(odoo, state, [finding(1), finding(2)], "run2")
    assert visible(plan.items[0].reason) == "done by Marc Demo on 2026-11-22 — they noted: 'called them'; raised again on 2026-11-30 if still found"  # the ledger now remembers it as done
    unknown = [NotJudged("late_payment", "late_payment:*", "invoices unreadable")]
    for run, kw in (("run3", {"not_judged": unknown}), ("run4", {"rules_run": set()}),
                    ("run5", {"client_ids": {1002}})):
        wb, plan, _ = sync(odoo, state, [finding(2)], run, **kw)
        wb.forget_resolved(plan, [finding(2)])
    _, plan, done = sync(odoo, state, [finding(1), finding(2)], "run6")  # judged again, still there
    assert done == {} and visible(plan.items[0].reason) == "done by Marc Demo on 2026-11-22 — they noted: 'called them'; raised again on 2026-11-30 if still found"


def test_notify_assignees_is_validated_like_every_key(tmp_path):
    from clientcare.connector.errors import ConfigError
    from clientcare.jobs.config import load_profile

    cfg = tmp_path / "c.toml"
    cfg.write_text('[profiles.t]\nurl = "https://odoo.example.com"\ndb = "d"\nlogin = "bot"\n')
    env = {"CLIENTCARE_PASSWORD": "x"}
    assert load_profile("t", cfg, env=env).notify_assignees is False
    assert load_profile("t", cfg, env=dict(env, CLIENTCARE_NOTIFY_ASSIGNEES="yes")).notify_assignees
    with pytest.raises(ConfigError, match="notify_assignees must be bool"):
        load_profile("t", cfg, env=dict(env, CLIENTCARE_NOTIFY_ASSIGNEES="maybe"))
