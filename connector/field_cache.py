"""The ``fields_get`` answers of each database and server version (the state table
``field_cache``, owned here): a run asks Odoo only for models it has not seen on that
server version."""
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

