"""One run session for every command that writes state (``sync``, ``undo``, a live
``audit``, ``pull``): the profile lock, the state store, and a ``runs`` row that says how
the run ended.  Also where the state store is opened, with every stored table's owner."""
from __future__ import annotations

import logging
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clientcare.connector import cursors, errors as E, field_cache
from clientcare.connector.state import StateStore
from clientcare.jobs.exit_codes import EXIT_OK, EXIT_PARTIAL, exit_code_for
from clientcare.jobs import health_history, health_tags, ledger, previous_findings, run_history
from clientcare.jobs.run_history import RunHistory, profile_lock

if TYPE_CHECKING:
    from clientcare.connector.client import OdooClient
    from clientcare.jobs.config import Profile

log = logging.getLogger(__name__)

#: Every stored table's owner module, in the order their DDL runs within a schema version;
#: each exposes ``TABLES`` and is the only module with SQL on them.
TABLE_OWNERS = (cursors, field_cache, run_history, ledger, previous_findings, health_history, health_tags)


def open_store(path: str | Path) -> StateStore:
    """The state file at ``path``, created or migrated to every owner's tables."""
    return StateStore(path, [owner.TABLES for owner in TABLE_OWNERS])


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
    #: ``undo``: the run whose records were removed.
    undone: str | None = None
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
    errors the CLI reports itself, as before they had a run row."""
    started = time.monotonic()
    with profile_lock(profile.state_path):
        run = RunSession(open_state(profile))
        history = RunHistory(run.state)
        history.start(summary.run_id, profile.name, command)
        try:
            yield run
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
