"""unmet_deadlines: open tasks past their deadline and projects past their end date, per project.

One finding per project and owner (key ``unmet_deadlines:project.project:<id>``, with a
``user=<id>`` part under ``group_by = "assignee"``) lists its late tasks (and the project itself
when its end date passed while it is not done), so the project manager sees one activity, not
one per task; with ``group_by = "assignee"`` each assignee gets the tasks they hold instead.
Tasks due within ``at_risk_days`` that nobody has touched for ``untouched_days`` are at risk:
listed in the project's activity when it has late work, else in an ``at_risk`` finding of their
own.  Work late by ``escalate_after_days`` or more escalates that same activity: higher severity,
owned by a configured manager (or the default user); assignees' escalated findings of one project
fold into one for that person.  The keys of the separate late/escalated/at-risk findings earlier
versions made are taken over (``replaces``).  Open is :func:`facts.open_task_mask`: ``state`` from Odoo 17
and not in a folded stage, the stage's closed flag on 16.  Every task Odoo lists
as late is in a finding or in a ``NotRaised`` saying why not (folded stage,
project done or archived, private task, grace days).  Project findings are
filed under the project's client.  Summaries carry dates, never day counts.
Deadlines are calendar days (a 17+ deadline datetime counts on its UTC date).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from clientcare.rules import FindingTable, ReportChart, Script, const, frames as F
from clientcare.rules.config import RuleConfig
from clientcare.rules.context import RuleContext
from clientcare.rules.finding import NotRaised, Resolved, RuleOutput
from clientcare.rules.i18n import N_, EvidenceView, _, listing, ngettext, pgettext

name = "unmet_deadlines"
version = "1.0"
description = "Open tasks past deadline and projects past end date, per project, with at-risk and escalation"
needs = {"projects": [], "tasks": []}
#: Every late task Odoo lists is in a finding's data["task_ids"] or a NotRaised.
accounts_for = {"project.task": "task_ids"}

COLUMNS = ["kind", "id", "name", "deadline", "days_late", "assignees", "stage"]
RISK_COLUMNS = ["kind", "id", "name", "deadline", "days_left", "last_change", "assignees", "stage"]


@dataclass(frozen=True)
class Config(RuleConfig):
    #: A task or project is late when more than this many days past its deadline / end date.
    grace_days: int = 0
    include_projects: bool = True
    #: Tasks without a project: one finding per task (off by default: they are personal to-dos).
    include_private_tasks: bool = False
    group_by: Literal["project", "assignee"] = "project"
    #: At risk: deadline within this many days (0 disables) and no change for ``untouched_days``.
    at_risk_days: int = 3
    untouched_days: int = 7
    #: Escalate work this many days late or more to escalate_to_user_id; 0 turns escalation off.
    escalate_after_days: int | None = 14
    #: Who gets escalated work (default: the routing's default user).
    escalate_to_user_id: int | None = None

    def __post_init__(self):
        if self.escalate_after_days == 0:  # the one documented way to turn escalation off
            object.__setattr__(self, "escalate_after_days", None)

    def check(self) -> list[str]:
        out = [f"{k} must be >= 0" for k in ("grace_days", "at_risk_days", "untouched_days")
               if getattr(self, k) < 0]
        if self.escalate_after_days is not None and self.escalate_after_days <= self.grace_days:
            out.append("escalate_after_days must be greater than grace_days")
        return out


def evaluate(ctx: RuleContext[Config]) -> RuleOutput:
    snapshot, as_of, config = ctx.snapshot, ctx.as_of, ctx.config
    today = F.day(as_of)
    projects = F.projects(snapshot)
    active_projects = projects.loc[projects["active"] & ~projects["status_done"], "id"]
    user_names = F.names(snapshot.users, snapshot.users["id"]).set_axis(snapshot.users["id"]).to_dict()

    late = F.late_tasks(snapshot, as_of)
    why = _why_not_raised(late, projects, config)
    rows = _task_rows(late.loc[why.isna()], user_names, snapshot)
    skipped = late.loc[why.notna()]
    not_raised = [NotRaised(name, "project.task", int(tid), F.opt_id(cid), reason) for tid, cid, reason in zip(
        skipped["id"].tolist(), skipped["client_id"].tolist(), why.loc[why.notna()].tolist())]
    if config.include_projects:
        late_projects = projects.loc[projects["active"] & ~projects["is_done"] & projects["end_day"].notna()]
        late_projects = late_projects.assign(days_late=F.days_since(today, late_projects["end_day"]).astype("int64"))
        rows = pd.concat([rows, _project_rows(late_projects.loc[late_projects["days_late"] > config.grace_days])],
                         ignore_index=True)
    risk = rows.iloc[:0]
    if config.at_risk_days > 0:
        t = F.tasks(snapshot)
        watched = t["project_id"].isin(active_projects) | (t["project_id"].isna() & config.include_private_tasks)
        t = t.loc[t["is_open"] & t["deadline_date"].notna() & watched]
        left = F.days_since(t["deadline_date"], today)
        soon = t.loc[(left >= 0) & (left <= config.at_risk_days)
                     & (t["write_day"] <= today - pd.Timedelta(days=config.untouched_days))]
        soon = soon.assign(days_late=-F.days_since(soon["deadline_date"], today).astype("int64"))
        risk = _task_rows(soon, user_names, snapshot)
    findings = _findings(rows, risk, config)
    return RuleOutput(findings, not_raised, resolved=_resolved(ctx, findings))


def late_tasks_by_project(snapshot, as_of: date, client_ids: set[int] | None = None,
                          not_raised: list = ()) -> list[tuple[str, int]]:
    """Open late tasks per project, less those not raised, most first (a project's tasks count
    for the project's client, a private task for its own client, as in the findings)."""
    if "tasks" not in snapshot.tables:  # no project module
        return []
    late = F.late_tasks(snapshot, as_of)
    left_out = [n.res_id for n in not_raised if n.model == "project.task"]
    late = late.loc[late["is_open"] & ~late["id"].isin(left_out)]
    if client_ids is not None:
        late = late.loc[F.finding_clients(snapshot, late).isin(client_ids).to_numpy(dtype=bool)]
    counts = late.groupby(late["project_id_name"].astype(object).fillna(NO_PROJECT)).size()
    counts = counts.sort_values(ascending=False)
    return [(k if isinstance(k, str) else str(k), int(v)) for k, v in counts.items()]


# TRANSLATORS: the bar of the tasks without a project in the chart "Late tasks by project"
NO_PROJECT = N_("(no project)")
charts = (ReportChart(N_("Late tasks by project"), bars=late_tasks_by_project, tone="alert",
                      noun=pgettext("what a chart's bars count", "rows")),)


def _why_not_raised(late: pd.DataFrame, projects: pd.DataFrame, cfg: Config) -> pd.Series:
    """Per late task (as Odoo lists them), why it gets no finding (NA: it gets one)."""
    by_id = projects.drop_duplicates("id").set_index("id")
    private = late["project_id"].isna()
    archived = ~F.lookup(by_id["active"], late["project_id"]).fillna(True).astype(bool)
    done = F.lookup(by_id["status_done"], late["project_id"]).fillna(False).astype(bool)
    reasons = [late["is_folded"], private & (not cfg.include_private_tasks), archived & ~private,
               done & ~private, late["days_late"] <= cfg.grace_days]
    which = pd.Series(np.nan, index=late.index)
    for i, mask in reversed(list(enumerate(reasons))):  # the first reason that applies wins
        which = which.mask(mask.to_numpy(dtype=bool), i)
    out = pd.Series(None, index=late.index, dtype=object)
    hit = which.notna().to_numpy()
    said: dict = {}  # one message per distinct reason: each reason reads one of the values
    keys = [(i, (stage, None, project, project, deadline)[i]) for i, project, stage, deadline in zip(
        which.loc[hit].astype("int64").tolist(), late.loc[hit, "project_id_name"].tolist(),
        late.loc[hit, "stage_id_name"].tolist(), late.loc[hit, "deadline_date"].tolist())]
    out.loc[hit] = [said[k] if k in said else said.setdefault(k, _not_raised_reason(k[0], k[1], k[1], k[1], cfg))
                    for k in keys]
    return out


def _not_raised_reason(which: int, project, stage, deadline, cfg: Config) -> str:
    """Why a late task gets no finding, the ``which``-th reason of :func:`_why_not_raised`."""
    project = project if isinstance(project, str) else UNKNOWN
    if which == 0:
        return _("in the folded stage {stage}: shown as done in Odoo",
                 stage=stage if isinstance(stage, str) else UNKNOWN)
    if which == 1:
        return N_("private task (no project): private tasks are not followed")
    if which == 2:
        return _("project {project} is archived", project=project)
    if which == 3:
        return _("project {project} is done (its status)", project=project)
    return ngettext("deadline {date} is within the grace period ({n} day)",
                    "deadline {date} is within the grace period ({n} days)", cfg.grace_days, date=deadline.date())


#: A name Odoo does not give (a stage, a project).
UNKNOWN = N_("?")


def _task_rows(t: pd.DataFrame, user_names: dict, snapshot) -> pd.DataFrame:
    """Evidence rows of tasks; the subject is the project (filed under the project's client),
    or the task itself when it has no project (filed under the task's client)."""
    private = t["project_id"].isna()
    names = F.task_names(snapshot, t["id"]).to_numpy(dtype=object)
    return pd.DataFrame({
        "kind": "task", "id": t["id"].to_numpy(), "name": names,
        "deadline": t["deadline_date"].to_numpy(), "days_late": t["days_late"].to_numpy(),
        "assignees": [", ".join(user_names.get(u) or f"user {u}" for u in us) for us in t["user_ids"]],
        "user_ids": t["user_ids"].to_numpy(), "stage": t["stage_id_name"].to_numpy(),
        "last_change": t["write_day"].to_numpy(),
        "subject_model": np.where(private, "project.task", "project.project"),
        "subject_id": np.where(private, t["id"].to_numpy(), t["project_id"].fillna(0).to_numpy(dtype="int64")),
        "subject_name": np.where(private, names, t["project_id_name"].to_numpy(dtype=object)),
        "client_id": F.finding_clients(snapshot, t).to_numpy(),
        "project_id": t["project_id"].to_numpy(),
    })


def _project_rows(p: pd.DataFrame) -> pd.DataFrame:
    manager = p["user_id_name"].astype(object).where(p["user_id_name"].notna(), "")
    status = (p["last_update_status"] if "last_update_status" in p else pd.Series(pd.NA, index=p.index))
    return pd.DataFrame({
        "kind": "project", "id": p["id"].to_numpy(), "name": p["name"].to_numpy(),
        "deadline": p["end_day"].to_numpy(), "days_late": p["days_late"].to_numpy(),
        "assignees": manager.to_numpy(), "user_ids": [[] for _ in range(len(p))],
        "stage": status.astype(object).where(status.notna(), None).to_numpy(),
        "last_change": F.to_day(p["write_date"]).to_numpy(),
        "subject_model": "project.project", "subject_id": p["id"].to_numpy(),
        "subject_name": p["name"].to_numpy(), "client_id": p["client_id"].to_numpy(),
        "project_id": p["id"].to_numpy(),
    })


SEVERITY = {"late": "medium", "escalated": "high", "at_risk": "low"}
_LATE = (N_("Tell {client} about '{subject}' before they ask: what is late, why, and the new date."),
         N_("Agree the new date with the people doing the work first; promise only a date you can keep."),
         N_("Move the deadlines in Odoo to the agreed dates."))
scripts = {
    "late": Script(_LATE),
    "escalated": Script((N_("Review '{subject}' with the project manager: what blocks it, what it needs."),) + _LATE),
    "at_risk": Script((N_("Ask the assignees whether the tasks of '{subject}' can still make their deadline "
                          "({first_deadline})."),
                       N_("If not, tell {client} now and agree a new date.")), {"first_deadline": "data.first_deadline"}),
}

#: How the evidence reads (headings and the words of ``kind``: the shared ones of
#: :mod:`clientcare.rules.evidence_labels`): the listed tasks (or projects) link to their record;
#: a finding that lists both names them without a link (a view links a column to one model).
VIEW = EvidenceView(hidden=("id",))
VIEWS = {"task": EvidenceView(links={"name": ("project.task", "id")},
                              hidden=("id",)),
         "project": EvidenceView(links={"name": ("project.project", "id")}, hidden=("id",))}
RESOLVED_AT_RISK = N_("each listed task is worked on, closed, or its deadline moves further out")
RESOLVED_LATE = N_("every listed task is closed or its deadline moves past today; the project is "
                   "done or its end date moves")


def _owned(rows: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """``rows`` with the ``owner`` part of their finding: with ``group_by = "assignee"`` each
    assignee gets the tasks they hold (a shared task appears in each one's finding); unassigned
    tasks and the project's own end date stay with the project (owner NA)."""
    if cfg.group_by == "assignee":
        rows = rows.assign(owner=rows["user_ids"]).explode("owner")
    else:
        rows = rows.assign(owner=np.nan)
    return rows.assign(owner=pd.to_numeric(rows["owner"]).astype("Int64"))


def _findings(late: pd.DataFrame, risk: pd.DataFrame, cfg: Config) -> FindingTable:
    """One finding per subject (project, or private task) and owner: its late work, escalated
    (higher severity, the escalation owner) when any of it is ``escalate_after_days`` late, and
    its tasks at risk; a subject with only tasks at risk gets an ``at_risk`` finding."""
    late, risk = _owned(late, cfg).assign(at_risk=False), _owned(risk, cfg).assign(at_risk=True)
    group = lambda r: list(zip(r["subject_model"], r["subject_id"].tolist(),  # noqa: E731
                               r["owner"].fillna(-1).tolist()))
    with_late = set(group(late))
    joins = np.fromiter((k in with_late for k in group(risk)), dtype=bool, count=len(risk))
    merged = pd.concat([late, risk.loc[joins]], ignore_index=True) if joins.any() else late
    return FindingTable.concat([_build(merged, "late", cfg), _build(risk.loc[~joins], "at_risk", cfg)])


#: The evidence of a late finding that also lists tasks at risk (their days left, last change).
WIDE_COLUMNS = ["kind", "id", "name", "deadline", "days_late", "days_left", "last_change", "assignees", "stage"]


def _build(rows: pd.DataFrame, level: str, cfg: Config) -> FindingTable:
    if not len(rows):
        return FindingTable.empty()
    is_task = rows["kind"] == "task"
    risky = rows["at_risk"].to_numpy(dtype=bool)
    left = -rows["days_late"].where(risky)
    rows = rows.assign(is_task=(is_task & ~risky).astype("int64"), is_risk=risky.astype("int64"),
                       is_project=(~is_task).astype("int64"), late_deadline=rows["deadline"].where(~risky),
                       task_deadline=rows["deadline"].where(is_task & ~risky),
                       end_date=rows["deadline"].where(~is_task),
                       days_left=left.astype("Int64"), days_late=rows["days_late"].where(~risky).astype("Int64"),
                       late_days=rows["days_late"].where(~risky, -1))
    if level == "late":
        rows["kind"] = np.where(risky, "task at risk", rows["kind"].to_numpy(dtype=object))
    rows = rows.sort_values(["subject_model", "subject_id", "owner", "is_risk", "is_task", "deadline", "id"],
                            kind="stable", na_position="first")
    rows["group"] = rows.groupby(["subject_model", "subject_id", "owner"], sort=False, dropna=False).ngroup()
    groups = rows.groupby("group").agg(
        subject_model=("subject_model", "first"), subject_id=("subject_id", "first"),
        subject_name=("subject_name", "first"), client_id=("client_id", "first"),
        project_id=("project_id", "first"), owner=("owner", "first"), n_tasks=("is_task", "sum"),
        n_risk=("is_risk", "sum"), has_project=("is_project", "max"), first_late=("late_deadline", "min"),
        first_deadline=("deadline", "min"), oldest_task=("task_deadline", "min"), end_date=("end_date", "min"),
        most_late=("late_days", "max"))
    task_rows = rows.loc[rows["kind"] != "project"]
    task_users = F.ranked_users(task_rows, "group", "user_ids")
    task_ids = F.grouped_lists(task_rows, "group", "id")
    if level == "at_risk":
        narrow = wide = F.grouped_records(rows, "group", RISK_COLUMNS)
    else:
        narrow = F.grouped_records(rows, "group", COLUMNS)
        wide = F.grouped_records(rows, "group", WIDE_COLUMNS) if risky.any() else narrow
    first_of = groups["first_late"] if level == "late" else groups["first_deadline"]
    n = len(groups)
    models = groups["subject_model"].to_numpy(dtype=object)
    sids = groups["subject_id"].to_numpy(dtype="int64")
    snames = groups["subject_name"].to_numpy(dtype=object)
    unnamed = pd.isna(snames)
    if unnamed.any():
        snames[unnamed] = [f"{m} {i}" for m, i in zip(models[unnamed], sids[unnamed])]
    owners = groups["owner"].to_numpy(dtype="float64", na_value=np.nan)
    has_owner = ~np.isnan(owners)
    parts = np.full(n, None, dtype=object)
    parts[has_owner] = [f"user={int(o)}" for o in owners[has_owner]]
    n_tasks, n_risk = groups["n_tasks"].to_numpy(dtype="int64"), groups["n_risk"].to_numpy(dtype="int64")
    has_project = groups["has_project"].to_numpy(dtype="int64") > 0
    firsts = first_of.dt.date.tolist()
    evidence = np.empty(n, dtype=object)
    if level == "at_risk":
        evidence[:] = [narrow[g] for g in groups.index.tolist()]
        kinds = np.full(n, level, dtype=object)
        escalated = np.zeros(n, dtype=bool)
    else:
        evidence[:] = [(wide if r else narrow)[g] for g, r in zip(groups.index.tolist(), n_risk.tolist())]
        escalated = (np.zeros(n, dtype=bool) if cfg.escalate_after_days is None
                     else groups["most_late"].to_numpy() >= cfg.escalate_after_days)
        kinds = np.where(escalated, "escalated", "late").astype(object)
    pids = groups["project_id"].to_numpy(dtype="float64", na_value=np.nan)
    routes, datas = np.empty(n, dtype=object), np.empty(n, dtype=object)
    summaries, dues = np.empty(n, dtype=object), np.empty(n, dtype=object)
    replaces, folds = np.empty(n, dtype=object), np.full(n, None, dtype=object)
    words = _Words(cfg)
    for i, (g, model, sid, sname, owner, first, oldest, end) in enumerate(zip(
            groups.index.tolist(), models.tolist(), sids.tolist(), snames.tolist(), owners.tolist(), firsts,
            groups["oldest_task"].dt.date.tolist(), groups["end_date"].dt.date.tolist())):
        shown = F.short(sname)
        pid = pids[i]
        route: dict = {"project_id": None if pid != pid else int(pid), "task_user_ids": task_users.get(g, [])}
        part = parts[i]
        if part:
            route.update(user_id=int(owner), why="task assignee (group_by = assignee)")
        nt, nr = int(n_tasks[i]), int(n_risk[i])
        if level == "at_risk":
            summary = words.at_risk(shown, nr)
            due = first
        else:
            base = f"{name}:{model}:{sid}"
            old = [f"{base}:late", f"{base}:at_risk"]
            if escalated[i]:
                old.append(f"{base}:escalated")  # escalation was per subject, never per assignee
                if cfg.escalate_to_user_id is not None:
                    route.update(user_id=cfg.escalate_to_user_id, why="unmet_deadlines.escalate_to_user_id")
                else:
                    route.pop("user_id", None)
                    route["order"] = ("default",)
                if part:  # the assignees' escalated findings of one subject reach one person: one activity
                    folds[i] = f"escalated {model}:{sid}"
            replaces[i] = tuple(k + (f":{part}" if part and not k.endswith(":escalated") else "") for k in old)
            # dates, never day counts: a summary that changed daily would rewrite the activity daily
            what = words.what(nt, oldest, bool(has_project[i]), end, nr)
            summary = (_("escalate {subject}: {what}", subject=shown, what=what) if escalated[i]
                       else _("{subject}: {what}", subject=shown, what=what))
            due = first + timedelta(days=cfg.escalate_after_days if escalated[i] else cfg.grace_days + 1)
        routes[i], summaries[i], dues[i] = route, summary, due
        datas[i] = {"kind": kinds[i], "tasks": nt if level == "late" else nr, "project_late": bool(has_project[i]),
                    "task_ids": task_ids.get(g, []), "first_deadline": first.isoformat()}
    n_project = rows.groupby("group")["is_project"].sum().to_numpy()
    n_rows = rows.groupby("group").size().to_numpy()
    views = np.where(n_project == n_rows, VIEWS["project"], np.where(n_project == 0, VIEWS["task"], VIEW))
    table = FindingTable(
        n, rule=const(name), subject_model=models, subject_id=sids, subject_name=snames,
        client_id=_ids(groups["client_id"]), severity=np.array([SEVERITY[k] for k in kinds], dtype=object),
        level=const("at_risk" if level == "at_risk" else None), part=parts, summary=summaries,
        evidence=evidence, evidence_columns=const(RISK_COLUMNS) if level == "at_risk" else
        np.where(n_risk > 0, _boxed(WIDE_COLUMNS, n), _boxed(COLUMNS, n)),
        action_kind=const("activity"), action_summary=summaries, activity_type=const("todo"), due_date=dues,
        resolved_when=const(RESOLVED_AT_RISK if level == "at_risk" else RESOLVED_LATE), data=datas, route=routes,
        daily=const(("days_left",)) if level == "at_risk" else
        np.where(n_risk > 0, _boxed(("days_late", "days_left"), n), _boxed(("days_late",), n)),
        replaces=const(()) if level == "at_risk" else replaces, fold=folds, view=views)
    return table


def _boxed(value, n: int) -> np.ndarray:
    """``value`` (a list or tuple) in each of ``n`` cells of an object array."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _ids(values: pd.Series) -> np.ndarray:
    """Ids as an object array of int or None (NA)."""
    arr = values.to_numpy(dtype="float64", na_value=np.nan)
    out = np.full(len(arr), None, dtype=object)
    known = ~np.isnan(arr)
    out[known] = arr[known].astype("int64").tolist()
    return out


class _Words:
    """The parts of summaries, made once per distinct value (many findings share a date or a
    count): the same messages, fewer of them made."""

    def __init__(self, cfg: Config):
        self.cfg, self.memo = cfg, {}

    def _once(self, key, make):
        out = self.memo.get(key)
        if out is None:
            out = self.memo[key] = make()
        return out

    def at_risk(self, subject, n: int):
        cfg = self.cfg
        return ngettext("{subject}: {n} task due within {days} days, untouched for {untouched}+ days",
                        "{subject}: {n} tasks due within {days} days, untouched for {untouched}+ days",
                        n, subject=subject, days=cfg.at_risk_days, untouched=cfg.untouched_days)

    def what(self, n_tasks: int, oldest, has_project: bool, end, n_risk: int):
        return self._once(("what", n_tasks, oldest if n_tasks else None, has_project, end if has_project else None,
                           n_risk), lambda: self._what(n_tasks, oldest, has_project, end, n_risk))

    @staticmethod
    def _what(n_tasks, oldest, has_project, end, n_risk):
        what = []
        if n_tasks:
            what.append(ngettext("{n} task past deadline since {date}",
                                 "{n} tasks past deadline, the oldest since {date}", n_tasks, date=oldest))
        if has_project:
            what.append(_("end date {date} passed", date=end))
        if n_risk:
            what.append(ngettext("{n} more at risk", "{n} more at risk", n_risk))
        return what[0] if len(what) == 1 else (
            # TRANSLATORS: two or three parts of one summary: "2 tasks past deadline…; end date … passed"
            _("{first}; {second}", first=what[0], second=what[1]) if len(what) == 2
            else _("{first}; {second}; {third}", first=what[0], second=what[1], third=what[2]))


# -- how a finding went away ---------------------------------------------------------------------
def _resolved(ctx: RuleContext[Config], findings: FindingTable) -> list[Resolved]:
    """How each activity of the last run that this run no longer raises went away, from what
    changed in the tasks and projects it listed (done, cancelled, deadline moved, reassigned...)."""
    taken = {k for keys in findings.column("replaces") for k in keys}  # merged by the write-back, not closed
    gone = [p for p in F.gone_activity_findings(ctx.previous, findings.keys()) if p["key"] not in taken]
    if not gone:
        return []
    s = ctx.snapshot
    tasks = F.tasks(s).drop_duplicates("id").set_index("id")
    projects = F.projects(s).drop_duplicates("id").set_index("id")
    users = F.names(s.users, s.users["id"]).set_axis(s.users["id"]).to_dict()
    return [Resolved(name, prev["key"], _how(prev, tasks, projects, users, ctx.as_of)) for prev in gone]


def _how(prev: dict, tasks: pd.DataFrame, projects: pd.DataFrame, users: dict, as_of: date) -> str:
    part = prev.get("part") or ""
    owner = int(part.split("=", 1)[1]) if part.startswith("user=") else None
    reasons = []
    if prev["subject_model"] == "project.project":
        reasons.append(_project_closed(prev["subject_id"], prev["subject_name"], projects))
    for row in prev.get("evidence") or []:
        if row.get("kind") in ("task", "task at risk"):
            reasons.append(_task_how(row, prev, tasks, owner, users, as_of))
        elif row.get("kind") == "project":
            reasons.append(_project_how(row, projects))
    return F.joined(reasons) or _("no longer raised on {date}, its tasks unchanged "
                                  "(a setting or the grouping changed)", date=as_of)


def _day(value) -> pd.Timestamp:
    """A day as evidence holds it ("2026-11-20", or with a time), NaT when empty."""
    return pd.Timestamp(str(value)[:10]) if value else pd.NaT


def _task_how(row: dict, prev: dict, tasks: pd.DataFrame, owner: int | None, users: dict,
              as_of: date) -> str | None:
    tid, task = row["id"], F.short(row.get("name") or row["id"])
    if tid not in tasks.index:
        return _("task '{task}' deleted", task=task)
    t = tasks.loc[tid]
    if not t["active"]:
        return _("task '{task}' archived", task=task)
    if t["is_canceled"]:
        return _("task '{task}' cancelled", task=task)
    if t["is_done"]:
        return (_("task '{task}' done on {date}", task=task, date=t["closed_on"].date()) if pd.notna(t["closed_on"])
                else _("task '{task}' done", task=task))
    if t["is_folded"]:
        return _("task '{task}' moved to the folded stage {stage} (done in Odoo)", task=task, stage=t["stage_id_name"])
    old, new = _day(row.get("deadline")), t["deadline_date"]
    if pd.isna(new):
        return _("deadline of '{task}' removed", task=task)
    if pd.notna(old) and new > old:
        return _("deadline of '{task}' moved to {date}", task=task, date=new.date())
    if prev.get("level") == "at_risk" or row.get("kind") == "task at risk":
        if new < F.day(as_of):
            return _("task '{task}' missed its deadline {date}: now late", task=task, date=new.date())
        if pd.notna(_day(row.get("last_change"))) and t["write_day"] > _day(row.get("last_change")):
            return _("task '{task}' worked on {date}", task=task, date=t["write_day"].date())
    if owner is not None and owner not in (t["user_ids"] or []):
        now = [users.get(u) or _("user {id}", id=int(u)) for u in t["user_ids"] or []]
        return (_("task '{task}' reassigned to {people}", task=task, people=listing(now))
                if now else _("task '{task}' unassigned", task=task))
    if prev["subject_model"] == "project.project" and F.opt_id(t["project_id"]) != prev["subject_id"]:
        return (_("task '{task}' moved to {project}", task=task, project=t["project_id_name"])
                if pd.notna(t["project_id_name"]) else _("task '{task}' moved to no project", task=task))
    return None


def _project_closed(pid: int, pname: str, projects: pd.DataFrame) -> str | None:
    project = F.short(pname)
    if pid not in projects.index:
        return _("project '{project}' deleted", project=project)
    p = projects.loc[pid]
    if not p["active"]:
        return _("project '{project}' archived", project=project)
    if p["status_done"]:
        return _("project '{project}' marked done", project=project)
    return None


def _project_how(row: dict, projects: pd.DataFrame) -> str | None:
    pid, project = row["id"], F.short(row.get("name") or row["id"])
    closed = _project_closed(pid, row.get("name") or str(pid), projects)
    if closed or pid not in projects.index:
        return closed
    p = projects.loc[pid]
    if p["is_done"]:
        return _("project '{project}' done (no open task)", project=project)
    old, new = _day(row.get("deadline")), p["end_day"]
    if pd.isna(new):
        return _("end date of project '{project}' removed", project=project)
    if pd.notna(old) and new > old:
        return _("end date of project '{project}' moved to {date}", project=project, date=new.date())
    return None
