"""What ClientCare pulls, and how Odoo's answers become typed DataFrames.

Tables are declared once here (model, base domain, fields, and the "open set"
whose changes do not always move ``write_date``); rules add fields through
their declared needs.  Version differences are handled by :class:`ServerProfile`
from ``version()`` and ``fields_get``, never by per-version copies of code.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from . import facts
from .errors import InvalidFieldError
from .rows import Rows


@dataclass(frozen=True)
class OpenFilter:
    """A condition ``field op values`` that is both an Odoo domain and a pandas mask.

    Keeping the two in one object means the server-side re-read of the open set
    and the local bookkeeping of which ids were open can never disagree.
    """

    terms: tuple[tuple[str, str, tuple], ...]

    def domain(self) -> list:
        return [(f, op, list(values)) for f, op, values in self.terms]

    def fields(self) -> list[str]:
        return [f for f, _, _ in self.terms]

    def mask(self, df: pd.DataFrame) -> pd.Series:
        out = pd.Series(True, index=df.index)
        for f, op, values in self.terms:
            if f not in df.columns:
                return pd.Series(False, index=df.index)
            hit = df[f].isin(list(values))
            out &= hit if op == "in" else ~hit
        return out


@dataclass(frozen=True)
class TableSpec:
    name: str
    model: str
    domain: tuple = ()
    #: Fields always pulled; missing ones are an error (the rules depend on them).
    fields: tuple[str, ...] = ()
    #: Pulled only when the server has them (version-dependent).
    optional: tuple[str, ...] = ()
    #: Records re-read on every incremental pull (see OpenFilter).
    open_filter: OpenFilter | None = None
    #: Fields whose change may not move ``write_date`` (stored computed fields): an
    #: incremental pull compares them, besides ``write_date``, to find changed rows.
    watch: tuple[str, ...] = ()
    incremental: bool = True


#: Customer invoice states that are still "moving": payment registration does
#: not always touch ``write_date`` (measured live), so they are re-read each run.
INVOICE_OPEN = OpenFilter(facts.MOVING_INVOICE_TERMS)

TABLES: dict[str, TableSpec] = {t.name: t for t in (
    TableSpec(
        "partners", "res.partner",
        fields=("name", "commercial_partner_id", "parent_id", "is_company", "customer_rank", "user_id",
                "country_id", "industry_id", "category_id", "company_id", "active", "email", "phone",
                "lang", "create_date", "write_date"),
        optional=("customer_rank",),  # from the account module: listed above, skipped when absent
    ),
    TableSpec(
        "users", "res.users", domain=(("share", "=", False),),
        fields=("name", "login", "partner_id", "active", "company_id", "tz", "lang", "create_date", "write_date"),
    ),
    TableSpec(
        "companies", "res.company",
        fields=("name", "currency_id", "partner_id", "resource_calendar_id", "write_date"), incremental=False,
        optional=("resource_calendar_id",),  # from the resource module: skipped when absent
    ),
    TableSpec(
        "projects", "project.project",
        fields=("name", "partner_id", "user_id", "date_start", "date", "active", "company_id",
                "create_date", "write_date"),
        optional=("last_update_status", "stage_id", "rating_active", "allow_billable"),
    ),
    TableSpec(
        "tasks", "project.task",
        fields=("name", "project_id", "partner_id", "user_ids", "date_deadline", "stage_id", "active",
                "company_id", "parent_id", "date_last_stage_update", "date_end", "create_date",
                "write_date"),
        optional=("state", "is_closed", "kanban_state"),
        watch=("state", "is_closed"),
    ),
    # Task stages, for their fold flag: from 17 on a task's ``state`` may say open while it sits
    # in a folded (Done) column.  A few rows, and a fold change does not touch the tasks: re-read whole.
    TableSpec(
        "task_stages", "project.task.type", fields=("name", "fold", "write_date"), incremental=False,
    ),
    TableSpec(
        "moves", "account.move", domain=(("move_type", "in", list(facts.CUSTOMER_MOVE_TYPES)),),
        fields=("name", "move_type", "state", "partner_id", "commercial_partner_id", "invoice_user_id",
                "invoice_date", "invoice_date_due", "amount_total", "amount_residual",
                "amount_total_signed", "amount_residual_signed", "currency_id", "company_id",
                "company_currency_id", "payment_state", "invoice_origin", "create_date", "write_date"),
        optional=("matched_payment_ids",),
        open_filter=INVOICE_OPEN,
        watch=("payment_state", "amount_residual", "amount_residual_signed", "state"),
    ),
    # -- read by rules when available (rules treat a missing table as "unknown") -----------
    # Contacts with clients: messages, emails and done activities on the records rules look at;
    # ClientCare's own notes (write-back marker in the body) are not contacts.
    TableSpec(
        "messages", "mail.message",
        domain=(("model", "in", ["res.partner", "project.project", "project.task", "account.move"]),
                "|", ("message_type", "in", ["comment", "email", "email_outgoing"]),
                ("mail_activity_type_id", "!=", False),
                "|", ("mail_activity_type_id", "!=", False), facts.not_ours("body"),
                # ClientCare's own closings ("activity done" by its user) are no contact either
                *(term for feedback in facts.OWN_FEEDBACK
                  for term in ("|", ("mail_activity_type_id", "=", False), ("body", "not ilike", feedback)))),
        fields=("date", "model", "res_id", "message_type", "author_id", "mail_activity_type_id",
                "subtype_id", "create_date"),
    ),
    # Open activities (done ones are deleted on 16, archived from 17 on); ClientCare's own
    # activities are left out: only people's own work counts as contact.  Few rows: re-read whole.
    TableSpec(
        "activities", "mail.activity",
        domain=(("res_model", "in", ["res.partner", "project.project", "project.task", "account.move"]),
                facts.not_ours("note")),
        fields=("res_model", "res_id", "activity_type_id", "user_id", "date_deadline", "summary",
                "create_date"),
        optional=("active", "date_done"),
        incremental=False,
    ),
    TableSpec(
        "ratings", "rating.rating", domain=(("consumed", "=", True), ("rating", ">", 0)),
        fields=("res_model", "res_id", "partner_id", "rating", "rating_text", "parent_res_model",
                "parent_res_id", "create_date"),
    ),
    # Task deadline changes.  mail.tracking.value is readable by administrators only (16-19), so
    # these two are worth pulling only when that succeeds; the second maps a change to its task.
    TableSpec(
        "deadline_changes", "mail.tracking.value",
        domain=(("mail_message_id.model", "=", "project.task"), ("new_value_datetime", "!=", False)),
        fields=("mail_message_id", "old_value_datetime", "new_value_datetime", "create_date"),
        optional=("field", "field_id", "field_desc"),
    ),
    TableSpec(
        "deadline_messages", "mail.message",
        domain=(("model", "=", "project.task"), ("tracking_value_ids.new_value_datetime", "!=", False)),
        fields=("model", "res_id", "date"),
    ),
    # -- working time (rules/working_time.py): the resource module's calendars, read whole (a few
    # rows; a calendar's attendances change without touching it).  Optional: without the module or
    # the read right the profile's [working_time] values apply.
    TableSpec(
        "work_calendars", "resource.calendar",
        fields=("name", "tz", "company_id", "write_date"), optional=("two_weeks_calendar", "flexible_hours"),
        incremental=False,
    ),
    # one row per period; section lines (display_type), lunch breaks (day_period "lunch", 17+)
    # and a resource's own lines are left out when read; date_from / date_to / resource_id are
    # gone on 19
    TableSpec(
        "work_attendances", "resource.calendar.attendance",
        fields=("calendar_id", "dayofweek", "hour_from", "hour_to", "write_date"),
        optional=("day_period", "week_type", "display_type", "date_from", "date_to", "resource_id"),
        incremental=False,
    ),
    # global leaves (no resource): public holidays; no calendar = every calendar of the company
    TableSpec(
        "public_holidays", "resource.calendar.leaves", domain=(("resource_id", "=", False),),
        fields=("name", "calendar_id", "company_id", "date_from", "date_to", "write_date"),
        optional=("time_type",), incremental=False,
    ),
)}

#: The tables every pull has; the others are pulled when a rule asks for them.
CORE_TABLES = ("partners", "users", "companies", "projects", "tasks", "task_stages", "moves")
#: Pulled by every sync too, but optional: working time (unavailable: the profile's values apply).
WORKING_TIME_TABLES = ("work_calendars", "work_attendances", "public_holidays")


@dataclass
class ServerProfile:
    """Facts about one server that the rest of the code adapts to."""

    version_info: dict
    fields: dict[str, dict[str, dict]] = field(default_factory=dict)  # model -> fields_get

    @property
    def major(self) -> int:
        from .transports import server_major
        return server_major(self.version_info)

    @property
    def version(self) -> str:
        return str(self.version_info.get("server_version", "?"))

    def has(self, model: str, fname: str) -> bool:
        return fname in self.fields.get(model, {})

    def ftype(self, model: str, fname: str) -> str | None:
        return self.fields.get(model, {}).get(fname, {}).get("type")

    def selection(self, model: str, fname: str) -> list[str]:
        return [k for k, _ in self.fields.get(model, {}).get(fname, {}).get("selection", [])]

    # -- adaptations ----------------------------------------------------------
    def task_open_filter(self) -> OpenFilter | None:
        """Open tasks as the server stores them (:func:`facts.task_open_terms`)."""
        has_state = self.has("project.task", "state")
        if has_state or self.has("project.task", "is_closed"):
            return OpenFilter(facts.task_open_terms(has_state))
        return None

    def open_filter(self, spec: TableSpec) -> OpenFilter | None:
        if spec.name == "tasks":
            return self.task_open_filter()
        return spec.open_filter

    def group_method(self) -> str:
        """``read_group`` is public up to 18; 19 replaced it with ``formatted_read_group``."""
        return "formatted_read_group" if self.major >= 19 else "read_group"

    def field_list(self, spec: TableSpec, extra: Iterable[str] = ()) -> list[str]:
        """The explicit field list for a table: required + extra + the optional ones present."""
        model_fields = self.fields.get(spec.model, {})
        wanted = list(dict.fromkeys(("id",) + spec.fields + tuple(extra)))
        wanted = [f for f in wanted if f in model_fields or f not in spec.optional or f == "id"]
        missing = [f for f in wanted if f != "id" and f not in model_fields]
        if missing:
            raise InvalidFieldError(
                f"{spec.model} on Odoo {self.version} has no field(s) {', '.join(missing)}",
                hint="a rule asks for a field this server does not have; check the modules installed")
        wanted += [f for f in spec.optional if f in model_fields and f not in wanted]
        if "write_date" not in wanted and "write_date" in model_fields:
            wanted.append("write_date")
        return wanted


# -- typed frames ---------------------------------------------------------------
@contextmanager
def gc_paused():
    """Pulls and rules build many small objects (rows, findings, evidence) next to large
    tables; the cyclic collector would rescan them many times over (measured: 20-25 % of a
    rule run, more of a pull).  Reference counting still frees everything; the few cycles are
    collected afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_PAIR = (list, tuple)
_NO_PAIR = (None, None)
_NONE = type(None)


def _arrow_strings() -> bool:
    """Whether this pandas' ``"string"`` dtype is Arrow's large strings (pandas 3): texts then go
    to Arrow directly, a third of the cost of ``pd.array`` checking each value again."""
    made = pd.array([], dtype="string")
    if not isinstance(made, pd.arrays.ArrowStringArray):
        return False
    direct = pd.arrays.ArrowStringArray(pa.array([], type=pa.large_string()))
    return direct.dtype == made.dtype and direct._pa_array.type == made._pa_array.type


_ARROW_STRINGS = _arrow_strings()
#: The Odoo types whose typing is decided by the Python types present in a column.
_KINDS_DECIDE = frozenset({"many2one", "boolean", "integer", "many2one_reference", "float", "monetary",
                           "datetime", "date"})


def _arrow_texts(values) -> pd.api.extensions.ExtensionArray | None:
    """``values`` as pandas' Arrow strings when every one is text or None (Odoo's decoders give
    ``str``, never bytes), else ``None``."""
    if not _ARROW_STRINGS:
        return None
    try:
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    except (pa.ArrowTypeError, pa.ArrowInvalid, UnicodeError):
        return None


def _texts(values) -> pd.api.extensions.ExtensionArray:
    """``pd.array(values, dtype="string")``, straight from Arrow when it can."""
    found = _arrow_texts(values)
    return pd.array(values, dtype="string") if found is None else found


def _many2one_parts(v) -> tuple:
    """(id, name) of a many2one value that is not an ``[id, name]`` pair (``False``, mostly)."""
    ok = v.__class__ in _PAIR
    return (v[0] if ok and v else None, v[1] if ok and len(v) > 1 else None)


def _many2one(col, kinds: set) -> tuple:
    """(ids, names) of a many2one column: transposed in C when every value is a pair or empty
    (a longer list gives its first two, as before), value by value otherwise."""
    if kinds <= {list, tuple, bool, _NONE}:
        try:
            ids, labels = zip(*([v or _NO_PAIR for v in col] if kinds - {list, tuple} else col))
            return ids, labels
        except (TypeError, ValueError):  # ``True``, or a value shorter than a pair
            pass
    pairs = [v if v.__class__ in _PAIR and len(v) == 2 else _many2one_parts(v) for v in col]
    return tuple(zip(*pairs)) if pairs else ((), ())


def to_frame(records: Rows | list[dict], field_types: dict[str, str]) -> pd.DataFrame:
    """Records from ``search_read`` (or their :class:`Rows`) → a DataFrame with one dtype per
    Odoo type (the explicit schema ``field_types``: field → Odoo type).

    Odoo sends ``False`` for every empty value; here it becomes ``<NA>``/``NaT``
    except on booleans.  Datetimes are naive UTC strings and become aware UTC;
    dates stay calendar dates (naive, midnight) so no timezone can shift them a
    day.  A many2one gives ``<f>`` (id) and ``<f>_name``; x2many fields are lists.
    Built column by column from plain lists (no intermediate frame of objects): a pull
    converts each page as it arrives.  The Python types present in a column decide whether it
    needs a pass value by value (an empty value to map) or goes to NumPy/Arrow whole.
    """
    columns = Rows.of(records, field_types).columns
    out = {}
    for name, ftype in field_types.items():
        col = columns[name]
        kinds = set(map(type, col)) if ftype in _KINDS_DECIDE and name != "id" else None
        if name == "id":
            out[name] = np.array(col, dtype="int64")
        elif ftype == "many2one":
            ids, labels = _many2one(col, kinds)
            out[name] = pd.array(ids, dtype="Int64")
            out[f"{name}_name"] = _texts(labels)
        elif ftype in ("many2many", "one2many"):
            out[name] = pd.Series([list(v) if isinstance(v, list) else [] for v in col], dtype=object)
        elif ftype == "boolean":
            out[name] = np.array(col if kinds <= {bool} else [v is not None and v == v and bool(v) for v in col],
                                 dtype=bool)
        elif ftype in ("integer", "many2one_reference"):
            out[name] = pd.array(list(col) if kinds <= {int} else [None if v is False else v for v in col],
                                 dtype="Int64")
        elif ftype in ("float", "monetary"):
            values = col if kinds <= {float, int} else [np.nan if v is False or v is None else v for v in col]
            try:
                out[name] = np.array(values, dtype="float64")
            except (TypeError, ValueError):
                out[name] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype("float64")
        elif ftype in ("datetime", "date"):
            texts = list(col) if kinds <= {str} and "" not in col else [v if v else None for v in col]
            stamps = pd.to_datetime(texts, utc=ftype == "datetime",
                                    format="%Y-%m-%d %H:%M:%S" if ftype == "datetime" else "%Y-%m-%d")
            out[name] = stamps.astype("datetime64[ns, UTC]" if ftype == "datetime" else "datetime64[ns]")
        else:  # char, text, html, selection, reference
            texts = _arrow_texts(col)  # no empty value to map
            if texts is None:
                if set(map(type, col)) <= {bool, _NONE} and True not in col:  # empty throughout
                    texts = _texts([None] * len(col))
                else:
                    texts = _texts([v if v.__class__ is str else None if v is False or v is None else str(v)
                                    for v in col])
            out[name] = texts
    return pd.DataFrame(out)


def frame_types(columns: list[str], model_fields: dict[str, dict]) -> dict[str, str]:
    return {c: ("integer" if c == "id" else model_fields[c]["type"]) for c in columns}
