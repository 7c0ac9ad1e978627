"""fit_checklist on hand-made snapshots: each criterion's edges, the score, change between runs."""
from __future__ import annotations

from datetime import timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.rules.testing import builtin_rules, evaluate

from clientcare.connector.errors import ConfigError
from clientcare.rules import run_rules
from clientcare.rules.builtin import fit_checklist as fc

from clientcare.rules.testing import AS_OF, MANAGER, SALES, SnapshotBuilder


def client(version=17, **kw):
    return SnapshotBuilder(version).client(10, "Azure Interior", SALES, **kw)


def checklist(b: SnapshotBuilder, previous=None, **config):
    found = {f.key: f for f in evaluate(fc, b.build(), AS_OF, fc.Config(**config), previous=previous or ()).findings}
    return found


def criteria(b, **config) -> dict:
    return checklist(b, **config)["fit_checklist:res.partner:10:checklist"].data["criteria"]


def row(b, criterion: str, **config) -> dict:
    f = checklist(b, **config)["fit_checklist:res.partner:10:checklist"]
    return next(r for r in f.evidence if r["criterion"] == criterion.replace("_", " "))


# -- fits our work ---------------------------------------------------------------------------------------
def test_fits_our_work_is_unknown_without_a_profile():
    r = row(client(), "fits_our_work")
    assert (r["status"], r["detail"]) == ("unknown", "no ideal profile configured")


@pytest.mark.parametrize("profile, status", [
    ({"ideal_industries": ("construction",)}, "pass"),
    ({"ideal_industries": (7,)}, "pass"),
    ({"ideal_industries": ("Retail",)}, "fail"),
    ({"ideal_industries": ("Construction",), "ideal_countries": ("Belgium",)}, "warn"),
    ({"ideal_industries": ("Construction",), "ideal_countries": (21,), "ideal_tags": (3,)}, "pass"),
    ({"ideal_tags": (4,)}, "fail"),
    ({"ideal_min_revenue": 1000.0}, "pass"),
    ({"ideal_min_revenue": 1000.01}, "fail"),
    ({"ideal_max_revenue": 999.99}, "fail"),
])
def test_fits_our_work_matches_the_ideal_profile(profile, status):
    b = client(industry=(7, "Construction"), country=(21, "United States"), tags=(3,))
    b.invoice(1, 10, 10, 1000.0, invoice_date=-30)
    assert criteria(b, **profile)["fits_our_work"] == status


def test_missing_partner_data_is_unknown_not_a_mismatch():
    b = client(country=(21, "United States"))
    assert criteria(b, ideal_industries=("Construction",))["fits_our_work"] == "unknown"
    r = row(b, "fits_our_work", ideal_industries=("Construction",), ideal_countries=("united states",))
    assert (r["status"], r["value"]) == ("pass", "1 of 1 dimension(s) match")
    assert r["detail"] == "industry unknown; country United States ✓"


# -- no late changes -------------------------------------------------------------------------------------
def timeline(*created, end=0):
    """A project from day -100 to ``end`` with tasks created on the given days."""
    b = client().project(1, "Office", 10, MANAGER, start=-100, end=end)
    for i, day in enumerate(created):
        b.task(i + 1, f"T{i}", 1, created=day)
    return b


@pytest.mark.parametrize("created, status", [
    ((-90, -21), "pass"),                 # before 80 % of the timeline (day -20)
    ((-90, -20), "warn"),                 # exactly at 80 %: late
    ((-20, -15, -10), "fail"),            # three late additions
])
def test_tasks_added_late_in_the_timeline(created, status):
    assert criteria(timeline(*created))["no_late_changes"] == status


def test_tasks_added_after_the_end_date_are_late():
    b = client().project(1, "Office", 10, MANAGER, end=-10).task(1, "After", 1, created=-5)
    r = row(b, "no_late_changes")
    assert r["status"] == "warn" and r["detail"].startswith("1 task(s) added late (ids 1)")
    assert "deadline moves not readable" in r["detail"]


def test_deadlines_moved_later_count_when_tracking_is_readable():
    b = timeline(-90).deadline_move(1, 1, 5, 15).deadline_move(2, 1, 15, 10).deadline_move(3, 1, None, 20)
    r = row(b, "no_late_changes")
    assert (r["status"], r["value"]) == ("warn", "1 late change(s)")  # only the move to a later date counts
    assert r["detail"] == "0 task(s) added late, 1 deadline(s) moved later"


def test_no_dated_project_is_unknown():
    b = client().project(1, "Undated", 10, MANAGER).task(1, "T", 1, created=-5)
    assert criteria(b)["no_late_changes"] == "unknown"


# -- reasonable expectations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("statuses, status", [
    (("on_track",) * 4, "pass"), (("at_risk", "on_track", "on_track", "on_track"), "warn"),
    (("off_track", "at_risk", "on_track", "on_track"), "fail"), ((), "unknown")])
def test_share_of_projects_in_trouble(statuses, status):
    b = client()
    for i, st in enumerate(statuses):
        b.project(i + 1, f"P{i}", 10, MANAGER, status=st, end=100)
    assert criteria(b)["reasonable_expectations"] == status


def test_missed_deadlines_make_a_project_late_unless_done():
    b = client().project(1, "Late task", 10, end=100).task(1, "T", 1, deadline=-1)
    b.project(2, "Past end", 10, end=-1).task(2, "Open", 2)
    b.project(3, "Finished", 10, end=-30).task(3, "Done", 3, state="1_done", closed_on=-31)
    b.project(4, "Fine", 10, end=100)
    r = row(b, "reasonable_expectations")
    assert (r["status"], r["value"]) == ("fail", "50 % of projects in trouble")
    assert r["detail"] == "2 of 4 project(s) at risk, off track or late (Late task, Past end)"


# -- pays on time --------------------------------------------------------------------------------------------
def paid(delays, b=None, first_due=-200):
    b = b or client()
    for i, delay in enumerate(delays):
        b.invoice(100 + i, 10, first_due + i, 10.0, 0.0, paid=first_due + i + delay)
    return b


@pytest.mark.parametrize("delays, status", [
    ([0] * 10, "pass"), ([70] + [0] * 9, "warn"), ([69] + [0] * 9, "pass"),     # average 7 days late
    ([1, 0, 0, 0], "warn"), ([1, 1, 0, 0], "fail"),                              # shares .25 / .5
    ([300] + [0] * 9, "fail"), ([299] + [0] * 9, "warn")])                       # average 30 days late
def test_payment_history(delays, status):
    assert criteria(paid(delays, first_due=-340))["pays_on_time"] == status


@pytest.mark.parametrize("overdue, status", [(14, "pass"), (15, "warn"), (59, "warn"), (60, "fail")])
def test_current_overdue(overdue, status):
    b = paid([0] * 5).invoice(1, 10, -overdue, 250.0)
    r = row(b, "pays_on_time")
    assert r["status"] == status
    if overdue:
        # a date, not "up to N days": the evidence must not change with the date alone
        due = (AS_OF - timedelta(days=overdue)).isoformat()
        assert r["detail"].endswith(f"; 250.00 USD overdue, the oldest due {due}")


def test_pays_on_time_unknown_without_history():
    b = client().invoice(1, 10, 10, 100.0)
    assert criteria(b)["pays_on_time"] == "unknown"
    assert row(b, "pays_on_time")["detail"] == "no invoice paid in 365 days and none overdue"


# -- cooperates -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version, kw, n, status", [
    (17, {"state": "02_changes_requested", "written": -15}, 1, "warn"),
    (17, {"state": "04_waiting_normal", "written": -15}, 3, "fail"),
    (17, {"state": "02_changes_requested", "written": -14}, 3, "pass"),   # not more than 14 days yet
    (17, {"state": "01_in_progress", "written": -100}, 3, "pass"),
    (16, {"kanban": "blocked", "written": -15}, 1, "warn"),
    (16, {"kanban": "normal", "written": -100}, 1, "pass"),
])
def test_tasks_waiting_on_the_client(version, kw, n, status):
    b = client(version).project(1, "P", 10)
    for i in range(n):
        b.task(i + 1, f"T{i}", 1, created=-200, **kw)
    assert criteria(b)["cooperates"] == status


def test_waiting_stage_names_and_no_open_task():
    b = client().project(1, "P", 10).task(1, "T", 1, stage="Waiting for customer", created=-60, written=-20)
    assert criteria(b)["cooperates"] == "pass"
    assert criteria(b, waiting_stage_names=("waiting for customer",))["cooperates"] == "warn"
    assert criteria(client())["cooperates"] == "unknown"


# -- likely satisfied -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratings, status", [((5, 3), "pass"), ((5, 3, 3), "warn"), ((1, 3), "fail"), ((), "unknown")])
def test_ratings(ratings, status):
    b = client().tables("ratings")
    for i, value in enumerate(ratings):
        b.rating(i + 1, 10, value)
    assert criteria(b)["likely_satisfied"] == status


def test_ratings_not_readable_is_unknown_and_old_ratings_do_not_count():
    assert row(client(), "likely_satisfied")["detail"] == "ratings not readable"
    assert criteria(client().rating(1, 10, 1, when=-366))["likely_satisfied"] == "unknown"


# -- score and bands -------------------------------------------------------------------------------------------
def test_score_over_known_criteria_with_weights():
    b = paid([0] * 5, client().tables("ratings")).rating(1, 10, 1)   # pays: pass, satisfied: fail
    f = checklist(b, min_known_criteria=2)["fit_checklist:res.partner:10:checklist"]
    assert (f.data["score"], f.data["band"]) == (50, "fair")
    assert visible(f.summary) == "Azure Interior: fit score 50, fair, 2 of 6 criteria known; fails: likely satisfied"
    weighted = checklist(b, weights={"pays_on_time": 3.0}, min_known_criteria=2)[
        "fit_checklist:res.partner:10:checklist"]
    assert (weighted.data["score"], weighted.data["band"]) == (75, "good")
    none = checklist(client())["fit_checklist:res.partner:10:checklist"]
    assert (none.data["score"], none.data["band"]) == (None, "unknown")
    assert len(none.evidence) == 6 and none.action is None and none.severity == "info"


def test_weights_must_name_criteria():
    with pytest.raises(ConfigError, match="unknown criteria"):
        builtin_rules().configure({"fit_checklist": {"weights": {"pays": 1}}})
    with pytest.raises(ConfigError, match="band_fair must not exceed band_good"):
        builtin_rules().configure({"fit_checklist": {"band_good": 40.0}})


# -- change since the previous run --------------------------------------------------------------------------------
# These tests are about change between runs, on one or two criteria: min_known_criteria = 1.
ONE = {"min_known_criteria": 1}


def previous_of(b, **config):
    return [f.to_dict() for f in evaluate(fc, b.build(), AS_OF, fc.Config(**ONE, **config)).findings]


def test_first_run_reports_the_checklist_only():
    found = checklist(paid([1, 1, 0, 0]))
    assert list(found) == ["fit_checklist:res.partner:10:checklist"]


def test_band_change_posts_a_note_once_per_change():
    before = previous_of(paid([0] * 4))                      # pays on time: pass -> score 100, good
    found = checklist(paid([1, 1, 0, 0]), previous=before, **ONE)   # now fails -> 0, poor
    note = found[f"fit_checklist:res.partner:10:band:{AS_OF.isoformat()}"]
    assert note.action.kind == "note" and visible(note.summary) == (
        "Azure Interior: fit score 0, poor, 1 of 6 criteria known; was 100 (good)")
    assert note.data["score_change"] == -100
    same = checklist(paid([1, 1, 0, 0]), previous=previous_of(paid([1, 1, 0, 0])), **ONE)
    assert not [k for k in same if ":band:" in k]


def test_a_newly_failing_criterion_asks_the_salesperson_and_stays_until_fixed():
    before = previous_of(paid([0] * 4))
    now = checklist(paid([1, 1, 0, 0]), previous=before, **ONE)
    act = now["fit_checklist:res.partner:10:attention"]
    assert act.action.activity_type == "todo" and act.action.due_date == AS_OF
    assert "'pays on time' now fails" in visible(act.summary)
    # next run: still failing, no longer "new", the activity stays (same key, same due date)
    later = checklist(paid([1, 1, 0, 0]), previous=[f.to_dict() for f in now.values()], **ONE)
    assert later["fit_checklist:res.partner:10:attention"].action.due_date == AS_OF
    # fixed: the finding goes away, so the write-back closes the activity
    fixed_prev = [f.to_dict() for f in later.values()]
    assert "fit_checklist:res.partner:10:attention" not in checklist(paid([0] * 4), previous=fixed_prev, **ONE)


def test_an_attention_closes_saying_the_criteria_pass_again_and_the_score():
    now = checklist(paid([1, 1, 0, 0]), previous=previous_of(paid([0] * 4)), **ONE)
    out = evaluate(fc, paid([0] * 4).build(), AS_OF, fc.Config(**ONE), previous=[f.to_dict() for f in now.values()])
    assert [(r.key, r.how) for r in out.resolved] == [
        ("fit_checklist:res.partner:10:attention", "'pays on time' now passes; fit score 100 (good), at least 50")]
    low = checklist(client().tables("ratings").rating(1, 10, 3).rating(2, 10, 3),
                    previous=previous_of(client().tables("ratings").rating(1, 10, 5)), attention_below=60.0, **ONE)
    out = evaluate(fc, client().tables("ratings").rating(1, 10, 5).build(), AS_OF,
                   fc.Config(attention_below=60.0, **ONE), previous=[f.to_dict() for f in low.values()])
    assert [r.how for r in out.resolved] == ["fit score 100 (good), at least 60"]


def test_falling_under_the_threshold():
    good = client().tables("ratings").rating(1, 10, 5).rating(2, 10, 5)
    bad = client().tables("ratings").rating(1, 10, 3).rating(2, 10, 3)
    before = previous_of(good)                                               # 100
    found = checklist(bad, previous=before, attention_below=60.0, **ONE)    # warn -> 50
    assert "score fell under 60" in found["fit_checklist:res.partner:10:attention"].summary
    again = checklist(bad, previous=[f.to_dict() for f in found.values()], attention_below=60.0, **ONE)
    assert "fit_checklist:res.partner:10:attention" in again                # stays while under
    assert "fit_checklist:res.partner:10:attention" not in checklist(bad, previous=before, **ONE)  # 50 >= 50


def test_run_rules_passes_the_previous_findings():
    registry = builtin_rules()
    configs = {"fit_checklist": ONE}
    first = run_rules(paid([0] * 4).build(), AS_OF, configs, registry=registry, only=["fit_checklist"])
    assert [n.pattern for n in first.not_judged] == ["fit_checklist:*:attention", "fit_checklist:*:band*"]
    previous = {"fit_checklist": [f.to_dict() for f in first.findings]}
    second = run_rules(paid([1, 1, 0, 0]).build(), AS_OF, configs, registry=registry, only=["fit_checklist"],
                       previous=previous)
    assert not second.not_judged
    levels = sorted(f.level for f in second.findings)
    assert levels == ["attention", "band", "checklist"]
    owner = next(f for f in second.findings if f.level == "attention")
    assert (owner.responsible_user_id, owner.routed_by) == (SALES, "client_salesperson")
    assert AS_OF - timedelta(days=1) < owner.action.due_date <= AS_OF


def test_ratings_by_someone_who_is_not_a_client_are_ignored():
    b = client().tables("ratings").rating(1, 10, 5)
    b.contact(50, "Own employee", 10)
    b.client(60, "Not a client", rank=0).rating(2, 60, 1)  # no customer activity: not a client
    assert criteria(b)["likely_satisfied"] == "pass"


def test_an_attention_whose_cause_is_now_unknown_is_not_judged():
    before = previous_of(paid([0] * 4))
    now = checklist(paid([1, 1, 0, 0]), previous=before, **ONE)
    assert "fit_checklist:res.partner:10:attention" in now
    snap = paid([1, 1, 0, 0]).build()
    del snap.tables["moves"]  # invoices not readable this run: "pays on time" is unknown
    out = evaluate(fc, snap, AS_OF, fc.Config(**ONE), previous=[f.to_dict() for f in now.values()])
    assert "fit_checklist:res.partner:10:attention" not in {f.key for f in out.findings}
    assert [n.pattern for n in out.not_judged] == ["fit_checklist:res.partner:10:attention"]


def test_repeated_broken_payment_dates_fail_pays_on_time():
    from clientcare.rules.context import BrokenDate

    b = paid([0] * 5).invoice(1, 10, -20, 250.0)
    key = "late_payment:res.partner:10:call"
    once = {10: (BrokenDate("late_payment", key, AS_OF - timedelta(days=9)),)}
    twice = {10: once[10] + (BrokenDate("late_payment", key, AS_OF - timedelta(days=2)),)}
    elsewhere = {10: (BrokenDate("follow_up", "follow_up:res.partner:10:check_in", AS_OF),) * 2}

    def pays(broken, **config):
        f = evaluate(fc, b.build(), AS_OF, fc.Config(**config), broken_dates=broken).findings
        r = next(r for r in next(x for x in f if x.level == "checklist").evidence if r["criterion"] == "pays on time")
        return r["status"], r["detail"]

    assert pays({})[0] == "warn" and pays(once) == ("warn", pays({})[1] + "; 1 agreed payment date(s) passed unpaid")
    assert pays(twice) == ("fail", pays({})[1] + "; 2 agreed payment date(s) passed unpaid")
    assert pays(twice, broken_payment_dates_fail=0)[0] == "warn" and pays(elsewhere)[0] == "warn"
