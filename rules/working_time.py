"""Working time: when a person works, from Odoo's own calendars (the one home of "working time").

A user works on their company's calendar (``res.company.resource_calendar_id``: its
attendances), read in the user's time zone (``res.users.tz``), else the calendar's, else UTC,
minus the global leaves of ``resource.calendar.leaves`` (public holidays: no resource; no
calendar = every calendar of the company).  A leave covering a day's working hours makes it no
working day; a partial one removes those hours.  The profile's ``[working_time]`` table
overrides any of those values for everyone (:class:`WorkingTimeConfig`); a rule may carry its
own override on top (:meth:`WorkingTime.overridden`).  Without the tables (no ``resource``
module, no read right, offline data) the profile's values apply, else Monday to Friday,
09:00-17:00 UTC.

Every search is bounded (:data:`HORIZON_DAYS`): a calendar with no attendance falls back to
Monday-Friday (said in :meth:`WorkCalendar.describe` and logged), and leaves covering the whole
horizon are ignored with a warning rather than searched for ever.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .config import RuleConfig, parse_config

log = logging.getLogger(__name__)

#: How far any search looks ahead (ten years of days).
HORIZON_DAYS = 3660
#: Without any calendar: Monday to Friday, these hours, UTC.
DEFAULT_DAYS = (1, 2, 3, 4, 5)
DEFAULT_HOURS = (9.0, 17.0)
_UTC = timezone.utc


def tz_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return f"timezone {name!r} is not an IANA time zone (like 'Europe/Brussels')"
    return None


def override_problems(working_days, working_hours, tz, holidays=None) -> list[str]:
    """What is wrong with override values (None: not set); shared by ``[working_time]`` and the
    responsiveness rule's own keys."""
    out = []
    if working_hours is not None:
        start, end = working_hours
        if not 0 <= start < end <= 24:
            out.append(f"working_hours must be [start, end] with 0 <= start < end <= 24, not {list(working_hours)}")
    if working_days is not None and (not working_days or any(d not in range(1, 8) for d in working_days)):
        out.append(f"working_days must be ISO weekdays 1-7 (1 = Monday), not {list(working_days)}")
    if tz is not None and tz_problem(tz):
        out.append(tz_problem(tz))
    for day in holidays or ():
        try:
            date.fromisoformat(day)
        except ValueError:
            out.append(f"holidays: {day!r} is not a date (YYYY-MM-DD)")
    return out


@dataclass(frozen=True)
class WorkingTimeConfig(RuleConfig):
    """The profile's ``[working_time]`` table: each key set replaces Odoo's value for everyone."""

    #: ISO weekdays worked (1 = Monday ... 7 = Sunday); None: the Odoo calendar's days.
    working_days: tuple[int, ...] | None = None
    #: [start, end] hours of every working day; None: the Odoo calendar's attendances.
    working_hours: tuple[float, float] | None = None
    #: IANA time zone of everyone's working hours; None: each user's, else the calendar's.
    timezone: str | None = None
    #: Days off (YYYY-MM-DD), replacing Odoo's public holidays; None: Odoo's.
    holidays: tuple[str, ...] | None = None

    def check(self) -> list[str]:
        return override_problems(self.working_days, self.working_hours, self.timezone, self.holidays)

    @property
    def empty(self) -> bool:
        return all(getattr(self, k) is None for k in ("working_days", "working_hours", "timezone", "holidays"))

    def over(self, base: "WorkingTimeConfig | None") -> "WorkingTimeConfig":
        """These values, each unset one taken from ``base``."""
        if base is None:
            return self
        return WorkingTimeConfig(**{k: getattr(base, k) if getattr(self, k) is None else getattr(self, k)
                                    for k in ("working_days", "working_hours", "timezone", "holidays")})

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> "WorkingTimeConfig":
        """From the profile's table; every problem in one ConfigError."""
        from clientcare.connector.errors import ConfigError
        config, problems = parse_config(cls, {k: v for k, v in dict(raw or {}).items()}, "working_time")
        if problems:
            raise ConfigError(problems)
        return config


@dataclass(frozen=True)
class Period:
    """One attendance: ``weekday`` (ISO) from ``start`` to ``end`` (hours, local); ``week`` 0/1
    on two-week calendars (None: every week); valid from/to (dates, inclusive; None: open)."""

    weekday: int
    start: float
    end: float
    week: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def applies(self, day: date) -> bool:
        return (day.isoweekday() == self.weekday and (self.week is None or week_type(day) == self.week)
                and (self.valid_from is None or day >= self.valid_from)
                and (self.valid_to is None or day <= self.valid_to))


def week_type(day: date) -> int:
    """Odoo's week parity of a two-week calendar (``resource.calendar.attendance.get_week_type``)."""
    return int(math.floor((day.toordinal() - 1) / 7) % 2)


def _weekday_periods(days: Iterable[int], hours: tuple[float, float]) -> tuple[Period, ...]:
    return tuple(Period(d, float(hours[0]), float(hours[1])) for d in sorted(set(days)))


class WorkCalendar:
    """One person's (or company's) working time: periods in a time zone, minus leaves."""

    def __init__(self, periods: Iterable[Period], tz: str = "UTC",
                 leaves: Iterable[tuple[datetime, datetime]] = (), source: str = ""):
        periods = tuple(periods)
        self.fallback = not periods
        if self.fallback:
            log.warning("working time: %s has no attendance; Monday to Friday %02d:00-%02d:00 apply",
                        source or "a calendar", *DEFAULT_HOURS)
            periods = _weekday_periods(DEFAULT_DAYS, DEFAULT_HOURS)
        self.periods = periods
        self.tz = tz
        self._zone = ZoneInfo(tz)
        #: Leaves as aware UTC intervals, sorted.
        self.leaves = tuple(sorted((a.astimezone(_UTC), b.astimezone(_UTC)) for a, b in leaves if b > a))
        self.source = source
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def __repr__(self) -> str:
        return f"WorkCalendar({self.describe()})"

    def describe(self) -> str:
        """One line: where this working time comes from."""
        out = self.source or f"working time, time zone {self.tz}" + (
            f", {len(self.leaves)} leave(s)" if self.leaves else "")
        return out + (", no attendance: Monday to Friday 09:00-17:00" if self.fallback else "")

    # -- one day -------------------------------------------------------------------------------
    def intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of ``day`` (local calendar day), aware UTC, leaves removed."""
        found = self._days.get(day)
        if found is None:
            midnight = datetime.combine(day, time(0))
            spans = sorted((self._utc(midnight + timedelta(hours=p.start)), self._utc(midnight + timedelta(hours=p.end)))
                           for p in self.periods if p.applies(day))
            found = tuple(_minus(_merged(spans), self.leaves))
            self._days[day] = found
        return found

    def _utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self._zone).astimezone(_UTC)

    def is_working_day(self, day: date) -> bool:
        return bool(self.intervals(day))

    # -- searches (bounded) --------------------------------------------------------------------
    def on_or_after(self, day: date) -> date:
        """The first working day on or after ``day``."""
        for i in range(HORIZON_DAYS):
            if self.is_working_day(day + timedelta(days=i)):
                return day + timedelta(days=i)
        return self._without_leaves("on_or_after").on_or_after(day)

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (``n`` = 0: :meth:`on_or_after`)."""
        if n < 0:
            raise ValueError(f"add_working_days counts forward, not {n}")
        if n == 0:
            return self.on_or_after(day)
        current = day
        for _ in range(n):
            current = self.on_or_after(current + timedelta(days=1))
        return current

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The instant (aware UTC) when ``hours`` of working time after ``start`` (aware) are used
        up; ``hours`` = 0: the first working instant at or after ``start``."""
        if start.tzinfo is None:
            raise ValueError("add_working_hours needs an aware datetime")
        start = start.astimezone(_UTC)
        left = timedelta(hours=hours)
        day = start.astimezone(self._zone).date() - timedelta(days=1)  # a period may start the day before in UTC
        for i in range(HORIZON_DAYS):
            for a, b in self.intervals(day + timedelta(days=i)):
                if b <= start:
                    continue
                a = max(a, start)
                if a + left <= b:
                    return a + left
                left -= b - a
        return self._without_leaves("add_working_hours").add_working_hours(start, left.total_seconds() / 3600)

    def _without_leaves(self, what: str) -> "WorkCalendar":
        log.warning("working time: %s: no working time in %d days (leaves cover it all); leaves ignored",
                    what, HORIZON_DAYS)
        return WorkCalendar(self.periods, self.tz, (), self.source)


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[list[datetime]] = []
    for a, b in spans:
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _minus(spans: list[tuple[datetime, datetime]], leaves: tuple[tuple[datetime, datetime], ...]):
    """``spans`` with every leave cut out (both sorted)."""
    for a, b in spans:
        for la, lb in leaves:
            if lb <= a or la >= b:
                continue
            if la > a:
                yield a, la
            a = max(a, lb)
            if a >= b:
                break
        if a < b:
            yield a, b


@dataclass(frozen=True)
class _Calendar:
    """An Odoo calendar as pulled."""

    id: int
    name: str
    tz: str | None
    company_id: int | None
    periods: tuple[Period, ...]


class WorkingTime:
    """Everyone's working time for one run: built once (:meth:`from_snapshot`), read by rules
    (``RuleContext.working_time``) and the write-back."""

    def __init__(self, calendars: Mapping[int, _Calendar] | None = None,
                 company_calendar: Mapping[int, int | None] | None = None,
                 company_names: Mapping[int, str] | None = None,
                 users: Mapping[int, tuple[str | None, int | None]] | None = None,
                 holidays: Iterable[tuple[datetime, datetime, int | None, int | None]] = (),
                 override: WorkingTimeConfig | None = None, unavailable: str | None = None):
        self.calendars = dict(calendars or {})
        self.company_calendar = dict(company_calendar or {})
        self.company_names = dict(company_names or {})
        #: user id -> (tz, company id)
        self.users = dict(users or {})
        #: (start, end, calendar id, company id) of each global leave
        self.holidays = tuple(holidays)
        self.override = override if override is not None and not override.empty else None
        #: Why Odoo's calendars could not be read (None: they were, or there is no Odoo).
        self.unavailable = unavailable
        self._cache: dict[tuple, WorkCalendar] = {}

    @classmethod
    def weekdays(cls) -> "WorkingTime":
        """Monday to Friday, 09:00-17:00 UTC, no holidays: tests and data without calendars."""
        return cls()

    def overridden(self, override: WorkingTimeConfig | None) -> "WorkingTime":
        """This working time with ``override``'s values set over the current ones (a rule's own keys)."""
        if override is None or override.empty:
            return self
        return WorkingTime(self.calendars, self.company_calendar, self.company_names, self.users, self.holidays,
                           override.over(self.override), self.unavailable)

    # -- lookups ---------------------------------------------------------------------------------
    def for_company(self, company_id: int | None) -> WorkCalendar:
        """The calendar of ``company_id`` (None or unknown: the first company's)."""
        return self._calendar(None, self._company(company_id))

    def for_user(self, user_id: int | None) -> WorkCalendar:
        """The calendar of ``user_id``: their company's, in their time zone (None or unknown: the
        first company's)."""
        tz, company = self.users.get(user_id, (None, None)) if user_id is not None else (None, None)
        return self._calendar(tz, self._company(company))

    def _company(self, company_id: int | None) -> int | None:
        if company_id in self.company_calendar:
            return company_id
        return min(self.company_calendar) if self.company_calendar else None

    def _calendar(self, user_tz: str | None, company_id: int | None) -> WorkCalendar:
        key = (user_tz, company_id)
        if key not in self._cache:
            self._cache[key] = self._build(user_tz, company_id)
        return self._cache[key]

    def _build(self, user_tz: str | None, company_id: int | None) -> WorkCalendar:
        o = self.override or WorkingTimeConfig()
        cal = self.calendars.get(self.company_calendar.get(company_id)) if company_id is not None else None
        if cal is not None:
            where = f"Odoo calendar '{cal.name}'" + (
                f" of {self.company_names[company_id]}" if company_id in self.company_names else "")
            periods = cal.periods
            tz = next((z for z in (user_tz, cal.tz) if z and not tz_problem(z)), "UTC")
            tz_from = "user's" if tz == user_tz else "calendar's" if tz == cal.tz else "default"
        else:
            where = "no Odoo calendar" + (f" ({self.unavailable})" if self.unavailable else "")
            periods, tz, tz_from = (), "UTC", "default"
            if not self.calendars and o.working_days is None and o.working_hours is None:
                periods = _weekday_periods(DEFAULT_DAYS, DEFAULT_HOURS)
                where = "Monday to Friday 09:00-17:00 (no Odoo calendar)"
        if o.working_days is not None or o.working_hours is not None:
            days = o.working_days if o.working_days is not None else sorted({p.weekday for p in periods}) or DEFAULT_DAYS
            if o.working_hours is not None:
                periods = _weekday_periods(days, o.working_hours)
            else:
                span = (min(p.start for p in periods), max(p.end for p in periods)) if periods else DEFAULT_HOURS
                kept = [p for p in periods if p.weekday in days]
                periods = tuple(kept) + _weekday_periods(set(days) - {p.weekday for p in kept}, span)
            where += ", days/hours from the profile"
        if o.timezone is not None:
            tz, tz_from = o.timezone, "profile's"
        zone = ZoneInfo(tz)
        if o.holidays is not None:
            leaves = [(datetime.combine(d, time(0)).replace(tzinfo=zone),
                       datetime.combine(d + timedelta(days=1), time(0)).replace(tzinfo=zone))
                      for d in sorted({date.fromisoformat(h) for h in o.holidays})]
            where += f", {len(leaves)} holiday(s) from the profile"
        else:
            cal_id = cal.id if cal is not None else None
            leaves = [(a, b) for a, b, c, comp in self.holidays
                      if (c == cal_id if c is not None else comp is None or comp == company_id)]
            if leaves:
                where += f", {len(leaves)} public holiday(s)"
        return WorkCalendar(periods, tz, leaves, f"{where}, time zone {tz} ({tz_from})")

    def describe(self) -> str:
        """One line: where working time comes from (``clientcare check``)."""
        if self.unavailable is not None:
            out = f"cannot read Odoo's working time ({self.unavailable}): the profile's working_time values apply"
        elif not self.calendars:
            out = "no Odoo calendar: the profile's working_time values apply"
        else:
            with_cal = sum(1 for c in self.company_calendar.values() if c in self.calendars)
            zones = sum(1 for tz, _ in self.users.values() if tz)
            out = (f"Odoo calendars of {with_cal} compan{'y' if with_cal == 1 else 'ies'}, "
                   f"{len(self.holidays)} public holiday(s), {zones} user time zone(s)")
        if self.override is not None:
            keys = [k for k in ("working_days", "working_hours", "timezone", "holidays")
                    if getattr(self.override, k) is not None]
            out += f"; the profile sets {', '.join(keys)}"
        elif self.unavailable is not None or not self.calendars:
            out += " (none set: Monday to Friday 09:00-17:00 UTC)"
        return out

    # -- from a pull -----------------------------------------------------------------------------
    @classmethod
    def from_snapshot(cls, snapshot, override: WorkingTimeConfig | Mapping[str, Any] | None = None
                      ) -> "WorkingTime":
        """Read the working-time tables of ``snapshot`` (see :mod:`clientcare.connector.schema`)."""
        import pandas as pd

        if override is not None and not isinstance(override, WorkingTimeConfig):
            override = WorkingTimeConfig.parse(override)
        tables = snapshot.tables
        missing = [t for t in ("work_calendars", "work_attendances") if t not in tables]
        why = "; ".join(snapshot.unavailable[t] for t in missing if t in snapshot.unavailable) or None
        users = {}
        u = tables.get("users")
        if u is not None and len(u):
            tzs = u["tz"] if "tz" in u else pd.Series(None, index=u.index)
            for uid, tz, company in zip(u["id"].tolist(), tzs.tolist(), u["company_id"].tolist()):
                tz = tz if isinstance(tz, str) and tz and not tz_problem(tz) else None
                users[int(uid)] = (tz, None if pd.isna(company) else int(company))
        companies = tables.get("companies")
        company_calendar, company_names = {}, {}
        if companies is not None and len(companies):
            cal_col = companies["resource_calendar_id"] if "resource_calendar_id" in companies else \
                pd.Series(pd.NA, index=companies.index, dtype="Int64")
            for cid, name, cal in zip(companies["id"].tolist(), companies["name"].tolist(), cal_col.tolist()):
                company_calendar[int(cid)] = None if pd.isna(cal) else int(cal)
                company_names[int(cid)] = str(name)
        if missing:  # unreadable (why), or not pulled (offline data): no Odoo calendar
            return cls({}, company_calendar, company_names, users, (), override, why)
        periods: dict[int, list[Period]] = {}
        a = tables["work_attendances"]
        keep = pd.Series(True, index=a.index)
        if "display_type" in a:
            keep &= a["display_type"].isna()
        if "resource_id" in a:
            keep &= a["resource_id"].isna()
        if "day_period" in a:  # Odoo's lunch breaks are attendance lines too (17+), not worked
            keep &= (a["day_period"] != "lunch").fillna(True).astype(bool)
        a = a.loc[keep & a["calendar_id"].notna()]
        week = a["week_type"] if "week_type" in a else pd.Series(None, index=a.index, dtype=object)
        frm = a["date_from"] if "date_from" in a else pd.Series(pd.NaT, index=a.index)
        to = a["date_to"] if "date_to" in a else pd.Series(pd.NaT, index=a.index)
        for cal, dow, h1, h2, wk, d1, d2 in zip(a["calendar_id"].tolist(), a["dayofweek"].tolist(),
                                                a["hour_from"].tolist(), a["hour_to"].tolist(), week.tolist(),
                                                frm.tolist(), to.tolist()):
            if not isinstance(dow, str) or not dow.isdigit() or not (h2 > h1):
                continue
            periods.setdefault(int(cal), []).append(Period(
                int(dow) + 1, max(0.0, float(h1)), min(24.0, float(h2)),
                int(wk) if isinstance(wk, str) and wk.isdigit() else None,
                None if pd.isna(d1) else pd.Timestamp(d1).date(), None if pd.isna(d2) else pd.Timestamp(d2).date()))
        calendars = {}
        c = tables["work_calendars"]
        for cid, name, tz, comp in zip(c["id"].tolist(), c["name"].tolist(), c["tz"].tolist(),
                                       c["company_id"].tolist()):
            calendars[int(cid)] = _Calendar(int(cid), str(name), tz if isinstance(tz, str) else None,
                                            None if pd.isna(comp) else int(comp),
                                            tuple(periods.get(int(cid), ())))
        holidays = []
        h = tables.get("public_holidays")
        if h is not None and len(h):
            for a1, b1, cal, comp in zip(h["date_from"].tolist(), h["date_to"].tolist(), h["calendar_id"].tolist(),
                                         h["company_id"].tolist()):
                if pd.isna(a1) or pd.isna(b1):
                    continue
                holidays.append((pd.Timestamp(a1).to_pydatetime(), pd.Timestamp(b1).to_pydatetime(),
                                 None if pd.isna(cal) else int(cal), None if pd.isna(comp) else int(comp)))
        elif "public_holidays" in snapshot.unavailable:
            log.warning("working time: public holidays unreadable (%s): none are skipped",
                        snapshot.unavailable["public_holidays"])
        return cls(calendars, company_calendar, company_names, users, holidays, override)
