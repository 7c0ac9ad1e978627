"""Never a sum across currencies (issue 22): a client owing 1,000 EUR to an EUR company and
2,500 + 500 USD to a USD company reads "1,000.00 EUR + 3,000.00 USD" everywhere, never 4,000."""
from __future__ import annotations

import re
from datetime import timedelta

from clientcare.jobs import report
from clientcare.rules.builtin import late_payment as lp
from clientcare.rules.engine import run_rules
from clientcare.rules.testing import AS_OF, SALES, SnapshotBuilder, builtin_rules


def two_currencies() -> SnapshotBuilder:
    b = SnapshotBuilder(17).company(2, "YourCompany Europe", "EUR").client(10, "Azure Interior", SALES)
    b.invoice(1, 10, -40, 1000.0, company=2)
    b.invoice(2, 10, -40, 2500.0).invoice(3, 10, -20, 500.0)
    return b


def audit(b: SnapshotBuilder):
    snap = b.build()
    return snap, run_rules(snap, AS_OF, {}, {"default_user_id": SALES}, registry=builtin_rules())


def test_late_payment_summary_and_data_keep_each_currency():
    _, result = audit(two_currencies())
    f = next(f for f in result.findings if f.rule == "late_payment" and f.data.get("kind") != "credit_match")
    assert "(1,000.00 EUR + 3,000.00 USD)" in f.summary
    assert f.data["totals_company_currency"] == {"EUR": 1000.0, "USD": 3000.0}


def checklist(result):
    return next(f for f in result.findings if f.key == "fit_checklist:res.partner:10:checklist")


def test_fit_checklist_detail_lists_the_overdue_amount_per_currency():
    _, result = audit(two_currencies())
    rows = {r["criterion"]: r for r in checklist(result).evidence}
    assert rows["pays on time"]["detail"].endswith(
        f"; 1,000.00 EUR + 3,000.00 USD overdue, the oldest due {AS_OF - timedelta(days=40):%Y-%m-%d}")


def test_revenue_is_judged_per_currency_never_added():
    b = two_currencies()
    fits = {}
    for floor in (2999.0, 3500.0):  # 3,000 USD reaches the first; only EUR + USD added would reach the second
        result = run_rules(b.build(), AS_OF, {"fit_checklist": {"ideal_min_revenue": floor}},
                           {"default_user_id": SALES}, registry=builtin_rules())
        fits[floor] = checklist(result).data["criteria"]["fits_our_work"]
        revenue = {r["criterion"]: r for r in checklist(result).evidence}["fits our work"]["detail"]
        assert "4,000" not in revenue
    assert fits == {2999.0: "pass", 3500.0: "fail"}


def test_the_overdue_chart_has_one_series_per_company_currency():
    snap, _ = audit(two_currencies())
    bars = dict(lp.overdue_by_age(snap, AS_OF))
    assert bars["31–60 days (EUR)"] == 1000.0 and bars["31–60 days (USD)"] == 2500.0
    assert bars["16–30 days (USD)"] == 500.0 and bars["16–30 days (EUR)"] == 0.0
    assert "31–60 days" not in bars and 3500.0 not in bars.values()


def test_no_output_of_a_two_currency_audit_adds_the_currencies():
    snap, result = audit(two_currencies())
    frame = report.findings_frame(result.findings, snap, AS_OF)
    declared = {r.name: r.charts for r in builtin_rules().rules.values() if r.charts}
    outputs = {
        "text": report.render_text(frame, report.not_raised_frame(result.not_raised, snap), AS_OF),
        "csv": report.render_csv(frame),
        "json": report.render_json(result.findings, {}, result.not_raised, result.not_judged),
        "html": report.render_html(result.findings, snap, AS_OF, {}, result.not_raised, rule_charts=declared),
    }
    assert "3,000.00 USD" in outputs["json"] and "1,000.00 EUR" in outputs["html"]
    for name, text in outputs.items():
        # 1,000 + 3,000 (all owed), 1,000 + 2,500 (the 31-60 days bar), whatever the format
        sums = re.findall(r"\b(4,?000|3,?500)(?:\.0+)?\b", text)
        assert not sums, f"{name} output adds EUR and USD: {sums}"


def test_an_invoice_in_a_foreign_currency_adds_up_in_the_company_currency_and_says_so():
    """A total is only ever in the company currency, from Odoo's signed residual (converted at the
    invoice's rate): 1,000 EUR at 1.1 is 1,100 USD beside 500 USD; the invoice keeps its EUR."""
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES)
    b.invoice(1, 10, -40, 1000.0, currency="EUR", rate=1.1).invoice(2, 10, -20, 500.0)
    snap, result = audit(b)
    f = next(f for f in result.findings if f.rule == "late_payment")
    assert "(1,600.00 USD)" in f.summary and f.data["totals_company_currency"] == {"USD": 1600.0}
    row = next(r for r in f.evidence if r["invoice_id"] == 1)
    assert (row["currency"], row["amount_due"], row["company_currency"], row["amount_due_company"]) == \
        ("EUR", 1000.0, "USD", 1100.0)
    rows = {r["criterion"]: r for r in checklist(result).evidence}
    assert "; 1,600.00 USD overdue" in rows["pays on time"]["detail"]
    assert dict(lp.overdue_by_age(snap, AS_OF))["31–60 days (USD)"] == 1100.0
