"""Working time from Odoo on real 16, 17, 18 and 19, pulled by the README's least-rights bot: the
seeded public holiday (``tests/seed_odoo.py``: a global leave of the main company, no calendar)
is no working day on the company's calendar; the demo user, in another time zone than that
calendar, starts their day at their own local hour; and a client's unanswered email on a record
the demo user answers for is due on the demo user's calendar (the holiday skipped), later than
on the company's.  ``check`` says where working time comes from."""
from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clientcare.connector.client import OdooClient
from clientcare.jobs import sync as sync_job
from clientcare.jobs.check import run_check
from clientcare.jobs.ruleset import RuleSet

from conftest import BOT_PASSWORD, recorded_profile
from seed_odoo import DEMO_TZ, HOLIDAY_NAME
from test_responsiveness_cassettes import post

pytestmark = [pytest.mark.own_recording_time, pytest.mark.odoo_versions(16, 17, 18, 19)]
REF = "CCSEED-working-time"


def waiting_client(admin: OdooClient) -> tuple[int, int, int]:
    """A client (salesperson: the demo user) with one contact and an emptied chatter."""
    found = admin.call("res.partner", "search", [[("ref", "=", REF)]])
    demo = admin.call("res.users", "search", [[("login", "=", "demo")]])[0]
    if found:
        company = found[0]
    else:
        company = admin.call("res.partner", "create", [[{"name": "Working Time Client", "ref": REF,
                                                         "is_company": True, "customer_rank": 1}]])[0]
        admin.call("res.partner", "create", [[{"name": "Wanda Waiting", "parent_id": company,
                                               "email": "wanda@example.com"}]])
    admin.call("res.partner", "write", [[company], {"user_id": demo}])
    contact = admin.call("res.partner", "search", [[("parent_id", "=", company)]])[0]
    msgs = admin.call("mail.message", "search", [[("model", "=", "res.partner"), ("res_id", "=", company),
                                                  ("message_type", "in", ["email", "comment"])]])
    if msgs:
        admin.call("mail.message", "unlink", [msgs])
    return company, contact, demo


def test_holiday_and_user_time_zone_shift_deadlines_and_responsiveness(odoo, cassette, tmp_path, monkeypatch):
    profile = recorded_profile(odoo, tmp_path, "wt-run", monkeypatch, builtin=("responsiveness",))
    bot = dataclasses.replace(profile, login=odoo.server["bot_login"], password=odoo.secret(BOT_PASSWORD))
    admin = OdooClient(profile.connection())
    client, contact, demo = waiting_client(admin)
    company_id = admin.call("res.company", "search", [[]], {"order": "id asc", "limit": 1})[0]

    rules = RuleSet.from_profile(bot)
    snapshot = sync_job.pull_snapshot(sync_job.open_client(bot), rules, full=True)
    assert not {"work_calendars", "work_attendances", "public_holidays"} & set(snapshot.unavailable)
    holidays = snapshot.tables["public_holidays"]
    seeded = holidays.loc[holidays["name"] == HOLIDAY_NAME]
    assert len(seeded) == 1, "run tests/seed_odoo.py on this database first"
    wt = rules.evaluate(snapshot, odoo.recorded_at.date()).working_time
    office = wt.for_company(company_id)
    brussels = ZoneInfo(office.tz)
    holiday = seeded["date_from"].iloc[0].tz_convert(brussels).date()
    before, after = holiday - timedelta(days=1), holiday + timedelta(days=1)

    # the company's calendar: the holiday is no working day, deadlines move over it
    assert not office.is_working_day(holiday) and office.is_working_day(before) and office.is_working_day(after)
    assert office.on_or_after(holiday) == after and office.add_working_days(before, 1) == after
    # the demo user: the company's calendar in their own time zone, their day starts at their 08:00
    mine = wt.for_user(demo)
    ny = ZoneInfo(DEMO_TZ)
    assert mine.tz == DEMO_TZ != office.tz and not mine.is_working_day(holiday)
    assert mine.add_working_hours(datetime.combine(after, time(0), ny), 0) == datetime.combine(after, time(8), ny)
    assert office.add_working_hours(datetime.combine(after, time(0), brussels), 0) == \
        datetime.combine(after, time(8), brussels)

    # a client writes the day before the holiday at noon in New York (evening in Brussels): 8 working
    # hours on the demo user's calendar are 4 that afternoon and 4 the morning after the holiday
    sent = datetime.combine(before, time(12), ny)
    email = post(admin, client, "Can we move the workshop?", contact, message_type="email", subtype="mail.mt_comment")
    admin.call("mail.message", "write", [[email], {"date": sent.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S")}])
    snapshot = sync_job.pull_snapshot(sync_job.open_client(bot), rules, full=True)
    judged = after + timedelta(days=1)
    key = f"responsiveness:res.partner:{client}:unanswered"

    def reply_due(ruleset):
        found = {f.key: f for f in ruleset.evaluate(snapshot, judged).findings}[key]
        due = next(r for r in found.evidence if r["signal"] == "reply was due")["date"]
        return found, due

    found, due = reply_due(rules)
    assert due == f"{after:%Y-%m-%d} 12:00" and found.action.due_date == after  # 12:00 in New York
    assert found.summary.endswith(f"waiting since {before:%Y-%m-%d} 12:00 ({DEMO_TZ})")
    assert found.responsible_user_id == demo
    # on the company's time zone (the profile's [working_time] says so), the same message is due at
    # the end of the day after the holiday, 17:00 in Brussels: the evening of the day it came is over
    in_office = dataclasses.replace(rules, working_time=dataclasses.replace(rules.working_time, timezone=office.tz))
    found, due = reply_due(in_office)
    assert due == f"{after:%Y-%m-%d} 17:00" and found.summary.endswith(f"({office.tz})")

    steps = {s.name: s for s in run_check(bot.connection(), *sync_job.models_needed(bot, rules),
                                          working_time=rules.working_time)}
    assert steps["working time"].status == "ok", steps["working time"]
    assert "public holiday(s)" in steps["working time"].detail and "compan" in steps["working time"].detail
