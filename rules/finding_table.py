"""Findings as columns: what rules return in bulk and routing, folding, the plan and reports read.

A rule over 100,000 clients makes one row per finding in a few arrays instead of 100,000
:class:`~clientcare.rules.finding.Finding` objects (≈4 µs each, before anything is done with
them).  A ``Finding`` is made only for a row someone reads one by one (``explain``, an activity
the write-back creates or updates, a plugin that iterates): the table is a ``Sequence`` of
them, so code written for a list keeps working, slowly.  Bulk code asks for columns.

Columns are named after :class:`Finding`'s fields, the action's split in four
(``action_kind``, ``action_summary``, ``activity_type``, ``due_date``).  A column is either a
sequence with one value per row or one value for every row (a rule's name, a subject model, an
evidence view): :meth:`FindingTable.constant` tells which, :meth:`FindingTable.column` always
gives an array.  Rows read from the table are copies: change a table with :meth:`set`.  A row's
values are the column's as stored (an object column hands out what the rule put in it), except
that typed arrays (``int64``...) give plain Python scalars, as ``tolist`` does.

The contract a rule's findings must meet is checked column by column (:meth:`checked`, the
engine's), with the texts :meth:`Finding.problems` gives; :meth:`to_dicts` is each row's
:meth:`Finding.to_dict` built column by column.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import date
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from clientcare.connector.facts import ACTIVITY_TYPES, SEVERITIES
from clientcare.connector.schema import gc_paused

from .finding import _MODEL_SET, Action, Finding, _is_model, evidence_jsonable, jsonable

#: Finding's own fields, except ``action`` (split into :data:`ACTION_COLUMNS`).
FINDING_FIELDS = tuple(f.name for f in fields(Finding) if f.name != "action")
ACTION_COLUMNS = ("action_kind", "action_summary", "activity_type", "due_date")
COLUMNS = FINDING_FIELDS + ACTION_COLUMNS
#: A value for every column a rule may leave out (Finding's defaults).
DEFAULTS: dict[str, Any] = {
    "evidence_columns": None, "client_id": None, "level": None, "part": None, "period": None,
    "resolved_when": "", "responsible_user_id": None, "routed_by": None, "rule": "", "daily": (),
    "talking_points": (), "replaces": (), "fold": None, "view": None, "action_kind": None,
    "action_summary": None, "activity_type": None, "due_date": None,
}
#: Columns built fresh per row when left out (a shared mutable default would be shared).
FRESH = {"data": dict, "route": dict}
REQUIRED = ("subject_model", "subject_id", "subject_name", "severity", "summary", "evidence")
#: :meth:`Finding.to_dict`'s plain values, in its order (``key`` first, ``action`` and the rest
#: built apart).
_PLAIN_HEAD = ("rule", "subject_model", "subject_id", "subject_name", "client_id", "severity", "level",
               "part", "period", "summary")


class _Const:
    """One value for every row of a column."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


def _array(values: Iterable, n: int) -> np.ndarray:
    """An object array of ``values`` (never a 2-d array made of lists or tuples)."""
    out = np.empty(n, dtype=object)
    out[:] = values if isinstance(values, np.ndarray) and values.dtype == object else list(values)
    return out


def _column(name: str, value: Any, n: int | None) -> tuple[Any, int | None]:
    """A column as stored (an array or a :class:`_Const`) and the number of rows it gives."""
    if isinstance(value, _Const):
        return value, n
    if isinstance(value, np.ndarray) or (isinstance(value, Sequence) and not isinstance(value, (str, tuple))) \
            or hasattr(value, "to_numpy"):
        arr = value.to_numpy() if hasattr(value, "to_numpy") else value
        if not isinstance(arr, np.ndarray) or arr.ndim != 1:
            arr = _array(arr, len(arr))
        if n is None:
            n = len(arr)
        elif len(arr) != n:
            raise ValueError(f"column {name} has {len(arr)} values, expected {n}")
        return arr, n
    return _Const(value), n


class FindingTable(Sequence):
    """Findings, one row each, stored column by column."""

    __slots__ = ("_n", "_cols")

    def __init__(self, n: int | None = None, /, **columns: Any):
        """``columns``: name → a sequence of ``n`` values, or :func:`const` (one value for all).

        Plain scalars (str, int, None, tuples...) are taken as constants too; lists, arrays and
        pandas Series as one value per row.  ``n`` is needed only when every column is constant.
        """
        unknown = sorted(set(columns) - set(COLUMNS))
        if unknown:
            raise TypeError(f"unknown finding column(s): {', '.join(unknown)}")
        cols: dict[str, Any] = {}
        for name, value in columns.items():
            cols[name], n = _column(name, value, n)
        if n is None:
            raise ValueError("a table of constant columns needs its length")
        missing = [c for c in REQUIRED if c not in cols]
        if missing and n:
            raise TypeError(f"missing finding column(s): {', '.join(missing)}")
        self._n = n
        self._cols = cols

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> "FindingTable":
        return cls(0)

    @classmethod
    def from_findings(cls, findings: Iterable[Finding]) -> "FindingTable":
        findings = findings if isinstance(findings, list) else list(findings)
        n = len(findings)
        cols = {name: _array((getattr(f, name) for f in findings), n) for name in FINDING_FIELDS}
        actions = [f.action for f in findings]
        cols["action_kind"] = _array((a.kind if a else None for a in actions), n)
        cols["action_summary"] = _array((a.summary if a else None for a in actions), n)
        cols["activity_type"] = _array((a.activity_type if a else None for a in actions), n)
        cols["due_date"] = _array((a.due_date if a else None for a in actions), n)
        return cls(n, **cols)

    @classmethod
    def concat(cls, parts: Iterable["FindingTable | Sequence[Finding]"]) -> "FindingTable":
        """One table of ``parts`` in order (lists of findings are converted first)."""
        tables = [p if isinstance(p, FindingTable) else cls.from_findings(p) for p in parts]
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls.empty()
        if len(tables) == 1:
            return tables[0]
        names = set().union(*(t._cols for t in tables))
        cols = {}
        for name in names:
            consts = [t._cols.get(name) for t in tables]
            if all(isinstance(c, _Const) for c in consts) and all(_same(c.value, consts[0].value) for c in consts):
                cols[name] = consts[0]
            else:
                cols[name] = np.concatenate([_as_object(t.column(name)) if _mixed(tables, name) else t.column(name)
                                             for t in tables])
        return cls(sum(len(t) for t in tables), **cols)

    # -- reading ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.take(np.arange(self._n)[i])
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._finding(i)

    def __iter__(self) -> Iterator[Finding]:
        """The rows as Finding copies, each column read once (not value by value)."""
        if not self._n:
            return
        kinds, summaries, types, dues = (self._values(c) for c in ACTION_COLUMNS)
        for values, kind, summary, activity_type, due in zip(zip(*(self._values(c) for c in FINDING_FIELDS)),
                                                            kinds, summaries, types, dues):
            yield Finding(action=None if kind is None else Action(kind, summary, activity_type, due),
                          **dict(zip(FINDING_FIELDS, values)))

    def __eq__(self, other) -> bool:
        """Equal to a sequence of the same findings (a list, as the engine gave before)."""
        return isinstance(other, Sequence) and not isinstance(other, str) and len(self) == len(other) \
            and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FindingTable({self._n} findings, columns {sorted(self._cols)})"

    def constant(self, name: str) -> tuple[bool, Any]:
        """``(True, value)`` when every row has the same ``name`` by construction, else ``(False, None)``
        (a ``data`` or ``route`` left out: a fresh empty dict, each row has its own)."""
        col = self._cols.get(name)
        if col is None:
            return True, FRESH[name]() if name in FRESH else DEFAULTS.get(name)
        if isinstance(col, _Const):
            return True, col.value
        return False, None

    def column(self, name: str) -> np.ndarray:
        """The values of ``name`` for every row, as an array (constants broadcast)."""
        if name not in COLUMNS:
            raise KeyError(name)
        col = self._cols.get(name)
        if isinstance(col, np.ndarray):
            return col
        if col is None and name in FRESH:
            return _array((FRESH[name]() for _ in range(self._n)), self._n)
        value = col.value if isinstance(col, _Const) else DEFAULTS.get(name)
        out = np.empty(self._n, dtype=object)
        out.fill(value)
        return out

    def has(self, name: str) -> bool:
        """Whether the rule gave ``name`` (else every row has its default)."""
        return name in self._cols

    def keys(self) -> np.ndarray:
        """Each row's :attr:`Finding.key`, built column-wise (an object array of str)."""
        return self._keys()

    def _keys(self, rows: np.ndarray | None = None) -> np.ndarray:
        """:meth:`keys` of the rows at ``rows`` (positions; None: all)."""
        out = np.empty(self._n if rows is None else len(rows), dtype=object)
        if not len(out):
            return out
        rule, model, sid = (self._values(c, rows) for c in ("rule", "subject_model", "subject_id"))
        if isinstance(rule, repeat) and isinstance(model, repeat):
            prefix = f"{next(rule)}:{next(model)}:"
            keys = [prefix + str(s) for s in sid]
        else:
            keys = [f"{r}:{m}:{s}" for r, m, s in zip(rule, model, sid)]
        for extra in ("level", "part", "period"):
            known, value = self.constant(extra)
            if known:
                if value:
                    keys = [k + ":" + value for k in keys]
            else:
                values = self._values(extra, rows)
                if any(values):  # a column of None (a rule without parts): nothing to add
                    keys = [k + ":" + v if v else k for k, v in zip(keys, values)]
        out[:] = keys
        return out

    def isin(self, name: str, values: Iterable) -> np.ndarray:
        """Per row, whether its ``name`` is one of ``values`` (as ``value in set(values)``)."""
        known, value = self.constant(name)
        values = set(values)
        if known:
            return np.full(self._n, value in values)
        return pd.Series(self.column(name), dtype=object).isin(values).to_numpy(dtype=bool)

    def take(self, indices: Sequence[int] | np.ndarray) -> "FindingTable":
        """The rows at ``indices`` (a boolean mask or positions), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        elif not len(idx):
            idx = idx.astype(np.int64)
        cols = {name: col if isinstance(col, _Const) else col[idx] for name, col in self._cols.items()}
        return FindingTable(len(idx), **cols)

    def set(self, name: str, values: Any) -> None:
        """Replace column ``name`` (a sequence of ``len(self)`` values, or :func:`const`)."""
        if name not in COLUMNS:
            raise TypeError(f"unknown finding column: {name}")
        self._cols[name], _ = _column(name, values, self._n)

    def to_dicts(self) -> list[dict]:
        """Each row's :meth:`Finding.to_dict`, built column by column."""
        if not self._n:
            return []
        with gc_paused():  # many small dicts and lists, no cycles
            return self._dicts()

    def _dicts(self) -> list[dict]:
        n = self._n
        heads = [self.keys().tolist(), *(self._values(c) for c in _PLAIN_HEAD)]
        converted: dict = {}
        evidence = [evidence_jsonable(e, converted) for e in self._values("evidence")]
        kinds = self._values("action_kind")
        if isinstance(kinds, repeat) and next(kinds) is None:
            actions = repeat(None, n)
        else:
            actions = [None if k is None else
                       {"kind": k, "summary": s, "activity_type": t, "due_date": d.isoformat() if d else None}
                       for k, s, t, d in zip(self._values("action_kind"), self._values("action_summary"),
                                             self._values("activity_type"), self._values("due_date"))]
        names = ("key", *_PLAIN_HEAD, "evidence", "evidence_columns", "responsible_user_id", "routed_by",
                 "action", "resolved_when", "data", "daily")
        rows = [dict(zip(names, values)) for values in zip(
            *heads, evidence, self._values("evidence_columns"), self._values("responsible_user_id"),
            self._values("routed_by"), actions, self._values("resolved_when"), map(jsonable, self._values("data")),
            map(list, self._values("daily")))]
        for name in ("talking_points", "replaces", "fold"):
            known, value = self.constant(name)
            if known and not value:
                continue
            for row, v in zip(rows, self._values(name)):
                if v:
                    row[name] = v if name == "fold" else list(v)
        return rows

    # -- the rule's contract -------------------------------------------------------------------
    def checked(self, rule: str) -> tuple["FindingTable", list[tuple[int, str]]]:
        """The rows of ``rule``'s output that meet the findings' contract (rows without a rule
        name get ``rule``), and ``(row, problem)`` for the others: a name other than ``rule``, what
        :meth:`Finding.problems` says, a key already given by an earlier good row; in row order,
        with the texts the engine gave finding by finding."""
        n = self._n
        if not n:
            return self, []
        cols = dict(self._cols)
        known, name = self.constant("rule")
        if known:
            other = np.full(n, bool(name) and name != rule)
            cols["rule"] = _Const(name or rule)
        else:
            names = self.column("rule").tolist()
            given = np.fromiter(map(bool, names), dtype=bool, count=n)
            other = given & np.fromiter((v != rule for v in names), dtype=bool, count=n)
            filled = np.where(given, self.column("rule"), rule)
            cols["rule"] = filled.astype(object) if filled.dtype != object else filled
        table = FindingTable(n, **cols)
        fine = ~other & table._meets_contract()
        keys = table._keys(None if fine.all() else np.flatnonzero(fine))
        dup = pd.Series(keys, dtype=object).duplicated().to_numpy()
        good = np.flatnonzero(fine)[~dup]
        if len(good) == n:
            return table, []
        problems: list[tuple[int, str]] = []
        first: dict[str, int] | None = None
        bad = np.setdiff1d(np.arange(n), good)
        for i in bad.tolist():
            f = table._finding(i)
            if other[i]:
                problems.append((i, f"{f.key}: rule is {f.rule!r}, expected {rule!r}"))
                continue
            if first is None:
                first = {}
                for pos, k in zip(np.flatnonzero(fine).tolist(), keys.tolist()):
                    first.setdefault(k, pos)
            mine = f.problems()
            key = f.key
            if first.get(key, n) < i:
                mine.append(f"{key}: duplicate key")
            problems += [(i, p) for p in mine]
        return table.take(good), problems

    def _meets_contract(self) -> np.ndarray:
        """Per row, whether :meth:`Finding.problems` would be empty (its checks, column-wise)."""
        n = self._n
        ok = self._each("severity", lambda col: pd.Series(col, dtype=object).isin(SEVERITIES).to_numpy(),
                        lambda v: v in SEVERITIES)
        ok &= self._each("subject_model", lambda col: _per_value(col, _is_model_name), _is_model_name)
        sid = self._cols.get("subject_id")
        if isinstance(sid, np.ndarray) and sid.dtype.kind in "iu":
            ok &= sid > 0
        elif isinstance(sid, np.ndarray) and sid.dtype != object:
            ok[:] = False  # floats, bools...: not ints
        else:
            ok &= self._each("subject_id", lambda col: np.fromiter(
                (type(v) is int and v > 0 for v in col), dtype=bool, count=n), lambda v: type(v) is int and v > 0)
        ok &= self._each("evidence", lambda col: np.fromiter(map(bool, col), dtype=bool, count=n), bool)
        ok &= self._each("summary", lambda col: np.fromiter((bool(s) and "\n" not in s for s in col),
                                                            dtype=bool, count=n),
                         lambda s: bool(s) and "\n" not in s)
        known, kind = self.constant("action_kind")
        if not (known and kind is None):
            acts = np.flatnonzero(self.column("action_kind") != None) if not known else np.arange(n)  # noqa: E711
            ok[acts] &= np.fromiter(
                (bool(s) and ((k == "activity" and t in ACTIVITY_TYPES and isinstance(d, date)) or k == "note")
                 for k, s, t, d in zip(*(self._values(c, acts) for c in ACTION_COLUMNS))), dtype=bool, count=len(acts))
        return ok

    def _each(self, name: str, per_column, per_value) -> np.ndarray:
        """``per_value`` of a constant once, else ``per_column`` of the column: a bool per row."""
        known, value = self.constant(name)
        if known:
            return np.full(self._n, bool(per_value(value)))
        return np.array(per_column(self.column(name)), dtype=bool)  # a copy: pandas may hand a read-only one

    # -- rows as objects ---------------------------------------------------------------------
    def _values(self, name: str, rows: np.ndarray | None = None):
        """The values of ``name`` as rows give them (of the rows at ``rows``; None: all): a list,
        or ``repeat`` of a constant (a ``data`` or ``route`` left out: a fresh dict per row)."""
        col = self._cols.get(name)
        n = self._n if rows is None else len(rows)
        if isinstance(col, np.ndarray):
            return (col if rows is None else col[rows]).tolist()
        if col is None and name in FRESH:
            return [FRESH[name]() for _ in range(n)]
        return repeat(col.value if isinstance(col, _Const) else DEFAULTS.get(name), n)

    def _value(self, name: str, i: int) -> Any:
        col = self._cols.get(name)
        if isinstance(col, np.ndarray):
            v = col[i]
            return v.item() if col.dtype != object else v
        if isinstance(col, _Const):
            return col.value
        if name in FRESH:
            return FRESH[name]()
        return DEFAULTS.get(name)

    def _finding(self, i: int) -> Finding:
        values = {name: self._value(name, i) for name in FINDING_FIELDS}
        kind = self._value("action_kind", i)
        action = None if kind is None else Action(kind, self._value("action_summary", i),
                                                  self._value("activity_type", i), self._value("due_date", i))
        return Finding(action=action, **values)


def const(value: Any) -> _Const:
    """A column with ``value`` in every row (for values that look like a sequence: a list of
    evidence columns, a tuple of daily columns)."""
    return _Const(value)


def _is_model_name(name: Any) -> bool:
    return name in _MODEL_SET or _is_model(name)


def _per_value(col: np.ndarray, check) -> np.ndarray:
    """``check`` of each distinct value of ``col`` (few: subject models), spread to the rows."""
    codes, uniques = pd.factorize(pd.Series(col, dtype=object), use_na_sentinel=False)
    return np.array([bool(check(u)) for u in uniques], dtype=bool)[codes] if len(uniques) else np.ones(0, bool)


def object_column(values: Iterable[Any]) -> np.ndarray:
    """Values as one 1-d object array: numpy would make messages plain text and unpack evidence
    rows (for a rule building a column of them)."""
    return np.fromiter(values, dtype=object)


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and the like: not the same constant
        return False


def _mixed(tables: list[FindingTable], name: str) -> bool:
    kinds = {t.column(name).dtype.kind for t in tables}
    return len(kinds) > 1


def _as_object(arr: np.ndarray) -> np.ndarray:
    return arr if arr.dtype == object else _array(arr.tolist(), len(arr))


def findings_of(found: "FindingTable | Sequence[Finding] | Mapping") -> FindingTable:
    """A table of whatever a rule returned as findings (a table, or a list of Finding)."""
    return found if isinstance(found, FindingTable) else FindingTable.from_findings(found)
