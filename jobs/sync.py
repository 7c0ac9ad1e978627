"""Orchestration shared by the commands: connect, pull, evaluate, plan, apply.

``sync`` is what cron runs: lock → incremental pull → rules → plan → apply,
with a run summary stored in the history and a documented exit code.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from clientcare.connector import errors as E
from clientcare.connector.client import OdooClient
from clientcare.connector.pull import PullOptions, pull_incremental
from clientcare.connector.snapshot import Snapshot
from clientcare.connector.state import StateStore
from clientcare.connector.schema import CORE_TABLES, TABLES, WORKING_TIME_TABLES
from clientcare.jobs import health_history as health, health_tags, ledger, previous_findings
from clientcare.jobs.config import Profile
from clientcare.jobs.exit_codes import EXIT_PARTIAL
from clientcare.jobs.ruleset import RuleSet
from clientcare.jobs.run_history import RunHistory, new_run_id
from clientcare.jobs.run_session import RunSummary, open_state, run_session
from clientcare.jobs.writeback import RECHECK_AFTER_DAYS, WRITE_MODELS, Plan, WriteBack, undo_run
from clientcare.rules.finding import SUBJECT_MODELS

log = logging.getLogger(__name__)


def run_day(as_of: date | None) -> date:
    """The day a run evaluates: the one given, or today; decided once, then passed down."""
    return as_of or date.today()


def open_client(profile: Profile, state: StateStore | None = None, progress=None) -> OdooClient:
    """The Odoo client of a profile; ``progress(model, records)`` is called after each page
    (the CLI passes one on a terminal, nothing under cron)."""
    client = OdooClient(profile.connection(), state=state if state is not None else open_state(profile))
    client.progress = progress
    return client


def pull_options(rules: RuleSet, full: bool = False) -> PullOptions:
    """The tables and fields the rules need (the connector pulls their union), with the tables
    they declare, and the working-time tables (deadlines and working hours: every run)."""
    needs, declared = rules.needs, rules.declared_tables
    tables = tuple(t for t in TABLES if t in needs or t in CORE_TABLES or t in WORKING_TIME_TABLES) \
        + tuple(sorted(declared))
    extra = {t: sorted(f) for t, f in needs.items() if t in TABLES or t in declared}
    read = {t for n in rules.names for rule in (rules.registry.rules[n],) for t in (*rule.needs, *rule.optional_needs)}
    return PullOptions(full=full, tables=tables, extra_fields=extra, extra_tables=declared,
                       followup_exclusions="followup_exclusions" in read)


#: The model of the receivable lines the pull reads (payment dates, follow-up flags): `check` tests it.
EXCLUSION_MODEL = "account.move.line"


def pull_snapshot(client: OdooClient, rules: RuleSet, full: bool = False) -> Snapshot:
    return pull_incremental(client, pull_options(rules, full))


def models_needed(profile: Profile, rules: RuleSet | None = None
                  ) -> tuple[dict[str, set[str]], set[str], set[str], dict[str, list[str]]]:
    """For ``check``: the Odoo models and operations the pull, the profile's rules (``rules``,
    else resolved here from the profile) and the write-back use; which of them are optional (a
    rule only loses a criterion without them); the documents sync may write activities and notes
    on (those the rules read); and which rules read each model."""
    rules = rules if rules is not None else RuleSet.from_profile(profile)
    out: dict[str, set[str]] = {m: set(ops) for m, ops in WRITE_MODELS.items()}
    if profile.health_tags:
        for model, ops in health_tags.MODELS.items():
            out.setdefault(model, set()).update(ops)
    options = pull_options(rules)
    for table in options.tables:
        out.setdefault(options.spec(table).model, set()).add("read")
    optional_tables = (*rules.optional_tables, *WORKING_TIME_TABLES)
    optional = {options.spec(t).model for t in optional_tables if t in options.tables}
    required = {options.spec(t).model for t in options.tables if t not in optional_tables}
    declared = {spec.model for spec in options.extra_tables.values()} - set(WRITE_MODELS)  # chatter read, not a target
    readers = dict(rules.readers)
    if options.followup_exclusions:  # the receivable lines' follow-up flags (without them: not judged)
        out.setdefault(EXCLUSION_MODEL, set()).add("read")
        optional.add(EXCLUSION_MODEL)
        readers[EXCLUSION_MODEL] = sorted(n for n in rules.names
                                          if "followup_exclusions" in rules.registry.rules[n].optional_needs)
    return (out, optional - required - set(WRITE_MODELS), (set(SUBJECT_MODELS) & required) | declared, readers)


@dataclass
class Planned:
    """What a sync decides before it writes: the rules' result (``findings`` narrowed to the
    asked clients), the write-back that planned it, its plan, and the previous findings."""

    result: Any
    findings: Any  # a FindingTable
    writer: WriteBack
    plan: Plan
    previous: dict


def plan_sync(run, profile: Profile, rules: RuleSet, snapshot: Snapshot, as_of: date, run_id: str,
              client_ids: set[int] | None = None) -> Planned:
    """Evaluate and plan as ``sync`` does; ``explain`` asks the same, so both say the same of
    every key.  Only reads Odoo."""
    client = run.client
    previous = previous_findings.load(run.state, client.scope)
    result = rules.evaluate(snapshot, as_of, previous=previous,
                            history=health.load_for_run(run.state, client.scope, rules),
                            broken_dates=broken_dates(run.state, client.scope, previous))
    findings = result.findings
    if client_ids:
        findings = findings.take(findings.isin("client_id", client_ids))
    staff, names = people(snapshot)
    user_langs, company_lang = languages(snapshot, client)
    writer = WriteBack(client, run.state, run_id, as_of=as_of, max_creations=_max_creations(profile),
                       langs=user_langs, company_lang=company_lang,
                       max_new_per_person_per_day=profile.max_new_per_person_per_day,
                       working_time=result.working_time,
                       notify_assignees=profile.notify_assignees, staff=staff, user_names=names,
                       recheck_after_days={rule: getattr(cfg, "recheck_after_days", RECHECK_AFTER_DAYS)
                                           for rule, cfg in rules.configs.items()})
    plan = writer.plan(findings, rules_run=result.rules_run, client_ids=client_ids,
                       not_judged=result.not_judged, resolved=result.resolved,
                       client_keys={f["key"] for fs in previous.values() for f in fs
                                    if client_ids and f.get("client_id") in client_ids})
    return Planned(result, findings, writer, plan, previous)


def broken_dates(state, scope: str, previous: dict[str, list[dict]]) -> dict[int, tuple]:
    """The agreed dates that passed, per client (the client of each key in the last findings)."""
    from clientcare.connector.facts import marker_key
    from clientcare.rules.context import BrokenDate

    stored = ledger.broken_dates(state, scope)
    if not stored:
        return {}
    client_of = {marker_key(f["key"]): f.get("client_id") for fs in previous.values() for f in fs}
    out: dict[int, list] = {}
    for key, dates in stored.items():
        client = client_of.get(key)
        if client is not None:
            out.setdefault(int(client), []).extend(BrokenDate(key.split(":", 1)[0], key, date.fromisoformat(d))
                                                   for d in dates)
    return {c: tuple(sorted(v, key=lambda b: b.agreed)) for c, v in out.items()}


def people(snapshot: Snapshot) -> tuple[dict[int, int], dict[int, str]]:
    """The internal users by their partner id (who wrote or marked something done), and their
    names by user id."""
    import pandas as pd  # a snapshot is loaded: pandas is too

    users = snapshot.tables.get("users")
    if users is None or not len(users):
        return {}, {}
    ids = [int(i) for i in users["id"]]
    staff = {int(p): i for p, i in zip(users["partner_id"], ids) if pd.notna(p)}  # many2one: the pull's id
    return staff, dict(zip(ids, (str(n) for n in users["name"])))


def languages(snapshot: Snapshot, client=None) -> tuple[dict[int, str], str]:
    """The language each internal user reads ClientCare's activities in (their Odoo language,
    else their company's: the company partner's ``lang``), by user id, and the language of
    ClientCare's own company (its chatter notes have no owner).  Company partners the pull did
    not hold are read in one call; a language nobody set is English."""
    import pandas as pd  # a snapshot is loaded: pandas is too

    from clientcare.rules.i18n import pick

    def m2o(value):
        return None if value is None or value is False or (not isinstance(value, (list, tuple)) and pd.isna(value)) \
            else int(value[0] if isinstance(value, (list, tuple)) else value)

    users, companies = snapshot.tables.get("users"), snapshot.tables.get("companies")
    partners = snapshot.tables.get("partners")
    company_partner = ({int(c): m2o(p) for c, p in zip(companies["id"], companies["partner_id"]) if m2o(p)}
                       if companies is not None and len(companies) and "partner_id" in companies else {})
    partner_lang = ({int(i): lang for i, lang in zip(partners["id"], partners["lang"]) if isinstance(lang, str) and lang}
                    if partners is not None and len(partners) and "lang" in partners else {})
    missing = sorted(set(company_partner.values()) - set(partner_lang))
    if missing and client is not None:
        try:
            partner_lang.update({r["id"]: r["lang"] for r in client.call("res.partner", "read", [missing],
                                                                          {"fields": ["lang"]}) if r.get("lang")})
        except (E.AccessError, E.MissingRecordError, E.UserError, E.ServerError) as exc:
            log.warning("company languages not readable (%s): their users' own languages, else English", exc)
    company_lang = {c: partner_lang.get(p) for c, p in company_partner.items()}
    out: dict[int, str] = {}
    own_company = None
    if users is not None and len(users):
        langs = users["lang"] if "lang" in users else pd.Series([None] * len(users), index=users.index)
        uid = getattr(getattr(client, "transport", None), "uid", None)
        for i, lang, company in zip(users["id"], langs, users["company_id"]):
            out[int(i)] = pick(lang if isinstance(lang, str) else None, company_lang.get(m2o(company)))
            if uid is not None and int(i) == uid:
                own_company = m2o(company)
    if own_company is None and company_lang:
        own_company = min(company_lang)
    return out, pick(company_lang.get(own_company))


def sync(profile: Profile, rules: RuleSet | None = None, *, dry_run: bool = False, as_of: date | None = None,
         full: bool = False, rule_names: list[str] | None = None, client_ids: set[int] | None = None,
         strict: bool = False, progress=None) -> RunSummary:
    """One sync run of ``rules`` (else the profile's, resolved here), narrowed to ``rule_names``;
    never raises for Odoo problems, the summary says what happened.  A rule that failed to load
    makes the run partial, or (``strict``) stops it before anything is pulled.  ``progress``: see
    :func:`open_client`."""
    as_of = run_day(as_of)
    summary = RunSummary(new_run_id(), "sync", profile.name, dry_run=dry_run, as_of=as_of.isoformat())
    with run_session(profile, summary, "sync --dry-run" if dry_run else "sync") as run:
        rules = (rules if rules is not None else RuleSet.from_profile(profile)).only(rule_names)
        if strict:
            rules.require_loaded()
        run.client = client = open_client(profile, run.state, progress)
        snapshot = pull_snapshot(client, rules, full=full)
        summary.pulled = snapshot.summary()
        planned = plan_sync(run, profile, rules, snapshot, as_of, summary.run_id, client_ids)
        result, findings, writer, plan = planned.result, planned.findings, planned.writer, planned.plan
        summary.findings = dict(sorted(Counter(findings.column("rule").tolist()).items()))
        summary.rule_errors = result.errors
        summary.plan = plan.to_dict(sample=None if dry_run else 10)  # a dry run shows the whole plan
        tags = health_tags.plan(client, run.state, findings, snapshot, profile.health_tags,
                                client_ids) if rules.health_rules & result.rules_run else None
        if tags is not None:
            summary.plan["health_tags"] = tags.to_dict()
        if not dry_run:
            summary.applied = writer.apply(plan)
            writer.forget_resolved(plan, findings)
            previous_findings.save(run.state, client.scope, summary.run_id,
                                   previous_findings.by_rule(result.findings, result.rules_run))
            health.record(run.state, client.scope, summary.run_id, as_of, findings, profile.history_days)
            if tags is not None:
                summary.applied.update(health_tags.apply(client, run.state, summary.run_id, tags))
        summary.write_errors = writer.errors + (tags.errors if tags is not None else [])
        summary.warnings = writer.warnings
        if summary.rule_errors or summary.write_errors or any("cap" in w for w in writer.warnings):
            summary.status, summary.exit_code = "partial", EXIT_PARTIAL
    return summary


def _max_creations(profile: Profile) -> int:
    """The profile's cap (0: create nothing); validated at start-up, never negative here."""
    value = profile.max_creations
    value = 500 if value is None else int(value)
    if value < 0:
        raise E.ConfigError(f"max_creations must be 0 or more, not {value}")
    return value


def undo(profile: Profile, run_id: str, progress=None, force: bool = False) -> RunSummary:
    """Remove what one run created (:func:`undo_run`; what people worked on stays unless
    ``force``), recorded in the run history like a sync."""
    state = open_state(profile)
    try:
        target = RunHistory(state).get(run_id)
    finally:
        state.close()
    if target is None:
        raise E.UsageError(f"no run {run_id!r} in {profile.state_path} (`clientcare runs` lists them)")
    summary = RunSummary(new_run_id(), "undo", profile.name, undone=target["run_id"])
    with run_session(profile, summary, f"undo {target['run_id']}") as run:
        run.client = open_client(profile, run.state, progress)
        report = undo_run(run.client, target["run_id"], run.state, force=force)
        summary.applied = {k: report[k] for k in ("activities_removed", "notes_removed")}
        if report["kept"]:
            summary.applied["activities_kept"] = len(report["kept"])
            summary.kept = report["kept"]
        tags_removed = health_tags.undo(run.client, run.state, target["run_id"])
        if tags_removed:
            summary.applied["tags_removed"] = tags_removed
        summary.write_errors = [{"res_model": i["model"], "res_id": i["id"], "error": i["why"]}
                                for i in report["not_removed"]]
        if summary.write_errors:
            summary.status, summary.exit_code = "partial", EXIT_PARTIAL
    return summary
