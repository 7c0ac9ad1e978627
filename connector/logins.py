"""The user id each login of each database last logged in as, and over which transport (the
state table ``logins``, owned here): the next run of that transport sends it with its calls
instead of logging in again (:func:`~.transports.open_transport`)."""
from __future__ import annotations

from .state import StateStore, Tables

#: IF NOT EXISTS: a file set back to an older version (a test of an old file) may hold it already.
TABLES = Tables({6: """
    CREATE TABLE IF NOT EXISTS logins (
        scope TEXT NOT NULL,
        login TEXT NOT NULL,
        transport TEXT NOT NULL,
        uid INTEGER NOT NULL,
        PRIMARY KEY (scope, login)
    );
    """})


def load(state: StateStore, scope: str, login: str) -> tuple[int, str] | None:
    """(user id, transport) of the last login of ``login`` on ``scope``, if any."""
    row = state.db.execute("SELECT uid, transport FROM logins WHERE scope=? AND login=?",
                           (scope, login)).fetchone()
    return (int(row[0]), row[1]) if row else None


def save(state: StateStore, scope: str, login: str, uid: int, transport: str) -> None:
    with state.transaction() as db:
        db.execute("INSERT OR REPLACE INTO logins VALUES (?,?,?,?)", (scope, login, transport, uid))
