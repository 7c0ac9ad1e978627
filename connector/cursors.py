"""Pull cursors: per database and snapshot table, how far the last pull got (the state
table ``cursors``, owned here).  They advance only after the snapshot they describe is
saved, so a crash makes the next pull read a little more, never less."""
from __future__ import annotations

import json

from .state import StateStore, Tables

TABLES = Tables({1: """
    CREATE TABLE cursors (
        scope TEXT NOT NULL,          -- url + database
        model TEXT NOT NULL,          -- snapshot table name
        write_date TEXT,              -- newest server write_date seen (naive UTC)
        open_ids TEXT,                -- JSON list: ids that were still open last pull
        last_full TEXT,               -- ISO UTC time of the last full pass
        last_deletion_check TEXT,
        PRIMARY KEY (scope, model)
    );
    """})


def load(state: StateStore, scope: str, model: str) -> dict | None:
    row = state.db.execute(
        "SELECT write_date, open_ids, last_full, last_deletion_check FROM cursors "
        "WHERE scope=? AND model=?", (scope, model)).fetchone()
    if row is None:
        return None
    return {"write_date": row[0], "open_ids": json.loads(row[1] or "[]"),
            "last_full": row[2], "last_deletion_check": row[3]}


def save(state: StateStore, scope: str, cursors: dict[str, dict]) -> None:
    """Persist all tables' cursors in one transaction, after the snapshot is saved."""
    with state.transaction() as db:
        for model, c in cursors.items():
            db.execute(
                "INSERT INTO cursors(scope, model, write_date, open_ids, last_full, last_deletion_check) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(scope, model) DO UPDATE SET "
                "write_date=excluded.write_date, open_ids=excluded.open_ids, "
                "last_full=excluded.last_full, last_deletion_check=excluded.last_deletion_check",
                (scope, model, c.get("write_date"), json.dumps(c.get("open_ids") or []),
                 c.get("last_full"), c.get("last_deletion_check")))

