"""How the evidence columns the built-in rules share read in a note: headings, links to records,
amounts with their currency, raw values in words (:data:`COMMON`, the defaults every
:class:`~clientcare.rules.i18n.EvidenceView` falls back to through ``i18n.common_view()``).

A rule's own columns and values (late_payment's level names, the fit checklist's criteria) go
in its own view (``Finding(view=...)``: built-in rules import only the plugin API); a column
two rules show goes here, once.  Loaded on first use by :mod:`clientcare.rules.i18n`, so importing it costs nothing
until a note is written.
"""
from __future__ import annotations

from clientcare.connector import facts

from .i18n import EvidenceView, pgettext

# -- late_payment, fit_checklist -----------------------------------------------------------------

LABELS = {
    "invoice": pgettext("evidence column", "invoice"),
    "move": pgettext("evidence column", "invoice"),
    "invoice_date": pgettext("evidence column", "invoice date"),
    "due_date": pgettext("evidence column", "due date"),
    "days_overdue": pgettext("evidence column", "days overdue"),
    "currency": pgettext("evidence column", "currency"),
    "company_currency": pgettext("evidence column", "company currency"),
    "amount_total": pgettext("evidence column", "amount total"),
    "amount_due": pgettext("evidence column", "amount due"),
    "amount_due_company": pgettext("evidence column", "amount due (company currency)"),
    "credit_applied": pgettext("evidence column", "credit applied"),
    "payment_state": pgettext("evidence column", "payment state"),
    "level": pgettext("evidence column", "level"),
    "kind": pgettext("evidence column", "kind"),
    "paid_date": pgettext("evidence column", "paid date"),
    "days_late": pgettext("evidence column", "days late"),
    "task": pgettext("evidence column", "task"),
    "project": pgettext("evidence column", "project"),
    "client": pgettext("evidence column", "client"),
    "deadline": pgettext("evidence column", "deadline"),
    "stage": pgettext("evidence column", "stage"),
    "assignee": pgettext("evidence column", "assignee"),
}

#: Name column -> (Odoo model, id column): the name opens the record.
LINKS = {
    "invoice": ("account.move", "invoice_id"),
    "move": ("account.move", "move_id"),
    "client": ("res.partner", "client_id"),
    "task": ("project.task", "task_id"),
    "project": ("project.project", "project_id"),
}

#: Amount column -> its currency column (amounts in the company currency say so in the heading).
MONEY = {
    "amount_total": "currency",
    "amount_due": "currency",
    "amount_due_company": "company_currency",
    "credit_applied": "company_currency",
}

_NOT_PAID, _PARTIAL = facts.OWED_STATES
_PAID, _IN_PAYMENT = facts.SETTLED_STATES
#: Odoo's payment states (``account.move.payment_state``, named in :mod:`~clientcare.connector.facts`)
#: in words; ``invoicing_legacy`` marks invoices from before the Invoicing app was installed.
PAYMENT_STATES = {
    _NOT_PAID: pgettext("payment state", "not paid"),
    _PARTIAL: pgettext("payment state", "partially paid"),
    _IN_PAYMENT: pgettext("payment state", "in payment"),
    _PAID: pgettext("payment state", "paid"),
    facts.REVERSED_STATE: pgettext("payment state", "reversed"),
    facts.DISPUTED_STATE: pgettext("payment state", "disputed"),
    "invoicing_legacy": pgettext("payment state", "invoicing app legacy"),
}

_AT_RISK, _OFF_TRACK = facts.PROJECT_TROUBLE_STATUSES
#: A project's last update status (``project.project.last_update_status``), shown in the stage
#: column of a project's row.
PROJECT_STATUSES = {
    "on_track": pgettext("project status", "on track"), _AT_RISK: pgettext("project status", "at risk"),
    _OFF_TRACK: pgettext("project status", "off track"), "on_hold": pgettext("project status", "on hold"),
    "to_define": pgettext("project status", "not set"),
    facts.PROJECT_DONE_STATUS: pgettext("project status", "done"),
}

VALUES = {"payment_state": PAYMENT_STATES, "stage": PROJECT_STATUSES}

# -- unmet_deadlines, follow_up, responsiveness ---------------------------------------------------
# Headings of the columns of these three rules' evidence, the links of their task and project
# columns, and the words of unmet_deadlines' ``kind`` values (laid under the entries above).
RULES_B = EvidenceView(
    labels={
        "kind": pgettext("evidence column", "what"),
        "name": pgettext("evidence column", "name"),
        "deadline": pgettext("evidence column", "deadline"),
        "days_late": pgettext("evidence column", "days late"),
        "days_left": pgettext("evidence column", "days left"),
        "last_change": pgettext("evidence column", "last change"),
        "assignees": pgettext("evidence column", "assignees"),
        "stage": pgettext("evidence column", "stage"),
        "task": pgettext("evidence column", "task"),
        "project": pgettext("evidence column", "project"),
        "signal": pgettext("evidence column", "signal"),
        "record": pgettext("evidence column", "record"),
        "date": pgettext("evidence column", "date"),
        "value": pgettext("evidence column", "value"),
        "message": pgettext("evidence column", "message"),
        "author": pgettext("evidence column", "author"),
        "activity": pgettext("evidence column", "activity"),
        "summary": pgettext("evidence column", "summary"),
        "owner": pgettext("evidence column", "owner"),
        "days_overdue": pgettext("evidence column", "days overdue"),
    },
    links={"task": ("project.task", "task_id"), "project": ("project.project", "project_id")},
    values={"kind": {"task": pgettext("evidence kind", "task"), "project": pgettext("evidence kind", "project"),
                     "task at risk": pgettext("evidence kind", "task at risk")}},
)

# -----------------------------------------------------------------------------------------------

#: The defaults of every evidence view: both sections, the first one's entries winning.
COMMON = EvidenceView(
    labels={**RULES_B.labels, **LABELS}, money=MONEY, links={**RULES_B.links, **LINKS},
    values={column: {**RULES_B.values.get(column, {}), **VALUES.get(column, {})}
            for column in {*RULES_B.values, *VALUES}})
