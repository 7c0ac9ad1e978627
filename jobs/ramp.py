"""The ramp: how many new activities each person gets per working day.

A first sync on a populated database finds hundreds of situations at once; a person who opens
Odoo to 197 new activities switches the tool off.  So each person gets at most
``max_new_per_person_per_day`` new activities a day, most severe first, then the oldest
situation, then the key (a stable order); the rest wait for the following working days of that
person's calendar.  A critical finding never waits behind milder ones: criticals come first, and
what a person already received today does not hold one back (a critical found in the afternoon is
created though the morning's run spent the day's cap); a backlog of more criticals than the cap
is still spread over the days, criticals first, so no one opens Odoo to 40 at once.  The
write-back plan (:mod:`clientcare.jobs.writeback`) and the audit reports
(:mod:`clientcare.jobs.report`) both ask this one function, so they show the same days.

Pure: it is given the creations, what each person already received today, and the calendars;
it is recomputed every run, so the queue drains as days pass, and a queued finding that goes
away simply drops out of it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from clientcare.connector.facts import severity_rank
from clientcare.rules.working_time import WorkingTime

#: The profile's default for ``max_new_per_person_per_day`` (0: no limit).
DEFAULT_PER_DAY = 10
#: Never queued behind milder findings: not held back by what a person already received today.
NEVER_QUEUED = "critical"


class Creation(NamedTuple):
    """One activity a run would create: its person, how severe, since when, its key."""

    key: str
    owner: int | None
    severity: str
    since: date | None


@dataclass(frozen=True)
class Person:
    """One person's figures: created today, queued, and the day the last queued one is created."""

    owner: int | None
    received: int
    today: int
    queued: int
    until: date | None

    def to_dict(self) -> dict:
        return {"user_id": self.owner, "received_today": self.received, "today": self.today,
                "queued": self.queued, "until": self.until.isoformat() if self.until else None}


@dataclass(frozen=True)
class Ramp:
    """The day each creation is made (``as_of`` for today's), per key; the people's figures."""

    as_of: date
    cap: int
    days: Mapping[str, date]
    #: Per key, how many of its person's creations come before it (for the reasons).
    ahead: Mapping[str, int]
    people: Mapping[int | None, Person]

    def queued(self, key: str) -> bool:
        return self.days.get(key, self.as_of) > self.as_of


def order(c: Creation) -> tuple:
    """Most severe first, then the oldest situation, then the key."""
    return severity_rank(c.severity), c.since or date.max, c.key


def ramp(creations: Iterable[Creation], cap: int, as_of: date, working_time: WorkingTime,
         received: Mapping[int | None, int] | None = None) -> Ramp:
    """Spread ``creations`` over each person's working days, ``cap`` a day (0: no limit).

    Today takes ``cap`` less what the person already ``received`` from ClientCare today (on a
    day off: on their next working day, the day they will see them); critical findings take
    ``cap`` whatever was received; the rest go ``cap`` a day on the following working days.
    """
    creations = list(creations)
    return ramp_columns([c.key for c in creations], [c.owner for c in creations],
                        [c.severity for c in creations], [c.since for c in creations], cap, as_of,
                        working_time, received)


def ramp_columns(keys: Sequence[str], owners: Sequence[int | None], severities: Sequence[str],
                 since: Sequence[date | None], cap: int, as_of: date, working_time: WorkingTime,
                 received: Mapping[int | None, int] | None = None) -> Ramp:
    """:func:`ramp` of creations given as columns (the audit has hundreds of thousands): each
    person's creations in :func:`order`; today's are the first ones (criticals come first and
    take ``cap``, the rest what is left of ``room``), the k-th queued one waits k // cap + 1
    working days after the first."""
    import numpy as np  # not at import: the write-back's module is imported by cheap commands

    if cap < 0:
        raise ValueError(f"max_new_per_person_per_day must be 0 or more, not {cap}")
    received = dict(received or {})
    n = len(keys)
    people_of: dict[int | None, int] = {}  # owner -> its group, in order of first appearance
    group = np.fromiter((people_of.setdefault(o, len(people_of)) for o in owners), dtype=np.int64, count=n)
    ranks = {s: severity_rank(s) for s in set(severities)}
    rank = np.fromiter((ranks[s] for s in severities), dtype=np.int64, count=n)
    oldest = np.fromiter(((s or date.max).toordinal() for s in since), dtype=np.int64, count=n)
    by_key = np.empty(n, dtype=np.int64)
    by_key[sorted(range(n), key=keys.__getitem__)] = np.arange(n)
    rows = np.lexsort((by_key, oldest, rank, group))  # by person, each in ``order``
    sizes = np.bincount(group, minlength=len(people_of))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    position = np.arange(n) - starts[group[rows]]  # how many of its person's come before it
    critical = np.bincount(group[np.fromiter((s == NEVER_QUEUED for s in severities), dtype=bool, count=n)],
                           minlength=len(people_of))
    day = np.full(n, as_of, dtype=object)
    people: dict[int | None, Person] = {}
    for owner, g in people_of.items():
        got = received.get(owner, 0)
        calendar = working_time.for_user(owner)
        first = calendar.on_or_after(as_of)
        size = int(sizes[g])
        if cap:
            crits = min(int(critical[g]), cap)  # criticals take the cap whatever was received
            today = crits + min(max(max(cap - got, 0) - crits, 0), size - int(critical[g]))
        else:
            today = size
        queued = size - today
        until = None
        if queued:
            later = [first]  # later[k]: the k-th working day after the first
            for _ in range((queued - 1) // cap + 1):
                later.append(calendar.on_or_after(later[-1] + timedelta(days=1)))
            wait = np.arange(queued) // cap + 1
            at = int(starts[g]) + today
            day[at:at + queued] = np.array(later, dtype=object)[wait]
            until = later[-1]
        people[owner] = Person(owner, got, today, queued, until)
    ordered = np.asarray(keys, dtype=object)[rows].tolist()
    return Ramp(as_of, cap, dict(zip(ordered, day.tolist())), dict(zip(ordered, position.tolist())), people)


def deadline(action, created: date, calendar) -> date:
    """The deadline of an activity created on ``created``: the rule's date, never before the
    day it is created (:meth:`~clientcare.rules.finding.Action.due_on`), moved to the first
    working day of its owner's ``calendar`` on or after it."""
    return calendar.on_or_after(action.due_on(created))
