"""The typed snapshot rules read: raw tables as pulled, plus derived views.

Derived views (clients, contact mapping, posted invoices with their payment
date, tasks with ``is_open`` and ``deadline_date``) are computed from the raw
tables and the server facts in ``meta``, so a snapshot saved to disk and loaded
on another machine gives exactly the same views.
"""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Callable

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
        #: The rules' shared derived frames (:func:`clientcare.rules.frames.memo`).
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
        mapping = self.contacts.set_index("partner_id")["commercial_partner_id"]
        mapped = partner_ids.map(mapping)
        return mapped.fillna(partner_ids).astype("Int64")

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
