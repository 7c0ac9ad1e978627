"""The write-back ledger: per database, what ClientCare wrote in Odoo for each finding key
(the state table ``ledger``, owned here; :mod:`clientcare.jobs.writeback` is its user).
Odoo's own markers say what is open; the ledger adds which run wrote it (for ``undo``),
what ClientCare last set (owner, deadline, the records the finding listed), so a person's
change can be told from ClientCare's own, and who marked a key done, when, with what words."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import date, datetime, timezone
from typing import NamedTuple

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
    """,
    # what ClientCare last set (owner, deadline, the records the finding listed as JSON ids) and
    # who marked the key done in Odoo, when (ISO date), with what feedback; the dates a person agreed
    # (a deadline they moved) that passed with the situation unchanged (JSON).  No comments inside:
    # SQLite splices an added column's text into the table's stored definition.
    4: """
    ALTER TABLE ledger ADD COLUMN assigned_user_id INTEGER;
    ALTER TABLE ledger ADD COLUMN deadline TEXT;
    ALTER TABLE ledger ADD COLUMN records TEXT;
    ALTER TABLE ledger ADD COLUMN done_by TEXT;
    ALTER TABLE ledger ADD COLUMN done_by_user_id INTEGER;
    ALTER TABLE ledger ADD COLUMN done_at TEXT;
    ALTER TABLE ledger ADD COLUMN feedback TEXT;
    ALTER TABLE ledger ADD COLUMN broken_dates TEXT
    """,
    # the day ClientCare created the key's activity (ISO date): what each person received a day,
    # for the ramp (:mod:`clientcare.jobs.ramp`)
    5: """
    ALTER TABLE ledger ADD COLUMN created_on TEXT
    """,
    # the digest of the finding's inputs the fingerprint was computed from (:mod:`clientcare.rules.digest`,
    # a signed 64-bit integer): set with the fingerprint, cleared when a fingerprint comes without
    # one; a file from before has none, the next applied run stores them
    6: """
    ALTER TABLE ledger ADD COLUMN digest INTEGER
    """})


class Entry(NamedTuple):
    """One record ClientCare wrote (or adopted) for a finding key; ``None`` keeps what is stored."""

    key: str
    res_model: str
    res_id: int
    kind: str
    odoo_id: int | None
    run_id: str
    fingerprint: str | None = None
    assigned_user_id: int | None = None
    deadline: str | None = None
    records: tuple[int, ...] | None = None
    #: The day this run creates it (ISO date), for a create only.
    created_on: str | None = None
    #: The digest of the finding's inputs ``fingerprint`` was computed from (None: unknown).
    digest: int | None = None


class Known(NamedTuple):
    """What the ledger knows of one activity key (a tuple: a run reads one per open activity)."""

    status: str
    odoo_id: int | None = None
    run_id: str | None = None
    assigned_user_id: int | None = None
    deadline: str | None = None
    records: tuple[int, ...] | None = None
    done_by: str | None = None
    done_by_user_id: int | None = None
    done_at: str | None = None
    feedback: str | None = None
    #: Dates a person agreed (a deadline they moved) that passed with the situation unchanged.
    broken_dates: tuple[str, ...] = ()
    #: The fingerprint ClientCare last wrote or found unchanged, and the digest of the finding's
    #: inputs it was computed from (None: not known, e.g. a state file from before digests).
    fingerprint: str | None = None
    digest: int | None = None


class Done(NamedTuple):
    """A person's "done" as Odoo's activity-done message tells it."""

    key: str
    by: str | None
    by_user_id: int | None
    at: str | None
    feedback: str | None


def activities(state: StateStore, scope: str) -> dict[str, Known]:
    """Activity keys the ledger knows for this database."""
    rows = state.db.execute(
        "SELECT finding_key, status, odoo_id, run_id, assigned_user_id, deadline, records, done_by, "
        "done_by_user_id, done_at, feedback, broken_dates, fingerprint, digest FROM ledger "
        "WHERE scope=? AND kind='activity'", (scope,)).fetchall()
    return {r[0]: Known(r[1], r[2], r[3], r[4], r[5], _ids(r[6]), *r[7:11],
                        tuple(json.loads(r[11])) if r[11] else (), r[12], r[13]) for r in rows}


def _ids(stored: str | None) -> tuple[int, ...] | None:
    """The record ids as stored (JSON); most findings list none."""
    return None if stored is None else () if stored == "[]" else tuple(json.loads(stored))


def by_odoo_id(state: StateStore, scope: str, ids: Iterable[int]) -> dict[int, Known]:
    """What ClientCare last set on these activities (for ``undo``: was it touched since?)."""
    wanted = set(ids)
    return {k.odoo_id: k for k in activities(state, scope).values() if k.odoo_id in wanted}


def forget_done(state: StateStore, scope: str, gone: Callable[[str, str, int], bool]) -> None:
    """Drop the done activity keys for which ``gone(key, res_model, res_id)`` says the
    situation went away (read and dropped in one transaction)."""
    with state.transaction() as db:
        rows = db.execute("SELECT finding_key, res_model, res_id FROM ledger WHERE scope=? AND "
                          "kind='activity' AND status='done'", (scope,)).fetchall()
        for key, res_model, res_id in rows:
            if gone(key, res_model, res_id):
                db.execute("DELETE FROM ledger WHERE scope=? AND kind='activity' AND finding_key=?", (scope, key))


def record(state: StateStore, scope: str, status: str, entries: Iterable[Entry]) -> None:
    """Store ``status`` for each entry.  A key keeps the run that opened it while its activity
    stays open (``undo`` of that run removes it); a known Odoo id, owner, deadline or record
    list is never forgotten for want of a new one.  A new fingerprint comes with its digest
    (None forgets the old one: it no longer describes what Odoo holds)."""
    now = datetime.now(timezone.utc).isoformat()
    with state.transaction() as db:
        for e in entries:
            db.execute(
                "INSERT INTO ledger(finding_key, scope, res_model, res_id, kind, odoo_id, run_id, status, "
                "fingerprint, updated_at, assigned_user_id, deadline, records, created_on, digest) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(scope, finding_key, kind) DO UPDATE SET odoo_id=coalesce(excluded.odoo_id, "
                "ledger.odoo_id), run_id=CASE WHEN excluded.status IN ('pending','open','posted') "
                "AND ledger.status NOT IN ('open') THEN excluded.run_id ELSE ledger.run_id END, "
                "status=excluded.status, updated_at=excluded.updated_at, "
                "fingerprint=coalesce(excluded.fingerprint, ledger.fingerprint), "
                "assigned_user_id=coalesce(excluded.assigned_user_id, ledger.assigned_user_id), "
                "deadline=coalesce(excluded.deadline, ledger.deadline), "
                "records=coalesce(excluded.records, ledger.records), "
                "created_on=coalesce(excluded.created_on, ledger.created_on), "
                "digest=CASE WHEN excluded.fingerprint IS NULL THEN ledger.digest ELSE excluded.digest END",
                (e.key, scope, e.res_model, e.res_id, e.kind, e.odoo_id, e.run_id, status, e.fingerprint, now,
                 e.assigned_user_id, e.deadline, json.dumps(list(e.records)) if e.records is not None else None,
                 e.created_on, e.digest if e.fingerprint is not None else None))


def record_digests(state: StateStore, scope: str, unchanged: Iterable[tuple[str, str, int]]) -> None:
    """For activities found unchanged, each (key, fingerprint, digest): the fingerprint Odoo's
    marker holds and the digest of the finding's inputs that gives it, so the next run knows the
    activity unchanged without computing its fingerprint."""
    with state.transaction() as db:
        db.executemany("UPDATE ledger SET fingerprint=?, digest=? WHERE scope=? AND kind='activity' AND "
                       "finding_key=?", [(fp, digest, scope, key) for key, fp, digest in unchanged])


def created_since(state: StateStore, scope: str, since: date) -> dict[tuple[int | None, date], int]:
    """How many activities ClientCare created for each person on each day from ``since`` on
    (a key created again after a "done" counts on its latest day; a create that never landed,
    pending or failed, does not count): (user id, day) -> count."""
    rows = state.db.execute(
        "SELECT assigned_user_id, created_on, count(*) FROM ledger WHERE scope=? AND kind='activity' "
        "AND created_on >= ? AND status IN ('open', 'done') GROUP BY assigned_user_id, created_on",
        (scope, since.isoformat())).fetchall()
    return {(user, date.fromisoformat(day)): n for user, day, n in rows}


def record_done(state: StateStore, scope: str, done: Iterable[Done]) -> None:
    """Who marked these keys done, when and with what feedback (kept while the key is known)."""
    with state.transaction() as db:
        db.executemany("UPDATE ledger SET status='done', done_by=?, done_by_user_id=?, done_at=?, feedback=? "
                       "WHERE scope=? AND kind='activity' AND finding_key=?",
                       [(d.by, d.by_user_id, d.at, d.feedback, scope, d.key) for d in done])


def record_broken(state: StateStore, scope: str, broken: Iterable[tuple[str, str]]) -> None:
    """Add each (key, agreed date) to the dates a person agreed on that key and that passed."""
    with state.transaction() as db:
        for key, agreed in broken:
            row = db.execute("SELECT broken_dates FROM ledger WHERE scope=? AND kind='activity' AND finding_key=?",
                             (scope, key)).fetchone()
            if row is None:
                continue
            dates = sorted(set(json.loads(row[0] or "[]")) | {agreed})
            db.execute("UPDATE ledger SET broken_dates=? WHERE scope=? AND kind='activity' AND finding_key=?",
                       (json.dumps(dates), scope, key))


def broken_dates(state: StateStore, scope: str) -> dict[str, tuple[str, ...]]:
    """Per activity key, the dates a person agreed that passed with the situation unchanged."""
    rows = state.db.execute("SELECT finding_key, broken_dates FROM ledger WHERE scope=? AND kind='activity' "
                            "AND broken_dates IS NOT NULL", (scope,)).fetchall()
    return {key: tuple(json.loads(dates)) for key, dates in rows}


def rekey(state: StateStore, scope: str, old_key: str, new_key: str) -> None:
    """An activity ClientCare now keeps under another key (one activity per client and theme):
    what it last set on it (owner, deadline, records, a person's "done") goes to the new key, and
    the old key's status becomes "merged"."""
    with state.transaction() as db:
        db.execute("INSERT OR IGNORE INTO ledger(finding_key, scope, res_model, res_id, kind, odoo_id, run_id, "
                   "status, fingerprint, updated_at, assigned_user_id, deadline, records, done_by, done_by_user_id, "
                   "done_at, feedback, broken_dates, digest) SELECT ?, scope, res_model, res_id, kind, odoo_id, "
                   "run_id, status, fingerprint, updated_at, assigned_user_id, deadline, records, done_by, "
                   "done_by_user_id, done_at, feedback, broken_dates, digest FROM ledger "
                   "WHERE scope=? AND kind='activity' AND finding_key=?",
                   (new_key, scope, old_key))
        db.execute("UPDATE ledger SET status='merged' WHERE scope=? AND kind='activity' AND finding_key=?",
                   (scope, old_key))


def mark_removed(state: StateStore, scope: str, activity_ids: Iterable[int]) -> None:
    """The activities ``undo`` unlinked: a later sync may raise them again."""
    with state.transaction() as db:
        db.executemany("UPDATE ledger SET status='removed' WHERE scope=? AND kind='activity' AND odoo_id=?",
                       [(scope, i) for i in activity_ids])
