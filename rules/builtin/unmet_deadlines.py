"""unmet_deadlines: open tasks past their deadline and projects past their end date, per project.

One finding per project lists its late tasks (and the project itself when
its end date passed while it is not done), so the project manager sees one
activity, not one per task; with ``group_by = "assignee"`` each assignee gets
the tasks they hold instead.  Tasks due within ``at_risk_days`` that nobody
has touched for ``untouched_days`` are reported as at risk.  Work late by
``escalate_after_days`` or more is escalated to a configured manager (or the
default user).  Open and closed follow the server: ``state`` from Odoo 17,
the stage's closed flag on 16.  Deadlines are calendar days (a 17+ deadline
datetime counts on its UTC date).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from clientcare.rules import frames as F
from clientcare.rules.config import RuleConfig
from clientcare.rules.finding import Action, Finding

name = "unmet_deadlines"
version = "1.0"
description = "Open tasks past deadline and projects past end date, per project, with at-risk and escalation"
needs = {"projects": [], "tasks": []}

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
    #: Escalate work this many days late or more (None disables) to this user (else the default user).
    escalate_after_days: int | None = 14
    escalate_to_user_id: int | None = None

    def check(self) -> list[str]:
        out = [f"{k} must be >= 0" for k in ("grace_days", "at_risk_days", "untouched_days")
               if getattr(self, k) < 0]
        if self.escalate_after_days is not None and self.escalate_after_days <= self.grace_days:
            out.append("escalate_after_days must be greater than grace_days")
        return out


def evaluate(snapshot, as_of: date, config: Config) -> list[Finding]:
    today = F.day(as_of)
    tasks = F.tasks(snapshot)
    tasks = tasks.loc[tasks["is_open"] & tasks["deadline_date"].notna()]
    if not config.include_private_tasks:
        tasks = tasks.loc[tasks["project_id"].notna()]
    projects = F.projects(snapshot)
    tasks = tasks.loc[tasks["project_id"].isna() | tasks["project_id"].isin(projects.loc[projects["active"], "id"])]
    tasks = tasks.assign(days_late=F.days_since(today, tasks["deadline_date"]).astype("int64"))
    user_names = F.names(snapshot.users, snapshot.users["id"]).set_axis(snapshot.users["id"]).to_dict()

    rows = _task_rows(tasks.loc[tasks["days_late"] > config.grace_days], user_names, snapshot)
    if config.include_projects:
        late_projects = projects.loc[projects["active"] & ~projects["is_done"] & projects["end_day"].notna()]
        late_projects = late_projects.assign(days_late=F.days_since(today, late_projects["end_day"]).astype("int64"))
        rows = pd.concat([rows, _project_rows(late_projects.loc[late_projects["days_late"] > config.grace_days])],
                         ignore_index=True)
    findings = _findings(rows, "late", config, COLUMNS)
    if config.escalate_after_days is not None:
        findings += _findings(rows.loc[rows["days_late"] >= config.escalate_after_days], "escalated",
                              config, COLUMNS)
    if config.at_risk_days > 0:
        soon = tasks.loc[(tasks["days_late"] <= 0) & (tasks["days_late"] >= -config.at_risk_days)
                         & (tasks["write_day"] <= today - pd.Timedelta(days=config.untouched_days))]
        risk = _task_rows(soon, user_names, snapshot).assign(days_left=lambda r: -r["days_late"])
        findings += _findings(risk, "at_risk", config, RISK_COLUMNS)
    return findings


def _task_rows(t: pd.DataFrame, user_names: dict, snapshot) -> pd.DataFrame:
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
        "client_id": t["client_id"].to_numpy(), "project_id": t["project_id"].to_numpy(),
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


def _findings(rows: pd.DataFrame, level: str, cfg: Config, columns: list[str]) -> list[Finding]:
    if not len(rows):
        return []
    if cfg.group_by == "assignee" and level != "escalated":
        # each assignee gets their tasks (a shared task appears in each one's finding);
        # unassigned tasks and the project's own end date stay with the project
        rows = rows.assign(owner=rows["user_ids"]).explode("owner")
    else:
        rows = rows.assign(owner=np.nan)
    rows = rows.assign(owner=pd.to_numeric(rows["owner"]).astype("Int64"),
                       is_task=(rows["kind"] == "task").astype("int64"),
                       is_project=(rows["kind"] == "project").astype("int64"))
    rows = rows.sort_values(["subject_model", "subject_id", "owner", "is_task", "deadline", "id"],
                            kind="stable", na_position="first")
    rows["group"] = rows.groupby(["subject_model", "subject_id", "owner"], sort=False, dropna=False).ngroup()
    groups = rows.groupby("group").agg(
        subject_model=("subject_model", "first"), subject_id=("subject_id", "first"),
        subject_name=("subject_name", "first"), client_id=("client_id", "first"),
        project_id=("project_id", "first"), owner=("owner", "first"), n_tasks=("is_task", "sum"),
        has_project=("is_project", "max"), first_deadline=("deadline", "min"), worst=("days_late", "max"))
    task_users = F.ranked_users(rows.loc[rows["kind"] == "task"], "group", "user_ids")
    evidence = F.grouped_records(rows, "group", columns)
    severity = SEVERITY[level]
    out = []
    for g, model, sid, sname, cid, pid, owner, n_tasks, has_project, first, worst in zip(
            groups.index.tolist(), groups["subject_model"].tolist(), groups["subject_id"].tolist(),
            groups["subject_name"].tolist(), groups["client_id"].tolist(), groups["project_id"].tolist(),
            groups["owner"].tolist(), groups["n_tasks"].tolist(), groups["has_project"].tolist(),
            groups["first_deadline"].dt.date.tolist(), groups["worst"].tolist()):
        sname = sname if isinstance(sname, str) else f"{model} {sid}"
        route: dict = {"project_id": F.opt_id(pid),
                       "task_user_ids": task_users.get(g, [])}
        part = None
        if F.opt_id(owner) is not None:
            part = f"user={int(owner)}"
            route.update(user_id=int(owner), why="task assignee (group_by = assignee)")
        if level == "escalated":
            if cfg.escalate_to_user_id is not None:
                route.update(user_id=cfg.escalate_to_user_id, why="unmet_deadlines.escalate_to_user_id")
            else:
                route["order"] = ("default",)
        tasks_text = f"{n_tasks} task{'s' if n_tasks != 1 else ''}"
        if level == "at_risk":
            summary = (f"{sname}: {tasks_text} due within {cfg.at_risk_days} days, "
                       f"untouched for {cfg.untouched_days}+ days")
            due = first
            resolved = "each listed task is worked on, closed, or its deadline moves further out"
        else:
            what = ([f"{tasks_text} past deadline"] if n_tasks else []) + (["end date passed"] if has_project else [])
            prefix = "escalate " if level == "escalated" else ""
            summary = f"{prefix}{sname}: {' and '.join(what)} (up to {int(worst)} days late)"
            offset = cfg.escalate_after_days if level == "escalated" else cfg.grace_days + 1
            due = first + timedelta(days=offset)
            resolved = ("every listed task is closed or its deadline moves past today; the project is "
                        "done or its end date moves")
        out.append(Finding(
            rule=name, subject_model=model, subject_id=int(sid), subject_name=sname,
            client_id=F.opt_id(cid), severity=severity, level=level,
            part=part, summary=summary, evidence=evidence[g], evidence_columns=columns,
            action=Action("activity", summary, "todo", due), resolved_when=resolved,
            data={"tasks": n_tasks, "project_late": has_project,
                  "max_days_late": None if level == "at_risk" else int(worst)},
            route=route))
    return out
