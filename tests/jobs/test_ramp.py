"""The ramp (a first sync is not a flood) and deadlines on working days: the pure function, the
write-back plan that uses it (offline double: the days and the ledger's count of what a person
received today are what no cassette can move through), and what dry-run, explain and audit show."""
from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from clientcare.jobs import ledger
from clientcare.jobs.cli import _summary_text, decision_text, main
from clientcare.jobs.ramp import Creation, ramp
from clientcare.jobs.writeback import WriteBack
from clientcare.rules.testing import visible
from clientcare.rules.working_time import WorkingTime, WorkingTimeConfig, _Calendar, _weekday_periods

from odoo_double import OdooDouble
from writeback_findings import finding

MON = date(2026, 12, 7)
WEEKDAYS = WorkingTime.weekdays()
MARC = 6
NAMES = {2: "Mitchell Admin", MARC: "Marc Demo"}


def c(key: str, severity: str = "medium", since: date | None = date(2026, 11, 1), owner: int | None = MARC):
    return Creation(key, owner, severity, since)


# -- the function ------------------------------------------------------------------------
def test_a_person_gets_the_cap_a_day_most_severe_then_oldest_then_key():
    found = [c("k1", "low"), c("k2", "high", date(2026, 11, 20)), c("k3", "high", date(2026, 11, 2)),
             c("k4"), c("k0"), c("k5", "medium", None)]
    r = ramp(found, 2, MON, WEEKDAYS)
    assert {k: str(d) for k, d in r.days.items()} == {
        "k3": "2026-12-07", "k2": "2026-12-07",       # high, the oldest first
        "k0": "2026-12-08", "k4": "2026-12-08",       # same day and severity: by key
        "k5": "2026-12-09", "k1": "2026-12-09"}       # no date of its own: after the dated ones
    assert r.ahead["k1"] == 5 and r.people[MARC].to_dict() == {
        "user_id": MARC, "received_today": 0, "today": 2, "queued": 4, "until": "2026-12-09"}


def test_people_are_ramped_apart_and_nobody_is_one_person():
    r = ramp([c("a1"), c("a2"), c("b1", owner=9), c("n1", owner=None), c("n2", owner=None)], 1, MON, WEEKDAYS)
    assert {o: (p.today, p.queued) for o, p in r.people.items()} == {MARC: (1, 1), 9: (1, 0), None: (1, 1)}


def test_a_critical_finding_is_not_held_back_by_what_was_received_today_nor_queued_behind_milder_ones():
    r = ramp([c("m1"), c("m2"), c("x1", "critical", None), c("x2", "critical"), c("x3", "critical")], 2, MON,
             WEEKDAYS, {MARC: 2})
    assert [k for k, d in r.days.items() if d == MON] == ["x2", "x3"]  # the cap was spent by earlier runs
    assert [(k, str(d)) for k, d in r.days.items() if d > MON] == [
        ("x1", "2026-12-08"), ("m1", "2026-12-08"), ("m2", "2026-12-09")]  # a backlog of criticals is spread, first


def test_zero_is_no_limit():
    r = ramp([c(f"k{i}") for i in range(500)], 0, MON, WEEKDAYS)
    assert set(r.days.values()) == {MON} and r.people[MARC].queued == 0 and r.people[MARC].until is None
    with pytest.raises(ValueError, match="max_new_per_person_per_day must be 0 or more"):
        ramp([c("k1")], -1, MON, WEEKDAYS)


@pytest.mark.parametrize("value", ["-1", "ten"])
def test_a_bad_cap_is_refused_at_start_up(value, tmp_path):
    (tmp_path / "empty.toml").write_text("")
    result = CliRunner().invoke(main, ["config", "show"], env={
        "CLIENTCARE_CONFIG": str(tmp_path / "empty.toml"), "CLIENTCARE_MAX_NEW_PER_PERSON_PER_DAY": value})
    assert result.exit_code == 2 and "CLIENTCARE_MAX_NEW_PER_PERSON_PER_DAY" in result.stderr


def test_queued_days_skip_weekends_and_holidays_of_the_persons_calendar():
    holiday = WorkingTime.weekdays().overridden(WorkingTimeConfig(holidays=("2026-12-14",)))  # a Monday
    r = ramp([c(f"k{i}") for i in range(4)], 1, date(2026, 12, 11), holiday)  # a Friday
    assert [str(r.days[f"k{i}"]) for i in range(4)] == ["2026-12-11", "2026-12-15", "2026-12-16", "2026-12-17"]
    weekend = ramp([c(f"k{i}") for i in range(2)], 1, date(2026, 12, 12), holiday)  # Saturday: seen on Tuesday
    assert [str(weekend.days[f"k{i}"]) for i in range(2)] == ["2026-12-12", "2026-12-16"]


def test_what_a_person_already_received_today_counts():
    r = ramp([c("k1"), c("k2"), c("k3")], 3, MON, WEEKDAYS, {MARC: 2, 9: 7})
    assert r.people[MARC].today == 1 and r.people[MARC].queued == 2 and r.people[MARC].received == 2
    full = ramp([c("k1")], 3, MON, WEEKDAYS, {MARC: 5})
    assert full.days["k1"] == date(2026, 12, 8)


# -- the write-back plan -----------------------------------------------------------------
def owned(i: int, owner: int = MARC, severity: str = "high", since: date = date(2026, 11, 23)):
    f = finding(i, owner=owner, invoices=(i,))
    return dataclasses.replace(f, severity=severity, action=dataclasses.replace(f.action, due_date=since))


def sync(odoo, state, found, run_id, as_of=MON, per_day=3, apply=True, working_time=None):
    wb = WriteBack(odoo, state, run_id, as_of=as_of, user_names=NAMES, max_new_per_person_per_day=per_day,
                   working_time=working_time)
    plan = wb.plan(found, rules_run={"late_payment"})
    done = wb.apply(plan) if apply else None
    if apply:
        wb.forget_resolved(plan, found)
    return plan, done


def test_over_the_cap_creations_are_queued_then_created_on_their_day(state):
    odoo = OdooDouble()
    found = [owned(i, since=date(2026, 11, 10 + i)) for i in range(1, 8)] + [owned(20, owner=2)]
    plan, done = sync(odoo, state, found, "run1")
    assert done == {"created": 4}  # Marc's 3 oldest, Mitchell's one
    queued = plan.of("queue")
    assert [it.res_id for it in queued] == [1004, 1005, 1006, 1007]
    assert queued[0].reason == "queued: 3 ahead for Marc Demo, today's cap 3; created on 2026-12-08"
    assert queued[3].reason == "queued: 6 ahead for Marc Demo, today's cap 3; created on 2026-12-09"
    assert queued[3].vals["date_deadline"] == "2026-12-09"  # due the day it is created
    assert not {it.key for it in queued} & set(ledger.activities(state, odoo.scope))  # nothing recorded
    data = plan.to_dict(sample=None)
    assert data["queued"] == 4 and data["counts"] == {"late_payment": {"create": 4, "queue": 4}}
    assert data["people"] == [
        {"user_id": MARC, "received_today": 0, "today": 3, "queued": 4, "until": "2026-12-09", "name": "Marc Demo"},
        {"user_id": 2, "received_today": 0, "today": 1, "queued": 0, "until": None, "name": "Mitchell Admin"}]

    again, done = sync(odoo, state, found, "run1b")  # a second run the same day: the cap is spent
    assert done == {} and len(again.of("queue")) == 4 and again.people[0]["received_today"] == 3
    plan, done = sync(odoo, state, found[:-2] + found[-1:], "run2", MON + timedelta(days=1))  # 1007 went away
    assert done == {"created": 3} and plan.of("queue") == []
    plan, done = sync(odoo, state, found[:-2] + found[-1:], "run3", MON + timedelta(days=2))
    assert done == {} and {it.op for it in plan.items} == {"leave"}
    assert len(odoo.open_activities()) == 7


def test_a_new_critical_goes_before_the_queue_and_notes_are_not_ramped(state):
    odoo = OdooDouble()
    found = [owned(i) for i in range(1, 6)] + [finding(30, kind="note", owner=MARC)]
    plan, done = sync(odoo, state, found, "run1", per_day=2)
    assert done == {"created": 2, "noted": 1} and len(plan.of("queue")) == 3
    found.append(owned(9, severity="critical", since=date(2026, 12, 1)))
    plan, done = sync(odoo, state, found, "run1b", per_day=2)  # later the same day: the cap is spent
    assert done == {"created": 1} and [it.res_id for it in plan.of("create")] == [1009]
    plan, done = sync(odoo, state, found, "run2", MON + timedelta(days=1), per_day=2)
    assert done == {"created": 2} and [it.res_id for it in plan.of("queue")] == [1005]


def test_max_creations_stays_the_per_run_cap_after_the_ramp(state):
    wb = WriteBack(OdooDouble(), state, "run1", as_of=MON, max_creations=2, max_new_per_person_per_day=3)
    plan = wb.plan([owned(i) for i in range(1, 6)])
    assert [len(plan.of(op)) for op in ("create", "skip", "queue")] == [2, 1, 2]
    assert "cap of 2" in wb.warnings[0]


def test_a_weekend_run_counts_for_the_next_working_day(state):
    odoo = OdooDouble()
    found = [owned(i) for i in range(1, 6)]
    sat, sun = date(2026, 12, 5), date(2026, 12, 6)
    assert sync(odoo, state, found, "sat", sat, per_day=2)[1] == {"created": 2}
    assert sync(odoo, state, found, "sun", sun, per_day=2)[1] == {}  # Monday's places are taken
    assert sync(odoo, state, found, "mon", MON, per_day=2)[1] == {}
    assert sync(odoo, state, found, "tue", MON + timedelta(days=1), per_day=2)[1] == {"created": 2}


def test_a_fresh_state_file_counts_the_open_activities_it_adopts_as_received_today(state, tmp_path):
    from clientcare.jobs.run_session import open_store

    odoo = OdooDouble()
    found = [owned(i) for i in range(1, 6)] + [owned(9, severity="critical")]
    assert sync(odoo, state, found, "run1", per_day=3)[1] == {"created": 3}
    fresh = open_store(tmp_path / "fresh.sqlite3")
    plan, done = sync(odoo, fresh, found, "run2", per_day=3)
    assert done == {} and len(plan.adopted) == 3 and plan.people[0]["received_today"] == 3
    found.append(owned(10, severity="critical"))
    assert sync(odoo, fresh, found, "run3", per_day=3)[1] == {"created": 1}  # a critical one never waits
    fresh.close()


# -- deadlines on working days ----------------------------------------------------------
def test_a_deadline_on_a_weekend_or_holiday_moves_to_the_next_working_day(state):
    odoo = OdooDouble()
    holidays = WorkingTime.weekdays().overridden(WorkingTimeConfig(holidays=("2026-12-14",)))
    found = [owned(1, since=date(2026, 12, 12)), owned(2, since=date(2026, 12, 10)), owned(3, since=date(2026, 11, 1))]
    sync(odoo, state, found, "run1", per_day=0, working_time=holidays)
    deadlines = {a["res_id"]: a["date_deadline"] for a in odoo.open_activities()}
    assert deadlines == {1001: "2026-12-15", 1002: "2026-12-10", 1003: "2026-12-07"}


def test_a_new_owner_gets_a_fresh_deadline_on_one_of_their_working_days(state):
    odoo = OdooDouble()
    wed_thu = _Calendar(7, "Wednesday and Thursday", "UTC", 2, _weekday_periods((3, 4), (9.0, 17.0)))
    marc_off = WorkingTime(calendars={7: wed_thu}, company_calendar={1: None, 2: 7}, users={MARC: (None, 2)})
    sync(odoo, state, [owned(1, owner=2)], "run1", per_day=0, working_time=marc_off)
    plan, done = sync(odoo, state, [owned(1)], "run2", per_day=0, working_time=marc_off)
    assert done == {"updated": 1} and odoo.open_activities()[0]["date_deadline"] == "2026-12-09"  # Wednesday


# -- what dry-run, explain and audit show ------------------------------------------------
def test_dry_run_text_and_explain_say_what_is_queued_and_until_when(state):
    plan, _ = sync(OdooDouble(), state, [owned(i) for i in range(1, 6)], "run1", apply=False, per_day=2)
    summary = {"run_id": "run1", "dry_run": True, "status": "ok", "rpc_calls": 3, "retries": 0, "duration_s": 0.1,
               "plan": plan.to_dict(sample=None), "applied": {}, "rule_errors": [], "write_errors": [], "warnings": []}
    text = _summary_text(summary)
    assert "  late_payment: create 2, queue 3" in text
    assert "    Marc Demo: 2 today, 3 queued until 2026-12-09" in text
    assert "    queue   res.partner,1005: call Client 5: 2 invoices 15+ days overdue (user 6, due 2026-12-09) " \
           "[queued: 4 ahead for Marc Demo, today's cap 2; created on 2026-12-09]" in text
    assert decision_text(plan.of("queue")[0]) == ("create the activity later — queued: 2 ahead for Marc Demo, "
                                                  "today's cap 2; created on 2026-12-08")


@pytest.fixture
def low_cap(tmp_path):
    config = tmp_path / "clientcare.toml"
    config.write_text("[profiles.default]\nmax_new_per_person_per_day = 2\n")
    return {"CLIENTCARE_CONFIG": str(config)}


def audit(env, *args):
    result = CliRunner().invoke(main, ["audit", "--demo", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_audit_groups_actions_by_person_with_todays_count_and_the_queue(low_cap, tmp_path):
    text = visible(audit(low_cap))
    assert "Marc Demo: 2 new activities today, 6 queued until 2026-12-03\n" \
           "  critical late_payment     Wood Corner: decide whether to stop work for Wood Corner" in text
    assert "(queued: created 2026-12-01, due 2026-12-01)" in text and "(reported only)" in text
    html = audit(low_cap, "--format", "html")
    assert "<h2>Top actions (16 of 16), by person</h2>" in html
    assert "<tr><th colspan='8'><bdi>Marc Demo</bdi>: 2 new activities today, 6 queued until 2026-12-03</th></tr>" in html
    assert "<td>2026-12-01 (queued: created 2026-12-01)</td>" in html
    assert "<h2>New activities per person</h2>" in html and "<td><bdi>Marc Demo</bdi></td><td>2</td><td>6</td>" \
                                                          "<td>2026-12-03</td>" in html
    people = json.loads(audit(low_cap, "--format", "json"))["people"]
    assert {p["name"]: (p["today"], p["queued"], p["until"]) for p in people} == {
        "Mitchell Admin": (2, 6, "2026-12-03"), "Marc Demo": (2, 6, "2026-12-03")}
    csv = audit(low_cap, "--format", "csv").splitlines()
    assert ",owner_id,owner," in csv[0] and ",ramp_day,due," in csv[0]
    explain = visible(CliRunner().invoke(main, ["explain", "--demo", "Wood Corner"], env=low_cap).stdout)
    assert "sync would: ensure email activity due 2026-12-02 (the situation since 2026-11-27), queued: created on " \
           "2026-12-02 (max_new_per_person_per_day is 2) on res.partner,8: reply to Willie Burke" in explain


# -- the ledger --------------------------------------------------------------------------
def test_a_version_4_ledger_gains_the_day_of_creation_and_keeps_its_rows(tmp_path):
    import sqlite3

    from clientcare.jobs.run_session import open_store

    path = tmp_path / "v4.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE ledger; DROP TABLE xmlid_cache;" + ledger.TABLES.ddl[1] + ";" + ledger.TABLES.ddl[4] + ";INSERT INTO ledger"
                     "(finding_key, scope, res_model, res_id, kind, odoo_id, run_id, status, assigned_user_id) VALUES "
                     "('late_payment:res.partner:1001:level1', 's', 'res.partner', 1001, 'activity', 512, 'r1', "
                     "'open', 6);PRAGMA user_version=4;")
    db.close()
    store = open_store(path)
    assert ledger.activities(store, "s")["late_payment:res.partner:1001:level1"].odoo_id == 512
    assert ledger.created_since(store, "s", date(2000, 1, 1)) == {}  # a day unknown counts for none
    store.close()
