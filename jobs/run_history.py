"""Run bookkeeping: the per-profile lock and the run history (the state table ``runs``,
owned here; :mod:`clientcare.jobs.run_session` writes a row for every command that
writes state)."""
from __future__ import annotations

import fcntl
import json
import os
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from clientcare.connector.errors import LockedError, UsageError
from clientcare.connector.state import StateStore, Tables

TABLES = Tables({1: """
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
    """})


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@contextmanager
def profile_lock(state_path: Path):
    """One run per profile at a time: a second one fails at once with :class:`LockedError`.

    ``flock`` is released by the kernel when the process dies, so a crashed run
    (even ``kill -9``) never leaves a stale lock behind.
    """
    path = Path(f"{state_path}.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        raise UsageError(f"state file {state_path}: cannot open its lock file {path}: {reason}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            raise LockedError(f"another ClientCare run holds {path} ({holder or 'unknown pid'}); "
                              f"exiting without doing anything") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(timezone.utc).isoformat()}".encode(), 0)
        yield
    finally:
        os.close(fd)


class RunHistory:
    def __init__(self, state: StateStore):
        self.state = state

    def start(self, run_id: str, profile: str, command: str) -> None:
        with self.state.transaction() as db:
            db.execute("INSERT INTO runs(run_id, profile, command, started_at, status) VALUES (?,?,?,?,?)",
                       (run_id, profile, command, datetime.now(timezone.utc).isoformat(), "running"))

    def finish(self, run_id: str, status: str, exit_code: int, summary: dict) -> None:
        with self.state.transaction() as db:
            db.execute("UPDATE runs SET finished_at=?, status=?, exit_code=?, summary_json=? WHERE run_id=?",
                       (datetime.now(timezone.utc).isoformat(), status, exit_code,
                        json.dumps(summary, default=str), run_id))

    def list(self, limit: int = 20) -> list[dict]:
        rows = self.state.db.execute(
            "SELECT run_id, profile, command, started_at, finished_at, status, exit_code FROM runs "
            "ORDER BY started_at DESC LIMIT ?", (limit,)).fetchall()
        keys = ("run_id", "profile", "command", "started_at", "finished_at", "status", "exit_code")
        return [dict(zip(keys, r)) for r in rows]

    def get(self, run_id: str) -> dict | None:
        row = self.state.db.execute(
            "SELECT run_id, profile, command, started_at, finished_at, status, exit_code, summary_json "
            "FROM runs WHERE run_id=? OR run_id LIKE ? ORDER BY started_at DESC LIMIT 1",
            (run_id, f"{run_id}%")).fetchone()
        if row is None:
            return None
        keys = ("run_id", "profile", "command", "started_at", "finished_at", "status", "exit_code")
        out = dict(zip(keys, row[:7]))
        out["summary"] = json.loads(row[7]) if row[7] else None
        return out
