"""What a rule produces: a :class:`Finding`, with the :class:`Action` it proposes.

A finding is plain data, JSON-serialisable through :meth:`Finding.to_dict`, so
the write-back, the run summary and a later run can all read it without
importing the rule that made it.  Its :attr:`Finding.key` is stable across runs
(rule, subject, and the level/part/period that make the situation distinct):
the write-back uses it to update or close what an earlier run created.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from clientcare.connector.facts import ACTIVITY_TYPES, SEVERITIES

from .i18n import EvidenceView

#: The documents the built-in tables hold; a finding may be about any model with activities
#: (the write-back resolves the model by name; a model without them is a write error there).
SUBJECT_MODELS = ("res.partner", "project.project", "project.task", "account.move")
ACTION_KINDS = ("activity", "note")
#: A finding at this level whose ``data`` holds ``score``, ``band`` and ``criteria`` states a
#: client's health (the fit checklist's): sync and live audits store it as the health history.
HEALTH_LEVEL = "checklist"
_SEVERITY_SET, _MODEL_SET = frozenset(SEVERITIES), frozenset(SUBJECT_MODELS)
_MODEL_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _is_model(name: Any) -> bool:
    return isinstance(name, str) and bool(_MODEL_RE.match(name))


class Rows(Sequence):
    """Evidence rows kept as shared columns and turned into dicts only when read.

    A rule over 100,000 clients builds its evidence column-wise once; the
    write-back reads it for the few findings it acts on, the run summary not
    at all, so most rows never become Python dicts.
    """

    __slots__ = ("_names", "_columns", "_start", "_stop")

    def __init__(self, names: list[str], columns: list[list], start: int = 0, stop: int | None = None):
        self._names, self._columns = names, columns
        self._start = start
        self._stop = (len(columns[0]) if columns else 0) if stop is None else stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = self._start + i
        return {name: col[k] for name, col in zip(self._names, self._columns)}

    def __iter__(self):
        cols = [col[self._start:self._stop] for col in self._columns]
        return (dict(zip(self._names, row)) for row in zip(*cols))

    def shared(self) -> tuple[list[str], list[list], int, int]:
        """The shared columns and this slice of them (names, columns, start, stop): code that reads
        many findings' evidence at once works on each shared column once (:mod:`clientcare.rules.digest`)."""
        return self._names, self._columns, self._start, self._stop

    def jsonable(self, converted: dict | None = None) -> list[dict]:
        """The rows as plain JSON values, converted column by column.  ``converted``: a cache
        shared by the findings of one table, whose Rows often share their columns (each shared
        column is then converted once, whole)."""
        if converted is None:
            cols = [jsonable_list(col[self._start:self._stop]) for col in self._columns]
        else:
            held = converted.get(id(self._columns))
            if held is None:  # the columns are held too, so their id is not reused
                held = converted[id(self._columns)] = (self._columns, [jsonable_list(c) for c in self._columns])
            cols = [col[self._start:self._stop] for col in held[1]]
        return [dict(zip(self._names, row)) for row in zip(*cols)]

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Rows({list(self)!r})"


@dataclass(slots=True)
class Action:
    """What should happen in Odoo: an activity for someone by a date, or a note."""

    kind: str                       # activity | note
    summary: str
    activity_type: str | None = None  # todo | call | email | meeting (activities only)
    due_date: date | None = None

    def problems(self) -> list[str]:
        if self.kind == "activity" and self.summary and self.activity_type in ACTIVITY_TYPES \
                and isinstance(self.due_date, date):
            return []
        out = []
        if self.kind not in ACTION_KINDS:
            out.append(f"action kind {self.kind!r} is not one of {', '.join(ACTION_KINDS)}")
        if self.kind == "activity":
            if self.activity_type not in ACTIVITY_TYPES:
                out.append(f"activity type {self.activity_type!r} is not one of {', '.join(ACTIVITY_TYPES)}")
            if not isinstance(self.due_date, date):
                out.append("an activity needs a due date")
        if not self.summary:
            out.append("the action has no summary")
        return out

    def due_on(self, created: date) -> date:
        """When an activity created on ``created`` is due: the rule's date, never earlier than
        the day it is created (activities born overdue flood people's lists and mailboxes);
        the rule's own date is still shown as "since"."""
        return max(self.due_date or created, created)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "summary": self.summary, "activity_type": self.activity_type,
                "due_date": self.due_date.isoformat() if self.due_date else None}


@dataclass(slots=True)
class Finding:
    """One situation a person should know about, with its evidence and its owner.

    ``route`` carries what the routing chain needs beyond ``client_id``
    (``project_id``, ``task_user_ids``, ``invoice_user_ids``, a preset
    ``user_id`` with its ``why``, a step to try ``first`` before the configured
    chain, or a whole ``order``; steps: :data:`ROUTING_STEPS`); the engine fills
    :attr:`responsible_user_id` and :attr:`routed_by` from it.
    """

    subject_model: str
    subject_id: int
    subject_name: str
    severity: str
    summary: str
    #: Rows a person can check in Odoo (ids and values): a list of dicts or :class:`Rows`.
    evidence: Sequence[dict]
    evidence_columns: list[str] | None = None
    client_id: int | None = None
    level: str | None = None
    part: str | None = None
    period: str | None = None
    action: Action | None = None
    resolved_when: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    route: dict[str, Any] = field(default_factory=dict)
    responsible_user_id: int | None = None
    routed_by: str | None = None
    #: The rule's name; the engine fills it in when a rule leaves it out.
    rule: str = field(default="", kw_only=True)
    #: Evidence columns that change with the date alone (day counts): the write-back leaves
    #: them out of what decides an update, so no activity is rewritten because a day passed.
    daily: tuple[str, ...] = ()
    #: What to say or ask when acting on it, filled from the rule's script for its kind
    #: (:mod:`clientcare.rules.scripts`); plain text, escaped by the write-back.
    talking_points: tuple[str, ...] = ()
    #: Keys of earlier ClientCare activities this finding takes over (the keys an earlier
    #: version of the rule used, the findings folded into it): the write-back merges an open
    #: activity under one of them into this finding's, never closes it as resolved.
    replaces: tuple[str, ...] = field(default=(), kw_only=True)
    #: A theme: after routing, the findings of one rule with the same client, theme and owner
    #: become one activity (:func:`clientcare.rules.folding.fold`), so nobody gets a pile.
    fold: str | None = field(default=None, kw_only=True)
    #: How its evidence reads in a note (headings, money, links to records, values in words);
    #: ``None``: the shared defaults (:data:`clientcare.rules.i18n.COMMON_VIEW`).  Not in :meth:`to_dict`.
    view: EvidenceView | None = field(default=None, kw_only=True)

    def record_ids(self) -> tuple[int, ...]:
        """The ids of the records this finding lists (every ``data`` list named ``*_ids``:
        ``invoice_ids``, ``task_ids``...): a record that joins a finding a person marked done
        is new work."""
        ids = {int(i) for k, v in self.data.items() if k.endswith("_ids") and isinstance(v, (list, tuple))
               for i in v if isinstance(i, (int, np.integer))}
        return tuple(sorted(ids))

    def record_name(self, record_id: int) -> str:
        """How the evidence names a record (``invoice`` beside ``invoice_id``), else its id."""
        for row in self.evidence:
            for col, value in row.items():
                if col.endswith("_id") and value == record_id and isinstance(row.get(col[:-3]), str):
                    return row[col[:-3]]
        return f"#{record_id}"

    @property
    def key(self) -> str:
        """``rule:model:id[:level][:part][:period]``: equal for the same situation in every run."""
        key = f"{self.rule}:{self.subject_model}:{self.subject_id}"
        for extra in (self.level, self.part, self.period):
            if extra:
                key += ":" + extra
        return key

    def problems(self) -> list[str]:
        """What makes this finding unusable (checked by the engine for every rule)."""
        a = self.action
        if (self.severity in _SEVERITY_SET and (self.subject_model in _MODEL_SET or _is_model(self.subject_model))
                and type(self.subject_id) is int
                and self.subject_id > 0 and self.evidence and self.summary and "\n" not in self.summary
                and (a is None or (a.summary and ((a.kind == "activity" and a.activity_type in ACTIVITY_TYPES
                                                   and isinstance(a.due_date, date)) or a.kind == "note")))):
            return []  # the common case, without building anything
        out = []
        if self.severity not in _SEVERITY_SET:
            out.append(f"severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if not (self.subject_model in _MODEL_SET or _is_model(self.subject_model)):
            out.append(f"subject model {self.subject_model!r} is not an Odoo model name (like sale.order)")
        if type(self.subject_id) is not int or self.subject_id <= 0:
            out.append(f"subject id {self.subject_id!r} is not a positive int")
        if not self.evidence:
            out.append("no evidence")
        if not self.summary or "\n" in self.summary:
            out.append("the summary must be one non-empty line")
        if self.action is not None:
            out += self.action.problems()
        if out:
            key = self.key
            return [f"{key}: {p}" for p in out]
        return out

    def to_dict(self) -> dict:
        return {
            "key": self.key, "rule": self.rule, "subject_model": self.subject_model,
            "subject_id": self.subject_id, "subject_name": self.subject_name,
            "client_id": self.client_id, "severity": self.severity, "level": self.level,
            "part": self.part, "period": self.period, "summary": self.summary,
            "evidence": evidence_jsonable(self.evidence),
            "evidence_columns": self.evidence_columns,
            "responsible_user_id": self.responsible_user_id, "routed_by": self.routed_by,
            "action": self.action.to_dict() if self.action else None,
            "resolved_when": self.resolved_when,
            "data": jsonable(self.data), "daily": list(self.daily),
            **({"talking_points": list(self.talking_points)} if self.talking_points else {}),
            **({"replaces": list(self.replaces)} if self.replaces else {}),
            **({"fold": self.fold} if self.fold else {}),
        }


@dataclass(frozen=True, slots=True)
class NotRaised:
    """A record a person would expect a finding about, and why there is none (grace days,
    covered by a credit note, a folded stage...): ``audit``, ``explain`` and the report list
    these, so every overdue invoice and late task Odoo shows is accounted for."""

    rule: str
    model: str
    res_id: int
    client_id: int | None
    reason: str

    def to_dict(self) -> dict:
        return {"rule": self.rule, "model": self.model, "res_id": self.res_id,
                "client_id": self.client_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class NotJudged:
    """Finding keys (an ``fnmatch`` pattern) a rule could not decide this run, and why (a
    table it could not read, no previous run to compare with).  The write-back never closes
    an activity whose key matches: unknown is not resolved."""

    rule: str
    pattern: str
    reason: str

    def to_dict(self) -> dict:
        return {"rule": self.rule, "pattern": self.pattern, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Resolved:
    """How the situation of an earlier finding went away (e.g. "answered by X on <date>"): the
    write-back gives it as the feedback of the activity it closes."""

    rule: str
    key: str
    how: str

    def to_dict(self) -> dict:
        return {"rule": self.rule, "key": self.key, "how": self.how}


@dataclass(slots=True)
class RuleOutput:
    """What ``evaluate`` may return instead of a bare list of findings."""

    findings: list[Finding] = field(default_factory=list)
    not_raised: list[NotRaised] = field(default_factory=list)
    not_judged: list[NotJudged] = field(default_factory=list)
    resolved: list[Resolved] = field(default_factory=list)


_PLAIN = frozenset((str, int, bool))


def evidence_jsonable(evidence: Sequence[dict], converted: dict | None = None) -> list[dict]:
    """A finding's evidence as plain JSON values (``converted``: see :meth:`Rows.jsonable`)."""
    if isinstance(evidence, Rows):
        return evidence.jsonable(converted)
    return [{k: jsonable(v) for k, v in row.items()} for row in evidence]


def jsonable(value: Any) -> Any:
    """Plain JSON values from what pandas and numpy hand out (NA → None, dates → ISO)."""
    kind = type(value)
    if kind in _PLAIN:  # most values: nothing to do
        return value
    return _convert(kind)(value)


def _convert(kind: type):
    convert = _CONVERT.get(kind)
    if convert is None:
        convert = _CONVERT[kind] = _converter(kind)
    return convert


def jsonable_list(values: Sequence) -> list:
    """:func:`jsonable` of each value, the values kept as they are when no type needs converting
    (text, ints, messages, None: one check per type, not per value)."""
    if all(_convert(kind) is _same for kind in set(map(type, values))):
        return values if type(values) is list else list(values)
    return [v if type(v) in _PLAIN else jsonable(v) for v in values]


def _same(value: Any) -> Any:
    return value


def _none(value: Any) -> None:
    return None


def _number(value: Any) -> float | None:
    return None if math.isnan(value) else float(value)


def _iso(value: Any) -> str:
    return value.isoformat()


def _converter(kind: type, missing: bool = True):
    """How :func:`jsonable` converts a value of ``kind``: decided once per type, in this order."""
    if kind in _PLAIN or kind is type(None):  # None stays None
        return _same
    if issubclass(kind, dict):
        return lambda value: {str(k): jsonable(v) for k, v in value.items()}
    if issubclass(kind, (list, tuple, set)):
        return lambda value: [jsonable(v) for v in value]
    if missing and kind in _MISSING:  # pd.NA, pd.NaT
        rest = _converter(kind, missing=False)
        return lambda value: None if value is pd.NA or value is pd.NaT else rest(value)
    if issubclass(kind, np.integer):
        return int
    if issubclass(kind, (float, np.floating)):
        return _number
    if issubclass(kind, (datetime, pd.Timestamp, date)):
        return _iso
    if issubclass(kind, np.bool_):
        return bool
    return _same


_MISSING = (type(pd.NA), type(pd.NaT))
_CONVERT: dict[type, Any] = {}
