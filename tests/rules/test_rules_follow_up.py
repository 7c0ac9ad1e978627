"""follow_up on hand-made snapshots: the five kinds, their edges, spacing and owners."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.rules.testing import builtin_rules, evaluate

from clientcare.rules import run_rules
from clientcare.rules.builtin import follow_up as fu

from clientcare.rules.testing import ADMIN, AS_OF, BOT, MANAGER, SALES, SnapshotBuilder

CHECK_IN = "follow_up:res.partner:10:check_in"


def active_client(version=17, *, created=-400):
    """Azure Interior, a client for long (not new), active through an open task; contact history pulled."""
    b = SnapshotBuilder(version).client(10, "Azure Interior", SALES, created=created).contact(11, "Ann", 10)
    b.project(1, "Office Design", 10, MANAGER, created=created).task(1, "Chairs", 1, users=[SALES], created=created)
    return b.tables("messages", "activities", "ratings")


def run(b: SnapshotBuilder, kinds=("check_in",), **config):
    return {f.key: f for f in evaluate(fu, b.build(), AS_OF, fu.Config(kinds=tuple(kinds), **config)).findings}


# -- check-in -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("days, due", [(59, None), (60, 0), (90, -30)])
def test_check_in_after_n_days_without_contact(days, due):
    found = run(active_client().message(1, "res.partner", 11, -days))
    if due is None:
        assert not found
    else:
        f = found[CHECK_IN]
        assert f.action.due_date == AS_OF + timedelta(days=due)
        assert f.evidence[1] == {"signal": "last logged contact", "record": "mail.message,1",
                                 "date": (AS_OF - timedelta(days=days)).isoformat(), "value": "message on res.partner"}
        # deliberate: no "days without contact" row any more (it changed every day)
        assert f.evidence[2] == {"signal": "open activities on the client", "record": "res.partner,10",
                                 "date": None, "value": 0}


@pytest.mark.parametrize("model, res_id", [("res.partner", 10), ("res.partner", 11), ("project.task", 1),
                                           ("project.project", 1), ("account.move", 5)])
def test_contact_on_any_of_the_clients_records_counts(model, res_id):
    b = active_client().invoice(5, 10, 10, 100.0).message(1, model, res_id, -5)
    assert not run(b)


def test_done_activities_count_as_contact_system_notifications_do_not():
    assert not run(active_client().message(1, "res.partner", 10, -5, message_type="notification", activity_type=2))
    assert CHECK_IN in run(active_client().message(1, "res.partner", 10, -5, message_type="notification"))


def test_only_people_are_contact_clientcare_closing_an_activity_is_not():
    """ClientCare closing its activity posts Odoo's "activity done" message as its own user: no
    contact, the check-in stays; a person marking a ClientCare activity done is a contact."""
    bot_done = dict(message_type="notification", activity_type=2, author=100 + BOT)
    assert CHECK_IN in run(active_client().runs_as(BOT).message(1, "res.partner", 10, -5, **bot_done))
    assert CHECK_IN in run(active_client().runs_as(BOT).message(1, "res.partner", 10, -5, author=100 + BOT))
    person_done = dict(message_type="notification", activity_type=2, author=100 + SALES)
    assert not run(active_client().runs_as(BOT).message(1, "res.partner", 10, -5, **person_done))
    # a snapshot that does not say who ClientCare is (pulled before it was recorded) counts it
    assert not run(active_client().message(1, "res.partner", 10, -5, **bot_done))


def test_the_last_contact_shown_is_a_persons():
    b = (active_client().runs_as(BOT).message(1, "res.partner", 10, -70, author=100 + SALES)
         .message(2, "res.partner", 10, -5, message_type="notification", activity_type=2, author=100 + BOT))
    f = run(b)[CHECK_IN]
    assert f.evidence[1]["record"] == "mail.message,1"
    assert f.evidence[1]["date"] == (AS_OF - timedelta(days=70)).isoformat()


def test_ignored_authors_do_not_count():
    b = active_client().message(1, "res.partner", 10, -5, author=999)
    assert not run(b)
    assert CHECK_IN in run(b, ignore_author_ids=(999,))


@pytest.mark.parametrize("model, res_id", [("res.partner", 10), ("res.partner", 11)])
def test_never_when_an_open_activity_sits_on_the_client(model, res_id):
    assert not run(active_client().activity(1, model, res_id))


def test_an_activity_on_another_record_does_not_block():
    assert CHECK_IN in run(active_client().activity(1, "project.task", 1))


def test_no_check_in_without_contact_history_or_activities():
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES, created=-400)
    b.project(1, "P", 10, created=-400).task(1, "T", 1, created=-400)
    assert not run(b)                      # neither table pulled
    assert not run(b.tables("messages"))   # open activities unknown
    assert CHECK_IN in run(b.tables("activities"))


def test_inactive_clients_get_no_check_in():
    b = SnapshotBuilder(17).client(10, "Dormant", SALES, created=-900).tables("messages", "activities")
    b.invoice(1, 10, -400, 100.0, 0.0, paid=-390, invoice_date=-430)
    assert not run(b)
    b.invoice(2, 10, -300, 100.0, 0.0, paid=-290, invoice_date=-364)
    assert CHECK_IN in run(b)  # invoiced within 365 days


# -- fix check -------------------------------------------------------------------------------------------
def fix_task(version=17, closed_on=-7, project="Helpdesk"):
    b = active_client(version).project(2, project, 10, MANAGER, created=-400)
    b.message(1, "res.partner", 10, -60)
    return b.task(5, "Login broken", 2, users=[SALES], state="1_done", closed_on=closed_on, created=-30)


@pytest.mark.parametrize("version", [16, 19])
@pytest.mark.parametrize("closed, found", [(-6, False), (-7, True), (-36, True), (-37, False)])
def test_fix_check_n_days_after_closing_until_it_expires(version, closed, found):
    keys = run(fix_task(version, closed), ["fix_check"], fix_projects=("helpdesk",))
    assert ("follow_up:project.task:5:fix_check" in keys) == found


def test_fix_check_details():
    f = run(fix_task(), ["fix_check"], fix_projects=(2,))["follow_up:project.task:5:fix_check"]
    assert visible(f.summary) == "is the fix holding? check with Azure Interior about 'Login broken'"
    assert f.evidence[0] == {"signal": "fix task done", "record": "project.task,5", "date": "2026-11-15",
                             "value": "in project Helpdesk"}
    assert f.action.due_date == AS_OF  # 7 days after closing (and over 14 after the last contact)
    assert f.route["task_user_ids"] == [SALES] and f.route["project_id"] == 2
    assert not run(fix_task(), ["fix_check"])  # no fix project configured
    assert not run(fix_task(project="Office"), ["fix_check"], fix_projects=("helpdesk",))


def test_fix_check_resolved_by_a_contact_after_it_fell_due():
    assert not run(fix_task(closed_on=-10).message(2, "project.task", 5, -2), ["fix_check"], fix_projects=(2,))
    assert run(fix_task(closed_on=-10).message(2, "project.task", 5, -4), ["fix_check"], fix_projects=(2,))


# -- survey ------------------------------------------------------------------------------------------------
def period_start(client_id: int, every: int) -> date:
    k = (AS_OF.toordinal() + client_id) // every
    return date.fromordinal(k * every - client_id)


def test_survey_every_n_days_in_staggered_periods():
    b = active_client().message(1, "res.partner", 10, -40)
    start = period_start(10, 30)
    found = run(b, ["survey"], survey_every_days=30)
    f = found[f"follow_up:res.partner:10:survey:{start.isoformat()}"]
    assert f.period == start.isoformat() and f.severity == "info"
    assert f.evidence[1]["value"] == "no rating in 30 days"
    other = SnapshotBuilder(17).client(11, "Other", SALES, created=-400).tables("ratings")
    other.project(1, "P", 11, created=-400).task(1, "T", 1, created=-400)
    assert run(other, ["survey"], survey_every_days=30)[
        f"follow_up:res.partner:11:survey:{period_start(11, 30).isoformat()}"]


def test_a_recent_rating_means_no_survey():
    assert not run(active_client().rating(1, 10, 5, when=-10), ["survey"], survey_every_days=30)
    assert run(active_client().rating(1, 10, 5, when=-31), ["survey"], survey_every_days=30)


# Deliberate change: without ratings, surveys used to be proposed periodically; whether the
# client rated is unknown, so now none is proposed and survey keys are not judged.
def test_survey_without_rating_data_is_not_judged_and_new_clients_wait():
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES, created=-400)
    b.project(1, "P", 10, created=-400).task(1, "T", 1, created=-400)
    out = evaluate(fu, b.build(), AS_OF, fu.Config(kinds=("survey",), survey_every_days=30))
    assert not out.findings
    assert [(n.pattern, n.reason) for n in out.not_judged] == [
        ("follow_up:*:survey*", "ratings not readable: whether the client rated is unknown")]
    b.tables("ratings")
    assert run(b, ["survey"], survey_every_days=30)
    assert not run(active_client(created=-20).tables("ratings"), ["survey"], survey_every_days=30)


def test_survey_lapses_after_the_expiry_window():
    start = period_start(10, 180)
    days_in = (AS_OF - start).days
    assert bool(run(active_client(), ["survey"], expire_after_days=days_in + 1)) is True
    assert not run(active_client(), ["survey"], expire_after_days=days_in)
    assert not run(active_client(), ["survey"], survey_every_days=0)


# -- punch list ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("closed, found", [(-13, False), (-14, True), (-43, True), (-44, False)])
def test_punch_list_after_the_project_completes(closed, found):
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES, created=-400)
    b.project(3, "Kitchen", 10, MANAGER, created=-200).task(7, "Fit", 3, state="1_done", closed_on=closed - 3)
    b.task(8, "Paint", 3, state="1_done", closed_on=closed)
    keys = run(b, ["punch_list"])
    assert ("follow_up:project.project:3:punch_list" in keys) == found
    if found:
        f = keys["follow_up:project.project:3:punch_list"]
        assert f.evidence[0]["date"] == (AS_OF + timedelta(days=closed)).isoformat()
        assert f.evidence[0]["value"] == "2 task(s), none open"


def test_punch_list_needs_a_done_project():
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES, created=-400)
    b.project(3, "Kitchen", 10, MANAGER).task(7, "Fit", 3, state="1_done", closed_on=-20).task(8, "Open", 3)
    assert not run(b, ["punch_list"])
    b.project(4, "Status done", 10, MANAGER, status="done", created=-100)  # no tasks: its last write counts
    assert not run(b, ["punch_list"])


# -- onboarding --------------------------------------------------------------------------------------------------
def new_client(first=-10):
    b = SnapshotBuilder(17).client(10, "Newco", SALES, created=-400)
    b.project(1, "Setup", 10, MANAGER, created=first).task(1, "Kickoff", 1, users=[SALES], created=first)
    return b.invoice(1, 10, 20, 500.0, invoice_date=first + 2, salesperson=ADMIN)


@pytest.mark.parametrize("first, steps", [(-44, 4), (-45, 0), (0, 4)])
def test_onboarding_steps_for_a_new_client(first, steps):
    assert len(run(new_client(first), ["onboarding"])) == steps


def test_onboarding_owners_and_due_dates():
    result = run_rules(new_client().build(), AS_OF, {"follow_up": {"kinds": ["onboarding"]}},
                       registry=builtin_rules(), only=["follow_up"])
    got = {f.part: (f.responsible_user_id, f.routed_by, f.action.due_date, f.action.activity_type)
           for f in result.findings}
    first = AS_OF - timedelta(days=10)
    assert got == {  # the project manager's two steps are one activity (below)
        "onboarding:expectations": (SALES, "client_salesperson", first + timedelta(days=2), "meeting"),
        "onboarding:scope": (MANAGER, "project_manager", first + timedelta(days=5), "meeting"),
        "onboarding:payment_terms": (ADMIN, "invoice_salesperson", first + timedelta(days=5), "email"),
    }


# Deliberate change (issue 21): one onboarding activity per client and owner (it was one per step:
# four at once for one salesperson); the owner's earliest step leads, the others are listed in it.
def test_onboarding_is_one_activity_per_client_and_owner_listing_the_steps():
    result = run_rules(new_client().build(), AS_OF, {"follow_up": {"kinds": ["onboarding"]}},
                       registry=builtin_rules(), only=["follow_up"])
    scope = next(f for f in result.findings if f.responsible_user_id == MANAGER)
    assert scope.key == "follow_up:res.partner:10:onboarding:scope"
    assert visible(scope.summary) == "confirm the scope of work with Newco (+1 more)"
    assert scope.replaces == ("follow_up:res.partner:10:onboarding:responsibilities",)
    first = AS_OF - timedelta(days=10)
    assert [(r["date"], r["value"]) for r in scope.evidence if r["signal"] == "onboarding step"] == [
        ((first + timedelta(days=5)).isoformat(), "confirm the scope of work with Newco (owner: the project manager)"),
        ((first + timedelta(days=10)).isoformat(), "agree who does what, on both sides, with Newco (owner: the project manager)")]
    assert sum(r["signal"] == "client first seen" for r in scope.evidence) == 1
    assert sorted(len(f.replaces) for f in result.findings) == [0, 0, 1]
    steps = [{"name": n, "summary": f"{n} with {{client}}", "due_after_days": d} for n, d in (("b", 3), ("a", 1), ("c", 9))]
    one_owner = run_rules(new_client().build(), AS_OF, {"follow_up": {"kinds": ["onboarding"], "onboarding_steps": steps}},
                          registry=builtin_rules(), only=["follow_up"])
    (f,) = one_owner.findings
    assert (f.key, visible(f.summary), f.responsible_user_id) == ("follow_up:res.partner:10:onboarding:a", "a with Newco (+2 more)",
                                                         SALES)
    assert f.replaces == ("follow_up:res.partner:10:onboarding:b", "follow_up:res.partner:10:onboarding:c")


def test_custom_onboarding_step_with_a_named_owner():
    cfg = builtin_rules().configure({"follow_up": {"kinds": ["onboarding"], "onboarding_steps": [
        {"name": "welcome", "summary": "welcome pack for {client}", "owner_user_id": ADMIN, "due_after_days": 0}]}})
    result = run_rules(new_client().build(), AS_OF, cfg, registry=builtin_rules(), only=["follow_up"])
    (f,) = result.findings
    assert (f.key, visible(f.summary), f.responsible_user_id) == (
        "follow_up:res.partner:10:onboarding:welcome", "welcome pack for Newco", ADMIN)


# -- spacing -----------------------------------------------------------------------------------------------
def test_contacts_to_one_client_are_spaced():
    b = active_client().message(1, "res.partner", 10, -74)
    b.project(3, "Kitchen", 10, MANAGER, created=-200).task(8, "Paint", 3, state="1_done", closed_on=-20)
    found = run(b, ["check_in", "punch_list"])
    check, punch = found[CHECK_IN], found["follow_up:project.project:3:punch_list"]
    assert check.action.due_date == AS_OF - timedelta(days=14)          # 60 days after the last contact
    assert punch.action.due_date == AS_OF                               # due on day -6, pushed 14 after
    nearer = run(b, ["check_in", "punch_list"], min_days_between_contacts=0)
    assert nearer["follow_up:project.project:3:punch_list"].action.due_date == AS_OF - timedelta(days=6)
    # and never sooner than the gap after the last logged contact
    recent = run(fix_task(closed_on=-7).message(2, "res.partner", 11, -8), ["fix_check"], fix_projects=(2,))
    assert recent["follow_up:project.task:5:fix_check"].action.due_date == AS_OF + timedelta(days=6)


def test_every_kind_explains_itself_and_routes():
    b = fix_task()
    b.project(3, "Kitchen", 10, MANAGER, created=-200).task(8, "Paint", 3, state="1_done", closed_on=-20)
    result = run_rules(b.build(), AS_OF, {"follow_up": {"fix_projects": ["Helpdesk"], "survey_every_days": 30}},
                       {"default_user_id": ADMIN}, registry=builtin_rules(), only=["follow_up"])
    kinds = {f.data["kind"] for f in result.findings}
    assert kinds == {"check_in", "fix_check", "survey", "punch_list"}
    for f in result.findings:
        assert f.evidence and f.responsible_user_id and f.resolved_when and f.action.due_date


# -- unknown is not resolved ---------------------------------------------------------------------------------
def test_without_invoices_onboarding_is_unknown_not_proposed():
    """A bot that cannot read invoices once proposed onboarding to long-standing clients."""
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES, created=-400)
    b.project(1, "Office Design", 10, MANAGER, created=-10).task(1, "Chairs", 1, created=-10)
    b.invoice(5, 10, -300, 100.0, 0.0, invoice_date=-330, paid=-300)
    snap = b.build()
    assert "follow_up:res.partner:10:onboarding:scope" not in {
        f.key for f in evaluate(fu, snap, AS_OF, fu.Config(kinds=("onboarding",))).findings}
    del snap.tables["moves"]
    out = evaluate(fu, snap, AS_OF, fu.Config(kinds=("onboarding",)))
    assert not out.findings
    assert [n.pattern for n in out.not_judged] == ["follow_up:*:onboarding*"]


def test_without_contact_history_check_ins_are_not_judged():
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES, created=-400)
    b.project(1, "Office Design", 10, MANAGER, created=-400).task(1, "Chairs", 1, created=-400)
    out = evaluate(fu, b.build(), AS_OF, fu.Config(kinds=("check_in",)))
    assert not out.findings and [n.pattern for n in out.not_judged] == ["follow_up:*:check_in"]


# -- closings say what happened ---------------------------------------------------------------------------
def closings(before: SnapshotBuilder, after: SnapshotBuilder, kinds=("check_in",), **config) -> dict[str, str]:
    cfg = fu.Config(kinds=tuple(kinds), **config)
    previous = [f.to_dict() for f in evaluate(fu, before.build(), AS_OF, cfg).findings]
    assert previous, "the first run raises something"
    return {r.key: visible(r.how) for r in evaluate(fu, after.build(), AS_OF, cfg, previous=previous).resolved}


def test_a_check_in_closes_with_the_persons_contact():
    before = active_client().runs_as(BOT).message(1, "res.partner", 11, -70, author=100 + SALES)
    after = active_client().runs_as(BOT).message(1, "res.partner", 11, -70, author=100 + SALES)
    after.message(2, "project.task", 1, -1, message_type="email", author=11)
    assert closings(before, after) == {CHECK_IN: "contact logged: email by Ann on 2026-11-21"}
    after = active_client().runs_as(BOT).message(1, "res.partner", 11, -70, author=100 + SALES)
    after.message(2, "res.partner", 10, -1, message_type="notification", activity_type=2, author=100 + SALES)
    assert closings(before, after) == {CHECK_IN: "contact logged: done activity by Marc Demo on 2026-11-21"}


def test_clientcare_closing_another_activity_leaves_the_check_in_open():
    """The live scenario of issue 20: ClientCare closes a resolved activity (Odoo's "activity
    done" message, authored by its user); the next sync keeps the check-in and closes nothing."""
    before = active_client().runs_as(BOT).message(1, "res.partner", 11, -70, author=100 + SALES)
    after = active_client().runs_as(BOT).message(1, "res.partner", 11, -70, author=100 + SALES)
    after.message(2, "account.move", 5, -1, message_type="notification", activity_type=2, author=100 + BOT)
    after.invoice(5, 10, -20, 100.0, 0.0, paid=-1)
    assert CHECK_IN in run(after) and closings(before, after) == {}


def test_a_check_in_closes_with_the_activity_planned_or_the_client_gone():
    before = active_client().message(1, "res.partner", 11, -70)
    after = active_client().message(1, "res.partner", 11, -70).activity(1, "res.partner", 11, 3, summary="lunch")
    assert closings(before, after) == {CHECK_IN: "activity 'lunch' planned on the client, due 2026-11-25"}
    after = active_client().message(1, "res.partner", 11, -70)
    after.rows["partners"][0]["active"] = False
    assert closings(before, after) == {CHECK_IN: "client Azure Interior archived"}
    idle = SnapshotBuilder(17).client(10, "Azure Interior", SALES, created=-400).contact(11, "Ann", 10)
    idle.project(1, "Office Design", 10, MANAGER, created=-400).task(1, "Chairs", 1, state="1_done", created=-400)
    idle.tables("messages", "activities", "ratings").message(1, "res.partner", 11, -70)
    assert closings(before, idle) == {CHECK_IN: "Azure Interior is no longer an active client (nothing invoiced "
                                                "in 365 days, no open task or running project)"}


def test_one_off_follow_ups_close_with_the_contact_or_their_expiry():
    key = "follow_up:project.task:5:fix_check"
    before = fix_task(closed_on=-10)
    contacted = fix_task(closed_on=-10).message(2, "project.task", 5, -1, author=100 + SALES)
    assert closings(before, contacted, ["fix_check"], fix_projects=(2,)) == {
        key: "contact logged: message by Marc Demo on 2026-11-21"}
    assert closings(before, fix_task(closed_on=-10), ["fix_check"], fix_projects=(2,)) == {}  # still due
    expiring = fix_task(closed_on=-10)
    out = evaluate(fu, expiring.build(), AS_OF + timedelta(days=30), fu.Config(kinds=("fix_check",), fix_projects=(2,)),
                   previous=[f.to_dict() for f in evaluate(fu, before.build(), AS_OF, fu.Config(
                       kinds=("fix_check",), fix_projects=(2,))).findings])
    assert {r.key: r.how for r in out.resolved} == {key: "expired on 2026-12-19 without a logged contact"}


def test_a_survey_closes_with_the_rating_and_onboarding_when_the_client_is_no_longer_new():
    before = active_client()
    key = f"follow_up:res.partner:10:survey:{period_start(10, 30).isoformat()}"
    rated = active_client().rating(1, 10, 4, when=-1)
    assert closings(before, rated, ["survey"], survey_every_days=30) == {key: "rated 4/5 on 2026-11-21"}
    onboarding = "follow_up:res.partner:10:onboarding:expectations"
    new = new_client(-40)
    found = {r.key: r.how for r in evaluate(fu, new.build(), AS_OF + timedelta(days=10), fu.Config(
        kinds=("onboarding",)), previous=[f.to_dict() for f in evaluate(
            fu, new.build(), AS_OF, fu.Config(kinds=("onboarding",))).findings]).resolved}
    assert found[onboarding] == "Newco is no longer a new client (first seen 2026-10-13, 45 days)"


def test_a_kind_turned_off_says_so():
    before = active_client().message(1, "res.partner", 11, -70)
    previous = [f.to_dict() for f in evaluate(fu, before.build(), AS_OF, fu.Config(kinds=("check_in",))).findings]
    out = evaluate(fu, before.build(), AS_OF, fu.Config(kinds=("survey",)), previous=previous)
    assert [(r.key, r.how) for r in out.resolved] == [(CHECK_IN, "check-in follow-ups are turned off in ClientCare's settings")]
