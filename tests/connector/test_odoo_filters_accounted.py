"""Odoo's own filters against ClientCare, on the recorded Odoo 16, 17, 18 and 19.

The server evaluates the domains of its own search views (recorded): the invoices'
"Overdue" filter and the tasks' "Late Tasks" (16) / "Open" + "Overdue" (17-19) filters, as
a person sees them (archived records hidden).  Every record they list is either in a
finding's evidence or in the "not raised, because" list with its reason; and every
invoice or task a finding chases as overdue or late is one Odoo lists too.
"""
from __future__ import annotations

from clientcare.connector.client import OdooClient
from clientcare.connector.pull import PullOptions, Puller
from clientcare.connector import facts
from clientcare.connector.schema import CORE_TABLES
from clientcare.rules import run_rules
from clientcare.rules.testing import builtin_rules


def odoo_ids(client: OdooClient, model: str, domain: list) -> set[int]:
    """Ids Odoo's own search gives, with the view's default of hiding archived records."""
    return set(client.call(model, "search", [], {"domain": domain, "context": client.context(active_test=True)}))


def test_odoo_own_filters_are_accounted_for(odoo, cassette):
    client = OdooClient(odoo.settings("xmlrpc", page_size=2000, api_key=""))
    snapshot = Puller(client, PullOptions(tables=CORE_TABLES)).pull(now=odoo.recorded_at)
    today = odoo.recorded_at.date()
    result = run_rules(snapshot, today, {}, {"default_user_id": 2}, registry=builtin_rules())
    assert not result.errors

    overdue = odoo_ids(client, "account.move", facts.overdue_invoice_domain(today.isoformat()))
    late = odoo_ids(client, "project.task",
                    facts.late_task_domain(today.isoformat(), client.profile.has("project.task", "state")))
    assert overdue and late, "the seeded databases have overdue invoices and late tasks"

    # a client's one payment activity lists its overdue invoices (chased, or covered by the credit
    # notes it asks to match, listed after them)
    chased = {r["invoice_id"] for f in result.findings if f.rule == "late_payment" and f.level != "chronic"
              for r in f.evidence if r["kind"] == "overdue invoice"}
    late_raised = {r["id"] for f in result.findings if f.rule == "unmet_deadlines" and f.level != "at_risk"
                   for r in f.evidence if r["kind"] == "task"}
    not_raised = {(n.model, n.res_id): n.reason for n in result.not_raised}

    missing_invoices = {i for i in overdue if i not in chased and ("account.move", i) not in not_raised}
    missing_tasks = {t for t in late if t not in late_raised and ("project.task", t) not in not_raised}
    assert not missing_invoices, f"overdue in Odoo, neither raised nor explained: {sorted(missing_invoices)}"
    assert not missing_tasks, f"late in Odoo, neither raised nor explained: {sorted(missing_tasks)}"
    # and the other way round: nothing is chased that Odoo does not call overdue or late
    assert chased <= overdue
    assert late_raised <= late
    # a reason is given for each record left out, and it is not an empty word
    assert all(len(reason) > 10 for reason in not_raised.values())
