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

import errno
import json
import logging
import re
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from . import facts
from .errors import UsageError

FORMAT_VERSION = 1

log = logging.getLogger(__name__)

#: Characters no name may carry to a screen, a one-line summary, a CSV cell or an Odoo note:
#: line and paragraph breaks and tabs (→ a space), other C0/C1 controls, bidirectional
#: embeddings, overrides and isolates (U+202E turns text round on a terminal) and the
#: zero-width no-break space U+FEFF (→ nothing).  Joiners and marks that scripts need stay.
_BREAKS = re.compile("[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]+")
_UNSEEN = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_ANY_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def display_text(text: str) -> str:
    """``text`` safe to show on one line: breaks become a space, invisible controls go."""
    return _UNSEEN.sub("", _BREAKS.sub(" ", text))


def _displayable(frame: pd.DataFrame, types: dict | None = None) -> pd.DataFrame:
    """``frame`` with every text column passed through :func:`display_text` (names, many2one
    labels, task and invoice names...), so every rule, summary, report and write-back sees clean
    names without a rule knowing.  Each column's distinct values are scanned in one pass
    (selection keys, Odoo's own, are skipped); only a column holding such a character is
    rewritten."""
    changed = {}
    types = types if isinstance(types, dict) else {}
    for col in frame.columns:
        s = frame[col]
        if types.get(col) == "selection" or not (isinstance(s.dtype, pd.StringDtype) or s.dtype == object) \
                or not len(s) or not _has_unsafe(s):
            continue
        changed[col] = s.str.replace(_BREAKS, " ", regex=True).str.replace(_UNSEEN, "", regex=True)
    return frame.assign(**changed) if changed else frame


#: :data:`_ANY_UNSAFE` for pyarrow's regular expressions (RE2).
_ANY_UNSAFE_RE2 = "[\\x00-\\x1f\\x7f-\\x9f\\x{2028}\\x{2029}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}\\x{feff}]"


def _has_unsafe(s: pd.Series) -> bool:
    """Whether a text column holds a character :func:`display_text` changes: in C over the
    distinct values (Arrow) for text columns (1 M rows of ten name columns: about 0.2 s), else
    one regular-expression pass over the joined values; lists (x2many ids) are not text."""
    if isinstance(s.dtype, pd.StringDtype):
        import pyarrow as pa
        import pyarrow.compute as pc
        return bool(pc.any(pc.match_substring_regex(pc.unique(pa.array(s.array)), _ANY_UNSAFE_RE2)).as_py())
    values = s.dropna()
    if not len(values) or not isinstance(values.iloc[0], str):
        return False
    try:
        return _ANY_UNSAFE.search("".join(values.tolist())) is not None
    except TypeError:  # mixed values: a drifted column, refused at load
        return False


#: The key of a table's rows: ``id``, or the invoice a payment or an exclusion is about.
_ROW_KEYS = {"payments": "move_id", "followup_exclusions": "move_id"}


def _one_row_per_id(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Duplicate ids (a hand-edited snapshot, a page read twice) collapsed to one row: the last
    written (``write_date``), else the last row; said once per table, never counted twice."""
    key = _ROW_KEYS.get(name, "id")
    if key not in frame.columns or not len(frame):
        return frame
    if not frame[key].duplicated().any():
        return frame
    ordered = frame
    if "write_date" in frame.columns and pd.api.types.is_datetime64_any_dtype(frame["write_date"].dtype):
        ordered = frame.sort_values("write_date", kind="stable", na_position="first")
    dups = sorted(set(frame.loc[frame[key].duplicated(), key].tolist()))
    kept = ordered.loc[~ordered[key].duplicated(keep="last")].sort_index().reset_index(drop=True)
    shown = ", ".join(map(str, dups[:5])) + (f" and {len(dups) - 5} more" if len(dups) > 5 else "")
    log.warning("snapshot table %s: %d %s(s) appear more than once (%s); kept one row each, the last "
                "written: %d rows dropped", name, len(dups), key, shown, len(frame) - len(kept))
    return kept


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
        #: One row per id, and names fit to show (:func:`_one_row_per_id`, :func:`_displayable`):
        #: decided here, so a pull, a saved snapshot and a test's snapshot all read alike.
        types = meta.get("field_types") if isinstance(meta, dict) else None
        types = types if isinstance(types, dict) else {}
        self.tables = {name: _displayable(_one_row_per_id(name, frame), types.get(name))
                       for name, frame in tables.items()}
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
        """Posted customer invoices and credit notes, with ``paid_date`` where known and
        ``credited_by`` (the credit notes an invoice was reconciled with) where known."""
        moves = self.table("moves")
        posted = moves.loc[moves["state"] == facts.POSTED]
        pays = self.tables.get("payments")
        posted = posted.reset_index(drop=True)
        if pays is not None and len(pays) and not {"paid_date", "credited_by"} & set(posted.columns):
            # one row per move_id (:func:`_one_row_per_id`): a positional look-up, as a left merge gives
            at = pd.Index(pays["move_id"].to_numpy()).get_indexer(posted["id"].to_numpy())
            found, at = at >= 0, np.maximum(at, 0)
            paid = pd.Series(pays["paid_date"].to_numpy()[at], dtype=pays["paid_date"].dtype).where(found)
            credited = (pays["credited_by"].astype("string").take(at).reset_index(drop=True).where(found)
                        if "credited_by" in pays else pd.Series(pd.NA, index=posted.index, dtype="string"))
            return posted.assign(paid_date=paid, credited_by=credited)
        if pays is not None and len(pays):  # a table already holding the columns: the merge names them
            pays = pays if "credited_by" in pays else pays.assign(credited_by=pd.NA)
            posted = posted.merge(pays[["move_id", "paid_date", "credited_by"]].rename(columns={"move_id": "id"}),
                                  on="id", how="left")
            posted["credited_by"] = posted["credited_by"].astype("string")
            return posted
        return posted.assign(paid_date=pd.Series([], dtype="datetime64[ns]").reindex(posted.index),
                             credited_by=pd.Series([], dtype="string").reindex(posted.index))

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
        active = []
        moves = self.tables.get("moves")
        if moves is not None and len(moves):
            active.append(moves["commercial_partner_id"].dropna().to_numpy(dtype="int64"))
        for name in ("projects", "tasks"):
            frame = self.tables.get(name)
            if frame is not None and len(frame):
                active.append(self.commercial_of(frame["partner_id"].dropna()).to_numpy(dtype="int64"))
        active_ids = np.unique(np.concatenate(active)) if active else np.empty(0, dtype="int64")
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
            _write_file(directory / f"{name}.parquet", lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
        meta = dict(self.meta, format_version=FORMAT_VERSION, tables=sorted(self.tables))
        text = json.dumps(meta, indent=1, sort_keys=True, default=str)
        _write_file(directory / "meta.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
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
        unavailable = meta.get("unavailable_tables")
        if unavailable is not None and not (isinstance(unavailable, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in unavailable.items())):
            raise UsageError(f"snapshot file {meta_path} is damaged (unavailable_tables {unavailable!r:.60}); {redo}")
        for key in ("own_partner_id", "own_user_id"):
            value = meta.get(key)
            if value is not None and type(value) is not int:
                raise UsageError(f"snapshot file {meta_path} is damaged ({key} {value!r:.60}); {redo}")
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
            tables[name] = _checked_table(path, name, frame, meta, redo)
        return cls(tables, meta)

    def summary(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.tables.items()}


# -- checks of a saved snapshot ---------------------------------------------------------------
#: The tables ClientCare derives itself (no Odoo model, so no ``field_types``): their columns.
_DERIVED_TYPES = {"payments": {"move_id": "integer", "paid_date": "date", "source": "char"},
                  "followup_exclusions": {"move_id": "integer", "source": "char"}}
_TEXT_TYPES = ("char", "text", "html", "selection", "reference")


def _dtype_problem(frame: pd.DataFrame, col: str, ftype: str) -> str | None:
    """Why column ``col`` cannot be what Odoo type ``ftype`` becomes in a pull (``to_frame``)."""
    s = frame[col]
    dtype, kind = s.dtype, getattr(s.dtype, "kind", "O")
    if col == "id" or col == "move_id":
        return None if kind in "iu" and not s.isna().any() else "holds no whole-number ids"
    if ftype in ("integer", "many2one"):
        return None if kind in "iu" else "holds no whole numbers (ids)"
    if ftype == "many2one_reference":  # snapshots of earlier versions hold it as text
        return None if kind in "iu" or _is_text(s) else "holds no ids"
    if ftype in ("float", "monetary"):
        return None if kind in "iuf" else "holds no numbers"
    if ftype == "boolean":
        return None if kind == "b" else "holds no true/false values"
    if ftype == "datetime":
        return None if isinstance(dtype, pd.DatetimeTZDtype) else "holds no UTC date-times"
    if ftype == "date":
        return None if kind == "M" and not isinstance(dtype, pd.DatetimeTZDtype) else "holds no dates"
    if ftype in ("many2many", "one2many"):
        first = s.dropna()
        return None if dtype == object and (not len(first) or isinstance(first.iloc[0], list)) \
            else "holds no lists of ids"
    if ftype in _TEXT_TYPES:
        return None if _is_text(s) else "holds no text"
    return None  # a type ClientCare does not compute with: kept as it is


def _is_text(s: pd.Series) -> bool:
    if isinstance(s.dtype, pd.StringDtype):
        return True
    values = s.dropna()
    return s.dtype == object and all(isinstance(v, str) for v in values.head(1000).tolist())


def _checked_table(path: Path, name: str, frame: pd.DataFrame, meta: dict, redo: str) -> pd.DataFrame:
    """A loaded table checked once against what the pull recorded (``meta["field_types"]``, or
    the fixed columns of the tables ClientCare derives): a column missing or of another type
    (dates stored as text, ids as floats, a many2one without its name) is one
    :class:`UsageError` naming the file and the column, never an error deep in a rule.  Extra
    columns are kept; an empty table gets the expected columns and types (an empty Parquet file
    may have lost them)."""
    field_types = meta.get("field_types")
    if field_types is not None and not isinstance(field_types, dict):
        raise UsageError(f"snapshot file {path.parent / 'meta.json'} is damaged (field_types is not a table); {redo}")
    types = _DERIVED_TYPES.get(name) or (field_types or {}).get(name)
    if types is None:  # a snapshot from before field types were recorded: the columns every pull has
        from .schema import TABLES
        spec = TABLES.get(name)
        needed = [f for f in spec.fields if f not in spec.optional] if spec is not None else []
        absent = [c for c in ["id", *needed] if c not in frame.columns and f"{c}_name" not in frame.columns]
        if absent:
            raise UsageError(f"snapshot file {path}: no column {absent[0]!r}; {redo}")
        types = {"id": "integer"}
    if not isinstance(types, dict) or not all(isinstance(t, str) for t in types.values()):
        raise UsageError(f"snapshot file {path.parent / 'meta.json'} is damaged (field_types of {name!r} "
                         f"is not a table of type names); {redo}")
    if not len(frame):
        from .schema import to_frame
        empty = to_frame([], {c: t for c, t in types.items()})
        return pd.concat([empty, frame.drop(columns=[c for c in frame.columns if c in empty.columns])], axis=1)
    for col, ftype in types.items():
        wanted = [col, f"{col}_name"] if ftype == "many2one" else [col]
        absent = [c for c in wanted if c not in frame.columns]
        if absent:
            raise UsageError(f"snapshot file {path}: no column {absent[0]!r} (meta.json records {col!r} as "
                             f"{ftype}); {redo}")
        problem = _dtype_problem(frame, col, ftype)
        if problem is None and ftype == "many2one" and not _is_text(frame[f"{col}_name"]):
            col, problem = f"{col}_name", "holds no text (the many2one's name)"
        if problem:
            raise UsageError(f"snapshot file {path}: column {col!r} {problem} ({frame[col].dtype}; meta.json "
                             f"records it as {ftype}); {redo}")
    return frame


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
    company currency, credit notes negative), ``paid_date``, ``credited_by`` (the credit notes
    it was reconciled with, where known), ``followup_excluded`` (why
    accounting took it out of follow-up, :func:`facts.followup_excluded`; ``<NA>`` when not, or
    not known: :func:`followup_exclusions_unknown` says which).  Text columns are categorical;
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
            "paid_date": m["paid_date"].to_numpy(), "credited_by": m["credited_by"].array,
            "followup_excluded": facts.followup_excluded(state, _flagged_source(snapshot, m["id"])).array,
        })
    return memo(snapshot, ("invoices",), build)


def _flagged_source(snapshot: Snapshot, move_ids: pd.Series) -> pd.Series:
    """Where accounting flagged each move out of follow-up (``line``/``invoice``), NA if not."""
    flagged = snapshot.tables.get("followup_exclusions")
    if flagged is None or not len(flagged):
        return pd.Series(pd.Categorical([None] * len(move_ids), categories=pd.Index([], dtype="string")),
                         index=move_ids.index)
    # categorical: :func:`facts.followup_excluded` maps the few sources, not a million cells
    return lookup(by_id(flagged.rename(columns={"move_id": "id"}), "source").astype("string").astype("category"),
                  move_ids)


def followup_exclusions_unknown(snapshot: Snapshot) -> str | None:
    """Why this snapshot cannot tell which invoices accounting excluded from follow-up (the
    flags could not be read, or a snapshot from before they were pulled); ``None`` when it can.
    A disputed payment state is known either way (it is the invoice's own field)."""
    if "followup_exclusions" in snapshot.tables or "moves" not in snapshot.tables:
        return None
    why = snapshot.unavailable.get("followup_exclusions")
    return (f"follow-up exclusions could not be read ({why})" if why
            else "follow-up exclusions were not pulled (by the rules of this pull, or by an older ClientCare)")


_NO_INVOICES = pd.DataFrame({
    "id": pd.Series([], dtype="int64"), "client_id": pd.Series([], dtype="Int64"),
    "company_id": pd.Series([], dtype="Int64"), "invoice_user_id": pd.Series([], dtype="Int64"),
    "move_type": pd.Series([], dtype="category"), "is_invoice": pd.Series([], dtype=bool),
    "payment_state": pd.Series([], dtype="category"), "owed": pd.Series([], dtype=bool),
    "settled": pd.Series([], dtype=bool), "currency_id_name": pd.Series([], dtype="category"),
    "followup_excluded": pd.Series([], dtype="string"), "credited_by": pd.Series([], dtype="string"),
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


def per_currency(frame: pd.DataFrame, by: str, amount: str,
                 currency: str = facts.OWED_CURRENCY) -> dict[int, list[tuple[str, float]]]:
    """Per value of the integer column ``by``, the total of ``amount`` in each ``currency`` (by
    default the company's, :data:`facts.OWED_CURRENCY`) as ``(currency, amount)`` pairs sorted
    by currency, rounded to the cent: the one place owed amounts are added up, never across
    currencies (:func:`clientcare.rules.i18n.money_list` writes them)."""
    if not len(frame):
        return {}
    money = frame.groupby([by, currency], observed=True)[amount].sum().round(2)
    out: dict[int, list[tuple[str, float]]] = {}
    for (key, cur), value in money.items():
        out.setdefault(int(key), []).append((str(cur), float(value)))
    return out


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
def own_partner_id(snapshot: Snapshot) -> int | None:
    """The partner of the Odoo user ClientCare logs in as (``meta["own_partner_id"]``, recorded by
    the pull): Odoo authors what that user writes with it, ClientCare's notes and the "activity
    done" messages of the activities it closes.  ``None`` in a snapshot pulled before it was
    recorded: then only the pull's own filter (no message carrying the write-back marker, apart
    from "activity done" messages) tells ClientCare's messages from people's."""
    value = snapshot.meta.get("own_partner_id")
    return None if value is None or isinstance(value, bool) else int(value)


def by_people(snapshot: Snapshot, msgs: pd.DataFrame) -> pd.Series:
    """Mask of the messages people wrote: not authored by ClientCare's own user
    (:func:`own_partner_id`).  Only people are contact, a reply or an answer: ClientCare's
    closing of an activity posts an "activity done" message as its user, which is no contact
    with the client.  A person marking a ClientCare activity done writes a message quoting its
    marker as themselves: that is a person's contact and counts."""
    own = own_partner_id(snapshot)
    if own is None or "author_id" not in msgs:
        return pd.Series(True, index=msgs.index)
    return ~msgs["author_id"].eq(own).fillna(False).astype(bool)


def interactions(snapshot: Snapshot, ignore_author_ids: Iterable[int] = ()) -> pd.DataFrame | None:
    """Logged contacts per client: chatter messages, emails, done activities on the client's
    partners, projects, tasks and invoices, written by people (:func:`by_people`; and not by
    ``ignore_author_ids``), with ``author_id`` and the ``author``'s name.  ``None`` when
    messages were not pulled."""
    ignore = tuple(sorted(ignore_author_ids))

    def build():
        msgs = snapshot.tables.get("messages")
        if msgs is None:
            return None
        is_done_activity = msgs["mail_activity_type_id"].notna() if "mail_activity_type_id" in msgs \
            else pd.Series(False, index=msgs.index)
        keep = msgs["message_type"].isin(facts.INTERACTION_TYPES).fillna(False).astype(bool) | is_done_activity
        keep &= by_people(snapshot, msgs)
        if ignore and "author_id" in msgs:
            keep &= ~msgs["author_id"].isin(ignore).fillna(False).astype(bool)
        m = msgs.loc[keep]
        res_id = ref_ids(m["res_id"])
        client = record_clients(snapshot, m["model"], res_id)
        kind = np.where(is_done_activity.loc[m.index], "done activity",
                        np.where(m["message_type"].eq("comment").fillna(False), "message", "email"))
        author = (m["author_id"] if "author_id" in m else pd.Series(pd.NA, index=m.index)).astype("Int64")
        # the partner's own name ("Rita"), else Odoo's display name ("Acme, Rita")
        partners = snapshot.partners.drop_duplicates("id").set_index("id")["name"]
        author_name = lookup(partners, author).astype("string")
        if "author_id_name" in m:
            author_name = author_name.fillna(m["author_id_name"].astype("string"))
        out = pd.DataFrame({"message_id": m["id"].to_numpy(), "client_id": client.to_numpy(),
                            "model": m["model"].to_numpy(), "res_id": res_id.to_numpy(),
                            "day": to_day(m["date"]).to_numpy(), "kind": kind,
                            "author_id": author.array, "author": author_name.array})
        return out.loc[out["client_id"].notna()].reset_index(drop=True)
    return memo(snapshot, ("interactions", ignore), build)


def record_clients(snapshot: Snapshot, model: pd.Series, res_id: pd.Series) -> pd.Series:
    """The client (commercial partner) of records given as (model, id) pairs, vectorised."""
    by_model = {
        "res.partner": lambda ids: commercial(snapshot, ids),
        "project.project": lambda ids: lookup(by_id(projects(snapshot), "client_id"), ids),
        "project.task": lambda ids: lookup(by_id(tasks(snapshot), "client_id"), ids),
        "account.move": lambda ids: lookup(by_id(invoices(snapshot), "client_id"), ids),
    }
    found = np.full(len(res_id), np.nan)  # ids are exact in a float64 (< 2**53)
    for name, client_of in by_model.items():
        mask = (model == name).fillna(False).to_numpy(dtype=bool)
        if mask.any():
            found[mask] = client_of(res_id.loc[mask]).to_numpy(dtype="float64", na_value=np.nan)
    return pd.Series(pd.array(found, dtype="Int64"), index=res_id.index)


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


def _write_file(path: Path, write) -> None:
    """``write(tmp)`` then rename onto ``path``: a file is whole or as it was.  A full disk (or
    any other failure of the file system) is one line naming the file, exit 2, and leaves no
    temporary file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        reason = "no space left on the device" if exc.errno == errno.ENOSPC or "No space left" in str(exc) else \
            (exc.strerror or str(exc))
        raise UsageError(f"snapshot file {path} could not be written: {reason}",
                         hint="free space on that disk (or choose another directory), then run again") from None
