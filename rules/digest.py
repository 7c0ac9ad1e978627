"""A digest of each finding's inputs, computed column by column.

The write-back keeps, per activity, the digest of what it was written from (:mod:`clientcare.jobs.ledger`):
a finding whose digest is the one stored, on an activity Odoo holds as ClientCare left it, needs
nothing rendered or fingerprinted.  A digest covers everything the write-back's fingerprint reads
(summary, the action, the owner, talking points, evidence without its ``daily`` columns) and more
(severity, the subject, what the caller adds: the activity type's id, the owner's language), so an
equal digest means an equal fingerprint; a different one only sends the finding down the full path.

Values are read as the fingerprint's JSON reads them (a ``Msg`` as its English text, ``1`` unlike
``1.0``, ``None`` unlike NaN), never through ``str()`` alone.  Evidence kept as :class:`Rows` slices of
shared columns is hashed once per shared column and summed per slice; plain lists of dicts
(plugins) are hashed row by row.  Digests are 64-bit: stored as SQLite integers.
"""
from __future__ import annotations

import json
from itertools import chain
from collections.abc import Sequence
from typing import Any

import numpy as np
from pandas.util import hash_array

from .finding import Rows
from .finding_table import FindingTable, findings_of

#: The columns of a finding that decide what its activity says and whom it is for.
FIELDS = ("rule", "subject_model", "subject_id", "level", "part", "period", "severity", "summary",
          "action_kind", "action_summary", "activity_type", "responsible_user_id", "talking_points")
_P = np.uint64(0x100000001B3)  # odd: invertible modulo 2**64
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _text(value: Any) -> str:
    """``value`` as text that two values share only when the fingerprint's JSON reads them alike."""
    if isinstance(value, str) and not value.startswith("\x00"):
        return value  # a str and a Msg with the same English text read alike
    return f"\x00{type(value).__name__}\x00{json.dumps(value, sort_keys=True, default=str)}"


def _salt(name: str) -> np.uint64:
    return hash_array(np.array([name], dtype=object))[0]


_TYPED = {int: np.int64, float: np.float64, bool: np.bool_}


def hash_values(values: Sequence | np.ndarray) -> np.ndarray:
    """A uint64 per value: a typed array by its values and dtype; other values grouped by type,
    each group as a typed array (str and its subclasses as text, plain numbers and booleans as
    NumPy values) or else by :func:`_text`.  Hashes of one value read two ways may differ: a
    finding then only takes the full path."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        return hash_array(values) ^ _salt(str(values.dtype))
    n = len(values)
    if not n:
        return np.zeros(0, dtype=np.uint64)
    objects = values if isinstance(values, np.ndarray) and values.dtype == object \
        else np.fromiter(values, dtype=object, count=n)
    types = set(map(type, objects))
    if len(types) == 1 or all(issubclass(t, str) for t in types):
        return _hash_kind(str if issubclass(next(iter(types)), str) else types.pop(), objects)
    out = np.empty(n, dtype=np.uint64)
    kinds = np.fromiter(map(type, objects), dtype=object, count=n)
    text = np.zeros(n, dtype=bool)
    for kind in types:
        mask = kinds == kind
        if issubclass(kind, str):
            text |= mask
        else:
            out[mask] = _hash_kind(kind, objects[mask])
    if text.any():
        out[text] = _hash_kind(str, objects[text])
    return out


def _hash_kind(kind: type, objects: np.ndarray) -> np.ndarray:
    """Hashes of values all of ``kind`` (str: any str, a ``Msg`` included)."""
    if kind is str:
        return hash_array(objects, categorize=False) ^ _salt("str")
    if kind is type(None):
        return np.full(len(objects), _salt("None"), dtype=np.uint64)
    if kind in _TYPED:
        try:
            typed = np.fromiter(objects, dtype=_TYPED[kind], count=len(objects))
        except OverflowError:  # an int beyond 64 bits: as text
            pass
        else:
            return hash_array(typed) ^ _salt(kind.__name__)
    if kind in (tuple, list):  # talking points: their items, hashed together, in order
        lengths = np.fromiter(map(len, objects), dtype=np.int64, count=len(objects))
        stops = np.cumsum(lengths)
        items = hash_values(np.fromiter(chain.from_iterable(objects), dtype=object, count=int(stops[-1])))
        return _slices(items, stops - lengths, stops) ^ _salt(kind.__name__)
    texts = np.fromiter((_text(v) for v in objects), dtype=object, count=len(objects))
    return hash_array(texts, categorize=False)


def _slices(rows: np.ndarray, starts: np.ndarray, stops: np.ndarray, prefix=None) -> np.ndarray:
    """A digest of ``rows[starts[k]:stops[k]]`` per k, order-sensitive: prefix sums of the row
    hashes weighted by powers of an odd number, unweighted by its inverse's.  ``prefix``: those sums
    and inverse powers, when already made for ``rows``."""
    prefix, inverse = prefix or _prefix(rows)
    sums = (prefix[stops] - prefix[starts]) * inverse[starts]
    return _combine(sums, (stops - starts).astype(np.uint64))


def _prefix(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(rows)
    prefix = np.concatenate([np.zeros(1, np.uint64), np.cumsum(rows * _powers(_P, n), dtype=np.uint64)])
    return prefix, _powers(_inverse(_P), n + 1)


def _combine(*parts: np.ndarray) -> np.ndarray:
    """One hash per row of several (order matters), mixed again."""
    acc = np.zeros(len(parts[0]), dtype=np.uint64)
    for part in parts:
        acc = acc * _P + part
    return hash_array(acc)


class _Shared:
    """Hashes of the rows of one set of shared evidence columns, per included column set."""

    def __init__(self, names: Sequence[str], columns: Sequence[Sequence]):
        self.names, self.columns = names, columns
        self._cols: dict[int, np.ndarray] = {}
        self._sums: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def _column(self, j: int) -> np.ndarray:
        if j not in self._cols:
            self._cols[j] = hash_values(self.columns[j]) ^ _salt(self.names[j])
        return self._cols[j]

    def slices(self, daily: tuple, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """The digest of rows ``starts[k]:stops[k]`` without the ``daily`` columns (:func:`_slices`)."""
        included = tuple(j for j, name in enumerate(self.names) if name not in daily)
        if included not in self._sums:
            n = len(self.columns[0]) if self.columns else 0
            rows = _combine(*(self._column(j) for j in included)) if included else np.zeros(n, np.uint64)
            self._sums[included] = _prefix(rows)
        names = hash_values([repr([self.names[j] for j in included])])
        return _slices(None, starts, stops, self._sums[included]) ^ names


def _powers(base: np.uint64, n: int) -> np.ndarray:
    """``base**k`` modulo 2**64 for k in 0..n-1."""
    out = np.ones(n, dtype=np.uint64)
    if n > 1:
        out[1:] = np.cumprod(np.full(n - 1, base, dtype=np.uint64), dtype=np.uint64)
    return out


def _inverse(p: np.uint64) -> np.uint64:
    """The inverse of an odd number modulo 2**64 (Newton's iteration)."""
    x = int(p)
    inv = x
    for _ in range(6):
        inv = inv * (2 - x * inv) % 2**64
    return np.uint64(inv)


def evidence_digests(evidence: Sequence, daily: Sequence[tuple]) -> np.ndarray:
    """A uint64 per finding of its evidence without its ``daily`` columns."""
    n = len(evidence)
    out = np.zeros(n, dtype=np.uint64)
    groups: dict[int, tuple[_Shared, dict[tuple, list]]] = {}
    plain: list[int] = []
    for i, (ev, day) in enumerate(zip(evidence, daily)):
        if isinstance(ev, Rows):
            names, columns, start, stop = ev.shared()
            group = groups.get(id(columns))
            if group is None:
                group = groups[id(columns)] = (_Shared(names, columns), {})
            elif names is not group[0].names and list(names) != list(group[0].names):
                plain.append(i)  # the same columns under other names: row by row
                continue
            group[1].setdefault(tuple(day or ()), []).append((i, start, stop))
        else:
            plain.append(i)
    for shared, by_daily in groups.values():
        for day, rows in by_daily.items():
            at = np.array(rows, dtype=np.int64).reshape(-1, 3)
            out[at[:, 0]] = shared.slices(day, at[:, 1], at[:, 2])
    if plain:
        out[plain] = hash_values([json.dumps([{k: v for k, v in row.items() if k not in (daily[i] or ())}
                                              for row in evidence[i] or []], sort_keys=True, default=str)
                                  for i in plain])
    return out


def digests(findings: FindingTable | Sequence, **context: Sequence | np.ndarray) -> np.ndarray:
    """A uint64 per finding of its inputs (:data:`FIELDS`, its evidence without ``daily`` columns)
    and of ``context`` (one value per finding, e.g. the activity type's id and the owner's language)."""
    table = findings_of(findings)
    n = len(table)
    if not n:
        return np.zeros(0, dtype=np.uint64)
    parts = []
    for name in FIELDS:
        known, value = table.constant(name)
        parts.append(np.broadcast_to(hash_values([value]), (n,)) if known else hash_values(table.column(name)))
    parts.append(evidence_digests(table.column("evidence"), table.column("daily")))
    for name in sorted(context):
        parts.append(hash_values(context[name]) ^ _salt(name))
    return _combine(*parts)
