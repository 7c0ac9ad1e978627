"""Calm at scale, on the recorded Odoo 16-19 (issue "Calm at scale"): one activity per client and
theme, merged on upgrade from the keys of the rules' earlier versions, deadlines on working days.

Each scenario starts from a clean slate (:func:`test_people_cassettes.fresh_start`) and syncs the
seeded demo database (tests/seed_odoo.py: a client with invoices 20, 45 and 90 days overdue and a
credit note; late tasks 3 to 40 days past their deadline; a public holiday).
"""
from __future__ import annotations

import dataclasses
import html
from collections import Counter
from datetime import date, timedelta

import pytest

from clientcare.connector.client import OdooClient
from clientcare.connector.facts import CLOSE_FEEDBACK, MERGE_FEEDBACK, MARKER_PREFIX, parse_marker
from clientcare.jobs import sync as sync_job
from clientcare.jobs.writeback import open_only

from test_people_cassettes import first_sync, fresh_start
from conftest import recorded_profile


def changes(summary) -> dict[str, str]:
    """What a sync wrote, per key (its plan's changes; a key left alone is not there)."""
    return {c["key"]: c["op"] for c in summary.plan["changes"]}


@pytest.fixture
def tidy(odoo):
    """Each scenario leaves the database as it found it: the next test file starts clean."""
    yield
    fresh_start(OdooClient(odoo.settings()))


def open_ours(admin: OdooClient, rule: str) -> list[dict]:
    """Open ClientCare activities of ``rule``, with their marker key."""
    rows = admin.search_read_all("mail.activity", [("note", "ilike", MARKER_PREFIX)] + open_only(admin),
                                 ["note", "res_model", "res_id", "user_id", "date_deadline", "summary"])
    return [dict(r, key=m.key) for r in rows if (m := parse_marker(r["note"])) and m.key.startswith(rule + ":")]


def credited_client(admin: OdooClient) -> int:
    """The seeded client with three overdue levels and an open credit note."""
    refund = admin.call("account.move", "search_read", [], {
        "domain": [("ref", "=", "CCSEED-refund")], "fields": ["partner_id"], "limit": 1})
    return refund[0]["partner_id"][0]


def evaluated(profile, admin, day):
    """The findings the profile's rules make of the snapshot the last sync pulled, at ``day``."""
    from clientcare.connector.pull import snapshot_dir_for
    from clientcare.connector.snapshot import Snapshot
    from clientcare.jobs.ruleset import RuleSet
    from clientcare.jobs.run_session import open_store

    store = open_store(profile.state_path)
    try:
        snap = Snapshot.load(snapshot_dir_for(store, admin.scope))
    finally:
        store.close()
    return RuleSet.from_profile(profile).evaluate(snap, day).findings


@pytest.mark.own_recording_time
def test_three_levels_and_a_credit_note_are_one_activity_updated_as_levels_change(odoo, cassette, tidy, tmp_path,
                                                                                   monkeypatch):
    profile, as_of, admin, first, keys = first_sync(odoo, tmp_path, monkeypatch, "levels-run",
                                                    builtin=("late_payment",))
    client = credited_client(admin)
    mine = [a for a in open_ours(admin, "late_payment") if a["res_id"] == client and a["res_model"] == "res.partner"]
    assert [a["key"] for a in mine] == [f"late_payment:res.partner:{client}"]
    note = html.unescape(mine[0]["note"])
    for level in ("call", "manager", "stop_work"):  # each invoice with its level, and the credit note
        assert level.replace("_", " ") in note or level in note, level
    assert "credit note" in note
    # ten days later the invoice 20 days overdue crosses into 30+: the same activity is updated
    later = sync_job.sync(profile, as_of=as_of + timedelta(days=10))
    assert later.exit_code == 0, (later.error, later.write_errors)
    assert changes(later).get(f"late_payment:res.partner:{client}") == "update", later.plan
    after = [a for a in open_ours(admin, "late_payment") if a["res_id"] == client]
    assert [(a["key"], a["id"]) for a in after] == [(mine[0]["key"], mine[0]["id"])]
    # and the day after, nothing changes
    again = sync_job.sync(profile, as_of=as_of + timedelta(days=11))
    assert f"late_payment:res.partner:{client}" not in changes(again)
    assert not any((again.applied or {}).values())


@pytest.mark.own_recording_time
def test_an_escalated_project_is_one_activity(odoo, cassette, tidy, tmp_path, monkeypatch):
    profile, as_of, admin, first, keys = first_sync(odoo, tmp_path, monkeypatch, "escalate-run",
                                                    builtin=("unmet_deadlines",))
    acts = open_ours(admin, "unmet_deadlines")
    per_record = Counter((a["res_model"], a["res_id"]) for a in acts)
    assert acts and max(per_record.values()) == 1, per_record
    escalated = [f for f in evaluated(profile, admin, as_of) if f.severity == "high"]
    assert escalated, "the seed has tasks 20 and 40 days late"
    for f in escalated:
        act = next(a for a in acts if (a["res_model"], a["res_id"]) == (f.subject_model, f.subject_id))
        assert act["user_id"][0] == f.responsible_user_id  # the escalation owner, on the one activity


@pytest.mark.own_recording_time
def test_an_upgrade_merges_today_s_activities_and_closes_none_as_resolved(odoo, cassette, tidy, tmp_path,
                                                                         monkeypatch):
    """Open activities under the keys the rules used before (one per level, the credit match)
    become the one activity of the client: taken over or merged, none closed as resolved."""
    from clientcare.jobs.run_session import open_store
    from clientcare.jobs.writeback import WriteBack

    profile = recorded_profile(odoo, tmp_path, "upgrade-run", monkeypatch, builtin=("late_payment",))
    as_of = odoo.recorded_at.date()
    admin = OdooClient(profile.connection())
    fresh_start(admin)
    dry = sync_job.sync(profile, as_of=as_of, dry_run=True)  # pulls the snapshot, writes nothing
    assert dry.exit_code == 0, dry.error
    client = credited_client(admin)
    new = next(f for f in evaluated(profile, admin, as_of) if f.key == f"late_payment:res.partner:{client}")
    assert new.replaces
    old = [dataclasses.replace(new, level=k.split(":", 3)[3], part=None, period=None, replaces=())
           for k in new.replaces]
    store = open_store(profile.state_path)
    try:  # what the earlier version wrote: one activity per level, one to match the credit note
        wb = WriteBack(OdooClient(profile.connection()), store, "upgrade-run-old", as_of=as_of)
        assert wb.apply(wb.plan(old, rules_run=set())) == {"created": len(old)}
    finally:
        store.close()
    before = {a["key"]: a["id"] for a in open_ours(admin, "late_payment") if a["res_id"] == client}
    assert sorted(before) == sorted(new.replaces)
    upgraded = sync_job.sync(profile, as_of=as_of)
    assert upgraded.exit_code == 0, (upgraded.error, upgraded.write_errors)
    d = changes(upgraded)
    taken = next(k for k in before if k not in d)  # the one rewritten under the new key
    assert {k: d[k] for k in before if k != taken} == {k: "merge" for k in before if k != taken}
    assert d[new.key] == "update"
    after = [a for a in open_ours(admin, "late_payment") if a["res_id"] == client]
    assert [a["key"] for a in after] == [new.key] and after[0]["id"] in before.values()
    closings = admin.search_read_all("mail.message", [("model", "=", "res.partner"), ("res_id", "=", client),
                                                      ("mail_activity_type_id", "!=", False)], ["body"])
    bodies = [html.unescape(m["body"] or "") for m in closings]
    assert sum(MERGE_FEEDBACK in b for b in bodies) == len(before) - 1
    assert not any(CLOSE_FEEDBACK in b for b in bodies)
    again = sync_job.sync(profile, as_of=as_of)
    assert not any((again.applied or {}).values()) and len(open_ours(admin, "late_payment")) == len(
        {a["key"] for a in open_ours(admin, "late_payment")})


@pytest.mark.own_recording_time
def test_no_deadline_lands_on_the_public_holiday_or_a_weekend(odoo, cassette, tidy, tmp_path, monkeypatch):
    """A sync run on the seeded public holiday (the demo user works from New York, the company
    calendar is Brussels'): every new activity is due on a working day of its assignee."""
    from seed_odoo import holiday_after

    profile = recorded_profile(odoo, tmp_path, "holiday-run", monkeypatch,
                               builtin=("late_payment", "unmet_deadlines"),
                               extra="max_new_per_person_per_day = 0\n")
    holiday = holiday_after(odoo.recorded_at.date())
    admin = OdooClient(profile.connection())
    fresh_start(admin)
    summary = sync_job.sync(profile, as_of=holiday)
    assert summary.exit_code == 0, (summary.error, summary.write_errors)
    deadlines = Counter(str(a["date_deadline"]) for a in open_ours(admin, "late_payment")
                        + open_ours(admin, "unmet_deadlines"))
    assert deadlines and holiday.isoformat() not in deadlines
    assert all(date.fromisoformat(d).isoweekday() < 6 for d in deadlines)
    # what was due by the holiday is due the next working day (the seed picks one between two)
    assert (holiday + timedelta(days=1)).isoformat() in deadlines
