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

import contextlib
import os
import re
import sqlite3
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import UsageError

SCHEMA_VERSION = 6
_APP_ID = 0x43434152  # "CCAR": marks the file as ours


@dataclass(frozen=True)
class Tables:
    """The stored tables one module owns: the DDL each schema version adds for them.
    :class:`StateStore` runs every owner's DDL of a version in one transaction, versions
    in order, so a file of any older version upgrades step by step."""
    ddl: dict[int, str]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", "\n".join(self.ddl[v] for v in sorted(self.ddl))))


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


#: SQLite's result codes for a file whose pages are damaged, or that cannot be read or written
#: (Python 3.11+ names them; 3.10 only gives the message, matched below).
_DAMAGED_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR", "SQLITE_FULL")
_DAMAGED_TEXT = ("malformed", "not a database", "disk i/o error", "database or disk is full")


def disk_full(path: Path, exc: sqlite3.Error) -> UsageError:
    """The one line for a full disk under the state file: SQLite rolled the write back."""
    return UsageError(f"state file {path}: no space left on the device ({exc}); nothing of this write was kept",
                      hint="free space on that disk, then run again")


def damaged(path: Path, exc: sqlite3.DatabaseError) -> UsageError | None:
    """The one-line error (exit 2) for a state file SQLite found damaged on any query, not only
    at open (a bad page deep in a table shows only when read); None for other SQLite errors
    (a lock held too long, a constraint), which stay what they are."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if not (name.startswith(_DAMAGED_CODES) or any(t in str(exc).lower() for t in _DAMAGED_TEXT)):
        return None
    if name.startswith("SQLITE_FULL") or "full" in str(exc).lower():
        return disk_full(path, exc)
    return UsageError(f"state file {path} is not a usable ClientCare state store ({exc}); restore it from a "
                      f"backup, or move it away to start afresh (its write-back ledger is lost then)")


class _Cursor(sqlite3.Cursor):
    """A cursor whose every step maps a damaged file to :func:`damaged`."""

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except sqlite3.DatabaseError as exc:
            mapped = damaged(self.connection.path, exc)
            if mapped is None:
                raise
            raise mapped from None

    def execute(self, *args):
        return self._guard(super().execute, *args)

    def executemany(self, *args):
        return self._guard(super().executemany, *args)

    def executescript(self, *args):
        return self._guard(super().executescript, *args)

    def fetchone(self):
        return self._guard(super().fetchone)

    def fetchmany(self, *args):
        return self._guard(super().fetchmany, *args)

    def fetchall(self):
        return self._guard(super().fetchall)

    def __next__(self):
        return self._guard(super().__next__)


class _Connection(sqlite3.Connection):
    """The state file's connection: every query (``db.execute``, its cursors, fetches, commits)
    turns SQLite's "database disk image is malformed" into one :class:`UsageError` naming the
    file, so the owner modules' SQL needs no handling of its own."""

    path: Path

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, *args):
        return self.cursor().execute(*args)

    def executemany(self, *args):
        return self.cursor().executemany(*args)

    def executescript(self, *args):
        return self.cursor().executescript(*args)

    def commit(self):
        try:
            return super().commit()
        except sqlite3.DatabaseError as exc:
            mapped = damaged(self.path, exc)
            if mapped is None:
                raise
            raise mapped from None


def default_state_path(profile: str = "default") -> Path:
    return Path(platformdirs.user_data_dir("clientcare")) / f"{profile}.sqlite3"


class StateStore:
    """The SQLite file of one profile: opened, checked and migrated to the tables of
    ``owners`` (each a :class:`Tables`); what is stored in them is their modules' business."""

    def __init__(self, path: str | Path, owners: Sequence[Tables], read_only: bool = False):
        """``read_only``: for commands that only read (``runs``, ``history``): a state file this
        user may read but not write (chmod 444, a read-only directory or mount) is opened
        read-only instead of refused; a writer still refuses it before any work."""
        self.path = Path(path)
        self.owners = tuple(owners)
        self.read_only = False
        problem = path_problem(self.path, directory=False)
        if problem and read_only and self.path.is_file() and os.access(self.path, os.R_OK):
            self._open_read_only()
            return
        if problem:
            raise UsageError(f"state file {self.path}: {problem}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"state file {self.path}: cannot create its directory ({exc.strerror})") from None
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, factory=_Connection)
            self.db.path = self.path
            self._migrate()  # checks the file is ours first: WAL mode would rewrite a foreign header
        except UsageError:
            raise
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"state file {self.path} is not a usable ClientCare state store ({exc}); "
                              f"move it away to start afresh") from None

    def _open_read_only(self) -> None:
        """SQLite's read-only mode.  In a directory this user may not write, SQLite could not
        make a WAL file's shared memory there: the file is read as immutable, as it stands (what
        a crashed writer left in its ``-wal`` file is then not seen; the next writer keeps it)."""
        from urllib.parse import quote
        self.read_only = True
        uri = "file:" + quote(str(self.path.resolve()))
        last: sqlite3.Error | None = None
        modes = ("?mode=ro", "?mode=ro&immutable=1")
        if not os.access(self.path.parent, os.W_OK | os.X_OK):
            modes = modes[1:]
        for mode in modes:
            try:
                self.db = sqlite3.connect(uri + mode, uri=True, timeout=30, isolation_level=None)
                self._check_read_only()
                return
            except UsageError:
                raise
            except sqlite3.Error as exc:
                last = exc
                with contextlib.suppress(Exception):
                    self.db.close()
        raise UsageError(f"state file {self.path} is not a usable ClientCare state store ({last}); "
                         f"move it away to start afresh")

    def _check_read_only(self) -> None:
        """The checks of :meth:`_migrate`, without migrating (nothing may be written)."""
        app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if app_id != _APP_ID:
            raise UsageError(f"state file {self.path} was not written by ClientCare; refusing to use it")
        if version != SCHEMA_VERSION:
            raise UsageError(f"state file {self.path} has schema version {version} and is read-only "
                             f"here; {'a command that writes (sync) upgrades it' if version < SCHEMA_VERSION else 'upgrade ClientCare'}")

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
        """One write transaction; a full disk (SQLite's "database or disk is full") is one line
        naming the file (exit 2), the transaction rolled back, the file as it was before it."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.db.in_transaction:  # SQLite may have rolled back already (a full disk)
                    self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) == getattr(sqlite3, "SQLITE_FULL", 13) \
                    or "disk is full" in str(exc):
                with contextlib.suppress(sqlite3.Error):
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                raise disk_full(self.path, exc) from None
            raise

    def close(self):
        self.db.close()
