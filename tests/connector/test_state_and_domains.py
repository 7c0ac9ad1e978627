"""State store safety and the domain algebra behind incremental pulls."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from clientcare.connector import cursors, errors as E, field_cache
from clientcare.connector.client import domain_and, domain_or, normalize
from clientcare.connector.schema import to_frame
from clientcare.connector.state import StateStore
from clientcare.jobs.run_session import open_store


def test_state_store_migrates_and_keeps_cursors(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = open_store(path)
    cursors.save(store, "u|db", {"moves": {"write_date": "2026-11-20 10:00:00", "open_ids": [3, 1]}})
    store.close()
    again = open_store(path)
    assert cursors.load(again, "u|db", "moves")["open_ids"] == [3, 1]
    assert cursors.load(again, "u|db", "tasks") is None


def test_newer_schema_is_refused_not_reset(tmp_path):
    path = tmp_path / "s.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(E.ConfigError, match="newer"):
        open_store(path)


def test_a_file_migrated_without_some_table_owner_is_refused(tmp_path):
    path = tmp_path / "s.sqlite3"
    StateStore(path, [cursors.TABLES]).close()  # an opener that left the field cache's owner out
    with pytest.raises(E.ConfigError, match="no field_cache, xmlid_cache table"):
        StateStore(path, [cursors.TABLES, field_cache.TABLES])


@pytest.mark.parametrize("content", [b"this is not sqlite at all" * 100, None])
def test_foreign_or_corrupt_file_is_refused(tmp_path, content):
    path = tmp_path / "s.sqlite3"
    if content:
        path.write_bytes(content)
    else:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE other(x)")
        db.close()
    with pytest.raises(E.ConfigError):
        open_store(path)


def test_domain_algebra_is_odoo_prefix_notation():
    a, b, c = ("a", "=", 1), ("b", "=", 2), ("c", "=", 3)
    assert normalize([a, b, c]) == ["&", "&", a, b, c]
    assert domain_or([a], [b, c]) == ["|", a, "&", b, c]
    assert domain_and([a], domain_or([b], [c])) == ["&", a, "|", b, c]
    assert domain_or([a], []) == []  # an empty operand matches everything
    assert domain_and([], [a]) == [a]


def test_to_frame_types_false_as_missing_and_keeps_dates():
    records = [
        {"id": 1, "p": [7, "Azure"], "d": "2026-11-01", "dt": "2026-11-01 23:30:00", "n": 2.5,
         "s": "x", "b": True, "m": [1, 2], "i": 4},
        {"id": 2, "p": False, "d": False, "dt": False, "n": False, "s": False, "b": False, "m": [], "i": False},
    ]
    types = {"id": "integer", "p": "many2one", "d": "date", "dt": "datetime", "n": "monetary",
             "s": "char", "b": "boolean", "m": "many2many", "i": "integer"}
    f = to_frame(records, types)
    assert f["p"].tolist()[0] == 7 and pd.isna(f["p"].iloc[1]) and f["p_name"].iloc[0] == "Azure"
    assert f["d"].iloc[0] == pd.Timestamp("2026-11-01")  # not shifted by any timezone
    assert f["dt"].iloc[0] == pd.Timestamp("2026-11-01 23:30:00", tz="UTC")
    assert pd.isna(f["d"].iloc[1]) and pd.isna(f["dt"].iloc[1]) and pd.isna(f["n"].iloc[1])
    assert pd.isna(f["s"].iloc[1]) and f["b"].tolist() == [True, False]
    assert f["m"].tolist() == [[1, 2], []] and pd.isna(f["i"].iloc[1])
    empty = to_frame([], types)
    assert list(empty.columns) == list(f.columns) and len(empty) == 0
