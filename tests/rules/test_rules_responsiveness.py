"""responsiveness on hand-built snapshots: working hours and time zone, reply versus internal
note, routing, escalation, resolution and "not judged" (the cassettes prove it on real Odoo)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from clientcare.rules.testing import visible
from clientcare.connector.schema import TABLES
from clientcare.rules.builtin import responsiveness as R
from clientcare.rules.config import parse_config
from clientcare.rules.testing import ADMIN, AS_OF, BOT, MANAGER, SALES, SnapshotBuilder, WorkingTime, keys, run

STAFF = 100 + SALES  # the builder's users have partner 100 + uid
KEY = "responsiveness:res.partner:10:unanswered"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def base(version=17) -> SnapshotBuilder:
    return (SnapshotBuilder(version).client(10, "Azure Interior", SALES).contact(11, "Brandon Freeman", 10)
            .client(20, "Deco Addict", ADMIN).contact(21, "Doug Deco", 20)
            .project(5, "Office design", 10, manager=MANAGER)
            .task(7, "Chairs", 5, client=10, users=(ADMIN,))
            .invoice(30, 10, due=5, total=100.0, salesperson=MANAGER)
            .tables("messages", "activities"))


def due(sent: datetime, cfg: R.Config) -> datetime:
    """The reply due date on the rule's own working-time keys over the plain weekdays (no Odoo
    calendar: Monday to Friday 09:00-17:00 UTC)."""
    return R.reply_due(sent, cfg, WorkingTime.weekdays().overridden(cfg.working_time()).for_user(None))


def test_reply_due_counts_working_hours_and_skips_the_weekend():
    cfg = R.Config()
    assert due(utc(2026, 11, 16, 10), cfg) == utc(2026, 11, 17, 10)    # Mon 10:00 -> Tue 10:00
    assert due(utc(2026, 11, 20, 16), cfg) == utc(2026, 11, 23, 16)    # Fri 16:00 -> Mon 16:00
    assert due(utc(2026, 11, 21, 11), cfg) == utc(2026, 11, 23, 17)    # Sat -> all of Monday
    assert due(utc(2026, 11, 16, 6), cfg) == utc(2026, 11, 16, 17)     # before opening
    short = R.Config(reply_within_hours=2, working_hours=(8, 18), working_days=(1, 2, 3, 4, 5, 6))
    assert due(utc(2026, 11, 21, 17, 30), short) == utc(2026, 11, 23, 9, 30)  # Sat worked, Sun not


def test_reply_due_uses_the_configured_time_zone():
    brussels = R.Config(timezone="Europe/Brussels")  # UTC+1 in November
    # Fri 15:30 UTC = 16:30 in Brussels: 30 minutes on Friday, 7.5 hours on Monday (from 09:00 local)
    assert due(utc(2026, 11, 20, 15, 30), brussels) == utc(2026, 11, 23, 15, 30)
    ny = R.Config(timezone="America/New_York")  # UTC-5: Mon 02:00 UTC is Sun 21:00 there
    assert due(utc(2026, 11, 23, 2), ny) == utc(2026, 11, 23, 22)


def test_an_unanswered_email_is_raised_for_the_salesperson_with_its_contact():
    b = base().message(1, "res.partner", 10, utc(2026, 11, 18, 10), message_type="email", author=11)
    result = run(R, b.build(), AS_OF)
    assert keys(result) == [KEY]
    f = result.findings[0]
    assert visible(f.summary) == "reply to Brandon Freeman of Azure Interior: waiting since 2026-11-18 10:00 (UTC)"
    assert (f.responsible_user_id, f.routed_by) == (SALES, "client_salesperson")
    assert f.action.activity_type == "email" and f.action.due_date == date(2026, 11, 19)
    assert [r["message"] for r in f.evidence if r["message"]] == ["mail.message,1"]


def test_judged_per_day_a_reply_not_yet_due_is_not_raised():
    # Fri 2026-11-20 16:00 -> due Mon 16:00: not raised on Sunday, raised on Tuesday
    b = base().message(1, "res.partner", 10, utc(2026, 11, 20, 16), message_type="email", author=11)
    snap = b.build()
    assert keys(run(R, snap, AS_OF)) == []
    assert keys(run(R, snap, date(2026, 11, 23))) == [], "due during the run's day: not yet"
    assert keys(run(R, snap, date(2026, 11, 24))) == [KEY]


@pytest.mark.parametrize("reply, answered", [
    (dict(message_type="email"), True),
    (dict(message_type="comment"), True),                     # "Send message": a discussion
    (dict(message_type="comment", subtype="Note"), False),    # "Log note": internal
    (dict(message_type="comment", activity_type=2), False),   # an activity marked done: a log, not a reply
])
def test_only_a_message_the_client_receives_is_a_reply(reply, answered):
    b = (base().message(1, "res.partner", 10, utc(2026, 11, 16, 10), message_type="email", author=11)
         .message(2, "res.partner", 10, utc(2026, 11, 16, 12), author=STAFF, **reply))
    assert keys(run(R, b.build(), AS_OF)) == ([] if answered else [KEY])


def test_a_reply_before_the_message_or_on_another_record_does_not_count():
    b = (base().message(1, "res.partner", 10, utc(2026, 11, 16, 9), message_type="email", author=STAFF)
         .message(2, "res.partner", 10, utc(2026, 11, 16, 10), message_type="email", author=11)
         .message(3, "project.task", 7, utc(2026, 11, 16, 11), message_type="email", author=STAFF))
    result = run(R, b.build(), AS_OF)
    assert keys(result) == [KEY]
    f = result.findings[0]
    assert "waiting since 2026-11-16 10:00" in visible(f.summary)


def test_only_the_client_side_is_waiting_for_an_answer():
    b = (base()
         .message(1, "res.partner", 10, utc(2026, 11, 16, 10), message_type="email", author=21)  # another client
         .message(2, "res.partner", 10, utc(2026, 11, 16, 10), message_type="email", author=STAFF)  # a colleague
         .message(3, "res.partner", 20, utc(2026, 11, 16, 10), message_type="email")  # no author
         .message(4, "res.partner", 20, utc(2026, 10, 1, 10), message_type="email", author=21))  # too old
    assert keys(run(R, b.build(), AS_OF)) == []
    assert keys(run(R, b.build(), AS_OF, {"look_back_days": 60})) == ["responsiveness:res.partner:20:unanswered"]


def test_each_record_goes_to_who_answers_there():
    when = utc(2026, 11, 16, 10)
    b = (base().message(1, "project.project", 5, when, author=11)
         .message(2, "project.task", 7, when, author=11)
         .message(3, "account.move", 30, when, message_type="email", author=11))
    found = run(R, b.build(), AS_OF).findings
    owners = {f.subject_model: (f.responsible_user_id, f.routed_by, f.subject_name) for f in found}
    # the manager answers on the project and the invoice: one activity (the rest listed in it)
    assert owners == {"project.task": (ADMIN, "task_assignee", "Chairs"),
                      "account.move": (MANAGER, "invoice_salesperson", "INV/2026/00030")}
    invoice = next(f for f in found if f.subject_model == "account.move")
    assert invoice.replaces == ("responsiveness:project.project:5:unanswered",)


# Deliberate change (issue 21): one unanswered activity per client and person, not one per record.
def test_records_waiting_for_one_person_are_one_activity_listing_each():
    b = (base().message(1, "res.partner", 10, utc(2026, 11, 16, 10), message_type="email", author=11)
         .message(2, "project.task", 7, utc(2026, 11, 17, 9), author=11)
         .message(3, "res.partner", 20, utc(2026, 11, 16, 9), message_type="email", author=21))
    b.task(8, "Desk", 5, client=10, users=(SALES,)).message(4, "project.task", 8, utc(2026, 11, 12, 9), author=11)
    found = {f.key: f for f in run(R, b.build(), AS_OF).findings}
    assert sorted(found) == ["responsiveness:project.task:7:unanswered", "responsiveness:project.task:8:unanswered",
                             "responsiveness:res.partner:20:unanswered"]
    desk = found["responsiveness:project.task:8:unanswered"]  # the oldest waiting leads
    assert desk.responsible_user_id == SALES and visible(desk.summary).endswith("on Desk (+1 more)")
    assert desk.replaces == (KEY,) and desk.data["message_ids"] == [4, 1]
    assert [r["record"] for r in desk.evidence if r["signal"] == "client message"] == [
        "project.task,8", "res.partner,10"]
    assert [m["key"] for m in desk.data["folded"]] == [KEY]


def test_an_answer_closes_it_with_who_answered_and_when():
    first = run(R, base().message(1, "res.partner", 10, utc(2026, 11, 16, 10), message_type="email",
                                  author=11).build(), AS_OF)
    previous = [f.to_dict() for f in first.findings]
    b = (base().message(1, "res.partner", 10, utc(2026, 11, 16, 10), message_type="email", author=11)
         .message(2, "res.partner", 10, utc(2026, 11, 22, 8, 5), message_type="email", author=STAFF))
    snap = b.build()
    later = run(R, snap, AS_OF, previous=previous)
    assert keys(later) == []
    assert [(r.key, r.how) for r in later.resolved] == [(KEY, "answered by Marc Demo on 2026-11-22 08:05 (UTC)")]
    # a note is not an answer: nothing is said to be resolved
    b = base().message(1, "res.partner", 10, utc(2026, 11, 16, 10), message_type="email", author=11)
    b.message(2, "res.partner", 10, utc(2026, 11, 22, 8), author=STAFF, subtype="Note")
    still = run(R, b.build(), AS_OF, previous=previous)
    assert keys(still) == [KEY] and still.resolved == []


def test_clientcare_own_messages_are_no_answer():
    """ClientCare's user is an internal user, but what it writes answers nobody; a colleague's
    email does.  A ClientCare user who is a real person's login silences their replies too:
    ClientCare should run as its own user."""
    asked = dict(message_type="email", author=11)
    b = (base().runs_as(BOT).message(1, "res.partner", 10, utc(2026, 11, 16, 10), **asked)
         .message(2, "res.partner", 10, utc(2026, 11, 16, 12), message_type="email", author=100 + BOT))
    assert keys(run(R, b.build(), AS_OF)) == [KEY]
    b.message(3, "res.partner", 10, utc(2026, 11, 16, 13), message_type="email", author=STAFF)
    assert keys(run(R, b.build(), AS_OF)) == []
    as_marc = (base().runs_as(SALES).message(1, "res.partner", 10, utc(2026, 11, 16, 10), **asked)
               .message(2, "res.partner", 10, utc(2026, 11, 16, 12), message_type="email", author=STAFF))
    assert keys(run(R, as_marc.build(), AS_OF)) == [KEY]


def test_clientcare_own_message_does_not_close_an_unanswered_activity():
    asked = dict(message_type="email", author=11)
    first = run(R, base().runs_as(BOT).message(1, "res.partner", 10, utc(2026, 11, 16, 10), **asked).build(), AS_OF)
    previous = [f.to_dict() for f in first.findings]
    b = (base().runs_as(BOT).message(1, "res.partner", 10, utc(2026, 11, 16, 10), **asked)
         .message(2, "res.partner", 10, utc(2026, 11, 22, 8), message_type="email", author=100 + BOT))
    later = run(R, b.build(), AS_OF, previous=previous)
    assert keys(later) == [KEY] and later.resolved == []


def test_overdue_activities_become_one_broken_promise_per_client():
    b = (base().activity(1, "project.task", 7, due=-10, user=ADMIN, summary="send the quote")
         .activity(2, "res.partner", 11, due=-4, user=SALES, summary="call back")
         .activity(3, "account.move", 30, due=-3, summary="three days: within the grace")
         .activity(4, "res.partner", 20, due=-2, summary="Deco: not yet"))
    result = run(R, b.build(), AS_OF)
    assert keys(result) == ["responsiveness:res.partner:10:broken_promises"]
    f = result.findings[0]
    assert visible(f.summary) == ("keep the promises made to the client: 2 overdue activities on Azure Interior, "
                         "the oldest due 2026-11-12")
    assert [(r["activity"], r["owner"], r["days_overdue"]) for r in f.evidence] == [
        ("mail.activity,1", "Mitchell Admin", 10), ("mail.activity,2", "Marc Demo", 4)]
    assert (f.responsible_user_id, f.routed_by) == (SALES, "client_salesperson")
    assert f.daily == ("days_overdue",)


def test_a_promise_overdue_long_enough_escalates_to_the_manager_under_the_same_key():
    b = base().activity(1, "project.task", 7, due=-14, user=ADMIN)
    escalated = run(R, b.build(), AS_OF, {"manager_user_id": MANAGER}).findings[0]
    assert escalated.key == "responsiveness:res.partner:10:broken_promises"
    assert visible(escalated.summary).startswith("manager: ") and escalated.severity == "high"
    assert (escalated.responsible_user_id, escalated.routed_by) == (
        MANAGER, "rule: responsiveness.manager_user_id")
    no_manager = run(R, b.build(), AS_OF, routing={"default_user_id": ADMIN}).findings[0]
    assert (no_manager.responsible_user_id, no_manager.routed_by) == (ADMIN, "default")
    assert run(R, b.build(), date(2026, 11, 21)).findings[0].severity == "medium"


def test_done_or_rescheduled_activities_are_no_promise_broken():
    b = base().activity(1, "project.task", 7, due=2, user=ADMIN)
    assert keys(run(R, b.build(), AS_OF)) == []


PROMISES = "responsiveness:res.partner:10:broken_promises"


def promises(version=17, **quote):
    return (base(version).activity(1, "project.task", 7, **{"due": -10, "user": ADMIN, "summary": "send the quote",
                                                            **quote})
            .activity(2, "res.partner", 11, due=-5, summary="call back"))


def kept(before: SnapshotBuilder, after: SnapshotBuilder) -> dict[str, str]:
    previous = [f.to_dict() for f in run(R, before.build(), AS_OF).findings]
    assert PROMISES in {p["key"] for p in previous}
    return {r.key: visible(r.how) for r in run(R, after.build(), AS_OF, previous=previous).resolved}


def test_promises_kept_close_saying_which_were_done_and_which_rescheduled():
    after = promises(done=-1)
    after.rows["activities"] = [r for r in after.rows["activities"] if r["id"] != 2]
    after.activity(2, "res.partner", 11, due=6, summary="call back")
    assert kept(promises(), after) == {PROMISES: "'send the quote' done on 2026-11-21; 'call back' rescheduled to "
                                                 "2026-11-28"}
    assert kept(promises(), promises()) == {}  # still overdue: nothing goes away


def test_on_16_a_done_activity_is_gone_from_the_table():
    after = base(16).activity(2, "res.partner", 11, due=1, summary="call back")
    assert kept(promises(16), after) == {PROMISES: "'send the quote' done or deleted; 'call back' rescheduled to "
                                                   "2026-11-23"}


def test_an_unanswered_message_closes_saying_why_when_nobody_answered():
    asked = dict(message_type="email", author=11)
    first = run(R, base().message(1, "res.partner", 10, utc(2026, 11, 16, 10), **asked).build(), AS_OF)
    previous = [f.to_dict() for f in first.findings]
    later = run(R, base().build(), AS_OF, previous=previous)
    assert [(r.key, r.how) for r in later.resolved] == [(KEY, "the client's message was deleted")]
    old = run(R, base().message(1, "res.partner", 10, utc(2026, 11, 16, 10), **asked).build(), date(2026, 12, 20),
              previous=previous)
    assert [(r.key, r.how) for r in old.resolved] == [
        (KEY, "the client's message of 2026-11-16 10:00 is over 30 days old: no longer chased")]


@pytest.mark.parametrize("version", [16, 17])
def test_without_the_table_the_kind_is_not_judged(version):
    b = (SnapshotBuilder(version).client(10, "Azure Interior", SALES))
    result = run(R, b.build(), AS_OF)
    assert keys(result) == []
    assert {(n.pattern, n.reason) for n in result.not_judged} == {
        ("responsiveness:*:unanswered", "messages not readable (not pulled)"),
        ("responsiveness:*:broken_promises", "activities not readable (not pulled)")}


def test_bad_settings_are_refused_together():
    _, problems = parse_config(R.Config, {"timezone": "Mars/Olympus", "working_hours": [18, 9],
                                          "working_days": [0, 6], "escalate_after_days": 2}, "rules.responsiveness")
    assert len(problems) == 4, problems
    assert any("Mars/Olympus" in p for p in problems)


ORDER_TYPES = {"name": "char", "partner_id": "many2one", "user_id": "many2one", "create_date": "datetime"}
MSG_TYPES = {"date": "datetime", "model": "char", "res_id": "many2one_reference", "message_type": "selection",
             "author_id": "many2one", "mail_activity_type_id": "many2one", "subtype_id": "many2one",
             "create_date": "datetime"}


def order_message(mid, when, author, message_type="email"):
    return {"id": mid, "date": when.strftime("%Y-%m-%d %H:%M:%S"), "model": "sale.order", "res_id": 40,
            "message_type": message_type, "author_id": [author, f"partner {author}"], "mail_activity_type_id": False,
            "subtype_id": [1, "Discussions"], "create_date": False}


def test_a_watched_model_is_read_only_when_listed_and_its_records_go_to_their_responsible():
    assert R.config_tables(R.Config()) == []
    specs = R.config_tables(R.Config(watch_models=("sale.order",)))
    assert [(t.name, t.model) for t in specs] == [("watch_sale_order", "sale.order"),
                                                  ("watch_sale_order_messages", "mail.message")]
    assert specs[1].domain[0] == ("model", "=", "sale.order") and specs[1].fields == TABLES["messages"].fields
    b = (base().add("watch_sale_order", ORDER_TYPES, {"id": 40, "name": "S00040", "partner_id": [11, "Brandon"],
                                                       "user_id": [MANAGER, "Manager Mia"], "create_date": False})
         .add("watch_sale_order_messages", MSG_TYPES, order_message(1, utc(2026, 11, 16, 10), 11)))
    cfg = {"watch_models": ["sale.order"]}
    result = run(R, b.build(), AS_OF, cfg)
    assert keys(result) == ["responsiveness:sale.order:40:unanswered"]
    f = result.findings[0]
    assert (f.client_id, f.subject_name, f.responsible_user_id) == (10, "S00040", MANAGER)
    assert visible(f.summary).endswith("on S00040")
    assert keys(run(R, b.build(), AS_OF)) == [], "not listed: not read"
    b.add("watch_sale_order_messages", MSG_TYPES, order_message(2, utc(2026, 11, 16, 11), STAFF, "comment"))
    assert keys(run(R, b.build(), AS_OF, cfg)) == []


def test_a_watched_model_that_could_not_be_read_is_not_judged():
    result = run(R, base().build(), AS_OF, {"watch_models": ["crm.lead"]})
    assert ("responsiveness:crm.lead:*:unanswered", "crm.lead or its messages not readable (not pulled; not pulled)") \
        in {(n.pattern, n.reason) for n in result.not_judged}


def test_bad_watched_models_are_refused():
    _, problems = parse_config(R.Config, {"watch_models": ["sale.order", "sale.order", "Quotes", "res.partner"]},
                               "rules.responsiveness")
    assert problems == ["rules.responsiveness: watch_models: 'Quotes' is not an Odoo model name (like 'sale.order')",
                        "rules.responsiveness: watch_models: 'res.partner' is watched already",
                        "rules.responsiveness: watch_models: a model is listed twice"]


def test_the_built_in_pull_is_unchanged_and_watched_tables_come_with_the_setting(tmp_path):
    from clientcare.jobs.ruleset import load_with_rules
    from clientcare.jobs.sync import pull_options
    from clientcare.rules.registry import builtin_names

    cfg = tmp_path / "c.toml"
    own = "[profiles.p]\nrules_enabled = [" + ", ".join(f'"{n}"' for n in builtin_names()) + "]\n"
    cfg.write_text(own)
    plain = pull_options(load_with_rules("p", cfg, env={}, require_connection=False)[1])
    cfg.write_text(own + '[profiles.p.rules.responsiveness]\nwatch_models = ["sale.order"]\n')
    watched = pull_options(load_with_rules("p", cfg, env={}, require_connection=False)[1])
    assert plain.extra_tables == {} and "messages" in plain.tables and "activities" in plain.tables
    assert plain.extra_fields.get("messages", []) == [] and plain.extra_fields.get("activities", []) == []
    assert set(watched.tables) - set(plain.tables) == {"watch_sale_order", "watch_sale_order_messages"}


def test_repeated_dates_agreed_on_clientcares_activities_are_broken_promises_too():
    from datetime import timedelta

    from clientcare.rules.context import BrokenDate

    unmet = "unmet_deadlines:project.project:7:late"
    two = {10: (BrokenDate("unmet_deadlines", unmet, AS_OF - timedelta(days=6)),
                BrokenDate("follow_up", "follow_up:res.partner:10:check_in", AS_OF - timedelta(days=2)))}
    f = run(R, base().build(), AS_OF, broken_dates=two).findings[0]
    assert f.key == PROMISES and visible(f.summary) == ("keep the promises made to the client: 2 agreed dates passed on "
                                               "Azure Interior, the oldest due 2026-11-16")
    assert [(r["activity"], r["record"], r["days_overdue"]) for r in f.evidence] == [
        (f"ClientCare {unmet}", "project.project,7", 6),
        ("ClientCare follow_up:res.partner:10:check_in", "res.partner,10", 2)]
    assert f.data["activity_ids"] == []
    one = {10: two[10][:1]}
    payment = {10: tuple(BrokenDate("late_payment", "late_payment:res.partner:10:call", b.agreed) for b in two[10])}
    assert keys(run(R, base().build(), AS_OF, broken_dates=one)) == []  # once is not a pattern
    assert keys(run(R, base().build(), AS_OF, broken_dates=payment)) == []  # the client's, not ours
    mixed = run(R, promises().build(), AS_OF, broken_dates=two).findings[0]
    assert visible(mixed.summary).endswith("2 overdue activities and 2 agreed dates passed on Azure Interior, the oldest "
                                  "due 2026-11-12") and mixed.data["activity_ids"] == [1, 2]
    previous = [mixed.to_dict()]
    after = run(R, promises(done=-1).build(), AS_OF, previous=previous, broken_dates=two)
    assert [r.key for r in after.resolved] == []  # still raised by the agreed dates
