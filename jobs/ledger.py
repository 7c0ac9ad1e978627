"""The write-back ledger: per database, what ClientCare wrote in Odoo for each finding key
(the state table ``ledger``, owned here; :mod:`clientcare.jobs.writeback` is its user).
Odoo's own markers say what is open; the ledger adds which run wrote it (for ``undo``)
and which keys people marked done."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from clientcare.connector.state import StateStore, Tables

TABLES = Tables({1: """
    CREATE TABLE ledger (
        finding_key TEXT NOT NULL,
        scope TEXT NOT NULL,
        res_model TEXT NOT NULL,
        res_id INTEGER NOT NULL,
        kind TEXT NOT NULL,           -- activity | note
        odoo_id INTEGER,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL,         -- open | done | removed
        fingerprint TEXT,
        updated_at TEXT,
        PRIMARY KEY (scope, finding_key, kind)
    );
    """})


def activity_statuses(state: StateStore, scope: str) -> dict[str, str]:
    """Activity keys the ledger knows for this database, with their status."""
    return dict(state.db.execute("SELECT finding_key, status FROM ledger WHERE scope=? AND kind='activity'",
                                 (scope,)).fetchall())


def forget_done(state: StateStore, scope: str, gone: Callable[[str, str, int], bool]) -> None:
    """Drop the done activity keys for which ``gone(key, res_model, res_id)`` says the
    situation went away (read and dropped in one transaction)."""
    with state.transaction() as db:
        rows = db.execute("SELECT finding_key, res_model, res_id FROM ledger WHERE scope=? AND "
                          "kind='activity' AND status='done'", (scope,)).fetchall()
        for key, res_model, res_id in rows:
            if gone(key, res_model, res_id):
                db.execute("DELETE FROM ledger WHERE scope=? AND kind='activity' AND finding_key=?", (scope, key))


def record(state: StateStore, scope: str, status: str,
           entries: Iterable[tuple[str, str, int, str, int | None, str, str | None]]) -> None:
    """Store ``status`` for each (key, res_model, res_id, kind, odoo_id, run_id, fingerprint).
    A key keeps the run that opened it while its activity stays open (``undo`` of that run
    removes it); a known Odoo id is never forgotten."""
    now = datetime.now(timezone.utc).isoformat()
    with state.transaction() as db:
        for key, res_model, res_id, kind, odoo_id, run_id, fp in entries:
            db.execute(
                "INSERT INTO ledger(finding_key, scope, res_model, res_id, kind, odoo_id, run_id, "
                "status, fingerprint, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(scope, finding_key, kind) DO UPDATE SET odoo_id=coalesce(excluded.odoo_id, "
                "ledger.odoo_id), run_id=CASE WHEN excluded.status IN ('pending','open','posted') "
                "AND ledger.status NOT IN ('open') THEN excluded.run_id ELSE ledger.run_id END, "
                "status=excluded.status, updated_at=excluded.updated_at",
                (key, scope, res_model, res_id, kind, odoo_id, run_id, status, fp, now))


def mark_removed(state: StateStore, scope: str, activity_ids: Iterable[int]) -> None:
    """The activities ``undo`` unlinked: a later sync may raise them again."""
    with state.transaction() as db:
        db.executemany("UPDATE ledger SET status='removed' WHERE scope=? AND kind='activity' AND odoo_id=?",
                       [(scope, i) for i in activity_ids])
