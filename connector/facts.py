"""The business facts, each defined once: the puller, the rules, the reports, ``explain``
and ``check`` all ask this module.

Two definitions of "overdue" once disagreed (a report chart counted what the rules did
not); so what an invoice, an owed or overdue amount, an open task, a project's client,
the severity order, the activity types and the write-back marker are lives here and
nowhere else.  Domains mirror Odoo's own search filters ("Overdue" on invoices, "Late"
on tasks), so ClientCare can be compared with what a person sees in Odoo.
"""
from __future__ import annotations

import re

# -- severities and activity types ------------------------------------------------------
#: Ascending: ``SEVERITIES.index(s)`` orders findings; reports and the creation cap sort
#: most severe first with :func:`severity_rank`.
SEVERITIES = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    """0 for the most severe, larger for milder, unknown last (for sorting)."""
    try:
        return len(SEVERITIES) - 1 - SEVERITIES.index(severity)
    except ValueError:
        return len(SEVERITIES)


#: Friendly activity types a rule may ask for → the xml ids Odoo ships in ``mail``.
ACTIVITY_TYPE_XMLIDS = {
    "todo": "mail.mail_activity_data_todo",
    "call": "mail.mail_activity_data_call",
    "email": "mail.mail_activity_data_email",
    "meeting": "mail.mail_activity_data_meeting",
}
ACTIVITY_TYPES = tuple(ACTIVITY_TYPE_XMLIDS)
NOTE_SUBTYPE_XMLID = "mail.mt_note"

# -- the write-back marker -----------------------------------------------------------------
#: Every activity and note ClientCare writes carries ``<!-- clientcare key=… run=… fp=… -->``
#: (HTML comments survive Odoo's sanitiser on 16-19; ``data-*`` attributes do not).
MARKER_PREFIX = "<!-- clientcare key="
MARKER_RE = re.compile(r"<!-- clientcare key=(?P<key>\S+) run=(?P<run>\S+) fp=(?P<fp>[0-9a-f]+)"
                       r"(?: nh=(?P<nh>[0-9a-f]+))? -->")

# -- invoices -----------------------------------------------------------------------------------
#: Customer invoices and credit notes: the moves ClientCare pulls.
CUSTOMER_MOVE_TYPES = ("out_invoice", "out_refund")
INVOICE, CREDIT_NOTE = CUSTOMER_MOVE_TYPES
#: Only posted moves count (drafts and cancelled ones are not owed).
POSTED = "posted"
#: Payment states still owed by the client (Odoo's "Overdue" filter uses the same two).
#: ``in_payment`` (paid, not yet reconciled), ``blocked`` (disputed, 18+), ``paid`` and
#: ``reversed`` are not owed.
OWED_STATES = ("not_paid", "partial")
#: Paid in full: the payment date is looked up for these.
SETTLED_STATES = ("paid", "in_payment")
#: States whose payment may still move without touching ``write_date`` (re-read each pull).
MOVING_STATES = ("not_paid", "partial", "in_payment")


def overdue_invoice_domain(today_iso: str) -> list:
    """Odoo's own "Overdue" filter on customer invoices, as of a day (YYYY-MM-DD)."""
    return [("move_type", "=", INVOICE), ("state", "=", POSTED),
            ("payment_state", "in", list(OWED_STATES)), ("invoice_date_due", "<", today_iso)]


# -- tasks ---------------------------------------------------------------------------------------
#: Task states that are closed from Odoo 17 on (``state``); 16 has the stage's ``is_closed``.
CLOSED_TASK_STATES = ("1_done", "1_canceled")
CANCELED_TASK_STATE = "1_canceled"
#: Odoo 16 has no task ``state``: a cancelled task sits in a closed stage with one of these names.
CANCELED_STAGE_NAMES = ("cancelled", "canceled")


def late_task_domain(today_iso: str, has_state: bool) -> list:
    """Odoo's own "Late" filter on tasks (deadline before today, task still open)."""
    if has_state:
        return [("date_deadline", "<", today_iso), ("state", "not in", list(CLOSED_TASK_STATES))]
    return [("date_deadline", "<", today_iso), ("is_closed", "=", False)]
