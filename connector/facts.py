"""The business facts, each defined once: the puller, the rules, the reports, ``explain``
and ``check`` all ask this module.

Two definitions of "overdue" once disagreed (a report chart counted what the rules did
not); so the definitions of an invoice, an owed or overdue amount, a payment state, an open
task, the severity order, the activity types, the client health bands and the write-back
marker live here and nowhere else.  The views that apply them to a snapshot (a partner's, a
project's and a task's client, amounts net of open credit...) are built in one place too,
:mod:`clientcare.connector.snapshot`.  Domains mirror Odoo's own search filters ("Overdue"
on invoices, "Late" on tasks), so ClientCare can be compared with what a person sees in Odoo.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, get_args

if TYPE_CHECKING:  # the masks take frames; the marker, states and bands need no pandas (`clientcare runs`)
    import pandas as pd

# -- severities and activity types ------------------------------------------------------
#: A finding's severity, as a rule's settings type it (``tuple[Severity, ...]``).
Severity = Literal["info", "low", "medium", "high", "critical"]
#: Ascending: ``SEVERITIES.index(s)`` orders findings; reports and the creation cap sort
#: most severe first with :func:`severity_rank`.
SEVERITIES: tuple[str, ...] = get_args(Severity)


def severity_rank(severity: str) -> int:
    """0 for the most severe, larger for milder, unknown last (for sorting)."""
    try:
        return len(SEVERITIES) - 1 - SEVERITIES.index(severity)
    except ValueError:
        return len(SEVERITIES)


#: Friendly activity types a rule may ask for (a rule's settings type them with it).
ActivityType = Literal["todo", "call", "email", "meeting"]
ACTIVITY_TYPES: tuple[str, ...] = get_args(ActivityType)
#: Each activity type → the xml id Odoo ships in ``mail``.
ACTIVITY_TYPE_XMLIDS = {t: f"mail.mail_activity_data_{t}" for t in ACTIVITY_TYPES}
NOTE_SUBTYPE_XMLID = "mail.mt_note"
#: Messages that are a contact with the client (done activities count too, whatever their type).
INTERACTION_TYPES = ("comment", "email", "email_outgoing")
#: The subtype of a message sent to the document's followers (``mail.mt_comment``), as the pull reads
#: its name (``lang`` en_US): a comment with another subtype is an internal note, not a reply.
DISCUSSION_SUBTYPE_NAME = "Discussions"

# -- the write-back marker -----------------------------------------------------------------
#: Every activity and note ClientCare writes carries ``<!-- clientcare key=… run=… fp=… nh=… lang=… -->``
#: (HTML comments survive Odoo's sanitiser on 16-19; ``data-*`` attributes do not): the key of
#: its finding, the run that created it, the fingerprint of what it asks and the hash of the note
#: as written, and the language it is written in (absent: English).  :func:`compose_marker` writes it, :func:`parse_marker` reads it: nothing else
#: spells it.
_MARKER_TAG = "clientcare key="
MARKER_PREFIX = "<!-- " + _MARKER_TAG
MARKER_RE = re.compile(re.escape(MARKER_PREFIX) + r"(?P<key>\S+) run=(?P<run>\S+) fp=(?P<fp>[0-9a-f]+)"
                       r"(?: nh=(?P<nh>[0-9a-f]+))?(?: lang=(?P<lang>[A-Za-z_]+))? -->")
#: The language of a marker without ``lang=`` (English: every marker written before languages).
MARKER_DEFAULT_LANG = "en_US"


class Marker(NamedTuple):
    """What a marker says: the finding key (as :func:`marker_key` wrote it), the run, the
    fingerprint, the note hash (``None`` in markers written before it existed) and the language
    the text is written in (:data:`MARKER_DEFAULT_LANG` when the marker does not say)."""

    key: str
    run: str
    fp: str
    nh: str | None = None
    lang: str = MARKER_DEFAULT_LANG


def marker_key(key: str) -> str:
    """A finding key as a marker holds it: inside an HTML comment, so no spaces, ``--`` or ``>``."""
    return re.sub(r"[^A-Za-z0-9_.:/=+@-]", "_", key).replace("--", "-_")


_UNSAFE_IN_MARKER = re.compile(r"[^A-Za-z0-9_.:/=+@-]|--")


def marker_keys(keys: Sequence[str]) -> list[str]:
    """:func:`marker_key` of many keys: when one search over them all finds nothing it would
    change (joined by "_", which it keeps and which makes no "--"), they are as they are."""
    keys = list(keys)
    if _UNSAFE_IN_MARKER.search("_".join(keys)) is None:
        return keys
    return [marker_key(k) for k in keys]


def compose_marker(key: str, run_id: str, fingerprint: str, note_hash: str | None = None,
                   lang: str | None = None) -> str:
    """The marker appended to an activity's note or a message's body; ``lang`` only when not
    English (English markers stay as they were)."""
    nh = f" nh={note_hash}" if note_hash else ""
    la = f" lang={lang}" if lang and lang.split("_", 1)[0] != "en" else ""
    return f"{MARKER_PREFIX}{marker_key(key)} run={run_id} fp={fingerprint}{nh}{la} -->"


def parse_marker(text: str | None) -> Marker | None:
    """The marker in an activity note or message body; ``None`` when ClientCare did not write it."""
    m = MARKER_RE.search(text or "")
    return Marker(m["key"], m["run"], m["fp"], m["nh"], m["lang"] or MARKER_DEFAULT_LANG) if m else None


#: Every feedback ClientCare writes when it closes an activity starts with this, in every
#: language (only what follows is translated): Odoo's "activity done" message quotes it, authored
#: by ClientCare's own user: that message is ClientCare's, not a person's contact with the client
#: (a person marking a ClientCare activity done writes their own feedback, and their message counts).
FEEDBACK_PREFIX = "ClientCare: "
#: The English feedback of an activity ClientCare closes ("ClientCare: resolved: " and how it
#: went away).
CLOSE_FEEDBACK = FEEDBACK_PREFIX + "resolved: "
#: The English feedback of an activity ClientCare closes because a newer one of its own took it
#: over (one activity per client and theme): not resolved, and no person's contact either.
MERGE_FEEDBACK = FEEDBACK_PREFIX + "merged: "
#: What every feedback ClientCare writes when it closes an activity holds, whatever its language.
OWN_FEEDBACK = (FEEDBACK_PREFIX,)


def strip_marker(text: str) -> str:
    """The text without its marker (to write it back with a new one)."""
    return MARKER_RE.sub("", text)


def ours(field: str) -> tuple:
    """Domain term keeping what ClientCare wrote (a marker in ``field``)."""
    return (field, "ilike", MARKER_PREFIX)


def not_ours(field: str) -> tuple:
    """Domain term leaving out what ClientCare wrote itself (only people's work is contact)."""
    return (field, "not ilike", MARKER_PREFIX)


def marked_key(field: str, key: str) -> tuple:
    """Domain term finding the records marked with this finding key (as :func:`marker_key` writes it)."""
    return (field, "ilike", f"{_MARKER_TAG}{marker_key(key)} ")


def marked_run(field: str, run_id: str) -> tuple:
    """Domain term finding the records a run marked (candidates: check with :func:`parse_marker`)."""
    return (field, "ilike", f"run={run_id} ")


# -- client health -----------------------------------------------------------------------
#: Client health bands, healthiest first: a fit score (0-100) at or above a band's floor is in
#: it, below the last floor is the last band; no score is ``UNKNOWN_BAND`` (no colour, no tag).
HEALTH_BANDS = ("good", "fair", "poor")
#: The floors the fit checklist uses unless a profile moves them (``band_good``, ``band_fair``).
HEALTH_BAND_FLOORS = {"good": 75.0, "fair": 50.0}
UNKNOWN_BAND = "unknown"
#: How a band reads to people (the contact tag of ``poor`` says "at risk").
HEALTH_BAND_LABELS = {"good": "good", "fair": "fair", "poor": "at risk"}
#: Band -> rank, higher is healthier (an unknown band ranks -1 with ``.get(band, -1)``): a drop
#: in rank is a decline.
HEALTH_RANK = {band: len(HEALTH_BANDS) - 1 - i for i, band in enumerate(HEALTH_BANDS)}


def health_bands(score: pd.Series, floors: dict[str, float]) -> pd.Series:
    """The band of each fit score (NaN: unknown), given each band's floor (:data:`HEALTH_BAND_FLOORS`)."""
    import numpy as np
    import pandas as pd

    worst = HEALTH_BANDS[-1]
    bands = np.full(len(score), worst, dtype=object)
    values = score.to_numpy(dtype="float64", na_value=np.nan)
    for band in reversed(HEALTH_BANDS[:-1]):  # the healthiest band a score reaches wins
        bands[values >= floors[band]] = band
    bands[np.isnan(values)] = UNKNOWN_BAND
    return pd.Series(bands, index=score.index)


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
#: Payment states whose payment date the pull looks up (settled ones, and partial payments).
PAID_STATES = (*SETTLED_STATES, "partial")
#: Disputed invoices (the payment state exists from Odoo 18 on): not owed until resolved.
DISPUTED_STATE = "blocked"
#: States whose payment may still move without touching ``write_date`` (re-read each pull).
MOVING_STATES = ("not_paid", "partial", "in_payment")


#: ``(field, op, values)`` terms of the invoices an incremental pull re-reads every time.
MOVING_INVOICE_TERMS = (("state", "in", (POSTED,)), ("payment_state", "in", MOVING_STATES))


#: Move states of an invoice that is no longer a debt: cancelled, or reset to draft.
CANCELLED_MOVE_STATE, DRAFT_MOVE_STATE = "cancel", "draft"
#: An invoice fully reversed by a credit note (Odoo's payment state ``reversed``).
REVERSED_STATE = "reversed"

# -- follow-up exclusions --------------------------------------------------------------------
# Accounting takes an invoice out of follow-up; ClientCare does not chase it then.  What each
# Odoo version offers, checked in its sources (the pull asks ``fields_get`` which are there):
# 16, 17: ``blocked`` ("No Follow-up") on account.move.line, stored; gone in 18.
# 18, 19: ``payment_state = blocked`` on the invoice (disputed, :data:`DISPUTED_STATE`).
# 19:     ``no_followup`` on account.move.line (stored) and on account.move (not stored:
#         computed from the invoice's first receivable line; setting it sets all of them).
#: Flags on journal items that exclude them from follow-up (whichever the server has).
LINE_EXCLUSION_FIELDS = ("blocked", "no_followup")
#: The flag on the invoice itself (19); read only for the invoices a flagged line belongs to.
MOVE_EXCLUSION_FIELD = "no_followup"
#: Where a flag was found (the ``source`` of the pull's ``followup_exclusions`` rows).
EXCLUDED_ON_LINE, EXCLUDED_ON_INVOICE = "line", "invoice"
#: Why an invoice is not chased, as people read it, per source.
EXCLUSION_REASONS = {
    EXCLUDED_ON_LINE: "excluded from follow-up by accounting (No Follow-up on the receivable line)",
    EXCLUDED_ON_INVOICE: "excluded from follow-up by accounting (No Follow-up on the invoice)",
    DISPUTED_STATE: "disputed (payment blocked by accounting)",
}


def exclusion_lines_domain(flags: tuple[str, ...] | list[str]) -> list:
    """The journal items that take an owed customer invoice out of follow-up: any of ``flags``
    set on a receivable line not yet reconciled (the part still owed), of a posted invoice."""
    if not flags:
        raise ValueError("no exclusion flag to look for")
    either = ["|"] * (len(flags) - 1) + [(f, "=", True) for f in flags]
    return [*either, ("account_id.account_type", "=", "asset_receivable"), ("reconciled", "=", False),
            ("move_id.move_type", "=", INVOICE), ("move_id.state", "=", POSTED),
            ("move_id.payment_state", "in", list(OWED_STATES))]


def followup_excluded(payment_state: pd.Series, flagged_source: pd.Series) -> pd.Series:
    """Why each invoice is excluded from follow-up (:data:`EXCLUSION_REASONS`), ``<NA>`` when it
    is not: a flag accounting set (``flagged_source``: ``line``/``invoice`` or NA), else a
    disputed payment state.  Whether the flags could be read at all is the caller's to say."""
    import pandas as pd

    reason = flagged_source.map(EXCLUSION_REASONS).astype("string")
    disputed = payment_state.eq(DISPUTED_STATE).fillna(False).astype(bool)
    reason = reason.mask(reason.isna() & disputed, EXCLUSION_REASONS[DISPUTED_STATE])
    return pd.Series(reason.array, index=payment_state.index, dtype="string")


#: The currency of an owed amount: the company's (``amount_residual_signed`` and the other
#: ``*_signed`` fields, which Odoo converts at the invoice's rate).  Amounts are added up only
#: within one currency; two companies with different currencies never share a total.
OWED_CURRENCY = "company_currency_id_name"


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
    import pandas as pd

    mask = pd.Series(True, index=tasks.index)
    for fname, op, values in task_open_terms("state" in tasks):
        if fname not in tasks:
            continue
        hit = tasks[fname].isin(values).fillna(False).astype(bool)
        mask &= hit if op == "in" else ~hit
    return mask & tasks["active"].astype(bool)


def folded_mask(tasks: pd.DataFrame, stages: pd.DataFrame | None) -> pd.Series:
    """Tasks in a folded stage (the Done column people see); unknown stages are not folded."""
    import pandas as pd

    if stages is None or not len(stages) or "fold" not in stages:
        return pd.Series(False, index=tasks.index)
    folded = stages.loc[stages["fold"].astype(bool), "id"]
    return tasks["stage_id"].isin(folded).fillna(False).astype(bool)


def open_task_mask(tasks: pd.DataFrame, stages: pd.DataFrame | None) -> pd.Series:
    """Open task: Odoo says open (:func:`odoo_open_mask`) and its stage is not folded."""
    return odoo_open_mask(tasks) & ~folded_mask(tasks, stages)
