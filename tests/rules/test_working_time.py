"""Working time (rules/working_time.py): Odoo's calendars, users' time zones and public holidays,
the profile's override, and searches that always end."""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from clientcare.connector.errors import ConfigError
from clientcare.rules.testing import ADMIN, SALES, SnapshotBuilder
from clientcare.rules.working_time import (HORIZON_DAYS, Period, WorkCalendar, WorkingTime, WorkingTimeConfig,
                                           week_type)

MON, TUE, WED, FRI, SAT = date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9), date(2026, 12, 11), date(2026, 12, 12)
BRUSSELS, NEW_YORK = ZoneInfo("Europe/Brussels"), ZoneInfo("America/New_York")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def odoo(**override) -> WorkingTime:
    """YourCompany on Odoo's standard calendar (Brussels, 8-12 and 13-17 with a lunch line), the
    salesperson in New York, a public holiday on Tuesday 8 December (a whole Brussels day)."""
    b = (SnapshotBuilder(18).calendar(1, lunch=(12, 13)).user(SALES, "Marc Demo", tz="America/New_York")
         .user(ADMIN, "Mitchell Admin", tz="Europe/Brussels")
         .holiday(datetime(2026, 12, 7, 23), datetime(2026, 12, 8, 22, 59, 59), company=1))
    return WorkingTime.from_snapshot(b.build(), override or None)


def test_the_weekend_is_skipped():
    cal = WorkingTime.weekdays().for_user(None)
    assert not cal.is_working_day(SAT) and cal.is_working_day(FRI)
    assert cal.on_or_after(SAT) == date(2026, 12, 14) and cal.add_working_days(FRI, 1) == date(2026, 12, 14)
    assert cal.add_working_days(MON, 5) == date(2026, 12, 14) and cal.add_working_days(SAT, 0) == date(2026, 12, 14)
    assert cal.add_working_hours(utc(2026, 12, 11, 16), 2) == utc(2026, 12, 14, 10)  # Fri 16:00 + 2 h


def test_a_public_holiday_is_no_working_day_for_the_company_and_its_users():
    wt = odoo()
    office = wt.for_company(1)
    assert office.tz == "Europe/Brussels" and not office.is_working_day(TUE)
    assert office.on_or_after(TUE) == WED and office.add_working_days(MON, 1) == WED
    # Monday 16:00 Brussels + 2 working hours: 1 on Monday, the holiday skipped, 1 on Wednesday
    assert office.add_working_hours(datetime(2026, 12, 7, 16, tzinfo=BRUSSELS), 2) == \
        datetime(2026, 12, 9, 9, tzinfo=BRUSSELS)
    assert "1 public holiday" in office.describe() and "Standard 40 hours/week" in office.describe()
    assert wt.describe() == "Odoo calendars of 1 company, 1 public holiday(s), 2 user time zone(s)"


def test_the_lunch_break_is_not_worked():
    office = odoo().for_company(1)
    assert office.add_working_hours(datetime(2026, 12, 7, 11, tzinfo=BRUSSELS), 2) == \
        datetime(2026, 12, 7, 14, tzinfo=BRUSSELS)


def test_a_user_works_the_calendar_in_their_own_time_zone_across_midnight_utc():
    wt = odoo()
    ny = wt.for_user(SALES)
    assert ny.tz == "America/New_York" and wt.for_user(ADMIN).tz == "Europe/Brussels"
    # their day starts at 08:00 New York time (13:00 UTC)
    assert ny.add_working_hours(utc(2026, 12, 9, 0), 0) == datetime(2026, 12, 9, 8, tzinfo=NEW_YORK)
    # Friday 16:00 New York is Friday 21:00 UTC; the next hour is on Monday 08:00-09:00 New York
    assert ny.add_working_hours(datetime(2026, 12, 11, 16, tzinfo=NEW_YORK), 2) == \
        datetime(2026, 12, 14, 9, tzinfo=NEW_YORK)
    # Monday 23:30 UTC is still Monday evening in New York: the next working time is Wednesday
    # (the Brussels holiday covers all of Tuesday's New York hours)
    assert ny.add_working_hours(utc(2026, 12, 7, 23, 30), 1) == datetime(2026, 12, 9, 9, tzinfo=NEW_YORK)
    assert wt.for_user(12345).tz == "Europe/Brussels"  # unknown user: the first company's calendar


def test_a_partial_leave_removes_those_hours_only():
    morning_off = [(datetime(2026, 12, 9, 8, tzinfo=BRUSSELS), datetime(2026, 12, 9, 12, tzinfo=BRUSSELS))]
    cal = WorkCalendar([Period(d, 8, 12) for d in range(1, 6)] + [Period(d, 13, 17) for d in range(1, 6)],
                       "Europe/Brussels", morning_off)
    assert cal.is_working_day(WED)  # the afternoon is worked
    assert cal.add_working_hours(datetime(2026, 12, 8, 16, tzinfo=BRUSSELS), 2) == \
        datetime(2026, 12, 9, 14, tzinfo=BRUSSELS)


def test_two_week_calendars_follow_odoos_week_parity():
    even = week_type(MON)
    periods = [Period(d, 9, 17, week=even) for d in range(1, 6)] + [Period(1, 9, 17, week=1 - even)]
    cal = WorkCalendar(periods, "UTC")
    assert cal.is_working_day(FRI)  # this week: Monday to Friday
    assert cal.on_or_after(date(2026, 12, 15)) == date(2026, 12, 21)  # next week: Mondays only


def test_searches_end_without_attendances_or_under_endless_leave(caplog):
    with caplog.at_level(logging.WARNING):
        empty = WorkCalendar([], "UTC", source="Odoo calendar 'Empty'")
    assert empty.fallback and "no attendance" in caplog.text and "Monday to Friday" in empty.describe()
    assert empty.on_or_after(SAT) == date(2026, 12, 14)
    forever = [(utc(2020, 1, 1), utc(2100, 1, 1))]
    cal = WorkCalendar([Period(1, 9, 17)], "UTC", forever)
    with caplog.at_level(logging.WARNING):
        assert cal.on_or_after(TUE) == date(2026, 12, 14)  # the leave ignored after the horizon, said
        assert cal.add_working_hours(utc(2026, 12, 8), 1) == utc(2026, 12, 14, 10)
    assert f"no working time in {HORIZON_DAYS} days" in caplog.text
    with pytest.raises(ValueError):
        cal.add_working_days(MON, -1)


def test_the_profile_overrides_any_key_for_everyone():
    wt = odoo(timezone="Asia/Tokyo", working_days=[1, 2, 3, 4, 5, 6], holidays=["2026-12-09"])
    cal = wt.for_user(SALES)
    assert cal.tz == "Asia/Tokyo" and cal.is_working_day(SAT)  # Saturday: Odoo's hours, 8-17
    assert cal.is_working_day(TUE) and not cal.is_working_day(WED)  # the profile's holidays replace Odoo's
    assert cal.add_working_hours(datetime(2026, 12, 12, 16, 30, tzinfo=ZoneInfo("Asia/Tokyo")), 1) == \
        datetime(2026, 12, 14, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # Sunday is not worked
    hours = odoo(working_hours=[10, 14]).for_company(1)
    assert hours.add_working_hours(datetime(2026, 12, 7, 13, tzinfo=BRUSSELS), 2) == \
        datetime(2026, 12, 9, 11, tzinfo=BRUSSELS)  # 1 h Monday, Tuesday a holiday, 1 h Wednesday
    assert "the profile sets working_hours" in odoo(working_hours=[10, 14]).describe()


def test_a_rules_own_keys_lay_over_the_run():
    wt = odoo(timezone="Asia/Tokyo").overridden(WorkingTimeConfig(working_days=(1, 2, 3)))
    cal = wt.for_user(SALES)
    assert cal.tz == "Asia/Tokyo" and not cal.is_working_day(date(2026, 12, 10))


def test_without_calendars_the_profile_values_apply():
    b = SnapshotBuilder(17)
    b.unavailable.update({"work_calendars": "AccessError: no read right", "work_attendances": "AccessError: no"})
    wt = WorkingTime.from_snapshot(b.build(), {"working_hours": [8, 16], "timezone": "Europe/Brussels"})
    assert wt.describe().startswith("cannot read Odoo's working time (AccessError: no read right; AccessError: no)")
    cal = wt.for_user(SALES)
    assert cal.tz == "Europe/Brussels" and cal.add_working_hours(datetime(2026, 12, 11, 15, tzinfo=BRUSSELS), 2) == \
        datetime(2026, 12, 14, 9, tzinfo=BRUSSELS)
    plain = WorkingTime.from_snapshot(SnapshotBuilder(17).build())  # offline data pulled without them
    assert plain.describe() == ("no Odoo calendar: the profile's working_time values apply "
                                "(none set: Monday to Friday 09:00-17:00 UTC)")
    assert plain.for_user(SALES).add_working_hours(utc(2026, 12, 11, 16), 2) == utc(2026, 12, 14, 10)


def test_bad_override_values_are_refused_together():
    with pytest.raises(ConfigError) as err:
        WorkingTimeConfig.parse({"working_days": [0, 8], "working_hours": [18, 9], "timezone": "Mars/Olympus",
                                 "holidays": ["2026-13-01"], "weekend": [6, 7]})
    assert len(err.value.problems) == 1 and "weekend" in err.value.problems[0]  # unknown keys first
    with pytest.raises(ConfigError) as err:
        WorkingTimeConfig.parse({"working_days": [0, 8], "working_hours": [18, 9], "timezone": "Mars/Olympus",
                                 "holidays": ["2026-13-01"]})
    assert len(err.value.problems) == 4, err.value.problems


def test_the_profile_table_is_checked_with_the_rest_and_reaches_the_rules(tmp_path):
    from clientcare.jobs.ruleset import load_with_rules
    from clientcare.rules import RuleContext, run_rules
    from clientcare.rules.registry import Registry
    from clientcare.rules.spec import validate_rule

    cfg = tmp_path / "c.toml"
    cfg.write_text('[profiles.p]\npage_size = 0\n[profiles.p.working_time]\ntimezone = "Mars/Olympus"\n'
                   '[profiles.p.rules.responsiveness]\nworking_days = [9]\n')
    with pytest.raises(ConfigError) as err:
        load_with_rules("p", cfg, env={}, require_connection=False)
    text = "\n".join(err.value.problems)
    assert "page_size" in text and "Mars/Olympus" in text and "working_days" in text  # all at once
    cfg.write_text('[profiles.p]\n[profiles.p.working_time]\ntimezone = "Asia/Tokyo"\n')
    _, rules = load_with_rules("p", cfg, env={}, require_connection=False)
    seen = []

    class Probe:
        name, version, description, needs = "probe", "1", "sees the working time", {"partners": []}

        @staticmethod
        def evaluate(ctx: RuleContext):
            seen.append(ctx.working_time.for_user(SALES).tz)
            return []
    snapshot = SnapshotBuilder(17).calendar(1).build()
    result = run_rules(snapshot, MON, {}, registry=Registry(rules={"probe": validate_rule(Probe)}),
                       working_time=rules.working_time)
    assert seen == ["Asia/Tokyo"] and result.working_time.for_company(1).tz == "Asia/Tokyo"
    assert not result.working_time.for_company(1).is_working_day(SAT)
