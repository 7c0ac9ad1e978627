"""Batched, incremental pulls from Odoo into a :class:`Snapshot`.

Budget (asserted by tests): a full pull costs one ``search_read`` per page per
table plus a constant; an incremental pull with no server change costs one call
per table.  Paging is keyset on ``id`` (``id > last``, ordered by id), so rows
inserted while we page neither shift nor duplicate pages.

Incremental pulls follow dlt's idea of a declared cursor: per table and
database, the newest ``write_date`` seen is persisted, the next pull asks for
``write_date >= cursor - overlap`` (transactions commit after the timestamp
they write, so a window re-reads the edge) and rows are de-duplicated by id.
Changes that do not move ``write_date`` (measured live: see docs/odoo.md) are caught
by re-reading the open set, and the ids that were open last time, in the same
call.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from . import cursors as stored_cursors, errors as E, facts
from .schema import TABLES, TableSpec, frame_types, gc_paused, to_frame
from .snapshot import Snapshot
from .client import ODOO_DT, OdooClient, domain_and, domain_or, utcnow
from .state import StateStore

log = logging.getLogger(__name__)


@dataclass
class PullOptions:
    full: bool = False
    overlap: timedelta = timedelta(minutes=10)
    #: An incremental pull also lists all ids (one ``search``) this often, to drop deleted rows.
    deletion_check_every: timedelta = timedelta(hours=6)
    #: Fields each table needs beyond its defaults (the union of the rules' needs).
    extra_fields: dict[str, list[str]] = field(default_factory=dict)
    tables: tuple[str, ...] = tuple(TABLES)
    #: Tables declared by rules beyond :data:`~clientcare.connector.schema.TABLES`, pulled the
    #: same way (paging, incremental cursor, typing); name them in ``tables`` too.
    extra_tables: dict[str, TableSpec] = field(default_factory=dict)
    #: Tables whose model is missing (module not installed) or unreadable (no access right)
    #: are left out with a warning instead of failing the pull; rules needing them are skipped.
    skip_unavailable: bool = True
    #: Look up the owed invoices accounting excluded from follow-up (the derived table
    #: ``followup_exclusions``): asked for by the rules that read it (``pull_options``).
    followup_exclusions: bool = False

    def spec(self, name: str) -> TableSpec:
        return self.extra_tables.get(name) or TABLES[name]


class Puller:
    """Pulls the declared tables into a snapshot, full or incremental."""

    def __init__(self, client: OdooClient, options: PullOptions | None = None):
        self.client = client
        self.options = options or PullOptions()

    def pull(self, previous: Snapshot | None = None, now: datetime | None = None) -> Snapshot:
        with gc_paused():  # a pull makes millions of small objects; none are cycles
            return self._pull(previous, now)

    def _pull(self, previous: Snapshot | None, now: datetime | None) -> Snapshot:
        c, opts = self.client, self.options
        now = now or utcnow()
        specs = [opts.spec(n) for n in opts.tables]
        unavailable: dict[str, str] = {}
        for spec in list(specs):
            try:
                c.load_fields([spec.model], refresh=opts.full or previous is None)
            except (E.AccessError, E.MissingModelError) as exc:
                if not opts.skip_unavailable:
                    raise
                unavailable[spec.name] = f"{type(exc).__name__}: {exc}"
                log.warning("not pulling %s (%s): %s", spec.name, spec.model, exc)
                specs.remove(spec)
        tables: dict[str, pd.DataFrame] = {}
        cursors: dict[str, dict] = {}
        changed_moves = pd.DataFrame()
        for spec in specs:
            try:
                frame, cursor, changed = self._pull_table(spec, previous, now)
            except E.AccessError as exc:
                if not opts.skip_unavailable:
                    raise
                unavailable[spec.name] = f"{type(exc).__name__}: {exc}"
                log.warning("not pulling %s (%s): %s", spec.name, spec.model, exc)
                continue
            tables[spec.name] = frame
            cursors[spec.name] = cursor
            if spec.name == "moves":
                changed_moves = changed
        exclusion_fields = None
        if "moves" in tables:
            try:
                tables["payments"] = self._payments(tables["moves"], changed_moves, previous)
            except (E.AccessError, E.MissingModelError) as exc:
                if not opts.skip_unavailable:
                    raise
                unavailable["payments"] = f"{type(exc).__name__}: {exc}"
                log.warning("payment dates unavailable: %s", exc)
        if "moves" in tables and opts.followup_exclusions:
            try:
                tables["followup_exclusions"], exclusion_fields = self._followup_exclusions()
            except (E.AccessError, E.MissingModelError) as exc:
                if not opts.skip_unavailable:
                    raise
                unavailable["followup_exclusions"] = f"{type(exc).__name__}: {exc}"
                log.warning("follow-up exclusions unavailable: %s", exc)
        meta = {
            "url": c.settings.url, "db": c.settings.db, "transport": c.transport.name,
            "server_version": c.profile.version, "server_major": c.profile.major,
            "pulled_at": now.isoformat(), "company_ids": c.company_ids,
            "field_types": {s.name: frame_types(c.profile.field_list(s, opts.extra_fields.get(s.name, ())),
                                                c.profile.fields[s.model]) for s in specs if s.name in tables},
            "has_payment_state_blocked": facts.DISPUTED_STATE in c.profile.selection("account.move", "payment_state"),
            "unavailable_tables": unavailable,
            # who ClientCare is in Odoo: what its user writes is never a person's contact
            "own_user_id": c.transport.uid,
            "own_partner_id": _partner_of(tables.get("users"), c.transport.uid),
        }
        if exclusion_fields is not None:
            meta["followup_exclusion_fields"] = exclusion_fields
        snapshot = Snapshot(tables, meta)
        snapshot.cursors = cursors
        return snapshot

    # -- one table -------------------------------------------------------------
    def _pull_table(self, spec: TableSpec, previous: Snapshot | None, now: datetime):
        c, opts = self.client, self.options
        fields = c.profile.field_list(spec, opts.extra_fields.get(spec.name, ()))
        types = frame_types(fields, c.profile.fields[spec.model])
        cursor = stored_cursors.load(c.state, c.scope, spec.name) if c.state is not None else None
        prev = previous.tables.get(spec.name) if previous is not None else None
        open_filter = c.profile.open_filter(spec)
        incremental = (spec.incremental and not opts.full and prev is not None and cursor is not None
                       and cursor.get("write_date") and _same_columns(prev, types))
        base = list(spec.domain)
        if incremental:
            since = datetime.strptime(cursor["write_date"], ODOO_DT) - opts.overlap
            alternatives = [[("write_date", ">=", since.strftime(ODOO_DT))]]
            if open_filter is not None:
                alternatives.append(open_filter.domain())
            was_open = sorted(cursor.get("open_ids") or [])
            if was_open and len(was_open) <= c.settings.page_size:  # one chunk: in the same call
                alternatives.append([("id", "in", was_open)])
            # probe: the candidates with only the fields that reveal a change, then the full
            # rows of those that did change (none when nothing did: one call per table)
            watch = [f for f in fields if f in ("id", "write_date") + spec.watch
                     or (open_filter is not None and f in open_filter.fields())]
            rows = c.search_read_all(spec.model, domain_and(base, domain_or(*alternatives)), watch)
            if len(was_open) > c.settings.page_size:  # the rest of the ids open last time, in chunks
                seen = {r["id"] for r in rows}
                rows += c.search_read_in(spec.model, "id", [i for i in was_open if i not in seen], watch, base)
                rows.sort(key=lambda r: r["id"])
            probe = to_frame(rows, {f: types[f] for f in watch})
            todo = _changed_rows(prev, probe)["id"].tolist()
            fresh = to_frame(c.search_read_in(spec.model, "id", todo, fields), types)
        else:
            fresh = probe = c.search_read_frame(spec.model, base, fields, types)
        if incremental:
            kept = prev.loc[~prev["id"].isin(fresh["id"]), list(fresh.columns)]
            frame = pd.concat([kept, fresh], ignore_index=True) if len(kept) else fresh
            frame = frame.sort_values("id", kind="stable").reset_index(drop=True)
            changed = _changed_rows(prev, fresh)
        else:
            frame, changed = fresh, fresh
        last_check = (cursor or {}).get("last_deletion_check")
        if incremental and _due(last_check, now, opts.deletion_check_every):
            alive = set(c.search_ids(spec.model, base))
            gone = ~frame["id"].isin(alive)
            if gone.any():
                log.info("%s: %d record(s) deleted on the server", spec.model, int(gone.sum()))
                frame = frame.loc[~gone].reset_index(drop=True)
            last_check = now.isoformat()
        elif not incremental:
            last_check = now.isoformat()
        newest = probe["write_date"].max() if "write_date" in probe and len(probe) else None
        old_wd = (cursor or {}).get("write_date") if incremental else None
        new_wd = newest.strftime(ODOO_DT) if newest is not None and not pd.isna(newest) else old_wd
        if old_wd and new_wd and old_wd > new_wd:
            new_wd = old_wd
        new_cursor = {
            "write_date": new_wd,
            "open_ids": frame.loc[open_filter.mask(frame), "id"].tolist() if open_filter else [],
            "last_full": now.isoformat() if not incremental else (cursor or {}).get("last_full"),
            "last_deletion_check": last_check,
        }
        log.debug("%s: %s pull, %d probed, %d fetched, %d total", spec.model,
                  "incremental" if incremental else "full", len(probe), len(fresh), len(frame))
        return frame, new_cursor, changed

    # -- payment dates ---------------------------------------------------------
    def _payments(self, moves: pd.DataFrame, changed: pd.DataFrame, previous: Snapshot | None
                  ) -> pd.DataFrame:
        """When each (partly) paid invoice was paid: the latest reconciliation or payment date,
        and ``credited_by``: the credit notes it was reconciled with (their numbers).

        Two sources, whichever the server has: reconciliation partials of the
        receivable lines (all versions), and ``matched_payment_ids`` (18+),
        which is the only trace of a payment registered without a journal
        entry.  Looked up only for invoices whose payment changed this pull; a credit note
        matched with an invoice changes with it, so both sides of a partial are read in the
        same look-up (no request of its own).
        """
        c = self.client
        prev = previous.tables.get("payments") if previous is not None else None
        todo = changed.loc[changed["payment_state"].isin(facts.PAID_STATES)] if len(changed) else changed
        ids = todo["id"].tolist() if len(todo) else []
        found = _empty_payments()
        if ids:
            lines = c.search_read_in("account.move.line", "move_id", ids,
                                     ["move_id", "matched_debit_ids", "matched_credit_ids"],
                                     [("account_id.account_type", "in", ["asset_receivable"])])
            partial_of = {}
            for line in lines:
                for pid in line["matched_debit_ids"] + line["matched_credit_ids"]:
                    partial_of.setdefault(pid, set()).add(line["move_id"][0])
            rows = []
            refunds = moves.loc[moves["move_type"] == facts.CREDIT_NOTE]
            refund_name = dict(zip(refunds["id"].tolist(), refunds["name"].tolist()))
            credited_by: dict[int, set[str]] = {}
            for moves_matched in partial_of.values():
                for move_id in moves_matched:
                    credited_by.setdefault(move_id, set()).update(
                        str(refund_name[m]) for m in moves_matched if m != move_id and m in refund_name)
            if partial_of:
                for p in c.read_ids("account.partial.reconcile", partial_of, ["max_date"]):
                    for move_id in partial_of[p["id"]]:
                        rows.append((move_id, p["max_date"], "reconciliation"))
            if "matched_payment_ids" in todo.columns:
                pay_of = {}
                for move_id, pays in zip(todo["id"], todo["matched_payment_ids"]):
                    for pid in pays:
                        pay_of.setdefault(pid, set()).add(move_id)
                if pay_of:
                    for p in c.read_ids("account.payment", pay_of, ["date", "state"]):
                        if p["state"] in ("draft", "canceled", "cancel", "rejected"):
                            continue
                        for move_id in pay_of[p["id"]]:
                            rows.append((move_id, p["date"], "payment"))
            if rows:
                found = pd.DataFrame(rows, columns=["move_id", "paid_date", "source"])
                found["paid_date"] = pd.to_datetime(found["paid_date"], format="%Y-%m-%d")
                found = (found.sort_values(["move_id", "paid_date"])
                         .groupby("move_id", as_index=False)
                         .agg(paid_date=("paid_date", "max"), source=("source", "last")))
                found = found.astype({"move_id": "int64", "paid_date": "datetime64[ns]",
                                      "source": "string"})
                found["credited_by"] = pd.array([", ".join(sorted(credited_by.get(m) or ())) or None
                                                 for m in found["move_id"].tolist()], dtype="string")
        if prev is not None and len(prev):
            keep = prev.loc[~prev["move_id"].isin(ids) & prev["move_id"].isin(moves["id"])]
            found = pd.concat([keep, found], ignore_index=True) if len(found) else keep
        if "credited_by" not in found:  # payments kept from a snapshot saved before it existed
            found["credited_by"] = pd.NA
        found["credited_by"] = found["credited_by"].astype("string")
        return found.sort_values("move_id").reset_index(drop=True)


    # -- follow-up exclusions --------------------------------------------------------
    def _followup_exclusions(self) -> tuple[pd.DataFrame, list[str]]:
        """The owed customer invoices accounting excluded from follow-up, and the exclusion
        fields this server has (``model.field``, from ``fields_get``).

        Read whole every pull, but only the flagged receivable lines still owed
        (:func:`facts.exclusion_lines_domain`): usually one call returning a few rows, whatever
        the number of invoices.  On 19 the invoice's own ``no_followup`` (not stored) is read
        for the invoices of those lines only, to say where the flag was set.
        """
        c = self.client
        known = c.call("account.move.line", "fields_get", [],
                       {"allfields": list(facts.LINE_EXCLUSION_FIELDS), "attributes": ["type"]})
        flags = [f for f in facts.LINE_EXCLUSION_FIELDS if (known.get(f) or {}).get("type") == "boolean"]
        move_flag = c.profile.ftype("account.move", facts.MOVE_EXCLUSION_FIELD) == "boolean"
        fields = [f"account.move.line.{f}" for f in flags]
        if move_flag:
            fields.append(f"account.move.{facts.MOVE_EXCLUSION_FIELD}")
        found = _empty_exclusions()
        if not flags:
            return found, fields
        lines = c.search_read_all("account.move.line", facts.exclusion_lines_domain(flags), ["move_id", *flags])
        move_ids = sorted({line["move_id"][0] for line in lines if line["move_id"]})
        on_invoice: set[int] = set()
        if move_ids and move_flag:
            on_invoice = {m["id"] for m in c.read_ids("account.move", move_ids, [facts.MOVE_EXCLUSION_FIELD])
                          if m[facts.MOVE_EXCLUSION_FIELD]}
        if move_ids:
            found = pd.DataFrame({
                "move_id": pd.array(move_ids, dtype="int64"),
                "source": pd.array([facts.EXCLUDED_ON_INVOICE if m in on_invoice else facts.EXCLUDED_ON_LINE
                                    for m in move_ids], dtype="string")})
        return found, fields


def snapshot_dir_for(state: StateStore, scope: str) -> Path:
    """Where the working snapshot of one database lives, beside the state file."""
    digest = hashlib.sha256(scope.encode()).hexdigest()[:16]
    return state.path.parent / f"{state.path.stem}-snapshots" / digest


def pull_incremental(client: OdooClient, options: PullOptions | None = None) -> Snapshot:
    """Pull against the stored snapshot, save it, and only then advance the cursors.

    A crash before the cursors are written leaves older cursors, so the next
    pull re-reads a little more: never less.
    """
    if client.state is None:
        raise E.ConfigError("incremental pulls need a state store")
    directory = snapshot_dir_for(client.state, client.scope)
    previous = None
    if (directory / "meta.json").exists():
        previous = Snapshot.load(directory)
    snapshot = Puller(client, options).pull(previous)
    snapshot.save(directory)
    stored_cursors.save(client.state, client.scope, snapshot.cursors)
    return snapshot


def _partner_of(users: pd.DataFrame | None, uid: int | None) -> int | None:
    """The partner of user ``uid``, from the pulled ``users`` table (internal users: the one
    ClientCare logs in as is among them); ``None`` when unknown."""
    if users is None or uid is None:
        return None
    partner = users.loc[users["id"] == uid, "partner_id"].dropna()
    return int(partner.iloc[0]) if len(partner) else None


def _empty_payments() -> pd.DataFrame:
    return pd.DataFrame({"move_id": pd.Series([], dtype="int64"),
                         "paid_date": pd.Series([], dtype="datetime64[ns]"),
                         "source": pd.Series([], dtype="string"),
                         "credited_by": pd.Series([], dtype="string")})


def _empty_exclusions() -> pd.DataFrame:
    return pd.DataFrame({"move_id": pd.Series([], dtype="int64"), "source": pd.Series([], dtype="string")})


def _changed_rows(prev: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``fresh`` that are new or differ from ``prev`` (ignoring list columns)."""
    if not len(fresh):
        return fresh
    cols = [c for c in fresh.columns if fresh[c].dtype != object]
    merged = fresh[cols].merge(prev[cols], on="id", how="left", suffixes=("", "__old"), indicator=True)
    differs = merged["_merge"] == "left_only"
    for col in cols:
        if col == "id":
            continue
        a, b = merged[col], merged[f"{col}__old"]
        differs |= ~((a == b).fillna(False) | (a.isna() & b.isna()))
    return fresh.loc[fresh["id"].isin(merged.loc[differs, "id"])]


def _same_columns(prev: pd.DataFrame, types: dict[str, str]) -> bool:
    """The stored table can be extended incrementally only if it has the columns and dtypes
    a fresh pull gives (a new rule field or a new ClientCare version forces a full pull)."""
    expected = to_frame([], types)
    if not set(expected.columns) <= set(prev.columns):
        return False
    return all(prev[c].dtype == expected[c].dtype for c in expected.columns)


def _due(last_iso: str | None, now: datetime, every: timedelta) -> bool:
    if not last_iso:
        return True
    return now - datetime.fromisoformat(last_iso) >= every
