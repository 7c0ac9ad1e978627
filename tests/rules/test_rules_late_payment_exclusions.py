"""late_payment and accounting's follow-up exclusions (issue 20): each Odoo version's flag takes
the invoice out of the payment findings into a NotRaised with the reason, the fit checklist
still counts it, an unreadable flag is said, and a finding no longer found says what happened."""
from __future__ import annotations

from datetime import timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.connector import facts
from clientcare.jobs import report
from clientcare.rules import coverage
from clientcare.rules.builtin import fit_checklist as fc
from clientcare.rules.builtin import late_payment as lp
from clientcare.rules.testing import AS_OF, SALES, SnapshotBuilder, evaluate, run

ON_LINE = "excluded from follow-up by accounting (No Follow-up on the receivable line)"
ON_INVOICE = "excluded from follow-up by accounting (No Follow-up on the invoice)"
DISPUTED = "disputed (payment blocked by accounting)"
CALL = "late_payment:res.partner:10"  # one activity per client, at its highest level


def two_invoices(version: int, **excluded) -> SnapshotBuilder:
    """Azure Interior with two invoices 20 days overdue; the first one carries ``excluded``."""
    return (SnapshotBuilder(version).client(10, "Azure Interior", SALES)
            .invoice(1, 10, -20, 100.0, **excluded).invoice(2, 10, -20, 50.0))


@pytest.mark.parametrize("version, excluded, reason", [
    (16, {"no_followup": "line"}, ON_LINE),            # account.move.line.blocked
    (17, {"no_followup": "line"}, ON_LINE),            # account.move.line.blocked
    (18, {"payment_state": "blocked"}, DISPUTED),      # the only exclusion 18 has
    (19, {"no_followup": "invoice"}, ON_INVOICE),      # account.move.no_followup
    (19, {"no_followup": "line"}, ON_LINE),            # account.move.line.no_followup, one line only
])
def test_each_versions_exclusion_leaves_the_findings_with_its_reason(version, excluded, reason):
    result = run(lp, two_invoices(version, **excluded).build(), AS_OF)
    call = next(f for f in result.findings if f.key == CALL)
    assert call.data["invoice_ids"] == [2]
    assert "1 invoice 15+ days overdue (50.00 USD)" in visible(call.summary)
    assert [(n.res_id, n.client_id, n.reason) for n in result.not_raised] == [(1, 10, reason)]
    assert not result.not_judged


def test_an_invoice_not_excluded_is_chased_as_before():
    result = run(lp, two_invoices(17).build(), AS_OF)
    assert next(f for f in result.findings if f.key == CALL).data["invoice_ids"] == [1, 2]
    assert result.not_raised == []


def test_a_client_whose_only_overdue_invoice_is_excluded_has_no_payment_finding_and_it_is_accounted_for():
    snapshot = (SnapshotBuilder(17).client(10, "Azure Interior", SALES)
                .invoice(1, 10, -40, 900.0, no_followup="line")
                .refund(3, 10, 100.0).build())  # an open credit note: no credit_match for an excluded invoice
    result = run(lp, snapshot, AS_OF)
    assert result.findings == []
    assert [n.reason for n in result.not_raised] == [ON_LINE]
    assert coverage.unaccounted(snapshot, AS_OF, result, {"account.move": ("late_payment", "invoice_ids")}).empty


def test_a_disputed_invoice_past_due_is_listed_though_odoo_does_not_call_it_overdue():
    """18+: ``payment_state = blocked`` is not owed, so not in Odoo's Overdue filter; a person
    looking for it finds it in the not-raised list with the reason."""
    snapshot = SnapshotBuilder(18).client(10, "Azure Interior", SALES).invoice(
        1, 10, -3, 100.0, payment_state="blocked").invoice(4, 10, 5, 70.0, payment_state="blocked").build()
    result = run(lp, snapshot, AS_OF)
    assert [(n.res_id, n.reason) for n in result.not_raised] == [(1, DISPUTED)]  # 4 is not due yet


def test_the_report_lists_it_as_not_raised_with_the_reason():
    snapshot = two_invoices(19, no_followup="invoice").build()
    result = run(lp, snapshot, AS_OF)
    text = report.render_text(report.findings_frame(result.findings, snapshot, AS_OF),
                              report.not_raised_frame(result.not_raised, snapshot), AS_OF)
    assert f"late_payment     INV/2026/00001 (Azure Interior): {ON_INVOICE}" in visible(text)


def test_audit_and_explain_list_it_as_not_raised_with_the_reason(tmp_path):
    from click.testing import CliRunner
    from clientcare.jobs.cli import main

    snap = two_invoices(16, no_followup="line").build().save(tmp_path / "snap")
    config = tmp_path / "clientcare.toml"
    config.write_text("")
    env = {"CLIENTCARE_CONFIG": str(config)}
    runner = CliRunner()
    audit = runner.invoke(main, ["audit", "--snapshot", str(snap), "--as-of", AS_OF.isoformat()], env=env,
                          catch_exceptions=False)
    assert f"late_payment     INV/2026/00001 (Azure Interior): {ON_LINE}" in visible(audit.output), audit.output
    explain = runner.invoke(main, ["explain", "10", "--snapshot", str(snap), "--as-of", AS_OF.isoformat()],
                            env=env, catch_exceptions=False)
    assert f"late_payment: INV/2026/00001: {ON_LINE}" in explain.output, explain.output
    assert "1 invoice 15+ days overdue (50.00 USD)" in explain.output


def test_the_builder_refuses_an_exclusion_the_version_does_not_have():
    with pytest.raises(ValueError, match="Odoo 18 has no follow-up exclusion on the line"):
        two_invoices(18, no_followup="line")
    with pytest.raises(ValueError, match="Odoo 17 has no follow-up exclusion on the invoice"):
        two_invoices(17, no_followup="invoice")


def test_the_fit_checklist_still_counts_an_excluded_invoice():
    """A dispute is information: the client's payment record is the same with or without it."""
    def pays_on_time(b):
        f = evaluate(fc, b.build(), AS_OF).findings
        row = next(r for r in f[0].evidence if r["criterion"] == "pays on time")
        return f[0].data["criteria"]["pays_on_time"], row["detail"]

    excluded = pays_on_time(two_invoices(17, no_followup="line"))
    assert excluded == pays_on_time(two_invoices(17))
    assert "2 overdue now" in excluded[1]


# -- unknown is not "not excluded" ------------------------------------------------------------------
def test_unreadable_exclusions_are_said_and_nothing_is_closed():
    snapshot = two_invoices(17, no_followup="line").unreadable("followup_exclusions", "AccessError: no rights").build()
    result = run(lp, snapshot, AS_OF)
    assert next(f for f in result.findings if f.key == CALL).data["invoice_ids"] == [1, 2]
    assert [(n.pattern, n.reason) for n in result.not_judged] == [(
        "late_payment:*", "follow-up exclusions could not be read (AccessError: no rights): an invoice "
                          "accounting excluded from follow-up may be chased")]


def test_a_snapshot_pulled_without_the_lookup_says_so():
    snapshot = two_invoices(16).build()
    del snapshot.tables["followup_exclusions"]
    result = evaluate(lp, snapshot, AS_OF)
    assert "follow-up exclusions were not pulled" in result.not_judged[0].reason


def test_a_disputed_state_is_known_even_without_the_flags():
    snapshot = two_invoices(18, payment_state="blocked").unreadable("followup_exclusions").build()
    assert [n.reason for n in evaluate(lp, snapshot, AS_OF).not_raised] == [DISPUTED]


def test_one_definition_in_facts():
    import pandas as pd
    state = pd.Series(["not_paid", "blocked", "not_paid", "partial"])
    source = pd.Series([facts.EXCLUDED_ON_LINE, None, None, facts.EXCLUDED_ON_INVOICE], dtype="string")
    assert facts.followup_excluded(state, source).tolist() == [ON_LINE, DISPUTED, pd.NA, ON_INVOICE]
    assert facts.exclusion_lines_domain(["blocked"])[:1] == [("blocked", "=", True)]
    assert facts.exclusion_lines_domain(["blocked", "no_followup"])[:3] == [
        "|", ("blocked", "=", True), ("no_followup", "=", True)]


# -- closings say what happened --------------------------------------------------------------------
def previous(b: SnapshotBuilder, as_of=AS_OF) -> list[dict]:
    return [f.to_dict() for f in evaluate(lp, b.build(), as_of).findings]


def closing(after: SnapshotBuilder, before: list[dict], key=CALL, as_of=AS_OF) -> str:
    result = evaluate(lp, after.build(), as_of, previous=before)
    assert key not in {f.key for f in result.findings}
    return {r.key: visible(r.how) for r in result.resolved}[key]


def one_invoice(version=17, **kw) -> SnapshotBuilder:
    return SnapshotBuilder(version).client(10, "Azure Interior", SALES).invoice(1, 10, -20, 100.0, **kw)


def test_closing_paid_says_the_payment_date():
    after = one_invoice(residual=0.0, paid=-2)
    assert closing(after, previous(one_invoice())) == "INV/2026/00001 paid on 2026-11-20"


def test_closing_paid_without_a_known_date_says_paid():
    assert closing(one_invoice(residual=0.0), previous(one_invoice())) == "INV/2026/00001 paid"


def test_closing_cancelled():
    assert closing(one_invoice(state="cancel"), previous(one_invoice())) == "INV/2026/00001 cancelled"


def test_closing_deleted():
    after = SnapshotBuilder(17).client(10, "Azure Interior", SALES)
    assert closing(after, previous(one_invoice())) == "INV/2026/00001 no longer in Odoo"


@pytest.mark.parametrize("version, excluded, reason", [
    (16, {"no_followup": "line"}, ON_LINE), (18, {"payment_state": "blocked"}, DISPUTED),
    (19, {"no_followup": "invoice"}, ON_INVOICE)])
def test_closing_excluded_or_disputed_gives_the_reason(version, excluded, reason):
    assert closing(one_invoice(version, **excluded), previous(one_invoice(version))) == f"INV/2026/00001 {reason}"


def test_closing_reversed_by_a_credit_note():
    after = one_invoice(residual=0.0, payment_state="reversed")
    assert closing(after, previous(one_invoice())) == "INV/2026/00001 credited (reversed by a credit note)"


# Deliberate change (issue 21): one activity per client.  What used to close one level's activity
# and open another's (covered by a credit note, moved to the next level) is now an update of the
# same activity: nothing is closed.
def test_covered_by_an_open_credit_note_the_same_activity_asks_to_match():
    after = evaluate(lp, one_invoice().refund(3, 10, 100.0).build(), AS_OF, previous=previous(one_invoice()))
    f = next(f for f in after.findings if f.key == CALL)
    assert visible(f.summary) == "match 1 credit note (100.00 USD) with overdue invoices of Azure Interior"
    assert after.resolved == []


def test_moved_to_the_next_level_is_the_same_activity():
    later = AS_OF + timedelta(days=15)  # 35 days overdue: the manager level
    after = evaluate(lp, one_invoice().build(), later, previous=previous(one_invoice()))
    f = next(f for f in after.findings if f.key == CALL)
    assert (f.data["kind"], f.severity, f.evidence[0]["level"]) == ("manager", "high", "manager")
    assert after.resolved == []


def test_closing_due_date_moved_later():
    after = SnapshotBuilder(17).client(10, "Azure Interior", SALES).invoice(1, 10, 10, 100.0, invoice_date=-30)
    assert closing(after, previous(one_invoice())) == "INV/2026/00001 no longer overdue (due 2026-12-02)"


def test_closing_several_invoices_each_say_theirs():
    before = previous(SnapshotBuilder(17).client(10, "Azure Interior", SALES)
                      .invoice(1, 10, -20, 100.0).invoice(2, 10, -18, 50.0).invoice(5, 10, -16, 10.0))
    after = (SnapshotBuilder(17).client(10, "Azure Interior", SALES)
             .invoice(1, 10, -20, 100.0, residual=0.0, paid=-1).invoice(2, 10, -18, 50.0, residual=0.0, paid=-1)
             .invoice(5, 10, -16, 10.0, no_followup="line"))
    assert closing(after, before) == ("INV/2026/00001, INV/2026/00002 paid on 2026-11-21; "
                                      f"INV/2026/00005 {ON_LINE}")


def test_no_closing_while_the_finding_remains():
    before = previous(two_invoices(17))
    result = evaluate(lp, two_invoices(17, no_followup="line").build(), AS_OF, previous=before)
    assert CALL in {f.key for f in result.findings} and result.resolved == []


def test_closing_credited_names_the_credit_note():
    after = one_invoice(residual=0.0, paid=-3, credited_by="RINV/2026/00003")
    assert closing(after, previous(one_invoice())) == "INV/2026/00001 credited by RINV/2026/00003 on 2026-11-19"


def test_closing_a_credit_match_says_the_credit_note_was_matched():
    before = previous(one_invoice().refund(3, 10, 100.0))
    assert [f["data"]["kind"] for f in before] == ["credit_match"]
    after = one_invoice(residual=0.0, paid=-2).refund(3, 10, 100.0, residual=0.0)  # matched: used up
    assert closing(after, before) == "RINV/2026/00003 matched or used; INV/2026/00001 paid on 2026-11-20"


def test_closing_a_credit_match_whose_invoice_was_paid_says_so():
    before = previous(one_invoice().refund(3, 10, 100.0))
    after = one_invoice(residual=0.0, paid=-2).refund(3, 10, 100.0)
    assert closing(after, before) == "INV/2026/00001 paid on 2026-11-20"


def test_a_matched_credit_note_leaves_the_chase_under_the_same_key():
    before = previous(one_invoice().refund(3, 10, 100.0))
    after = evaluate(lp, one_invoice().refund(3, 10, 100.0, residual=0.0).build(), AS_OF, previous=before)
    assert [(f.key, f.data["kind"]) for f in after.findings] == [(CALL, "call")] and after.resolved == []
