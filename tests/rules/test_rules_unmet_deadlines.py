"""unmet_deadlines on hand-made snapshots: open/closed across versions, boundaries, grouping."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.rules.testing import builtin_rules, evaluate

from clientcare.connector.errors import ConfigError
from clientcare.rules import run_rules
from clientcare.rules.builtin import unmet_deadlines as ud

from clientcare.rules.testing import ADMIN, AS_OF, INACTIVE, MANAGER, SALES, SnapshotBuilder


def base(version=17, **project):
    b = SnapshotBuilder(version).client(10, "Azure Interior", SALES)
    return b.project(1, "Office Design", 10, MANAGER, **project)


def run(b: SnapshotBuilder, **config):
    return {f.key: f for f in evaluate(ud, b.build(), AS_OF, ud.Config(**config)).findings}


LATE = "unmet_deadlines:project.project:1"  # one activity per project and owner (issue 21)
OLD = (f"{LATE}:late", f"{LATE}:at_risk")  # the keys before, taken over


@pytest.mark.parametrize("version", [16, 17, 18, 19])
@pytest.mark.parametrize("state, open_", [
    ("01_in_progress", True), ("02_changes_requested", True), ("03_approved", True), ("04_waiting_normal", True),
    ("1_done", False), ("1_canceled", False)])
def test_closed_states_of_16_and_17_plus(version, state, open_):
    if version == 16 and state in ("02_changes_requested", "03_approved", "04_waiting_normal"):
        pytest.skip("Odoo 16 has no task state; open vs closed comes from the stage")
    found = run(base(version).task(1, "Chairs", 1, users=[SALES], deadline=-5, state=state, closed_on=-1))
    assert (LATE in found) == open_


def test_archived_tasks_and_projects_are_not_late():
    b = base().task(1, "Archived", 1, deadline=-5, active=False)
    b.project(2, "Old", 10, MANAGER, active=False).task(2, "In old project", 2, deadline=-5)
    assert not run(b)


@pytest.mark.parametrize("deadline, grace, late", [(0, 0, False), (-1, 0, True), (-2, 2, False), (-3, 2, True)])
def test_deadline_boundary_and_grace(deadline, grace, late):
    found = run(base().task(1, "Chairs", 1, deadline=deadline, written=0), grace_days=grace, at_risk_days=0)
    assert (LATE in found) == late
    if late:
        assert found[LATE].evidence[0]["days_late"] == -deadline


def test_a_17_plus_deadline_counts_on_its_utc_date():
    late_evening = datetime(2026, 11, 21, 23, 30)
    found = run(base(19).task(1, "Chairs", 1, deadline=late_evening))
    assert found[LATE].evidence[0]["deadline"] == "2026-11-21" and found[LATE].evidence[0]["days_late"] == 1


def test_one_finding_per_project_with_its_late_tasks_and_end_date():
    b = base(start=-90, end=-4)
    b.task(1, "Chairs", 1, users=[SALES], deadline=-10).task(2, "Desk", 1, users=[MANAGER], deadline=-2)
    b.task(3, "Lamp", 1, deadline=5).task(4, "Done", 1, deadline=-30, state="1_done", closed_on=-20)
    f = run(b, at_risk_days=0)[LATE]
    assert [(r["kind"], r["id"], r["days_late"]) for r in f.evidence] == [
        ("project", 1, 4), ("task", 1, 10), ("task", 2, 2)]
    # deliberate: dates, not day counts (a summary changing daily would rewrite the activity daily)
    assert visible(f.summary) == "Office Design: 2 tasks past deadline, the oldest since 2026-11-12; end date 2026-11-18 passed"
    assert f.evidence[1]["assignees"] == "Marc Demo" and f.evidence[0]["assignees"] == "Manager Mia"
    assert f.action.due_date == AS_OF - timedelta(days=10) + timedelta(days=1)
    assert f.route["project_id"] == 1 and f.client_id == 10


@pytest.mark.parametrize("status, tasks_open, late", [
    ("on_track", True, True), ("done", True, False), ("on_track", False, False), ("at_risk", True, True)])
def test_project_end_date_only_while_not_done(status, tasks_open, late):
    b = base(start=-90, end=-4, status=status)
    b.task(1, "Chairs", 1, deadline=30, state="01_in_progress" if tasks_open else "1_done", closed_on=-5)
    assert (LATE in run(b, at_risk_days=0)) == late


def test_project_without_tasks_is_late_past_its_end():
    assert LATE in run(base(start=-90, end=-1))
    assert not run(base(start=-90, end=-1), include_projects=False)


def test_private_tasks_only_when_asked():
    b = base().task(5, "Buy a gift", None, users=[ADMIN], deadline=-3)
    assert not run(b)
    f = run(b, include_private_tasks=True)["unmet_deadlines:project.task:5"]
    assert f.subject_name == "Buy a gift" and f.route["task_user_ids"] == [ADMIN]


def test_group_by_assignee():
    b = base(start=-90, end=-1)
    b.task(1, "Shared", 1, users=[SALES, MANAGER], deadline=-5).task(2, "Mine", 1, users=[SALES], deadline=-3)
    b.task(3, "Nobody's", 1, users=[], deadline=-2)
    found = run(b, group_by="assignee", at_risk_days=0)
    sales, manager = found[f"{LATE}:user={SALES}"], found[f"{LATE}:user={MANAGER}"]
    assert [r["id"] for r in sales.evidence] == [1, 2] and [r["id"] for r in manager.evidence] == [1]
    assert sales.route["user_id"] == SALES and "assignee" in sales.route["why"]
    rest = found[LATE]  # the project's own end date and the unassigned task stay with the project
    assert [(r["kind"], r["id"]) for r in rest.evidence] == [("project", 1), ("task", 3)]
    assert "user_id" not in rest.route
    assert sales.replaces == (f"{LATE}:late:user={SALES}", f"{LATE}:at_risk:user={SALES}") and rest.replaces == OLD


@pytest.mark.parametrize("deadline, written, risky", [
    (3, -7, True), (0, -30, True), (4, -30, False), (3, -6, False), (-1, -30, False)])
def test_at_risk_means_due_soon_and_untouched(deadline, written, risky):
    found = run(base().task(1, "Chairs", 1, deadline=deadline, created=-60, written=written))
    assert ("unmet_deadlines:project.project:1:at_risk" in found) == risky


def test_at_risk_finding():
    f = run(base().task(1, "Chairs", 1, users=[SALES], deadline=2, created=-60, written=-20))[
        "unmet_deadlines:project.project:1:at_risk"]
    assert f.severity == "low" and f.evidence[0]["days_left"] == 2 and f.evidence[0]["last_change"] == "2026-11-02"
    assert f.action.due_date == AS_OF + timedelta(days=2)


# Deliberate change (issue 21): an escalated project is one activity, not a late one and an
# escalated one: escalation raises its severity and hands it to the escalation owner.
@pytest.mark.parametrize("days, escalated", [(13, False), (14, True), (40, True)])
def test_escalation_after_n_days(days, escalated):
    found = run(base().task(1, "Chairs", 1, deadline=-days))
    assert list(found) == [LATE]
    f = found[LATE]
    assert (f.severity, f.data["kind"], visible(f.summary).startswith("escalate ")) == (
        ("high", "escalated", True) if escalated else ("medium", "late", False))
    assert f.replaces == OLD + ((f"{LATE}:escalated",) if escalated else ())


def test_an_escalated_project_is_one_activity_for_the_escalation_owner():
    b = base().task(1, "Chairs", 1, users=[SALES], deadline=-20).task(2, "Desk", 1, deadline=-3)
    registry = builtin_rules()

    def owners(config):
        result = run_rules(b.build(), AS_OF, {"unmet_deadlines": config}, {"default_user_id": ADMIN},
                           registry=registry, only=["unmet_deadlines"])
        return [(f.key, f.severity, f.responsible_user_id, f.routed_by, [r["id"] for r in f.evidence])
                for f in result.findings]
    assert owners({"escalate_to_user_id": MANAGER}) == [
        (LATE, "high", MANAGER, "rule: unmet_deadlines.escalate_to_user_id", [1, 2])]
    assert owners({}) == [(LATE, "high", ADMIN, "default", [1, 2])]
    assert owners({"escalate_to_user_id": INACTIVE})[0][2] == SALES  # inactive: back to the chain
    assert owners({"escalate_after_days": None}) == [(LATE, "medium", SALES, "client_salesperson", [1, 2])]
    f = run(b)[LATE]
    assert visible(f.summary) == "escalate Office Design: 2 tasks past deadline, the oldest since 2026-11-02"
    assert f.action.due_date == AS_OF - timedelta(days=20) + timedelta(days=14)


def test_escalated_work_grouped_by_assignee_reaches_the_escalation_owner_once():
    b = base().task(1, "Chairs", 1, users=[SALES], deadline=-20).task(2, "Desk", 1, users=[ADMIN], deadline=-16)
    b.task(3, "Lamp", 1, users=[INACTIVE], deadline=-2)
    result = run_rules(b.build(), AS_OF, {"unmet_deadlines": {"group_by": "assignee", "escalate_to_user_id": MANAGER}},
                       {"default_user_id": ADMIN}, registry=builtin_rules(), only=["unmet_deadlines"])
    found = {f.key: f for f in result.findings}
    assert set(found) == {f"{LATE}:user={INACTIVE}", f"{LATE}:user={SALES}"}
    lead = found[f"{LATE}:user={SALES}"]  # the oldest escalated work leads
    assert (lead.responsible_user_id, lead.severity, lead.data["task_ids"]) == (MANAGER, "high", [1, 2])
    assert visible(lead.summary).endswith("(+1 more)")
    assert lead.replaces == (f"{LATE}:late:user={SALES}", f"{LATE}:at_risk:user={SALES}", f"{LATE}:escalated",
                             f"{LATE}:user={ADMIN}", f"{LATE}:late:user={ADMIN}", f"{LATE}:at_risk:user={ADMIN}")
    assert found[f"{LATE}:user={INACTIVE}"].severity == "medium"


def test_tasks_at_risk_of_a_late_project_are_in_its_one_activity():
    b = base().task(1, "Chairs", 1, users=[SALES], deadline=-3).task(2, "Desk", 1, deadline=2, created=-60, written=-20)
    found = run(b)
    assert list(found) == [LATE]
    f = found[LATE]
    assert [(r["kind"], r["id"], r["days_late"], r["days_left"]) for r in f.evidence] == [
        ("task", 1, 3, None), ("task at risk", 2, None, 2)]
    assert visible(f.summary) == "Office Design: 1 task past deadline since 2026-11-19; 1 more at risk"
    assert f.data["task_ids"] == [1, 2] and set(f.daily) == {"days_late", "days_left"}
    assert f.action.due_date == AS_OF - timedelta(days=3) + timedelta(days=1)  # from the late work


def test_config_checks():
    with pytest.raises(ConfigError, match="escalate_after_days must be greater than grace_days"):
        builtin_rules().configure({"unmet_deadlines": {"grace_days": 5, "escalate_after_days": 5}})
    with pytest.raises(ConfigError, match="group_by must be one of"):
        builtin_rules().configure({"unmet_deadlines": {"group_by": "client"}})


# -- closings say what happened -----------------------------------------------------------------
def closings(before: SnapshotBuilder, after: SnapshotBuilder, first: dict | None = None, **config) -> dict[str, str]:
    """How each of ``before``'s activities went away in ``after`` (the closing feedback);
    ``first``: the settings of the first run, when they differ."""
    first = config if first is None else first
    previous = [f.to_dict() for f in evaluate(ud, before.build(), AS_OF, ud.Config(**first)).findings]
    out = evaluate(ud, after.build(), AS_OF, ud.Config(**config), previous=previous)
    return {r.key: visible(r.how) for r in out.resolved}


def late_project(version=17, *, chairs=None, desks=None, **project):
    b = base(version, **project)
    b.task(1, "Chairs", 1, **{"users": [SALES], "deadline": -5, **(chairs or {})})
    return b.task(2, "Desks", 1, **{"users": [ADMIN], "deadline": -3, **(desks or {})})


@pytest.mark.parametrize("version", [16, 17])
def test_a_closing_names_the_tasks_done_and_the_deadlines_moved(version):
    after = late_project(version, chairs=dict(state="1_done", closed_on=-1, written=-1), desks=dict(deadline=4))
    # the day a task was closed: 16's date_end, 17+'s last write of the done task
    how = closings(late_project(version), after)[LATE]
    assert how == "task 'Chairs' done on 2026-11-21; deadline of 'Desks' moved to 2026-11-26"


def test_a_closing_names_cancelled_deleted_and_archived_tasks():
    after = base().task(1, "Chairs", 1, users=[SALES], deadline=-5, state="1_canceled")
    assert closings(late_project(), after)[LATE] == "task 'Chairs' cancelled; task 'Desks' deleted"
    after = late_project(chairs=dict(active=False), desks=dict(deadline=None))
    assert closings(late_project(), after)[LATE] == "task 'Chairs' archived; deadline of 'Desks' removed"


def test_a_closing_names_the_project_archived_or_marked_done():
    assert closings(late_project(), late_project(active=False))[LATE] == "project 'Office Design' archived"
    assert closings(late_project(), late_project(status="done"))[LATE] == "project 'Office Design' marked done"


def test_a_closing_names_the_end_date_moved():
    before = base(start=-60, end=-2)
    after = base(start=-60, end=30)
    assert closings(before, after)[LATE] == "end date of project 'Office Design' moved to 2026-12-22"


def test_a_closing_names_a_task_reassigned_when_grouped_by_assignee():
    key = f"{LATE}:user=6"
    after = late_project(chairs=dict(users=[MANAGER]))
    assert closings(late_project(), after, group_by="assignee")[key] == "task 'Chairs' reassigned to Manager Mia"
    after = late_project(chairs=dict(users=[]))
    assert closings(late_project(), after, group_by="assignee")[key] == "task 'Chairs' unassigned"


def test_an_at_risk_closing_names_the_work_done_or_the_deadline_missed():
    key = "unmet_deadlines:project.project:1:at_risk"
    before = base().task(1, "Chairs", 1, users=[SALES], deadline=2, created=-30)
    worked = base().task(1, "Chairs", 1, users=[SALES], deadline=2, created=-30, written=-1)
    assert closings(before, worked)[key] == "task 'Chairs' worked on 2026-11-21"
    missed = base().task(1, "Chairs", 1, users=[SALES], deadline=-1, created=-30)
    # now late: the project's one activity takes the at-risk one over (merged, not closed)
    assert key not in closings(before, missed)
    late = evaluate(ud, missed.build(), AS_OF, ud.Config()).findings
    assert [(f.key, key in f.replaces) for f in late] == [(LATE, True)]


def test_a_task_at_risk_in_a_late_activity_that_is_worked_on_says_so():
    before = base().task(1, "Chairs", 1, deadline=-3).task(2, "Desk", 1, deadline=2, created=-60, written=-20)
    after = base().task(1, "Chairs", 1, deadline=-3, state="1_done", closed_on=-1, written=-1)
    after.task(2, "Desk", 1, deadline=2, created=-60, written=-1)
    assert closings(before, after)[LATE] == "task 'Chairs' done on 2026-11-21; task 'Desk' worked on 2026-11-21"


def test_a_closing_without_a_known_cause_says_so():
    found = closings(late_project(), late_project(), first={}, grace_days=10)
    assert found[LATE] == ("no longer raised on 2026-11-22, its tasks unchanged (a setting or the grouping "
                           "changed)")
    assert closings(late_project(), late_project()) == {}  # still late: nothing goes away


def test_an_upgrade_takes_over_the_late_and_escalated_keys_and_closes_neither():
    old = [{"key": f"{LATE}:{level}", "rule": "unmet_deadlines", "level": level, "subject_model": "project.project",
            "subject_id": 1, "subject_name": "Office Design", "client_id": 10, "action": {"kind": "activity"},
            "evidence": [{"kind": "task", "id": 1, "name": "Chairs", "deadline": "2026-11-02"}],
            "data": {"task_ids": [1]}} for level in ("late", "escalated")]
    b = base().task(1, "Chairs", 1, deadline=-20)
    out = evaluate(ud, b.build(), AS_OF, ud.Config(), previous=old)
    assert [f.key for f in out.findings] == [LATE] and out.resolved == []
    assert {p["key"] for p in old} <= set(out.findings[0].replaces)
