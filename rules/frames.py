"""What rules compute with: the shared views of a snapshot, and evidence built column-wise.

The views (tasks and projects with their client, posted and overdue invoices, open credit,
late tasks, contacts logged per client...) are defined once, with the snapshot, in
:mod:`clientcare.connector.snapshot`; this module hands them to rules, so a rule imports one
module for all it computes with.  Evidence is built column-wise into
:class:`~clientcare.rules.finding.Rows`, never row by row.
"""
from __future__ import annotations

from itertools import chain, repeat

import numpy as np
import pandas as pd

from clientcare.connector.snapshot import (  # noqa: F401 - the views rules read, re-exported
    by_id, by_people, commercial, day, days_since, deadline_moves, finding_clients, interactions, invoice_names,
    invoices, late_tasks, lookup, memo, open_activities, open_activity_rows, open_credits, overdue_invoices,
    per_currency, project_clients, projects, ratings, record_clients, ref_ids, settled_invoices, task_names, tasks,
    to_day)
from clientcare.connector.snapshot import followup_exclusions_unknown  # noqa: F401 - re-exported

from .bidi import isolate, strip_controls
from .finding import Rows
from .i18n import _, ngettext


def opt_id(value) -> int | None:
    """An id from a cell that may be NA, NaN or None."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return int(value)


#: Names in a summary are cut to this many characters, so the summary keeps its tail (the
#: amounts, the dates) within about 250 characters.
NAME_WIDTH = 60


def short(name, width: int = NAME_WIDTH) -> str:
    """A client or project name cut for a one-line summary ("Very long na…") and isolated
    (:func:`~clientcare.rules.bidi.isolate`): summaries land in Odoo, where a name's
    right-to-left override must not reverse the rest of the line."""
    name = strip_controls(str(name))
    return isolate(name if len(name) <= width else name[:width - 1].rstrip() + "…")


def names(table: pd.DataFrame | None, ids: pd.Series, column: str = "name") -> pd.Series:
    if table is None or not len(table):
        return pd.Series(pd.NA, index=ids.index, dtype="string")
    return lookup(by_id(table, column), ids).astype("string")


def gone_activity_findings(previous, current_keys) -> list[dict]:
    """Last run's findings with an activity whose key this run no longer finds: those the
    write-back may close, for which a rule says how the situation went away (``Resolved``)."""
    current = set(current_keys)
    return [p for p in previous if (p.get("action") or {}).get("kind") == "activity" and p["key"] not in current]


def joined(texts, most: int = 3) -> str:
    """Distinct reasons of one closing, in order, at most ``most`` spelled out ("…, and 2 more"):
    one message that holds the reasons, so each is rendered in the reader's language."""
    texts = list(dict.fromkeys(t for t in texts if t))
    if not texts:
        return ""
    text = texts[0]
    for reason in texts[1:most]:
        # TRANSLATORS: reasons of one closing, one more added: "task 'A' done; task 'B' archived"
        text = _("{reasons}; {reason}", reasons=text, reason=reason)
    if len(texts) > most:
        text = ngettext("{reasons}, and {n} more", "{reasons}, and {n} more", len(texts) - most, reasons=text)
    return text


# -- evidence ----------------------------------------------------------------------------------
def plain(frame: pd.DataFrame) -> dict[str, list]:
    """Columns as object arrays a person (and JSON) can read: dates as YYYY-MM-DD, NA as
    None, floats rounded to cents.  Column-wise numpy work, no per-cell pandas boxing."""
    return {col: plain_values(frame[col]) for col in frame.columns}


def plain_values(values) -> np.ndarray:
    """One column (Series or array) as an object array of plain values (see :func:`plain`)."""
    if isinstance(values, np.ndarray) and values.dtype == object:  # as is: pandas would make messages plain text
        out = values.copy()
        out[pd.isna(out)] = None
        return out
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_localize(None)
        arr = s.to_numpy().astype("datetime64[D]")
        out = arr.astype(str).astype(object)
        out[np.isnat(arr)] = None
    elif pd.api.types.is_float_dtype(s.dtype):
        arr = s.to_numpy(dtype="float64", na_value=np.nan)
        out = arr.round(2).astype(object)
        out[np.isnan(arr)] = None
    elif s.dtype == object:
        out = s.to_numpy().copy()
        out[pd.isna(out)] = None
    elif isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
        out = s.to_numpy(dtype=object, na_value=None)
    else:
        out = s.to_numpy().astype(object)
    return out


def records(frame: pd.DataFrame, columns: list[str]) -> Rows:
    """Rows of ``frame`` as evidence (dicts built when read)."""
    cols = plain(frame[columns])
    return Rows(list(columns), [cols[c].tolist() for c in columns])


def grouped_records(frame: pd.DataFrame, by: str, columns: list[str]) -> dict[int, Rows]:
    """Evidence rows per value of the integer column ``by`` (order kept within a group),
    sharing one columnar store."""
    if not len(frame):
        return {}
    keys, order = _sorted_keys(frame[by])
    cols = plain(frame[columns].iloc[order])
    names, data = list(columns), [cols[c].tolist() for c in columns]
    starts, ends = _bounds(keys)
    n = len(starts)
    return dict(zip(keys[starts].tolist(), map(Rows, repeat(names, n), repeat(data, n), starts.tolist(),
                                                 ends.tolist())))


def stacked_rows(columns: list[str], n: int, rows: list[dict]) -> list[Rows]:
    """``n`` evidence tables of ``len(rows)`` rows each, for subjects that all show the same
    rows: ``rows[i][col]`` is one value for every subject, or a column of ``n`` values."""
    k = len(rows)
    data = []
    for col in columns:
        matrix = np.empty((n, k), dtype=object)
        for i, row in enumerate(rows):
            value = row.get(col)
            if isinstance(value, (pd.Series, pd.Index, np.ndarray, pd.api.extensions.ExtensionArray)):
                value = plain_values(value.reset_index(drop=True) if isinstance(value, pd.Series) else value)
            matrix[:, i] = value
        data.append(matrix.ravel().tolist())
    names = list(columns)
    return list(map(Rows, repeat(names, n), repeat(data, n), range(0, n * k, k), range(k, n * k + k, k)))


def grouped_lists(frame: pd.DataFrame, by: str, column: str) -> dict[int, list]:
    """The values of ``column`` per value of the integer column ``by`` (order kept)."""
    if not len(frame):
        return {}
    keys, order = _sorted_keys(frame[by])
    values = plain_values(frame[column].iloc[order]).tolist()
    return {k: values[s:e] for k, s, e in _runs(keys)}


def ranked_users(frame: pd.DataFrame, by: str, column: str) -> dict[int, list[int]]:
    """Per group, the distinct user ids of ``column`` (an id or a list of ids), most frequent
    first, ties by id: the routing hint "most involved first"."""
    if not len(frame):
        return {}
    keys = frame[by].to_numpy(dtype="int64")
    values = frame[column]
    if values.dtype == object:  # lists of ids: flatten without pandas' explode
        lists = values.tolist()
        lengths = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
        keys = np.repeat(keys, lengths)
        users = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum()))
    else:
        users = values.to_numpy(dtype="float64", na_value=np.nan)
        keep = ~np.isnan(users)
        keys, users = keys[keep], users[keep].astype(np.int64)
    if not len(users):
        return {}
    combo, counts = np.unique((keys << 32) | users, return_counts=True)  # ids are < 2**31
    group, user = combo >> 32, combo & 0xFFFFFFFF
    order = np.lexsort((user, -counts, group))
    group, user = group[order], user[order].tolist()
    return {k: user[s_:e] for k, s_, e in _runs(group)}


def _sorted_keys(keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = keys.to_numpy(dtype="int64")
    order = np.argsort(arr, kind="stable")
    return arr[order], order


def _bounds(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal values in sorted ``keys``."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.r_[starts[1:], len(keys)]


def _runs(keys: np.ndarray):
    starts, ends = _bounds(keys)
    return zip(keys[starts].tolist(), starts.tolist(), ends.tolist())


def days(values: pd.Series) -> np.ndarray:
    """Days as ``date`` objects (``None`` where unknown), for evidence and messages."""
    return values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(object)
