"""One run session for every command that writes state (``sync``, ``undo``, a live
``audit``, ``pull``): the profile lock, the state store, and a ``runs`` row that says how
the run ended.  Also where the state store is opened, with every stored table's owner."""
from __future__ import annotations

import logging
import signal
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clientcare.connector import cursors, errors as E, field_cache, logins
from clientcare.connector.state import StateStore
from clientcare.jobs.exit_codes import EXIT_OK, EXIT_PARTIAL, exit_code_for
from clientcare.jobs import health_history, health_tags, interrupts, ledger, previous_findings, run_history
from clientcare.jobs.run_history import RunHistory, profile_lock

if TYPE_CHECKING:
    from clientcare.connector.client import OdooClient
    from clientcare.jobs.config import Profile

log = logging.getLogger(__name__)

#: Every stored table's owner module, in the order their DDL runs within a schema version;
#: each exposes ``TABLES`` and is the only module with SQL on them.
TABLE_OWNERS = (cursors, field_cache, run_history, ledger, previous_findings, health_history, health_tags, logins)


def open_store(path: str | Path, read_only: bool = False) -> StateStore:
    """The state file at ``path``, created or migrated to every owner's tables (``read_only``:
    see :class:`StateStore`)."""
    return StateStore(path, [owner.TABLES for owner in TABLE_OWNERS], read_only=read_only)


def open_state(profile: Profile) -> StateStore:
    return open_store(profile.state_path)


@dataclass
class RunSummary:
    run_id: str
    command: str
    profile: str
    status: str = "ok"
    exit_code: int = EXIT_OK
    dry_run: bool = False
    as_of: str = ""
    pulled: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    rule_errors: list[dict] = field(default_factory=list)
    write_errors: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rpc_calls: int = 0
    rpc_by_method: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    duration_s: float = 0.0
    error: str | None = None
    #: ``undo``: the run whose records were removed, and the activities kept because people worked on them.
    undone: str | None = None
    kept: list[dict] = field(default_factory=list)
    #: For the CLI's error line and ``--debug``; not part of the stored summary.
    hint: str = field(default="", repr=False)
    traceback: str = field(default="", repr=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("hint", "traceback")}


@dataclass
class RunSession:
    state: StateStore
    #: Set by the command once connected: its call counts go into the summary.
    client: OdooClient | None = None


@contextmanager
def run_session(profile: Profile, summary: RunSummary, command: str, raise_errors: bool = False):
    """Lock the profile (a second run exits at once, before connecting), open its state and
    record the run in ``runs`` from start to finish.  A problem ends the run with an exit
    code in the summary; ``raise_errors`` re-raises it once recorded, for commands whose
    errors the CLI reports itself, as before they had a run row.  SIGINT or SIGTERM
    (:mod:`clientcare.jobs.interrupts`) ends the run as ``interrupted`` (exit 130 / 143), always
    re-raised for the CLI's one line; the lock is released, and the ledger holds what reached Odoo
    (a write whose ledger entry the signal cut off is found by its marker on the next run)."""
    started = time.monotonic()
    with profile_lock(profile.state_path):
        run = RunSession(open_state(profile))
        history = RunHistory(run.state)
        try:  # before the run is recorded there is no row to finish: a damaged file is the CLI's line
            with interrupts.held():
                history.start(summary.run_id, profile.name, command)
        except BaseException:
            run.state.close()
            raise
        try:
            yield run
        except (KeyboardInterrupt, interrupts.Terminated) as exc:  # always re-raised: the CLI's one line
            name = signal.Signals(interrupts.signal_of(exc)).name
            summary.status, summary.exit_code = "interrupted", exit_code_for(exc)
            summary.error = f"interrupted by {name}"
            if command in ("sync",) or command.startswith("undo "):  # the commands that write to Odoo
                summary.hint = (f"what reached Odoo before {name} is in the write-back ledger; "
                                f"run `clientcare {command}` again to finish")
            summary.traceback = traceback.format_exc()
            exc.run_id, exc.hint = summary.run_id, summary.hint  # for the CLI's line
            log.debug("%s interrupted by %s", summary.command, name)
            raise
        except E.ClientCareError as exc:  # the CLI shows it once, as its final error line
            summary.status, summary.exit_code = "failed", exit_code_for(exc)
            summary.error = f"{type(exc).__name__}: {exc}"
            summary.hint = exc.hint or ""
            summary.traceback = traceback.format_exc()
            log.debug("%s failed: %s", summary.command, exc)
            if raise_errors:
                raise
        except Exception as exc:  # a bug of ours: recorded in the history; the traceback with --debug
            summary.status, summary.exit_code = "failed", EXIT_PARTIAL
            summary.error = f"internal error {type(exc).__name__}: {exc}"
            summary.hint = "run again with --debug for the traceback and report it"
            summary.traceback = traceback.format_exc()
            log.debug("%s failed with an internal error: %s", summary.command, exc)
            if raise_errors:
                raise
        finally:
            # a signal now must not leave the row half-written: it waits, and is dropped when the
            # run is ending because of one already
            with interrupts.held(raise_after=summary.status != "interrupted"):
                _finish(profile, summary, run, history, started)


def _finish(profile: Profile, summary: RunSummary, run: RunSession, history: RunHistory, started: float) -> None:
    """The run's row: its counts, duration and (redacted) error; then the state is closed."""
    if run.client is not None:
        summary.rpc_calls = run.client.transport.call_count
        summary.rpc_by_method = dict(sorted(run.client.transport.calls.items()))
        summary.retries = run.client.transport.retries
    summary.duration_s = round(time.monotonic() - started, 3)
    if summary.error:  # an error text may quote what the server echoed, secrets included
        summary.error = _redact(profile, summary.error)
        summary.traceback = _redact(profile, summary.traceback)
    summary.write_errors = [dict(e, error=_redact(profile, str(e.get("error", ""))))
                            for e in summary.write_errors]
    history.finish(summary.run_id, summary.status, summary.exit_code, summary.to_dict())
    run.state.close()


def _redact(profile: Profile, text: str) -> str:
    from clientcare.jobs.logs import REDACTOR
    REDACTOR.add(profile.password or "", profile.api_key or "")
    return REDACTOR.redact(text or "")
