"""Vectorised views over a snapshot that several rules share, and evidence builders.

Each view is memoised on the snapshot object, so the built-in rules (and
third-party ones) pay for "overdue invoices" or "tasks with their client" once
per run; callers treat the returned frames as read-only.  Optional tables
(messages, activities, ratings, deadline changes) may be absent: their views
return ``None`` and rules report what needs them as unknown.  Evidence is built
column-wise into :class:`~clientcare.rules.finding.Rows`, never row by row.
"""
from __future__ import annotations

from datetime import date
from itertools import chain
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from clientcare.connector import facts
from clientcare.connector.snapshot import Snapshot

from .finding import Rows

#: Messages that are a contact with the client (done activities count too, whatever their type).
INTERACTION_TYPES = ("comment", "email", "email_outgoing")


def memo(snapshot: Snapshot, key: tuple, build: Callable[[], object]):
    """``build()`` once per snapshot (its :class:`~clientcare.connector.snapshot.Views`)."""
    return snapshot.views.get(key, build)


def day(as_of: date) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize()


def to_day(series: pd.Series) -> pd.Series:
    """Calendar day (naive midnight) of a date or an aware UTC datetime column."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
    return series.astype("datetime64[ns]").dt.normalize()


def days_since(later, earlier) -> pd.Series:
    """Whole days from ``earlier`` to ``later`` (float, NaN where either is missing)."""
    delta = later - earlier
    return delta / pd.Timedelta(days=1)


def opt_id(value) -> int | None:
    """An id from a cell that may be NA, NaN or None."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return int(value)


def ref_ids(series: pd.Series) -> pd.Series:
    """``many2one_reference`` columns (``res_id``) as ids: ``to_frame`` types them Int64;
    snapshots saved by earlier versions hold them as text."""
    try:
        return series.astype("Int64")  # a C cast for the usual all-digit column
    except (TypeError, ValueError):
        return pd.to_numeric(series, errors="coerce").astype("Int64")


def commercial(snapshot: Snapshot, partner_ids: pd.Series) -> pd.Series:
    mapping = memo(snapshot, ("commercial_map",),
                   lambda: snapshot.contacts.set_index("partner_id")["commercial_partner_id"])
    return lookup(mapping, partner_ids).astype("Int64").fillna(partner_ids.astype("Int64"))


#: Names in a summary are cut to this many characters, so the summary keeps its tail (the
#: amounts, the dates) within about 250 characters.
NAME_WIDTH = 60


def short(name, width: int = NAME_WIDTH) -> str:
    """A client or project name cut for a one-line summary ("Very long na…")."""
    name = str(name)
    return name if len(name) <= width else name[:width - 1].rstrip() + "…"


def names(table: pd.DataFrame | None, ids: pd.Series, column: str = "name") -> pd.Series:
    if table is None or not len(table):
        return pd.Series(pd.NA, index=ids.index, dtype="string")
    return lookup(_by_id(table, column), ids).astype("string")


# -- projects and tasks ----------------------------------------------------------------
def tasks(snapshot: Snapshot) -> pd.DataFrame:
    """Tasks narrowed to what rules compute with, plus ``client_id`` (the task's client: its
    partner's commercial partner, else its project's client), ``odoo_open`` (what Odoo's
    filters call open), ``is_open`` (and not in a folded stage), ``is_folded``, ``is_done``,
    ``is_canceled`` and ``closed_on`` (16: ``date_end``; 17+: last write of a done task).
    Text columns are categorical; names come from :func:`task_names`."""
    def build():
        t = snapshot.tasks
        project_client = _by_id(project_clients(snapshot), "client_id")
        client = commercial(snapshot, t["partner_id"]).fillna(lookup(project_client, t["project_id"]))
        if "state" in t:
            canceled = t["state"].eq(facts.CANCELED_TASK_STATE).fillna(False).astype(bool)
        else:
            stage = t["stage_id_name"].str.lower().fillna("")
            canceled = ~t["is_open"] & stage.isin(facts.CANCELED_STAGE_NAMES)
        canceled = canceled | ~t["active"]
        done = ~t["is_open"] & ~canceled
        closed_on = to_day(t["date_end"]).fillna(to_day(t["write_date"])).where(done)
        out = pd.DataFrame({
            "id": t["id"].to_numpy(), "project_id": t["project_id"].array,
            "project_id_name": t["project_id_name"].astype("category").array,
            "client_id": client.astype("Int64").array, "user_ids": t["user_ids"].to_numpy(),
            "active": t["active"].to_numpy(dtype=bool), "is_open": t["is_open"].to_numpy(dtype=bool),
            "odoo_open": facts.odoo_open_mask(t).to_numpy(dtype=bool),
            "is_folded": t["is_folded"].to_numpy(dtype=bool),
            "is_canceled": canceled.to_numpy(dtype=bool), "is_done": done.to_numpy(dtype=bool),
            "deadline_date": t["deadline_date"].to_numpy(), "closed_on": closed_on.to_numpy(),
            "write_day": to_day(t["write_date"]).to_numpy(), "create_day": to_day(t["create_date"]).to_numpy(),
            "stage_id_name": t["stage_id_name"].astype("category").array})
        for optional in ("state", "kanban_state"):
            if optional in t:
                out[optional] = t[optional].astype("category").array
        return out
    return memo(snapshot, ("tasks",), build)


def task_names(snapshot: Snapshot, ids: pd.Series) -> pd.Series:
    """Task names for the given ids (looked up only for the rows shown)."""
    by_id = memo(snapshot, ("task_names",), lambda: _by_id(snapshot.tasks, "name"))
    return pd.Series(by_id.reindex(ids.to_numpy()).to_numpy(), index=ids.index)


def project_clients(snapshot: Snapshot) -> pd.DataFrame:
    """A project's client: the commercial partner of its customer (``partner_id``).  Findings
    about a project are filed under this client, whatever the clients of its tasks."""
    def build():
        p = snapshot.projects
        return pd.DataFrame({"id": p["id"].to_numpy(),
                             "client_id": commercial(snapshot, p["partner_id"]).astype("Int64").array})
    return memo(snapshot, ("project_clients",), build)


def projects(snapshot: Snapshot) -> pd.DataFrame:
    """Projects with ``client_id`` (:func:`project_clients`), task counts, ``status_done`` (its
    update status says done), ``is_done`` (that, or its tasks all closed) and ``completed_on``
    (the last task closing, else the last write)."""
    def build():
        p = snapshot.projects
        t = tasks(snapshot)
        live = t.loc[t["active"] & t["project_id"].notna()]
        stats = live.groupby("project_id").agg(n_tasks=("id", "size"), n_open=("is_open", "sum"),
                                               last_closed=("closed_on", "max"))
        out = p.assign(client_id=project_clients(snapshot)["client_id"].to_numpy())
        out = out.merge(stats, left_on="id", right_index=True, how="left")
        out["n_tasks"] = out["n_tasks"].fillna(0).astype("int64")
        out["n_open"] = out["n_open"].fillna(0).astype("int64")
        status = out["last_update_status"] if "last_update_status" in out else pd.Series(pd.NA, index=out.index)
        out["status_done"] = status.eq(facts.PROJECT_DONE_STATUS).fillna(False).astype(bool)
        out["is_done"] = out["status_done"] | ((out["n_tasks"] > 0) & (out["n_open"] == 0))
        out["completed_on"] = out["last_closed"].fillna(to_day(out["write_date"])).where(out["is_done"])
        out["end_day"] = out["date"]
        return out
    return memo(snapshot, ("projects",), build)


# -- invoices ---------------------------------------------------------------------------
def invoices(snapshot: Snapshot) -> pd.DataFrame:
    """Posted customer invoices and credit notes, narrowed to what rules compute with: ids,
    ``client_id``, ``due`` (due date, else invoice date), flags (``is_invoice``, ``owed``,
    ``settled``), amounts (``amount_residual`` in the invoice currency, ``*_signed`` in the
    company currency, credit notes negative), ``paid_date``.  Text columns are categorical;
    the invoice number comes from :func:`invoice_names`.  Narrow frames keep filtering a
    million rows cheap."""
    def build():
        if "moves" not in snapshot.tables:  # invoices not readable: rules see none
            return _NO_INVOICES.copy()
        m = snapshot.invoices
        client = m["commercial_partner_id"]
        if client.isna().any():
            client = client.fillna(commercial(snapshot, m["partner_id"]))
        state = m["payment_state"]
        return pd.DataFrame({
            "id": m["id"].to_numpy(), "client_id": client.astype("Int64").array,
            "company_id": m["company_id"].array, "invoice_user_id": m["invoice_user_id"].array,
            "move_type": m["move_type"].astype("category").array,
            "is_invoice": (m["move_type"] == facts.INVOICE).fillna(False).to_numpy(dtype=bool),
            "payment_state": state.astype("category").array,
            "owed": state.isin(facts.OWED_STATES).fillna(False).to_numpy(dtype=bool),
            "settled": state.isin(facts.SETTLED_STATES).fillna(False).to_numpy(dtype=bool),
            "currency_id_name": m["currency_id_name"].astype("category").array,
            "company_currency_id_name": m["company_currency_id_name"].astype("category").array,
            "invoice_date": m["invoice_date"].to_numpy(),
            "due": facts.due_date(m).to_numpy(),
            "amount_total": m["amount_total"].to_numpy(), "amount_residual": m["amount_residual"].to_numpy(),
            "amount_total_signed": m["amount_total_signed"].to_numpy(),
            "amount_residual_signed": m["amount_residual_signed"].to_numpy(),
            "paid_date": m["paid_date"].to_numpy(),
        })
    return memo(snapshot, ("invoices",), build)


_NO_INVOICES = pd.DataFrame({
    "id": pd.Series([], dtype="int64"), "client_id": pd.Series([], dtype="Int64"),
    "company_id": pd.Series([], dtype="Int64"), "invoice_user_id": pd.Series([], dtype="Int64"),
    "move_type": pd.Series([], dtype="category"), "is_invoice": pd.Series([], dtype=bool),
    "payment_state": pd.Series([], dtype="category"), "owed": pd.Series([], dtype=bool),
    "settled": pd.Series([], dtype=bool), "currency_id_name": pd.Series([], dtype="category"),
    "company_currency_id_name": pd.Series([], dtype="category"),
    **{c: pd.Series([], dtype="datetime64[ns]") for c in ("invoice_date", "due", "paid_date")},
    **{c: pd.Series([], dtype="float64") for c in ("amount_total", "amount_residual", "amount_total_signed",
                                                   "amount_residual_signed")},
})


def invoice_names(snapshot: Snapshot, ids: pd.Series) -> pd.Series:
    """Invoice numbers for the given move ids (looked up only for the rows shown)."""
    by_id = memo(snapshot, ("invoice_names",), lambda: _by_id(snapshot.invoices, "name"))
    return pd.Series(by_id.reindex(ids.to_numpy()).to_numpy(), index=ids.index)


def overdue_invoices(snapshot: Snapshot, as_of: date) -> pd.DataFrame:
    """The invoices Odoo lists as overdue (:func:`facts.overdue_mask`), with ``days_overdue``,
    ``amount_company`` (still owed, company currency) and what the client's open credit notes
    (same company) would cover: ``credit_applied``, ``net_company`` and ``net_residual``.
    Credit is applied newest invoice first, so the oldest truly overdue invoice, the real age
    of the debt, stays visible; the rules report the credit, they never net it in silence."""
    def build():
        inv = invoices(snapshot)
        today = day(as_of)
        if "moves" in snapshot.tables:
            overdue = facts.overdue_mask(snapshot.invoices, today).to_numpy()
        else:
            overdue = np.zeros(len(inv), dtype=bool)
        out = inv.loc[overdue].copy()
        out["days_overdue"] = days_since(today, out["due"]).astype("int64")
        out["amount_company"] = out["amount_residual_signed"]
        credit = open_credits(snapshot).groupby(["client_id", "company_id"])["amount_company"].sum().rename("credit")
        out = out.sort_values(["client_id", "company_id", "due", "id"], ascending=[True, True, False, False],
                              kind="stable")
        avail = out.merge(credit, left_on=["client_id", "company_id"], right_index=True,
                          how="left")["credit"].fillna(0.0).clip(lower=0).to_numpy()
        amount = out["amount_company"].to_numpy()
        before = out.groupby(["client_id", "company_id"], dropna=False)["amount_company"].cumsum().to_numpy() - amount
        out["credit_applied"] = np.clip(avail - before, 0.0, np.maximum(amount, 0.0)).round(2)
        out = out.sort_values(["client_id", "company_id", "due", "id"], kind="stable")
        out["net_company"] = (out["amount_company"] - out["credit_applied"]).round(2)
        share = np.where(out["amount_company"] != 0, out["net_company"] / out["amount_company"], 0.0)
        out["net_residual"] = (out["amount_residual"] * share).round(2)
        return out
    return memo(snapshot, ("overdue", as_of), build)


def open_credits(snapshot: Snapshot) -> pd.DataFrame:
    """Open credit notes (:func:`facts.open_credit_mask`) with ``amount_company``, the credit
    still available to the client (positive, company currency)."""
    def build():
        inv = invoices(snapshot)
        if "moves" not in snapshot.tables:
            return inv.assign(amount_company=inv["amount_residual_signed"])
        out = inv.loc[facts.open_credit_mask(snapshot.invoices).to_numpy()]
        return out.assign(amount_company=-out["amount_residual_signed"])
    return memo(snapshot, ("open_credits",), build)


def late_tasks(snapshot: Snapshot, as_of: date) -> pd.DataFrame:
    """The tasks Odoo lists as late (:func:`facts.late_task_domain`: open as Odoo says, active,
    deadline before today), with ``days_late``; ``is_open`` tells which are really open."""
    def build():
        t = tasks(snapshot)
        today = day(as_of)
        late = t.loc[t["odoo_open"] & (t["deadline_date"] < today)]
        return late.assign(days_late=days_since(today, late["deadline_date"]).astype("int64"))
    return memo(snapshot, ("late_tasks", as_of), build)


def settled_invoices(snapshot: Snapshot) -> pd.DataFrame:
    """Customer invoices paid in full with a known payment date, and ``days_late`` against the due date."""
    def build():
        inv = invoices(snapshot)
        keep = ["id", "client_id", "invoice_user_id", "currency_id_name", "due", "paid_date", "amount_total"]
        paid = inv.loc[inv["is_invoice"] & inv["settled"] & inv["paid_date"].notna(), keep]
        return paid.assign(days_late=days_since(paid["paid_date"], paid["due"]))
    return memo(snapshot, ("settled",), build)


# -- optional tables -----------------------------------------------------------------------
def interactions(snapshot: Snapshot, ignore_author_ids: Iterable[int] = ()) -> pd.DataFrame | None:
    """Logged contacts per client: chatter messages, emails, done activities on the client's
    partners, projects, tasks and invoices.  ``None`` when messages were not pulled."""
    ignore = tuple(sorted(ignore_author_ids))

    def build():
        msgs = snapshot.tables.get("messages")
        if msgs is None:
            return None
        is_done_activity = msgs["mail_activity_type_id"].notna() if "mail_activity_type_id" in msgs \
            else pd.Series(False, index=msgs.index)
        keep = msgs["message_type"].isin(INTERACTION_TYPES).fillna(False).astype(bool) | is_done_activity
        if ignore and "author_id" in msgs:
            keep &= ~msgs["author_id"].isin(ignore).fillna(False).astype(bool)
        m = msgs.loc[keep]
        res_id = ref_ids(m["res_id"])
        client = record_clients(snapshot, m["model"], res_id)
        kind = np.where(is_done_activity.loc[m.index], "done activity",
                        np.where(m["message_type"].eq("comment").fillna(False), "message", "email"))
        out = pd.DataFrame({"message_id": m["id"].to_numpy(), "client_id": client.to_numpy(),
                            "model": m["model"].to_numpy(), "res_id": res_id.to_numpy(),
                            "day": to_day(m["date"]).to_numpy(), "kind": kind})
        return out.loc[out["client_id"].notna()].reset_index(drop=True)
    return memo(snapshot, ("interactions", ignore), build)


def record_clients(snapshot: Snapshot, model: pd.Series, res_id: pd.Series) -> pd.Series:
    """The client (commercial partner) of records given as (model, id) pairs, vectorised."""
    out = pd.Series(pd.NA, index=res_id.index, dtype="Int64")
    by_model = {
        "res.partner": lambda ids: commercial(snapshot, ids),
        "project.project": lambda ids: lookup(_by_id(projects(snapshot), "client_id"), ids),
        "project.task": lambda ids: lookup(_by_id(tasks(snapshot), "client_id"), ids),
        "account.move": lambda ids: lookup(_by_id(invoices(snapshot), "client_id"), ids),
    }
    for name, client_of in by_model.items():
        mask = (model == name).fillna(False).astype(bool)
        if mask.any():
            out.loc[mask] = client_of(res_id.loc[mask]).astype("Int64")
    return out


def lookup(values: pd.Series, keys: pd.Series) -> pd.Series:
    """``values`` (indexed by unique id) for each of ``keys``, NA where missing.  Unlike
    ``Series.map`` it keeps the dtype and works on empty frames."""
    nullable = {"i": "Int64", "u": "UInt64", "b": "boolean"}.get(values.dtype.kind)
    if nullable and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        values = values.astype(nullable)
    found = values.reindex(keys.to_numpy(dtype="float64", na_value=np.nan))
    if found.dtype != values.dtype:
        found = found.astype(values.dtype)
    return pd.Series(found.array, index=keys.index)


def _by_id(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.drop_duplicates("id").set_index("id")[column]


def open_activity_rows(acts: pd.DataFrame) -> pd.DataFrame:
    """The rows of an ``activities`` table still open (done ones are archived from 17 on)."""
    open_ = pd.Series(True, index=acts.index)
    if "active" in acts:
        open_ &= acts["active"].astype(bool)
    if "date_done" in acts:
        open_ &= acts["date_done"].isna()
    return acts.loc[open_]


def open_activities(snapshot: Snapshot) -> pd.DataFrame | None:
    """Open activities (not ClientCare follow-ups) sitting on a client's partner records."""
    def build():
        acts = snapshot.tables.get("activities")
        if acts is None:
            return None
        acts = open_activity_rows(acts)
        a = acts.loc[(acts["res_model"] == "res.partner").fillna(False).astype(bool)]
        client = commercial(snapshot, ref_ids(a["res_id"]))
        return pd.DataFrame({"activity_id": a["id"].to_numpy(), "client_id": client.to_numpy(),
                             "summary": a["summary"].to_numpy(), "due": a["date_deadline"].to_numpy()})
    return memo(snapshot, ("open_activities",), build)


def ratings(snapshot: Snapshot) -> pd.DataFrame | None:
    """Customer ratings given (1–5) with the client who gave them."""
    def build():
        r = snapshot.tables.get("ratings")
        if r is None:
            return None
        r = r.loc[r["rating"] > 0]  # the table holds consumed ratings only
        client = commercial(snapshot, r["partner_id"])
        client = client.fillna(record_clients(snapshot, r["res_model"], ref_ids(r["res_id"])))
        return pd.DataFrame({"rating_id": r["id"].to_numpy(), "client_id": client.to_numpy(),
                             "rating": r["rating"].to_numpy(), "res_model": r["res_model"].to_numpy(),
                             "res_id": ref_ids(r["res_id"]).to_numpy(),
                             "day": to_day(r["write_date"].fillna(r["create_date"])).to_numpy()})
    return memo(snapshot, ("ratings",), build)


def deadline_moves(snapshot: Snapshot) -> pd.DataFrame | None:
    """Task deadlines moved later, from tracking values (``None`` when not readable)."""
    def build():
        tv = snapshot.tables.get("deadline_changes")
        msgs = snapshot.tables.get("deadline_messages")
        if tv is None or msgs is None:
            return None
        label = next((c for c in ("field_id_name", "field_name", "field_desc") if c in tv), None)
        if label is not None:  # only date_deadline is a tracked date on standard tasks; be safe
            tv = tv.loc[tv[label].str.lower().str.contains("deadline").fillna(True).astype(bool)]
        task_of = pd.Series(ref_ids(msgs["res_id"]).to_numpy(), index=msgs["id"].to_numpy())
        old, new = to_day(tv["old_value_datetime"]), to_day(tv["new_value_datetime"])
        moved = tv.assign(task_id=lookup(task_of.loc[~task_of.index.duplicated()].astype("Int64"),
                                         tv["mail_message_id"]), old=old, new=new)
        moved = moved.loc[moved["task_id"].notna() & moved["old"].notna() & (moved["new"] > moved["old"])]
        client = lookup(_by_id(tasks(snapshot), "client_id"), moved["task_id"]).astype("Int64")
        return pd.DataFrame({"tracking_id": moved["id"].to_numpy(), "task_id": moved["task_id"].to_numpy(),
                             "client_id": client.to_numpy(), "old": moved["old"].to_numpy(),
                             "new": moved["new"].to_numpy(), "day": to_day(moved["create_date"]).to_numpy()})
    return memo(snapshot, ("deadline_moves",), build)


# -- evidence ----------------------------------------------------------------------------------
def plain(frame: pd.DataFrame) -> dict[str, list]:
    """Columns as object arrays a person (and JSON) can read: dates as YYYY-MM-DD, NA as
    None, floats rounded to cents.  Column-wise numpy work, no per-cell pandas boxing."""
    return {col: plain_values(frame[col]) for col in frame.columns}


def plain_values(values) -> np.ndarray:
    """One column (Series or array) as an object array of plain values (see :func:`plain`)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_localize(None)
        arr = s.to_numpy().astype("datetime64[D]")
        out = arr.astype(str).astype(object)
        out[np.isnat(arr)] = None
    elif pd.api.types.is_float_dtype(s.dtype):
        arr = s.to_numpy(dtype="float64", na_value=np.nan)
        out = arr.round(2).astype(object)
        out[np.isnan(arr)] = None
    elif s.dtype == object:
        out = s.to_numpy().copy()
        out[pd.isna(out)] = None
    elif isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
        out = s.to_numpy(dtype=object, na_value=None)
    else:
        out = s.to_numpy().astype(object)
    return out


def records(frame: pd.DataFrame, columns: list[str]) -> Rows:
    """Rows of ``frame`` as evidence (dicts built when read)."""
    cols = plain(frame[columns])
    return Rows(list(columns), [cols[c].tolist() for c in columns])


def grouped_records(frame: pd.DataFrame, by: str, columns: list[str]) -> dict[int, Rows]:
    """Evidence rows per value of the integer column ``by`` (order kept within a group),
    sharing one columnar store."""
    if not len(frame):
        return {}
    keys, order = _sorted_keys(frame[by])
    cols = plain(frame[columns].iloc[order])
    names, data = list(columns), [cols[c].tolist() for c in columns]
    return {k: Rows(names, data, s, e) for k, s, e in _runs(keys)}


def stacked_rows(columns: list[str], n: int, rows: list[dict]) -> list[Rows]:
    """``n`` evidence tables of ``len(rows)`` rows each, for subjects that all show the same
    rows: ``rows[i][col]`` is one value for every subject, or a column of ``n`` values."""
    k = len(rows)
    data = []
    for col in columns:
        matrix = np.empty((n, k), dtype=object)
        for i, row in enumerate(rows):
            value = row.get(col)
            if isinstance(value, (pd.Series, pd.Index, np.ndarray, pd.api.extensions.ExtensionArray)):
                value = plain_values(value.reset_index(drop=True) if isinstance(value, pd.Series) else value)
            matrix[:, i] = value
        data.append(matrix.ravel().tolist())
    names = list(columns)
    return [Rows(names, data, j * k, j * k + k) for j in range(n)]


def grouped_lists(frame: pd.DataFrame, by: str, column: str) -> dict[int, list]:
    """The values of ``column`` per value of the integer column ``by`` (order kept)."""
    if not len(frame):
        return {}
    keys, order = _sorted_keys(frame[by])
    values = plain_values(frame[column].iloc[order]).tolist()
    return {k: values[s:e] for k, s, e in _runs(keys)}


def ranked_users(frame: pd.DataFrame, by: str, column: str) -> dict[int, list[int]]:
    """Per group, the distinct user ids of ``column`` (an id or a list of ids), most frequent
    first, ties by id: the routing hint "most involved first"."""
    if not len(frame):
        return {}
    keys = frame[by].to_numpy(dtype="int64")
    values = frame[column]
    if values.dtype == object:  # lists of ids: flatten without pandas' explode
        lists = values.tolist()
        lengths = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
        keys = np.repeat(keys, lengths)
        users = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum()))
    else:
        users = values.to_numpy(dtype="float64", na_value=np.nan)
        keep = ~np.isnan(users)
        keys, users = keys[keep], users[keep].astype(np.int64)
    if not len(users):
        return {}
    combo, counts = np.unique((keys << 32) | users, return_counts=True)  # ids are < 2**31
    group, user = combo >> 32, combo & 0xFFFFFFFF
    order = np.lexsort((user, -counts, group))
    group, user = group[order], user[order].tolist()
    return {k: user[s_:e] for k, s_, e in _runs(group)}


def _sorted_keys(keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = keys.to_numpy(dtype="int64")
    order = np.argsort(arr, kind="stable")
    return arr[order], order


def _runs(keys: np.ndarray):
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return zip(keys[starts].tolist(), starts.tolist(), ends.tolist())
