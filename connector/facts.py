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

import pandas as pd

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
#: The subtype of a message sent to the document's followers (``mail.mt_comment``), as the pull reads
#: its name (``lang`` en_US): a comment with another subtype is an internal note, not a reply.
DISCUSSION_SUBTYPE_NAME = "Discussions"

# -- the write-back marker -----------------------------------------------------------------
#: Every activity and note ClientCare writes carries ``<!-- clientcare key=… run=… fp=… -->``
#: (HTML comments survive Odoo's sanitiser on 16-19; ``data-*`` attributes do not).
MARKER_PREFIX = "<!-- clientcare key="
MARKER_RE = re.compile(r"<!-- clientcare key=(?P<key>\S+) run=(?P<run>\S+) fp=(?P<fp>[0-9a-f]+)"
                       r"(?: nh=(?P<nh>[0-9a-f]+))? -->")


def not_ours(field: str) -> tuple:
    """Domain term leaving out what ClientCare wrote itself (only people's work is contact)."""
    return (field, "not ilike", MARKER_PREFIX)

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


#: ``(field, op, values)`` terms of the invoices an incremental pull re-reads every time.
MOVING_INVOICE_TERMS = (("state", "in", (POSTED,)), ("payment_state", "in", MOVING_STATES))


def overdue_invoice_domain(today_iso: str) -> list:
    """Odoo's own "Overdue" filter on customer invoices, as of a day (YYYY-MM-DD)."""
    return [("move_type", "=", INVOICE), ("state", "=", POSTED),
            ("payment_state", "in", list(OWED_STATES)), ("invoice_date_due", "<", today_iso)]


def due_date(moves: pd.DataFrame) -> pd.Series:
    """When a move falls due: ``invoice_date_due`` (Odoo sets it on every posted invoice; the
    invoice date stands in on hand-made or legacy rows without one)."""
    return moves["invoice_date_due"].fillna(moves["invoice_date"])


def overdue_mask(moves: pd.DataFrame, today: pd.Timestamp) -> pd.Series:
    """:func:`overdue_invoice_domain` as a pandas mask over the ``moves`` table."""
    return ((moves["move_type"] == INVOICE) & (moves["state"] == POSTED)
            & moves["payment_state"].isin(OWED_STATES) & (due_date(moves) < today)).fillna(False).astype(bool)


def open_credit_mask(moves: pd.DataFrame) -> pd.Series:
    """Open credit notes: posted, not yet matched with an invoice (still owed to the client)."""
    return ((moves["move_type"] == CREDIT_NOTE) & (moves["state"] == POSTED)
            & moves["payment_state"].isin(OWED_STATES)).fillna(False).astype(bool)


# -- tasks ---------------------------------------------------------------------------------------
#: Task states that are closed from Odoo 17 on (``state``); 16 has the stage's ``is_closed``.
CLOSED_TASK_STATES = ("1_done", "1_canceled")
CANCELED_TASK_STATE = "1_canceled"
#: Odoo 16 has no task ``state``: a cancelled task sits in a closed stage with one of these names.
CANCELED_STAGE_NAMES = ("cancelled", "canceled")


#: A project whose last update says ``done`` is finished whatever its tasks' states say.
PROJECT_DONE_STATUS = "done"
#: Project update statuses that mean "in trouble".
PROJECT_TROUBLE_STATUSES = ("at_risk", "off_track")


def task_open_terms(has_state: bool) -> tuple[tuple[str, str, tuple], ...]:
    """The server-side part of "open" (``field op values``): 17+ ``state``, 16 ``is_closed`` (a
    stored field following the stage's fold flag).  From 17 on the fold flag is separate:
    :func:`open_task_mask` adds it from the ``task_stages`` table."""
    if has_state:
        return (("state", "not in", CLOSED_TASK_STATES),)
    return (("is_closed", "in", (False,)),)


def late_task_domain(today_iso: str, has_state: bool) -> list:
    """Odoo's own late tasks: its "Open Tasks" filter (``is_closed = False``: on 16 a stored
    field following the stage's fold flag, from 17 computed from ``state`` not done/cancelled)
    with the Deadline "Overdue" filter (``date_deadline`` before today), archived tasks hidden
    as in every task view.  Checked against ``project_task_views.xml`` of Odoo 17+ (filters
    ``open_tasks`` and ``deadline_past_due``; Odoo compares with today's midnight in the
    user's timezone, ClientCare with the UTC calendar day)."""
    return [("date_deadline", "<", today_iso),
            *[(f, op, list(values)) for f, op, values in task_open_terms(has_state)]]


def odoo_open_mask(tasks: pd.DataFrame) -> pd.Series:
    """:func:`task_open_terms` as a mask (active tasks only), what Odoo's filters call open
    (a server without either field has no closed tasks)."""
    mask = pd.Series(True, index=tasks.index)
    for fname, op, values in task_open_terms("state" in tasks):
        if fname not in tasks:
            continue
        hit = tasks[fname].isin(values).fillna(False).astype(bool)
        mask &= hit if op == "in" else ~hit
    return mask & tasks["active"].astype(bool)


def folded_mask(tasks: pd.DataFrame, stages: pd.DataFrame | None) -> pd.Series:
    """Tasks in a folded stage (the Done column people see); unknown stages are not folded."""
    if stages is None or not len(stages) or "fold" not in stages:
        return pd.Series(False, index=tasks.index)
    folded = stages.loc[stages["fold"].astype(bool), "id"]
    return tasks["stage_id"].isin(folded).fillna(False).astype(bool)


def open_task_mask(tasks: pd.DataFrame, stages: pd.DataFrame | None) -> pd.Series:
    """Open task: Odoo says open (:func:`odoo_open_mask`) and its stage is not folded."""
    return odoo_open_mask(tasks) & ~folded_mask(tasks, stages)
