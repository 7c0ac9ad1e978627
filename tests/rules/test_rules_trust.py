"""What makes the findings trustworthy: one definition per fact, the right client, nothing
dropped in silence, unknown never resolved, scores that say what they rest on, activities
that do not change with the date alone."""
from __future__ import annotations

from datetime import timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.rules.testing import builtin_rules, evaluate

from clientcare.connector import facts
from clientcare.jobs.charts import BAND_COLORS, bar_chart
from clientcare.connector.demo import demo_as_of, demo_snapshot
from clientcare.rules import coverage, run_rules
from clientcare.rules import frames as F
from clientcare.rules.builtin import fit_checklist as fc
from clientcare.rules.builtin import late_payment as lp
from clientcare.rules.builtin import unmet_deadlines as ud
from clientcare.rules.finding import NotRaised

from clientcare.rules.testing import AS_OF, MANAGER, SALES, SnapshotBuilder

LATE = "unmet_deadlines:project.project:1"


def run_all(snap, as_of=AS_OF, **configs):
    return run_rules(snap, as_of, configs, {"default_user_id": 2}, registry=builtin_rules())


# -- 4: a project's findings are filed under the project's client --------------------------------------------
def two_clients():
    """Office Design is Azure Interior's project; its earliest late task was logged for Deco Addict."""
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES).client(11, "Deco Addict", MANAGER)
    b.project(1, "Office Design", 10, MANAGER, end=-30)
    b.task(1, "Chairs", 1, client=11, deadline=-40).task(2, "Desks", 1, deadline=-20)
    return b


def test_project_findings_carry_the_projects_client():
    found = {f.key: f for f in evaluate(ud, two_clients().build(), AS_OF, ud.Config()).findings}
    assert list(found) == [LATE] and found[LATE].client_id == 10 and found[LATE].data["kind"] == "escalated"
    assert F.tasks(two_clients().build()).set_index("id").loc[1, "client_id"] == 11  # a task keeps its own


def test_a_project_without_customer_has_no_client_not_its_tasks_one():
    b = SnapshotBuilder(17).client(11, "Deco Addict", MANAGER)
    b.project(1, "Internal", None, MANAGER).task(1, "Chairs", 1, client=11, deadline=-5)
    assert {f.key: f for f in evaluate(ud, b.build(), AS_OF, ud.Config()).findings}[LATE].client_id is None


def test_explain_shows_project_findings_for_the_projects_client(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from clientcare.jobs import cli

    snap_dir = two_clients().build().save(tmp_path / "snap")
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("CLIENTCARE_CONFIG", str(tmp_path / "empty.toml"))
    args = ["explain", "--snapshot", str(snap_dir), "--as-of", AS_OF.isoformat()]
    azure = CliRunner().invoke(cli.main, [*args, "10"], obj={})
    deco = CliRunner().invoke(cli.main, [*args, "11"], obj={})
    assert LATE in azure.output and LATE not in deco.output


# -- 8: folded stages and done projects ----------------------------------------------------------------------
@pytest.mark.parametrize("version", [16, 17, 19])
def test_a_task_in_a_folded_stage_is_not_late(version):
    b = SnapshotBuilder(version).client(10, "Azure Interior", SALES).stage(4, "Delivered", fold=True)
    b.project(1, "Office Design", 10, MANAGER).task(1, "Chairs", 1, deadline=-5, stage_id=4)
    out = evaluate(ud, b.build(), AS_OF, ud.Config())
    assert not out.findings
    if version >= 17:  # Odoo's own Late filter (state) lists it: the reason says why there is no finding
        assert [(n.res_id, n.reason) for n in out.not_raised] == [
            (1, "in the folded stage Delivered: shown as done in Odoo")]


def test_a_project_whose_status_is_done_raises_nothing():
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES)
    b.project(1, "Office Design", 10, MANAGER, status="done", end=-10).task(1, "Chairs", 1, deadline=-5)
    out = evaluate(ud, b.build(), AS_OF, ud.Config())
    assert not out.findings
    assert [(n.res_id, n.client_id, n.reason) for n in out.not_raised] == [
        (1, 10, "project Office Design is done (its status)")]


def test_every_late_task_is_in_a_finding_or_not_raised():
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES).stage(4, "Delivered", fold=True)
    b.project(1, "Office Design", 10, MANAGER).project(2, "Old", 10, MANAGER, active=False)
    b.task(1, "Late", 1, deadline=-5).task(2, "Grace", 1, deadline=-1).task(3, "Folded", 1, deadline=-5, stage_id=4)
    b.task(4, "Archived project", 2, deadline=-5).task(5, "Private", None, client=10, deadline=-5)
    result = run_all(b.build(), unmet_deadlines={"grace_days": 1})
    assert coverage.unaccounted(b.build(), AS_OF, result, builtin_rules().accounts_for()).empty
    reasons = {n.res_id: n.reason for n in result.not_raised}
    assert reasons == {2: "deadline 2026-11-21 is within the grace period (1 day)",
                       3: "in the folded stage Delivered: shown as done in Odoo",
                       4: "project Old is archived",
                       5: "private task (no project): private tasks are not followed"}


def test_facts_domains_match_the_masks():
    assert facts.late_task_domain("2026-11-22", True) == [
        ("date_deadline", "<", "2026-11-22"), ("state", "not in", ["1_done", "1_canceled"])]
    assert facts.overdue_invoice_domain("2026-11-22")[2] == ("payment_state", "in", ["not_paid", "partial"])
    b = SnapshotBuilder(17).client(10, "Azure Interior").invoice(1, 10, -1, 10.0).invoice(2, 10, 0, 10.0)
    moves = b.build().table("moves")
    assert moves.loc[facts.overdue_mask(moves, F.day(AS_OF)), "id"].tolist() == [1]


# -- 5: nothing dropped in silence ---------------------------------------------------------------------------
def test_coverage_is_empty_on_the_demo_snapshot():
    snap = demo_snapshot()
    day = demo_as_of(snap)
    result = run_all(snap, day)
    assert not result.errors
    assert coverage.unaccounted(snap, result.as_of, result, builtin_rules().accounts_for()).empty
    assert len(coverage.odoo_lists(snap, result.as_of))  # there is something to account for


def test_coverage_finds_what_nothing_accounts_for():
    b = SnapshotBuilder(17).client(10, "Azure Interior").invoice(1, 10, -5, 10.0)
    b.project(1, "P", 10).task(2, "T", 1, deadline=-3)
    snap = b.build()
    result = run_all(snap)
    assert coverage.unaccounted(snap, AS_OF, result, builtin_rules().accounts_for()).empty
    result.findings = [f for f in result.findings if f.rule not in ("late_payment", "unmet_deadlines")]
    missing = coverage.unaccounted(snap, AS_OF, result, builtin_rules().accounts_for())
    assert sorted(zip(missing["model"], missing["res_id"])) == [("account.move", 1), ("project.task", 2)]


def test_a_rule_that_did_not_run_says_so_for_its_records():
    b = SnapshotBuilder(17).client(10, "Azure Interior").invoice(1, 10, -5, 10.0)
    snap = b.build()
    result = run_rules(snap, AS_OF, {"late_payment": {"enabled": False}}, registry=builtin_rules())
    assert coverage.not_run(snap, AS_OF, result, builtin_rules().accounts_for()) == [
        NotRaised("late_payment", "account.move", 1, 10,
                  "the rule late_payment did not run (disabled, skipped or failed)")]


def test_the_age_shown_is_the_oldest_invoice_still_owed():
    """314 days overdue, not the 164 days of the invoice left after netting oldest first."""
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES)
    b.invoice(1, 10, -314, 100.0).invoice(2, 10, -164, 100.0).refund(3, 10, 100.0)
    found = {f.key: f for f in evaluate(lp, b.build(), AS_OF, lp.Config()).findings}
    stop = found["late_payment:res.partner:10"]
    assert stop.data["kind"] == "stop_work"
    assert [(r["invoice_id"], r["days_overdue"]) for r in stop.evidence if r["level"]] == [(1, 314)]
    assert "days_overdue" in stop.daily


# -- 6: unknown is not resolved ------------------------------------------------------------------------------
def test_chronic_without_payment_dates_is_not_judged():
    snap = SnapshotBuilder(17).client(10, "Azure Interior").build()
    del snap.tables["payments"]
    out = evaluate(lp, snap, AS_OF, lp.Config())
    assert [(n.pattern, n.reason) for n in out.not_judged] == [
        ("late_payment:*:chronic", "payment dates were not pulled")]


def test_not_judged_reaches_the_run_result():
    snap = SnapshotBuilder(17).client(10, "Azure Interior").build()
    result = run_all(snap)
    patterns = {n.pattern for n in result.not_judged}
    assert {"fit_checklist:*:attention", "follow_up:*:check_in", "follow_up:*:survey*"} <= patterns
    assert result.summary()["not_judged"] and "not_raised" in result.to_dict()


# -- 7: the fit score says what it rests on -------------------------------------------------------------------
def score_of(b, **config):
    out = evaluate(fc, b.build(), AS_OF, fc.Config(**config))
    return {f.key: f for f in out.findings}["fit_checklist:res.partner:10:checklist"]


def history(paid_late_on=None):
    """Paid on time twice; invoice 3, 40 days overdue, unpaid or paid today."""
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES, industry=(1, "Design"))
    b.invoice(1, 10, -200, 10.0, 0.0, paid=-200).invoice(2, 10, -100, 10.0, 0.0, paid=-100)
    if paid_late_on is None:
        b.invoice(3, 10, -40, 10.0)
    else:
        b.invoice(3, 10, -40, 10.0, 0.0, paid=paid_late_on)
    return b.project(1, "P", 10, end=30).task(1, "T", 1, deadline=10)


def test_paying_an_overdue_invoice_never_lowers_the_score():
    config = {"ideal_industries": ("Design",)}
    before, after = score_of(history(), **config), score_of(history(paid_late_on=0), **config)
    # the overdue invoice already counted as late (1 of 3, 40 days so far): paying it changes nothing
    assert before.data["criteria"]["pays_on_time"] == after.data["criteria"]["pays_on_time"] == "warn"
    assert after.data["score"] >= before.data["score"] == 90


def test_the_score_says_how_many_criteria_it_rests_on():
    f = score_of(history(), ideal_industries=("Design",))
    assert f.data["known_criteria"] == 5 and visible(f.summary) == "Azure Interior: fit score 90, good, 5 of 6 criteria known"
    thin = score_of(SnapshotBuilder(17).client(10, "Azure Interior").invoice(1, 10, -40, 10.0))
    assert (thin.data["score"], thin.data["band"]) == (None, "unknown")
    assert visible(thin.summary).startswith("Azure Interior: fit score unknown, 1 of 6 criteria known (needs 3)")


def test_unknown_criteria_say_why_and_values_carry_their_meaning():
    f = score_of(history(), ideal_industries=("Design",))
    rows = {r["criterion"]: r for r in f.evidence}
    assert rows["likely satisfied"] == {"criterion": "likely satisfied", "status": "unknown", "value": None,
                                        "detail": "ratings not readable"}
    assert rows["pays on time"]["value"] == "33 % of invoices paid late or overdue"
    nothing = score_of(SnapshotBuilder(17).client(10, "Azure Interior").invoice(1, 10, -40, 10.0))
    late_changes = next(r for r in nothing.evidence if r["criterion"] == "no late changes")
    assert late_changes["status"] == "unknown" and "added late" not in late_changes["detail"]


def test_ratings_evidence_shows_scores_and_labels_record_ids():
    b = SnapshotBuilder(17).client(10, "Azure Interior").tables("ratings").rating(7, 10, 5).rating(8, 10, 2, when=-5)
    row = next(r for r in score_of(b).evidence if r["criterion"] == "likely satisfied")
    assert row["value"] == "average 3.5 of 5"
    assert row["detail"] == "2 rating(s) in 365 days: scores 5, 2 (rating record ids 7, 8)"


# -- 8: nothing in an activity changes with the date alone ---------------------------------------------------
def busy_snapshot():
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES).contact(11, "Ann", 10)
    b.tables("messages", "activities", "ratings").message(1, "res.partner", 11, -90)
    b.invoice(1, 10, -40, 100.0).invoice(2, 10, -20, 50.0).invoice(3, 10, -300, 10.0, 0.0, paid=-250)
    b.project(1, "Office Design", 10, MANAGER, end=-10).task(1, "Chairs", 1, deadline=-30)
    b.task(2, "Desks", 1, deadline=2, created=-100, written=-60)
    return b.build()


def test_only_daily_columns_change_from_one_day_to_the_next():
    today, tomorrow = run_all(busy_snapshot()), run_all(busy_snapshot(), AS_OF + timedelta(days=1))
    later = {f.key: f for f in tomorrow.findings}
    compared = 0
    for f in today.findings:
        g = later.get(f.key)
        if g is None or f.action is None:
            continue
        compared += 1
        assert visible(f.summary) == visible(g.summary), f.key
        strip = [{k: v for k, v in r.items() if k not in f.daily} for r in f.evidence]
        assert strip == [{k: v for k, v in r.items() if k not in g.daily} for r in g.evidence], f.key
    assert compared >= 3  # payment, deadlines (with the task at risk), check-in: one activity each


def test_summaries_stay_short_with_long_names():
    long = "Azure Interior " * 30
    b = SnapshotBuilder(17).client(10, long, SALES).invoice(1, 10, -40, 100.0).refund(2, 10, 10.0)
    b.project(1, "Office Design " * 30, 10, MANAGER, end=-10).task(1, "Chairs", 1, deadline=-30)
    result = run_all(b.build())
    assert result.findings and all(len(visible(f.summary)) <= 250 for f in result.findings)
    assert any(visible(f.summary).endswith("(90.00 USD); match 1 credit note (10.00 USD)")
               for f in result.findings)  # the tail is kept


# -- charts --------------------------------------------------------------------------------------------------
def test_fit_chart_has_a_fixed_scale_band_colours_and_says_what_is_cut():
    svg = bar_chart("Fit", ["a", "b"], [50.0, 25.0], colors=[BAND_COLORS["fair"], BAND_COLORS["poor"]],
                    scale_max=100.0, noun="clients", max_bars=1)
    assert 'width="180.0"' in svg  # half of the 360 px bar area: 50 of 100, not of the top score
    assert BAND_COLORS["fair"] in svg and "1 more clients: see the CSV/JSON" in svg


def test_report_charts_follow_the_client_filter_and_the_rules():
    b = SnapshotBuilder(17).client(10, "Azure Interior").client(11, "Deco Addict")
    b.invoice(1, 10, -20, 100.0).invoice(2, 11, -20, 70.0).refund(3, 11, 30.0)
    b.project(1, "Office Design", 10).task(1, "Chairs", 1, deadline=-3, client=11)
    snap = b.build()
    assert dict(lp.overdue_by_age(snap, AS_OF, {11}))["16–30 days (USD)"] == 40.0  # after the credit note
    assert dict(lp.overdue_by_age(snap, AS_OF))["16–30 days (USD)"] == 140.0
    assert ud.late_tasks_by_project(snap, AS_OF, {10}) == [("Office Design", 1)]
    assert ud.late_tasks_by_project(snap, AS_OF, {11}) == []
    graced = run_all(snap, unmet_deadlines={"grace_days": 5}).not_raised
    assert ud.late_tasks_by_project(snap, AS_OF, {10}, graced) == []  # not raised: not in the chart


def test_coverage_and_charts_without_the_project_module():
    snap = SnapshotBuilder(17).client(10, "Azure Interior").invoice(1, 10, -5, 10.0).build()
    for table in ("projects", "tasks", "task_stages"):
        del snap.tables[table]
    listed = coverage.odoo_lists(snap, AS_OF)
    assert list(zip(listed["model"], listed["res_id"])) == [("account.move", 1)]
    assert ud.late_tasks_by_project(snap, AS_OF) == []
