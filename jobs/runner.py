"""Orchestration shared by the commands: connect, pull, evaluate, plan, apply.

``sync`` is what cron runs: lock → incremental pull → rules → plan → apply,
with a run summary stored in the history and a documented exit code.
"""
from __future__ import annotations

import logging
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

from clientcare.connector import (OdooClient, PullOptions, Snapshot, StateStore, errors as E,
                                  pull_incremental)
from clientcare.connector.schema import CORE_TABLES, TABLES
from clientcare.jobs import health_tags, history as health, rulesglue
from clientcare.jobs.config import Profile
from clientcare.jobs.runs import RunHistory, new_run_id, profile_lock
from clientcare.jobs.writeback import WRITE_MODELS, WriteBack, undo_run
from clientcare.rules.finding import SUBJECT_MODELS

log = logging.getLogger(__name__)


def run_day(as_of: date | None) -> date:
    """The day a run evaluates: the one given, or today; decided once, then passed down."""
    return as_of or date.today()


def open_state(profile: Profile) -> StateStore:
    return StateStore(profile.state_path)


#: Set by the CLI to show pull progress on a terminal; silent (None) under cron.
PROGRESS = None


def open_client(profile: Profile, state: StateStore | None = None) -> OdooClient:
    client = OdooClient(profile.connection(), state=state if state is not None else open_state(profile))
    client.progress = PROGRESS
    return client


def pull_options(profile: Profile, full: bool = False, rule_names: list[str] | None = None) -> PullOptions:
    """The tables and fields the enabled rules need (the connector pulls their union), with the
    tables they declare."""
    needs = rulesglue.needs(profile, rule_names)
    declared = rulesglue.declared_tables(profile, rule_names)
    tables = tuple(t for t in TABLES if t in needs or t in CORE_TABLES) + tuple(sorted(declared))
    extra = {t: sorted(f) for t, f in needs.items() if t in TABLES or t in declared}
    return PullOptions(full=full, tables=tables, extra_fields=extra, extra_tables=declared)


def pull_snapshot(client: OdooClient, profile: Profile, full: bool = False,
                  rule_names: list[str] | None = None) -> Snapshot:
    return pull_incremental(client, pull_options(profile, full, rule_names))


def models_needed(profile: Profile) -> tuple[dict[str, set[str]], set[str], set[str], dict[str, list[str]]]:
    """For ``check``: the Odoo models and operations the pull, the enabled rules and the
    write-back use; which of them are optional (a rule only loses a criterion without them);
    the documents sync may write activities and notes on (those the enabled rules read); and
    which enabled rules read each model."""
    out: dict[str, set[str]] = {m: set(ops) for m, ops in WRITE_MODELS.items()}
    if profile.values.get("health_tags"):
        for model, ops in health_tags.MODELS.items():
            out.setdefault(model, set()).update(ops)
    options = pull_options(profile)
    for table in options.tables:
        out.setdefault(options.spec(table).model, set()).add("read")
    optional_tables = rulesglue.optional_tables(profile)
    optional = {options.spec(t).model for t in optional_tables if t in options.tables}
    required = {options.spec(t).model for t in options.tables if t not in optional_tables}
    declared = {spec.model for spec in options.extra_tables.values()} - set(WRITE_MODELS)  # chatter read, not a target
    return (out, optional - required - set(WRITE_MODELS), (set(SUBJECT_MODELS) & required) | declared,
            rulesglue.readers(profile))


@dataclass
class RunSummary:
    run_id: str
    command: str
    profile: str
    status: str = "ok"
    exit_code: int = E.EXIT_OK
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


@contextmanager
def _recorded(profile: Profile, summary: RunSummary, command: str):
    """Lock, run-history row and bookkeeping shared by ``sync`` and ``undo``: Odoo problems
    end the run with an exit code in the summary, never an exception."""
    started = time.monotonic()
    with profile_lock(profile.state_path):
        run = SimpleNamespace(state=open_state(profile), client=None)
        history = RunHistory(run.state)
        history.start(summary.run_id, profile.name, command)
        try:
            yield run
        except E.ClientCareError as exc:  # the CLI shows it once, as its final error line
            summary.status, summary.exit_code = "failed", E.exit_code_for(exc)
            summary.error = f"{type(exc).__name__}: {exc}"
            summary.hint = exc.hint or ""
            summary.traceback = traceback.format_exc()
            log.debug("%s failed: %s", summary.command, exc)
        except Exception as exc:  # a bug of ours: recorded in the history; the traceback with --debug
            summary.status, summary.exit_code = "failed", E.EXIT_PARTIAL
            summary.error = f"internal error {type(exc).__name__}: {exc}"
            summary.hint = "run again with --debug for the traceback and report it"
            summary.traceback = traceback.format_exc()
            log.debug("%s failed with an internal error: %s", summary.command, exc)
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
    REDACTOR.add(str(profile.values.get("password") or ""), str(profile.values.get("api_key") or ""))
    return REDACTOR.redact(text or "")


def sync(profile: Profile, *, dry_run: bool = False, as_of: date | None = None, full: bool = False,
         rule_names: list[str] | None = None, client_ids: set[int] | None = None,
         strict: bool = False) -> RunSummary:
    """One sync run; never raises for Odoo problems, the summary says what happened.  A rule that
    failed to load makes the run partial, or (``strict``) stops it before anything is pulled."""
    as_of = run_day(as_of)
    summary = RunSummary(new_run_id(), "sync", profile.name, dry_run=dry_run, as_of=as_of.isoformat())
    with _recorded(profile, summary, "sync --dry-run" if dry_run else "sync") as run:
        if strict:
            rulesglue.require_loaded(profile, rule_names)
        run.client = client = open_client(profile, run.state)
        snapshot = pull_snapshot(client, profile, full=full, rule_names=rule_names)
        summary.pulled = snapshot.summary()
        previous = run.state.get_previous(client.scope)
        result = rulesglue.evaluate(snapshot, as_of, profile, rule_names, previous=previous,
                                    history=health.load_for_run(run.state, client.scope, profile, rule_names))
        findings = result.findings
        if client_ids:
            findings = [f for f in findings if getattr(f, "client_id", None) in client_ids]
        summary.findings = dict(sorted(Counter(f.rule for f in findings).items()))
        summary.rule_errors = result.errors
        writer = WriteBack(client, run.state, summary.run_id, as_of=as_of,
                           max_creations=_max_creations(profile),
                           notify_assignees=bool(profile.values.get("notify_assignees")))
        plan = writer.plan(findings, rules_run=result.rules_run, client_ids=client_ids,
                           not_judged=result.not_judged, resolved=result.resolved,
                           client_keys={f["key"] for fs in previous.values() for f in fs
                                        if client_ids and f.get("client_id") in client_ids})
        summary.plan = plan.to_dict(sample=None if dry_run else 10)  # a dry run shows the whole plan
        tags = health_tags.plan(client, run.state, findings, snapshot, bool(profile.values.get("health_tags")),
                                client_ids) if health.health_rules(profile) & result.rules_run else None
        if tags is not None:
            summary.plan["health_tags"] = tags.to_dict()
        if not dry_run:
            summary.applied = writer.apply(plan)
            writer.forget_resolved(plan, findings)
            run.state.set_previous(client.scope, summary.run_id, {
                rule: [f.to_dict() for f in result.findings if f.rule == rule] for rule in result.rules_run})
            health.record(run.state, client.scope, summary.run_id, as_of, findings, health.keep_days(profile))
            if tags is not None:
                summary.applied.update(health_tags.apply(client, run.state, summary.run_id, tags))
        summary.write_errors = writer.errors + (tags.errors if tags is not None else [])
        summary.warnings = writer.warnings
        if summary.rule_errors or summary.write_errors or any("cap" in w for w in writer.warnings):
            summary.status, summary.exit_code = "partial", E.EXIT_PARTIAL
    return summary


def _max_creations(profile: Profile) -> int:
    """The profile's cap (0: create nothing); validated at start-up, never negative here."""
    value = profile.values.get("max_creations")
    value = 500 if value is None else int(value)
    if value < 0:
        raise E.ConfigError(f"max_creations must be 0 or more, not {value}")
    return value


def undo(profile: Profile, run_id: str) -> RunSummary:
    """Remove what one run created (:func:`undo_run`), recorded in the run history like a sync."""
    state = open_state(profile)
    try:
        target = RunHistory(state).get(run_id)
    finally:
        state.close()
    if target is None:
        raise E.UsageError(f"no run {run_id!r} in {profile.state_path} (`clientcare runs` lists them)")
    summary = RunSummary(new_run_id(), "undo", profile.name, undone=target["run_id"])
    with _recorded(profile, summary, f"undo {target['run_id']}") as run:
        run.client = open_client(profile, run.state)
        report = undo_run(run.client, target["run_id"], run.state)
        summary.applied = {k: report[k] for k in ("activities_removed", "notes_removed")}
        tags_removed = health_tags.undo(run.client, run.state, target["run_id"])
        if tags_removed:
            summary.applied["tags_removed"] = tags_removed
        summary.write_errors = [{"res_model": i["model"], "res_id": i["id"], "error": i["why"]}
                                for i in report["not_removed"]]
        if summary.write_errors:
            summary.status, summary.exit_code = "partial", E.EXIT_PARTIAL
    return summary
