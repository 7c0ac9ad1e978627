"""late_payment on hand-made snapshots: every threshold edge, money and states."""
from __future__ import annotations

from datetime import timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.rules.testing import builtin_rules, evaluate

from clientcare.connector.errors import ConfigError
from clientcare.rules import run_rules
from clientcare.rules.builtin import late_payment as lp

from clientcare.rules.testing import ADMIN, AS_OF, MANAGER, SALES, SnapshotBuilder


def run(b: SnapshotBuilder, **config):
    return {f.key: f for f in evaluate(lp, b.build(), AS_OF, lp.Config(**config)).findings}


KEY = "late_payment:res.partner:10"  # one activity per client (issue 21)
LEVEL_KEYS = tuple(f"{KEY}:{level}" for level in ("reminder", "call", "manager", "stop_work", "credit_match"))


def client(version=17, **kw):
    return SnapshotBuilder(version, **kw).client(10, "Azure Interior", SALES)


@pytest.mark.parametrize("days, level", [
    (0, None), (1, "reminder"), (14, "reminder"), (15, "call"), (29, "call"), (30, "manager"),
    (59, "manager"), (60, "stop_work"), (400, "stop_work")])
def test_level_boundaries(days, level):
    found = run(client().invoice(1, 10, -days, 100.0))
    assert [f.data["kind"] for f in found.values()] == ([level] if level else [])
    if level:
        row = found[KEY].evidence[0]
        assert (row["days_overdue"], row["invoice_id"], row["level"]) == (days, 1, level)


@pytest.mark.parametrize("grace, days, level", [
    (3, 3, None), (3, 4, "reminder"), (20, 16, None), (20, 21, "call"), (0, 1, "reminder")])
def test_grace_days_delay_the_first_report_only(grace, days, level):
    found = run(client().invoice(1, 10, -days, 100.0), grace_days=grace)
    assert [f.data["kind"] for f in found.values()] == ([level] if level else [])


def test_due_date_of_the_action_is_when_the_level_was_reached():
    f = run(client().invoice(1, 10, -40, 100.0).invoice(2, 10, -35, 50.0))[KEY]
    assert f.action.due_date == AS_OF - timedelta(days=40) + timedelta(days=30)
    assert f.action.activity_type == "call" and f.severity == "high"
    g = run(client().invoice(1, 10, -3, 100.0), grace_days=2)[KEY]
    assert g.action.due_date == AS_OF - timedelta(days=3) + timedelta(days=3)


@pytest.mark.parametrize("amount, reported", [(99.99, False), (100.0, True), (100.01, True)])
def test_minimum_amount_is_inclusive(amount, reported):
    found = run(client().invoice(1, 10, -20, amount), min_amount=100.0)
    assert bool(found) == reported


# Deliberate change (issue 21): min_amount applies to the client's total (per company), as the
# client gets one activity for all of it; it was per level.
def test_minimum_amount_applies_to_the_client_total():
    found = run(client().invoice(1, 10, -20, 60.0).invoice(2, 10, -3, 40.0), min_amount=100.0)
    assert list(found) == [KEY]
    assert found[KEY].data["totals_company_currency"] == {"USD": 100.0}
    assert found[KEY].data["levels"] == {"reminder": 1, "call": 1}
    assert not run(client().invoice(1, 10, -20, 60.0).invoice(2, 10, -3, 39.0), min_amount=100.0)


# Deliberate change (issue 21): one finding per client (it was one per client and level): the
# client's collector gets one activity at the client's highest level, listing every invoice
# with its days overdue and its level; it takes over the keys of the per-level findings.
def test_one_finding_per_client_at_its_highest_level_listing_each_invoice_with_its_level():
    b = client().client(20, "Deco Addict", SALES)
    b.invoice(1, 10, -20, 100.0).invoice(2, 10, -16, 50.0).invoice(3, 10, -45, 70.0).invoice(4, 20, -20, 10.0)
    found = run(b)
    assert sorted(found) == [KEY, "late_payment:res.partner:20"]
    f = found[KEY]
    assert [(r["invoice_id"], r["days_overdue"], r["level"]) for r in f.evidence] == [
        (3, 45, "manager"), (1, 20, "call"), (2, 16, "call")]  # oldest first
    assert visible(f.summary) == "manager: review the account of Azure Interior: 3 invoices overdue, the oldest 30+ days " \
                        "(220.00 USD)"
    assert (f.severity, f.action.activity_type, f.level, f.part) == ("high", "call", None, None)
    assert f.evidence_columns[:3] == ["kind", "invoice", "invoice_id"] and f.evidence[0]["invoice"] == "INV/2026/00003"
    assert f.data["invoice_ids"] == [3, 1, 2] and f.client_id == 10 and f.data["levels"] == {"call": 2, "manager": 1}
    assert f.replaces == LEVEL_KEYS and "days_overdue" in f.daily
    assert visible(found["late_payment:res.partner:20"].summary) == "call Deco Addict: 1 invoice 15+ days overdue (10.00 USD)"


def test_three_levels_and_a_credit_note_are_one_activity():
    b = client().invoice(1, 10, -5, 40.0).invoice(2, 10, -20, 50.0).invoice(3, 10, -70, 60.0).refund(4, 10, 30.0)
    out = evaluate(lp, b.build(), AS_OF, lp.Config())
    assert [f.key for f in out.findings] == [KEY]
    f = out.findings[0]
    assert [(r["kind"], r["invoice_id"], r["level"]) for r in f.evidence] == [
        ("overdue invoice", 3, "stop_work"), ("overdue invoice", 2, "call"), ("overdue invoice", 1, "reminder"),
        ("credit note", 4, None)]
    assert visible(f.summary) == ("decide whether to stop work for Azure Interior: 3 invoices overdue, the oldest 60+ days "
                         "(120.00 USD); match 1 credit note (30.00 USD)")
    assert f.severity == "critical" and f.data["credit_note_ids"] == [4] and f.data["invoice_ids"] == [3, 2, 1]
    assert f.evidence[1]["credit_applied"] == 0.0 and f.evidence[2]["credit_applied"] == 30.0
    assert f.evidence[3]["amount_due_company"] == -30.0
    assert not out.not_raised and f.replaces == LEVEL_KEYS


def test_partial_payment_counts_the_residual():
    f = run(client().invoice(1, 10, -20, 100.0, 40.0))[KEY]
    row = f.evidence[0]
    assert (row["amount_total"], row["amount_due"], row["payment_state"]) == (100.0, 40.0, "partial")
    assert "40.00 USD" in visible(f.summary)


@pytest.mark.parametrize("state", ["paid", "in_payment", "blocked", "reversed"])
def test_settled_disputed_and_in_payment_invoices_are_not_owed(state):
    assert not run(client(18).invoice(1, 10, -40, 100.0, 100.0, payment_state=state))


def test_draft_and_cancelled_invoices_are_ignored():
    assert not run(client().invoice(1, 10, -40, 100.0, state="draft").invoice(2, 10, -40, 9.0, state="cancel"))


# Deliberate change: credit used to be netted oldest invoice first, in silence (101 clients of a
# real database got no finding and an understated age).  Now it is applied newest first, the
# oldest truly overdue invoice stays chased, and the client's one activity asks to match them.
def test_credit_notes_cover_the_newest_invoices_and_ask_to_be_matched():
    b = client().invoice(1, 10, -40, 50.0).invoice(2, 10, -20, 70.0).refund(3, 10, 30.0)
    out = evaluate(lp, b.build(), AS_OF, lp.Config())
    f = {f.key: f for f in out.findings}[KEY]
    rows = [(r["kind"], r["invoice_id"], r["amount_due_company"], r["credit_applied"]) for r in f.evidence]
    assert rows == [("overdue invoice", 1, 50.0, 0.0), ("overdue invoice", 2, 40.0, 30.0),
                    ("credit note", 3, -30.0, None)]
    assert visible(f.summary).endswith("; match 1 credit note (30.00 USD)")
    assert (f.data["credit_note_ids"], f.data["invoice_ids"]) == ([3], [1, 2])
    assert not out.not_raised


def test_an_invoice_fully_covered_is_not_chased_but_said_why():
    b = client().invoice(1, 10, -40, 50.0).invoice(2, 10, -20, 70.0).refund(3, 10, 80.0)
    out = evaluate(lp, b.build(), AS_OF, lp.Config())
    found = {f.key: f for f in out.findings}
    assert set(found) == {KEY}
    rows = [(r["invoice_id"], r["level"], r["amount_due_company"], r["credit_applied"]) for r in found[KEY].evidence]
    assert rows == [(1, "manager", 40.0, 10.0), (2, None, 0.0, 70.0), (3, None, -80.0, None)]
    assert found[KEY].data["invoice_names"] == ["INV/2026/00001"]  # what the talking points chase
    assert [(n.res_id, n.reason) for n in out.not_raised] == [
        (2, "covered by open credit note(s) RINV/2026/00003: match them in Odoo")]
    gross = {f.key: f for f in evaluate(lp, b.build(), AS_OF, lp.Config(net_credit_notes=False)).findings}
    assert [r["amount_due_company"] for r in gross[KEY].evidence] == [50.0, 70.0, -80.0]
    assert gross[KEY].summary.endswith("; match 1 credit note (80.00 USD)")


def test_a_client_whose_overdue_invoices_are_all_covered_gets_one_activity_asking_to_match():
    out = evaluate(lp, client().invoice(1, 10, -20, 70.0).refund(3, 10, 80.0).build(), AS_OF, lp.Config())
    [f] = out.findings
    assert f.key == KEY and f.data["kind"] == "credit_match" and f.replaces == LEVEL_KEYS
    assert visible(f.summary) == "match 1 credit note (80.00 USD) with overdue invoices of Azure Interior"
    assert (f.severity, f.action.activity_type, f.route["first"]) == ("medium", "todo", "invoice_salesperson")
    assert f.data["invoice_ids"] == [1] and [n.res_id for n in out.not_raised] == [1]


def test_every_overdue_invoice_is_in_a_finding_or_not_raised():
    b = (client().client(11, "Deco Addict").invoice(1, 10, -2, 50.0).invoice(2, 10, -40, 5.0)
         .invoice(3, 11, -20, 70.0).refund(4, 11, 70.0).invoice(5, 10, -1, 10.0))
    out = evaluate(lp, b.build(), AS_OF, lp.Config(grace_days=1, min_amount=10.0))
    raised = {i for f in out.findings for i in f.data.get("invoice_ids", [])}
    reasons = {n.res_id: n.reason for n in out.not_raised}
    assert raised | set(reasons) == {1, 2, 3, 5}
    assert reasons[5] == "due 2026-11-21, within the grace period (1 day)"
    assert 2 in raised and reasons[3].startswith("covered by open credit note(s)")


def test_a_paid_credit_note_nets_nothing():
    found = run(client().invoice(1, 10, -40, 50.0).refund(3, 10, 30.0, 0.0, payment_state="paid"))
    assert found[KEY].evidence[0]["amount_due_company"] == 50.0 and not found[KEY].data["credit_note_ids"]


def test_amounts_in_invoice_currency_totals_in_company_currency():
    b = client().invoice(1, 10, -20, 100.0, currency="EUR", rate=1.1).invoice(2, 10, -18, 10.0)
    f = run(b)[KEY]
    eur, usd = f.evidence
    assert (eur["currency"], eur["amount_due"], eur["amount_due_company"], eur["company_currency"]) == (
        "EUR", 100.0, 110.0, "USD")
    assert (usd["currency"], usd["amount_due"]) == ("USD", 10.0)
    assert f.data["totals_company_currency"] == {"USD": 120.0}
    assert visible(f.summary).endswith("(120.00 USD)")
    partial_eur = run(client().invoice(1, 10, -20, 100.0, 50.0, currency="EUR", rate=1.1))
    row = partial_eur[KEY].evidence[0]
    assert (row["amount_due"], row["amount_due_company"]) == (50.0, 55.0)


def test_each_company_keeps_its_currency_and_its_minimum():
    b = client()
    b.company(2, "EU Company", "EUR")
    b.invoice(1, 10, -20, 100.0).invoice(2, 10, -20, 80.0, company=2)
    f = run(b)[KEY]
    assert f.data["totals_company_currency"] == {"EUR": 80.0, "USD": 100.0}
    assert "(80.00 EUR + 100.00 USD)" in visible(f.summary)
    only_usd = run(b, min_amount=90.0)[KEY]
    assert [r["invoice_id"] for r in only_usd.evidence] == [1]


def test_invoice_without_due_date_falls_back_on_its_date():
    b = client()
    b.invoice(1, 10, None, 100.0, invoice_date=-16)
    assert list(run(b)) == [KEY]


def test_manager_levels_can_go_to_a_named_manager():
    b = client().invoice(1, 10, -20, 10.0).invoice(2, 10, -40, 10.0).invoice(3, 10, -70, 10.0)
    result = run_rules(b.build(), AS_OF, {"late_payment": {"manager_user_id": MANAGER}}, {"default_user_id": ADMIN},
                       registry=builtin_rules(), only=["late_payment"])
    owners = {f.key: (f.responsible_user_id, f.routed_by) for f in result.findings}
    assert owners == {KEY: (SALES, "client_salesperson"),
                      f"{KEY}:manager": (MANAGER, "rule: late_payment.manager_user_id")}
    manager = next(f for f in result.findings if f.part == "manager")
    assert visible(manager.summary) == ("review the account of Azure Interior with its collector: 3 invoices overdue, "
                               "the oldest 60+ days (30.00 USD)")
    assert manager.severity == "critical" and manager.data["kind"] == "manager" and not manager.replaces
    # the manager's own activity keeps the key the manager level had: not taken over by the collector's
    main = next(f for f in result.findings if f.part is None)
    assert main.replaces == tuple(k for k in LEVEL_KEYS if k != f"{KEY}:manager")


def test_below_the_managers_level_nobody_gets_a_second_activity():
    b = client().invoice(1, 10, -20, 10.0)
    result = run_rules(b.build(), AS_OF, {"late_payment": {"manager_user_id": MANAGER}}, {"default_user_id": ADMIN},
                       registry=builtin_rules(), only=["late_payment"])
    assert [(f.key, f.responsible_user_id) for f in result.findings] == [(KEY, SALES)]


def test_the_managers_activity_goes_when_the_level_drops_saying_why():
    config = lp.Config(manager_user_id=MANAGER)
    before = [f.to_dict() for f in evaluate(lp, client().invoice(1, 10, -40, 10.0).invoice(2, 10, -20, 10.0).build(),
                                            AS_OF, config).findings]
    assert [f["key"] for f in before] == [KEY, f"{KEY}:manager"]
    after = evaluate(lp, client().invoice(1, 10, -40, 10.0, 0.0, paid=-1).invoice(2, 10, -20, 10.0).build(),
                     AS_OF, config, previous=before)
    assert [f.key for f in after.findings] == [KEY]
    assert {r.key: r.how for r in after.resolved} == {f"{KEY}:manager": "now at level call, below the level from which the manager reviews the account (manager)"}


def test_invoice_salesperson_is_the_routing_hint():
    b = SnapshotBuilder(17).client(10, "No salesperson")
    b.invoice(1, 10, -20, 10.0, salesperson=MANAGER).invoice(2, 10, -21, 10.0, salesperson=SALES) \
        .invoice(3, 10, -22, 10.0, salesperson=SALES)
    result = run_rules(b.build(), AS_OF, registry=builtin_rules(), only=["late_payment"])
    f = result.findings[0]
    assert f.route["invoice_user_ids"] == [SALES, MANAGER]
    assert (f.responsible_user_id, f.routed_by) == (SALES, "invoice_salesperson")


# -- chronic late payer ------------------------------------------------------------------------------
def paid_history(delays, *, window_start=-300, b=None):
    """Invoices due every 10 days from window_start, each paid ``delay`` days after its due date."""
    b = b or client()
    for i, delay in enumerate(delays):
        due = window_start + 10 * i
        b.invoice(100 + i, 10, due, 100.0, 0.0, paid=due + delay)
    return b


@pytest.mark.parametrize("delays, flagged", [
    ([10, 10], False),            # two invoices: under the minimum of three
    ([10, 10, 10], True),         # three, all late
    ([10, 0, 0, 0], False),       # a quarter late (minimum share 0.5)
    ([14, 14, 0, 0], True),       # exactly half late, average exactly 7 days
    ([13, 13, 0, 0], False),      # half late, average 6.5 days
    ([-5, -5, -5, 30], False),    # early payers: one late
])
def test_chronic_late_payer_edges(delays, flagged):
    found = run(paid_history(delays))
    assert ("late_payment:res.partner:10:chronic" in found) == flagged


def test_chronic_window_and_tolerance():
    inside = paid_history([10, 10, 10], window_start=-330)   # paid on days -320, -310, -300
    assert "late_payment:res.partner:10:chronic" in run(inside, chronic_window_days=321)
    assert "late_payment:res.partner:10:chronic" not in run(inside, chronic_window_days=320)
    assert "late_payment:res.partner:10:chronic" not in run(paid_history([10, 10, 10]), chronic_tolerance_days=10)
    assert "late_payment:res.partner:10:chronic" in run(paid_history([11, 11, 11]), chronic_tolerance_days=10)


def test_chronic_finding_explains_itself():
    f = run(paid_history([20, 10, 0]))["late_payment:res.partner:10:chronic"]
    assert visible(f.summary) == "review payment terms with Azure Interior: 2 of 3 invoices paid late, 10 days late on average"
    assert [r["days_late"] for r in f.evidence] == [20, 10, 0]
    assert f.data == {"invoices": 3, "paid_late": 2, "share_late": 0.667, "avg_days_late": 10.0, "window_days": 365}
    assert f.action.due_date == AS_OF + timedelta(days=-290 + 10)  # the latest late payment


def test_partially_paid_invoices_are_not_payment_history():
    b = client().invoice(1, 10, -100, 100.0, 50.0, paid=-50).invoice(2, 10, -90, 100.0, 50.0, paid=-40) \
        .invoice(3, 10, -80, 100.0, 50.0, paid=-30)
    assert "late_payment:res.partner:10:chronic" not in run(b)


@pytest.mark.parametrize("bad", [
    {"levels": [1, 15, 15, 60]}, {"levels": [0, 15, 30, 60]}, {"level_names": ["a", "b", "c"]},
    {"severities": ["low", "low", "high", "urgent"]}, {"grace_days": -1}, {"chronic_min_share_late": 1.5},
    {"manager_from_level": 5}, {"level_names": ["a", "a", "b", "c"]}])
def test_config_mistakes_are_errors(bad):
    with pytest.raises(ConfigError):
        builtin_rules().configure({"late_payment": bad})


def test_custom_levels():
    found = run(client().invoice(1, 10, -8, 100.0), levels=(7, 21), level_names=("nudge", "escalate"),
                severities=("low", "high"), activity_types=("email", "call"), manager_from_level=2)
    f = found[KEY]
    assert visible(f.summary).startswith("nudge: Azure Interior: 1 invoice 7+ days overdue")
    assert f.data["kind"] == "nudge" and f.replaces == (f"{KEY}:nudge", f"{KEY}:escalate", f"{KEY}:credit_match")


def test_min_amount_counts_only_what_is_chased():
    # the 5.00 still within grace days does not lift the 8.00 past them over min_amount 10
    b = client().invoice(1, 10, -3, 8.0).invoice(2, 10, -2, 5.0)
    out = evaluate(lp, b.build(), AS_OF, lp.Config(grace_days=2, min_amount=10.0))
    assert not out.findings
    assert {n.res_id: n.reason for n in out.not_raised} == {
        2: "due 2026-11-20, within the grace period (2 days)",
        1: "the client's total overdue (8.00 USD) is under the minimum ClientCare chases (10)"}


def test_a_chronic_late_payer_no_longer_chronic_closes_saying_why():
    before = [f.to_dict() for f in evaluate(lp, paid_history([10, 10, 10]).build(), AS_OF, lp.Config()).findings]
    assert "late_payment:res.partner:10:chronic" in {f["key"] for f in before}
    after = evaluate(lp, paid_history([10, 10, 10, 0, 0, 0, 0]).build(), AS_OF, lp.Config(), previous=before)
    assert {r.key: r.how for r in after.resolved}["late_payment:res.partner:10:chronic"].startswith(
        "no longer a chronic late payer")


def test_an_upgrade_takes_over_the_level_keys_and_closes_none_of_them_while_the_client_owes():
    """Yesterday's per-level findings (as the last run stored them): today's one activity takes
    them over (merged by the write-back), none is closed as resolved; once all is paid, the
    old keys close saying so."""
    old = [{"key": f"{KEY}:{level}", "rule": "late_payment", "level": level, "subject_model": "res.partner",
            "subject_id": 10, "client_id": 10, "action": {"kind": "activity"},
            "evidence": [{"invoice": f"INV/2026/0000{i}", "invoice_id": i}], "data": {"invoice_ids": [i], "days": d}}
           for level, i, d in (("call", 1, 15), ("manager", 2, 30))]
    owing = client().invoice(1, 10, -20, 10.0).invoice(2, 10, -40, 10.0)
    out = evaluate(lp, owing.build(), AS_OF, lp.Config(), previous=old)
    assert [f.key for f in out.findings] == [KEY] and {p["key"] for p in old} <= set(out.findings[0].replaces)
    assert out.resolved == []
    paid = client().invoice(1, 10, -20, 10.0, 0.0, paid=-2).invoice(2, 10, -40, 10.0, 0.0, paid=-2)
    out = evaluate(lp, paid.build(), AS_OF, lp.Config(), previous=old)
    assert {r.key: r.how for r in out.resolved} == {f"{KEY}:call": "INV/2026/00001 paid on 2026-11-20",
                                                    f"{KEY}:manager": "INV/2026/00002 paid on 2026-11-20"}
