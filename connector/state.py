"""The state store: one SQLite file per profile for cursors, the write-back
ledger, run history and each rule's findings of the last applied run.  Its
schema is versioned; a file written by a newer ClientCare, or one that is not a
ClientCare store, is an error, never silently reset (losing the ledger would
duplicate activities in Odoo).

This module keeps the file, its checks, the migrations and transactions; each stored
table belongs to one module, which declares its DDL (:class:`Tables`) and is the only
one with SQL on it (``tests/test_sql_ownership.py`` checks it).  Which modules those
are is said once, where the store is opened (``clientcare.jobs.run_session``)."""
from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import UsageError

SCHEMA_VERSION = 3
_APP_ID = 0x43434152  # "CCAR": marks the file as ours


@dataclass(frozen=True)
class Tables:
    """The stored tables one module owns: the DDL each schema version adds for them.
    :class:`StateStore` runs every owner's DDL of a version in one transaction, versions
    in order, so a file of any older version upgrades step by step."""
    ddl: dict[int, str]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(re.findall(r"CREATE TABLE (\w+)", "\n".join(self.ddl[v] for v in sorted(self.ddl))))


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
    """The SQLite file of one profile: opened, checked and migrated to the tables of
    ``owners`` (each a :class:`Tables`); what is stored in them is their modules' business."""

    def __init__(self, path: str | Path, owners: Sequence[Tables]):
        self.path = Path(path)
        self.owners = tuple(owners)
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
        objects = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id not in (0, _APP_ID) or (app_id == 0 and objects):
            raise UsageError(f"state file {self.path} was not written by ClientCare; refusing to use it")
        if version > SCHEMA_VERSION:
            raise UsageError(f"state file {self.path} has schema version {version}, newer than this "
                              f"ClientCare understands ({SCHEMA_VERSION}); upgrade ClientCare")
        self.db.execute("PRAGMA journal_mode=WAL")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for owner in self.owners:
                    for statement in owner.ddl.get(target, "").split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                self.db.execute(f"PRAGMA application_id={_APP_ID}")
                self.db.execute(f"PRAGMA user_version={target}")
        present = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [name for owner in self.owners for name in owner.names if name not in present]
        if missing:  # migrated by an opener that left out some owner: its tables would never come
            raise UsageError(f"state file {self.path} has schema version {SCHEMA_VERSION} "
                              f"but no {', '.join(missing)} table; move it away to start afresh")

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

    def close(self):
        self.db.close()
