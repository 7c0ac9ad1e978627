"""The snapshot rules read: raw tables as pulled, and every view derived from them.

The derived views live here and nowhere else.  ``Snapshot`` has the public ones (clients, the
contact mapping, posted invoices with their payment date, tasks with ``is_open`` and
``deadline_date``); the functions below the class build the narrower ones the rules share
(tasks and projects with their client, overdue invoices net of open credit, late tasks,
contacts logged per client...), each memoised on the snapshot (:class:`Views`), so every rule
pays for "overdue invoices" once per run; callers treat the frames as read-only.  All are
computed from the raw tables, the server facts in ``meta`` and :mod:`clientcare.connector.facts`,
so a snapshot saved to disk and loaded on another machine gives exactly the same views.
Optional tables (messages, activities, ratings, deadline changes) may be absent: their views
return ``None`` and rules report what needs them as unknown.  Rules read them through
:mod:`clientcare.rules.frames`.
"""
from __future__ import annotations

import json
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from . import facts
from .errors import UsageError

FORMAT_VERSION = 1


class Views:
    """Frames derived from one snapshot that several rules share (overdue invoices, tasks with
    their client...), built once per snapshot; callers treat them as read-only."""

    def __init__(self) -> None:
        self._built: dict[tuple, object] = {}

    def get(self, key: tuple, build: Callable[[], object]) -> object:
        if key not in self._built:
            self._built[key] = build()
        return self._built[key]

    def __len__(self) -> int:
        return len(self._built)


class Snapshot:
    def __init__(self, tables: dict[str, pd.DataFrame], meta: dict):
        self.tables = tables
        #: What the pull recorded about the data (server, time, tables it could not read); saved with it.
        self.meta = meta
        #: The shared derived frames built so far (:func:`memo`).
        self.views = Views()
        #: Cursors to persist once this snapshot is safely stored (set by the puller).
        self.cursors: dict[str, dict] = {}

    @property
    def unavailable(self) -> dict[str, str]:
        """Tables the pull could not read -> why (recorded by the puller, saved with the data)."""
        return dict(self.meta.get("unavailable_tables") or {})

    # -- raw ------------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"the snapshot has no table {name!r} (pulled: {', '.join(self.tables)})") from None

    @property
    def partners(self) -> pd.DataFrame:
        return self.table("partners")

    @property
    def users(self) -> pd.DataFrame:
        return self.table("users")

    @property
    def companies(self) -> pd.DataFrame:
        return self.table("companies")

    @property
    def projects(self) -> pd.DataFrame:
        return self.table("projects")

    @property
    def payments(self) -> pd.DataFrame:
        return self.table("payments")

    # -- derived --------------------------------------------------------------
    @cached_property
    def contacts(self) -> pd.DataFrame:
        """Every partner id → its commercial partner id (a company, or the person itself)."""
        p = self.partners
        commercial = p["commercial_partner_id"].fillna(p["id"]).astype("int64")
        return pd.DataFrame({"partner_id": p["id"].astype("int64"), "commercial_partner_id": commercial})

    def commercial_of(self, partner_ids: pd.Series) -> pd.Series:
        """Map partner ids to commercial partner ids (vectorised; unknown ids stay as they are)."""
        return commercial(self, partner_ids)

    @cached_property
    def invoices(self) -> pd.DataFrame:
        """Posted customer invoices and credit notes, with ``paid_date`` where known."""
        moves = self.table("moves")
        posted = moves.loc[moves["state"] == facts.POSTED]
        pays = self.tables.get("payments")
        if pays is not None and len(pays):
            posted = posted.merge(pays[["move_id", "paid_date"]].rename(columns={"move_id": "id"}),
                                  on="id", how="left")
        else:
            posted = posted.assign(paid_date=pd.Series([], dtype="datetime64[ns]")
                                   .reindex(posted.index))
        return posted.reset_index(drop=True)

    @cached_property
    def tasks(self) -> pd.DataFrame:
        """Tasks with ``is_open`` (:func:`facts.open_task_mask`), ``is_folded`` and ``deadline_date``."""
        t = self.table("tasks").copy()
        stages = self.tables.get("task_stages")
        t["is_folded"] = facts.folded_mask(t, stages)
        t["is_open"] = facts.open_task_mask(t, stages)
        dl = t["date_deadline"]
        if isinstance(dl.dtype, pd.DatetimeTZDtype):  # a Datetime from Odoo 17 on
            t["deadline_date"] = dl.dt.tz_localize(None).dt.normalize()
        else:
            t["deadline_date"] = dl
        return t

    @cached_property
    def clients(self) -> pd.DataFrame:
        """Commercial partners with customer activity: a customer rank, an invoice, or a project."""
        p = self.partners
        commercial = p.loc[p["id"] == self.contacts["commercial_partner_id"]]
        active_ids = set()
        moves = self.tables.get("moves")
        if moves is not None and len(moves):
            active_ids |= set(moves["commercial_partner_id"].dropna().astype(int))
        for name in ("projects", "tasks"):
            frame = self.tables.get(name)
            if frame is not None and len(frame):
                active_ids |= set(self.commercial_of(frame["partner_id"].dropna()).astype(int))
        ranked = (commercial["customer_rank"].fillna(0) > 0) if "customer_rank" in commercial \
            else pd.Series(False, index=commercial.index)
        is_client = ranked | commercial["id"].isin(active_ids)
        return commercial.loc[is_client].reset_index(drop=True)

    # -- persistence ----------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write one Parquet file per table plus ``meta.json``; atomic per file."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables.items():
            tmp = directory / f".{name}.parquet.tmp"
            frame.to_parquet(tmp, index=False)
            tmp.replace(directory / f"{name}.parquet")
        meta = dict(self.meta, format_version=FORMAT_VERSION, tables=sorted(self.tables))
        tmp = directory / ".meta.json.tmp"
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
        tmp.replace(directory / "meta.json")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "Snapshot":
        """Read a saved snapshot; a missing, unreadable or damaged file is a :class:`UsageError`
        naming the file and what to do (exit code 2), never a traceback."""
        directory = Path(directory)
        meta_path = directory / "meta.json"
        redo = f"pull it again with `clientcare pull --out {directory}`"
        if not meta_path.exists():
            raise UsageError(f"{directory} is not a ClientCare snapshot (no meta.json); "
                             f"make one with `clientcare pull --out {directory}`")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except PermissionError:
            raise UsageError(f"snapshot file {meta_path}: permission denied") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"snapshot file {meta_path} is damaged ({type(exc).__name__}); {redo}") from None
        tables_listed = meta.get("tables", []) if isinstance(meta, dict) else None
        if not isinstance(tables_listed, list) or not all(isinstance(t, str) for t in tables_listed):
            raise UsageError(f"snapshot file {meta_path} is damaged (not a snapshot's meta.json); {redo}")
        version = meta.get("format_version", 0)
        if not isinstance(version, int):
            raise UsageError(f"snapshot file {meta_path} is damaged (format_version {version!r}); {redo}")
        if version > FORMAT_VERSION:
            raise UsageError(f"snapshot {directory} was written by a newer ClientCare; upgrade ClientCare")
        tables = {}
        for name in tables_listed:
            path = directory / f"{name}.parquet"
            if not path.exists():
                raise UsageError(f"snapshot file {path} is missing (meta.json lists table {name!r}); {redo}")
            try:
                frame = pd.read_parquet(path)
                for col in frame.columns:  # Parquet gives lists back as arrays
                    if frame[col].dtype == object and len(frame) and not isinstance(frame[col].iloc[0], str):
                        frame[col] = [list(map(int, v)) if v is not None else [] for v in frame[col]]
            except PermissionError:
                raise UsageError(f"snapshot file {path}: permission denied") from None
            except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for a damaged file
                raise UsageError(f"snapshot file {path} is damaged ({type(exc).__name__}); {redo}") from None
            tables[name] = frame
        return cls(tables, meta)

    def summary(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.tables.items()}


# -- derived views shared by the rules ---------------------------------------------------------
def memo(snapshot: Snapshot, key: tuple, build: Callable[[], object]):
    """``build()`` once per snapshot (its :class:`Views`)."""
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


def ref_ids(series: pd.Series) -> pd.Series:
    """``many2one_reference`` columns (``res_id``) as ids: ``to_frame`` types them Int64;
    snapshots saved by earlier versions hold them as text."""
    try:
        return series.astype("Int64")  # a C cast for the usual all-digit column
    except (TypeError, ValueError):
        return pd.to_numeric(series, errors="coerce").astype("Int64")


def commercial(snapshot: Snapshot, partner_ids: pd.Series) -> pd.Series:
    """The client of each partner: its commercial partner (a company, or the person itself;
    unknown ids stay as they are)."""
    mapping = memo(snapshot, ("commercial_map",),
                   lambda: snapshot.contacts.set_index("partner_id")["commercial_partner_id"])
    return lookup(mapping, partner_ids).astype("Int64").fillna(partner_ids.astype("Int64"))


# -- projects and tasks ----------------------------------------------------------------
def tasks(snapshot: Snapshot) -> pd.DataFrame:
    """Tasks narrowed to what rules compute with, plus ``client_id`` (the task's client: its
    partner's commercial partner, else its project's client), ``odoo_open`` (what Odoo's
    filters call open), ``is_open`` (and not in a folded stage), ``is_folded``, ``is_done``,
    ``is_canceled`` and ``closed_on`` (16: ``date_end``; 17+: last write of a done task).
    Text columns are categorical; names come from :func:`task_names`."""
    def build():
        t = snapshot.tasks
        project_client = by_id(project_clients(snapshot), "client_id")
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
    name_of = memo(snapshot, ("task_names",), lambda: by_id(snapshot.tasks, "name"))
    return pd.Series(name_of.reindex(ids.to_numpy()).to_numpy(), index=ids.index)


def project_clients(snapshot: Snapshot) -> pd.DataFrame:
    """A project's client: the commercial partner of its customer (``partner_id``).  Findings
    about a project are filed under this client, whatever the clients of its tasks."""
    def build():
        p = snapshot.projects
        return pd.DataFrame({"id": p["id"].to_numpy(),
                             "client_id": commercial(snapshot, p["partner_id"]).astype("Int64").array})
    return memo(snapshot, ("project_clients",), build)


def finding_clients(snapshot: Snapshot, t: pd.DataFrame) -> pd.Series:
    """The client a finding about each of these tasks is filed under: its project's client
    (:func:`project_clients`), or its own client when it has no project."""
    project_client = lookup(by_id(project_clients(snapshot), "client_id"), t["project_id"])
    return t["client_id"].where(t["project_id"].isna(), project_client)


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
    name_of = memo(snapshot, ("invoice_names",), lambda: by_id(snapshot.invoices, "name"))
    return pd.Series(name_of.reindex(ids.to_numpy()).to_numpy(), index=ids.index)


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
        keep = msgs["message_type"].isin(facts.INTERACTION_TYPES).fillna(False).astype(bool) | is_done_activity
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
        "project.project": lambda ids: lookup(by_id(projects(snapshot), "client_id"), ids),
        "project.task": lambda ids: lookup(by_id(tasks(snapshot), "client_id"), ids),
        "account.move": lambda ids: lookup(by_id(invoices(snapshot), "client_id"), ids),
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


def by_id(frame: pd.DataFrame, column: str) -> pd.Series:
    """``column`` indexed by the frame's ``id`` (the first row of each id)."""
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
        client = lookup(by_id(tasks(snapshot), "client_id"), moved["task_id"]).astype("Int64")
        return pd.DataFrame({"tracking_id": moved["id"].to_numpy(), "task_id": moved["task_id"].to_numpy(),
                             "client_id": client.to_numpy(), "old": moved["old"].to_numpy(),
                             "new": moved["new"].to_numpy(), "day": to_day(moved["create_date"]).to_numpy()})
    return memo(snapshot, ("deadline_moves",), build)
