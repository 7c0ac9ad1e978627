"""What a run asks Odoo of its metadata once per database and server version (the state
tables ``field_cache`` and ``xmlid_cache``, owned here): the ``fields_get`` answers (a run asks
Odoo only for models it has not seen on that server version) and the ids of xml ids (the
write-back's activity types and note subtype)."""
from __future__ import annotations

import json

from .state import StateStore, Tables

TABLES = Tables({1: """
    CREATE TABLE field_cache (
        scope TEXT NOT NULL,
        server_version TEXT NOT NULL,
        model TEXT NOT NULL,
        fields_json TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (scope, server_version, model)
    );
    """, 6: """
    CREATE TABLE xmlid_cache (
        scope TEXT NOT NULL,
        server_version TEXT NOT NULL,
        xmlid TEXT NOT NULL,
        res_id INTEGER NOT NULL,
        PRIMARY KEY (scope, server_version, xmlid)
    );
    """})


def load(state: StateStore, scope: str, server_version: str, model: str) -> dict | None:
    row = state.db.execute(
        "SELECT fields_json FROM field_cache WHERE scope=? AND server_version=? AND model=?",
        (scope, server_version, model)).fetchone()
    return json.loads(row[0]) if row else None


def save(state: StateStore, scope: str, server_version: str, model: str, fields: dict, now: str) -> None:
    with state.transaction() as db:
        db.execute("INSERT OR REPLACE INTO field_cache VALUES (?,?,?,?,?)",
                   (scope, server_version, model, json.dumps(fields), now))



def load_xmlids(state: StateStore, scope: str, server_version: str) -> dict[str, int]:
    """The ids of the xml ids found before on this database and server version."""
    return dict(state.db.execute("SELECT xmlid, res_id FROM xmlid_cache WHERE scope=? AND server_version=?",
                                 (scope, server_version)).fetchall())


def save_xmlids(state: StateStore, scope: str, server_version: str, ids: dict[str, int]) -> None:
    """Replace what is kept for this database (any server version) by ``ids``."""
    with state.transaction() as db:
        db.execute("DELETE FROM xmlid_cache WHERE scope=?", (scope,))
        db.executemany("INSERT INTO xmlid_cache VALUES (?,?,?,?)",
                       [(scope, server_version, xmlid, res_id) for xmlid, res_id in ids.items()])
