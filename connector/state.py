"""The state store: one SQLite file per profile for cursors, the write-back
ledger, run history and each rule's findings of the last applied run.  Its
schema is versioned; a file written by a newer ClientCare, or one that is not a
ClientCare store, is an error, never silently reset (losing the ledger would
duplicate activities in Odoo)."""
from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from .errors import UsageError

SCHEMA_VERSION = 3
_APP_ID = 0x43434152  # "CCAR": marks the file as ours

_MIGRATIONS = {
    1: """
    CREATE TABLE cursors (
        scope TEXT NOT NULL,          -- url + database
        model TEXT NOT NULL,          -- snapshot table name
        write_date TEXT,              -- newest server write_date seen (naive UTC)
        open_ids TEXT,                -- JSON list: ids that were still open last pull
        last_full TEXT,               -- ISO UTC time of the last full pass
        last_deletion_check TEXT,
        PRIMARY KEY (scope, model)
    );
    CREATE TABLE field_cache (
        scope TEXT NOT NULL,
        server_version TEXT NOT NULL,
        model TEXT NOT NULL,
        fields_json TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (scope, server_version, model)
    );
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        profile TEXT,
        command TEXT,
        started_at TEXT,
        finished_at TEXT,
        status TEXT,
        exit_code INTEGER,
        summary_json TEXT
    );
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
    """,
    2: """
    CREATE TABLE previous_findings (
        scope TEXT NOT NULL,
        rule TEXT NOT NULL,
        run_id TEXT NOT NULL,         -- the applied run that found them
        findings_json TEXT NOT NULL,  -- JSON list of Finding.to_dict()
        PRIMARY KEY (scope, rule)
    );
    """,
    3: """
    CREATE TABLE health_history (     -- jobs/history.py: one row per client and unchanged stretch
        scope TEXT NOT NULL,
        client_id INTEGER NOT NULL,
        name TEXT,                    -- the client's name when the stretch began
        since TEXT NOT NULL,          -- the run day (as_of) the stretch began
        run_id TEXT NOT NULL,         -- the run that began it
        score INTEGER,                -- NULL: unknown (too few criteria known)
        band TEXT NOT NULL,
        criteria_json TEXT NOT NULL   -- JSON {criterion: status}
    );
    CREATE INDEX health_history_client ON health_history(scope, client_id, since);
    CREATE TABLE health_tags (        -- jobs/health_tags.py: the band tags ClientCare put on clients
        scope TEXT NOT NULL,
        client_id INTEGER NOT NULL,
        tag_id INTEGER NOT NULL,
        band TEXT NOT NULL,
        run_id TEXT NOT NULL,
        PRIMARY KEY (scope, client_id)
    );
    """,
}


def path_problem(path: Path, directory: bool) -> str | None:
    """Why ClientCare could not read and write ``path`` (a file, or a directory it writes files
    in), checked before any work; None when it can.  A missing path is fine when it can be
    created in its nearest existing parent."""
    path = Path(path)
    if path.exists():
        if directory and not path.is_dir():
            return "is not a directory"
        if not directory and path.is_dir():
            return "is a directory"
        if not os.access(path, os.R_OK | os.W_OK | (os.X_OK if directory else 0)):
            what = ("give this user read and write access to it (it holds the cursors and the "
                    "write-back ledger: do not move it away)" if not directory else
                    "choose a directory this user may write to")
            return f"permission denied; {what}"
        if not directory and not os.access(path.parent, os.W_OK | os.X_OK):
            return (f"permission denied on its directory {path.parent} (SQLite writes its journal "
                    f"and the lock file next to it)")
        return None
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: permission denied in {parent}"
    return None


def default_state_path(profile: str = "default") -> Path:
    return Path(platformdirs.user_data_dir("clientcare")) / f"{profile}.sqlite3"


class StateStore:
    """Thin wrapper over the SQLite file; opens, checks and migrates it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        problem = path_problem(self.path, directory=False)
        if problem:
            raise UsageError(f"state file {self.path}: {problem}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"state file {self.path}: cannot create its directory ({exc.strerror})") from None
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._migrate()  # checks the file is ours first: WAL mode would rewrite a foreign header
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"state file {self.path} is not a usable ClientCare state store ({exc}); "
                              f"move it away to start afresh") from None

    def _migrate(self):
        app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id not in (0, _APP_ID) or (app_id == 0 and tables):
            raise UsageError(f"state file {self.path} was not written by ClientCare; refusing to use it")
        if version > SCHEMA_VERSION:
            raise UsageError(f"state file {self.path} has schema version {version}, newer than this "
                              f"ClientCare understands ({SCHEMA_VERSION}); upgrade ClientCare")
        self.db.execute("PRAGMA journal_mode=WAL")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA application_id={_APP_ID}")
                self.db.execute(f"PRAGMA user_version={target}")

    @contextmanager
    def transaction(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # -- cursors --------------------------------------------------------------
    def get_cursor(self, scope: str, model: str) -> dict | None:
        row = self.db.execute(
            "SELECT write_date, open_ids, last_full, last_deletion_check FROM cursors "
            "WHERE scope=? AND model=?", (scope, model)).fetchone()
        if row is None:
            return None
        return {"write_date": row[0], "open_ids": json.loads(row[1] or "[]"),
                "last_full": row[2], "last_deletion_check": row[3]}

    def set_cursors(self, scope: str, cursors: dict[str, dict]) -> None:
        """Persist all tables' cursors in one transaction, after the snapshot is saved."""
        with self.transaction() as db:
            for model, c in cursors.items():
                db.execute(
                    "INSERT INTO cursors(scope, model, write_date, open_ids, last_full, last_deletion_check) "
                    "VALUES (?,?,?,?,?,?) ON CONFLICT(scope, model) DO UPDATE SET "
                    "write_date=excluded.write_date, open_ids=excluded.open_ids, "
                    "last_full=excluded.last_full, last_deletion_check=excluded.last_deletion_check",
                    (scope, model, c.get("write_date"), json.dumps(c.get("open_ids") or []),
                     c.get("last_full"), c.get("last_deletion_check")))

    def clear_cursors(self, scope: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM cursors WHERE scope=?", (scope,))

    # -- fields_get cache -----------------------------------------------------
    def get_fields(self, scope: str, server_version: str, model: str) -> dict | None:
        row = self.db.execute(
            "SELECT fields_json FROM field_cache WHERE scope=? AND server_version=? AND model=?",
            (scope, server_version, model)).fetchone()
        return json.loads(row[0]) if row else None

    def set_fields(self, scope: str, server_version: str, model: str, fields: dict, now: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO field_cache VALUES (?,?,?,?,?)",
                       (scope, server_version, model, json.dumps(fields), now))

    def clear_fields(self, scope: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM field_cache WHERE scope=?", (scope,))

    # -- previous findings (RuleContext.previous) ----------------------------------
    def get_previous(self, scope: str) -> dict[str, list[dict]]:
        """Each rule's findings of the last applied run on this database."""
        rows = self.db.execute("SELECT rule, findings_json FROM previous_findings WHERE scope=?",
                               (scope,)).fetchall()
        return {rule: json.loads(data) for rule, data in rows}

    def set_previous(self, scope: str, run_id: str, by_rule: dict[str, list[dict]]) -> None:
        """Replace the previous findings of the rules given (those that ran to the end)."""
        with self.transaction() as db:
            for rule, findings in by_rule.items():
                db.execute("INSERT OR REPLACE INTO previous_findings VALUES (?,?,?,?)",
                           (scope, rule, run_id, json.dumps(findings, default=str)))

    def close(self):
        self.db.close()
