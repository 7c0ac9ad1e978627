"""Small hand-made snapshots for rule tests, typed by the connector's own ``to_frame``
(public through :mod:`clientcare.rules.testing`).

Rows are written the way Odoo's ``search_read`` answers (many2one as
``[id, name]``, ``False`` for empty, dates as strings), then go through
``to_frame`` with the field types of the chosen Odoo version, so the frames a
rule sees here have exactly the dtypes of a real pull (16: date deadlines and
the stage's closed flag; 17+: datetime deadlines and ``state``).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import pandas as pd

from clientcare.connector.schema import to_frame
from clientcare.connector.snapshot import Snapshot

AS_OF = date(2026, 11, 22)
ADMIN, SALES, MANAGER, INACTIVE = 2, 6, 7, 8
#: The user ClientCare runs as, once a test says so with :meth:`SnapshotBuilder.runs_as`.
BOT = 9

COMMON = {
    "partners": {"id": "integer", "name": "char", "commercial_partner_id": "many2one", "parent_id": "many2one",
                 "is_company": "boolean", "customer_rank": "integer", "user_id": "many2one",
                 "country_id": "many2one", "industry_id": "many2one", "category_id": "many2many",
                 "company_id": "many2one", "active": "boolean", "email": "char", "phone": "char", "lang": "selection",
                 "create_date": "datetime", "write_date": "datetime"},
    "users": {"id": "integer", "name": "char", "login": "char", "partner_id": "many2one", "active": "boolean",
              "company_id": "many2one", "tz": "selection", "lang": "selection", "create_date": "datetime",
              "write_date": "datetime"},
    "companies": {"id": "integer", "name": "char", "currency_id": "many2one", "partner_id": "many2one",
                  "resource_calendar_id": "many2one", "write_date": "datetime"},
    "projects": {"id": "integer", "name": "char", "partner_id": "many2one", "user_id": "many2one",
                 "date_start": "date", "date": "date", "active": "boolean", "company_id": "many2one",
                 "create_date": "datetime", "write_date": "datetime", "last_update_status": "selection"},
    "moves": {"id": "integer", "name": "char", "move_type": "selection", "state": "selection",
              "partner_id": "many2one", "commercial_partner_id": "many2one", "invoice_user_id": "many2one",
              "invoice_date": "date", "invoice_date_due": "date", "amount_total": "monetary",
              "amount_residual": "monetary", "amount_total_signed": "monetary",
              "amount_residual_signed": "monetary", "currency_id": "many2one", "company_id": "many2one",
              "company_currency_id": "many2one", "payment_state": "selection", "invoice_origin": "char",
              "create_date": "datetime", "write_date": "datetime"},
    "messages": {"id": "integer", "date": "datetime", "model": "char", "res_id": "many2one_reference",
                 "message_type": "selection", "author_id": "many2one", "mail_activity_type_id": "many2one",
                 "subtype_id": "many2one", "create_date": "datetime", "write_date": "datetime"},
    "activities": {"id": "integer", "res_model": "char", "res_id": "many2one_reference",
                   "activity_type_id": "many2one", "user_id": "many2one", "date_deadline": "date",
                   "summary": "char", "create_date": "datetime", "write_date": "datetime"},
    "ratings": {"id": "integer", "res_model": "char", "res_id": "many2one_reference", "partner_id": "many2one",
                "rating": "float", "rating_text": "selection", "parent_res_model": "char",
                "parent_res_id": "integer", "create_date": "datetime", "write_date": "datetime"},
    "deadline_changes": {"id": "integer", "mail_message_id": "many2one", "old_value_datetime": "datetime",
                         "new_value_datetime": "datetime", "create_date": "datetime", "write_date": "datetime",
                         "field_id": "many2one"},
    "deadline_messages": {"id": "integer", "model": "char", "res_id": "many2one_reference", "date": "datetime",
                          "write_date": "datetime"},
    "task_stages": {"id": "integer", "name": "char", "fold": "boolean", "write_date": "datetime"},
    "work_calendars": {"id": "integer", "name": "char", "tz": "selection", "company_id": "many2one",
                       "two_weeks_calendar": "boolean", "write_date": "datetime"},
    "work_attendances": {"id": "integer", "calendar_id": "many2one", "dayofweek": "selection", "hour_from": "float",
                         "hour_to": "float", "day_period": "selection", "week_type": "selection", "display_type": "selection",
                         "date_from": "date", "date_to": "date", "resource_id": "many2one", "write_date": "datetime"},
    "public_holidays": {"id": "integer", "name": "char", "calendar_id": "many2one", "company_id": "many2one",
                        "date_from": "datetime", "date_to": "datetime", "time_type": "selection",
                        "write_date": "datetime"},
}
WORKING_TIME = ("work_calendars", "work_attendances", "public_holidays")
TASKS_BASE = {"id": "integer", "name": "char", "project_id": "many2one", "partner_id": "many2one",
              "user_ids": "many2many", "stage_id": "many2one", "active": "boolean", "company_id": "many2one",
              "parent_id": "many2one", "date_last_stage_update": "datetime", "date_end": "datetime",
              "create_date": "datetime", "write_date": "datetime"}
TASKS_16 = dict(TASKS_BASE, date_deadline="date", is_closed="boolean", kanban_state="selection")
TASKS_17 = dict(TASKS_BASE, date_deadline="datetime", state="selection")


def d(value) -> str | bool:
    """Odoo's date text, from a date, or from an int offset in days relative to AS_OF."""
    if value is None or value is False:
        return False
    if isinstance(value, int):
        value = AS_OF + timedelta(days=value)
    return value.isoformat() if isinstance(value, date) else str(value)


def dt(value) -> str | bool:
    """Odoo's datetime text (naive UTC); ints are day offsets from AS_OF at 09:00."""
    if value is None or value is False:
        return False
    if isinstance(value, int):
        value = datetime.combine(AS_OF + timedelta(days=value), datetime.min.time()).replace(hour=9)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return f"{value.isoformat()} 00:00:00"
    return str(value)


class SnapshotBuilder:
    """Build a snapshot row by row; only what a test cares about needs saying."""

    def __init__(self, version: int = 17, currency: str = "USD"):
        self.version = version
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.payments: list[tuple[int, str, str | None]] = []
        #: Invoices accounting excluded from follow-up: (move id, where the flag is: line / invoice).
        self.exclusions: list[tuple[int, str]] = []
        #: Tables the server would not give -> why (``unreadable``).
        self.unavailable: dict[str, str] = {}
        self.names: dict[tuple[str, int], str] = {}
        self.optional: set[str] = set()
        self.extra_types: dict[str, dict[str, str]] = {}
        self.company(1, "YourCompany", currency)
        self.user(ADMIN, "Mitchell Admin")
        self.user(SALES, "Marc Demo")
        self.user(MANAGER, "Manager Mia")
        self.user(INACTIVE, "Gone Gary", active=False)
        self.stage(1, "In Progress").stage(3, "Done", fold=True)
        self.own_user: int | None = None

    # -- helpers -------------------------------------------------------------------------------
    def m2o(self, kind: str, rid):
        if not rid:
            return False
        return [rid, self.names.get((kind, rid), f"{kind} {rid}")]

    def company(self, cid, name, currency="USD", currency_id=None):
        self.names[("company", cid)] = name
        self.names[("currency", currency_id or _currency_id(currency))] = currency
        self.rows["companies"].append({"id": cid, "name": name, "currency_id": [currency_id or _currency_id(currency),
                                                                                currency],
                                       "partner_id": [cid, name], "write_date": dt(-400)})
        self.company_currency = getattr(self, "company_currency", {}) | {cid: currency}
        return self

    def user(self, uid, name, active=True, *, tz=False, company=1, lang="en_US"):
        """An internal user; ``tz`` their time zone (Odoo's ``tz``, e.g. "America/New_York"),
        ``lang`` their language (Odoo's code, e.g. "fr_FR")."""
        self.names[("user", uid)] = self.names[("partner", 100 + uid)] = name
        self.rows["users"] = [r for r in self.rows["users"] if r["id"] != uid]
        self.rows["users"].append({"id": uid, "name": name, "login": name.split()[0].lower(),
                                   "partner_id": [100 + uid, name], "active": active,
                                   "company_id": self.m2o("company", company), "tz": tz,
                                   "lang": lang, "create_date": dt(-400), "write_date": dt(-400)})
        return self

    # -- working time (Odoo's resource module) ---------------------------------------------------
    def calendar(self, cid, name="Standard 40 hours/week", tz="Europe/Brussels", company=1,
                 days=(1, 2, 3, 4, 5), hours=((8, 12), (13, 17)), *, week=None, lunch=None):
        """A working-time calendar (``resource.calendar``) with one attendance per day and period
        (ISO ``days``, ``hours`` as (from, to)), made ``company``'s (None: no company's); ``week``
        0/1 marks the attendances of one week of a two-week calendar (call again with the other);
        ``lunch`` (from, to) adds Odoo's break lines (``day_period`` "lunch", 17+)."""
        self.optional.update(WORKING_TIME)
        self.names[("calendar", cid)] = name
        if not any(r["id"] == cid for r in self.rows["work_calendars"]):
            self.rows["work_calendars"].append({"id": cid, "name": name, "tz": tz, "company_id": self.m2o("company", company),
                                                "two_weeks_calendar": week is not None, "write_date": dt(-400)})
        for day in days:
            for h1, h2, period in [(h1, h2, False) for h1, h2 in hours] + ([(*lunch, "lunch")] if lunch else []):
                self.rows["work_attendances"].append({
                    "id": len(self.rows["work_attendances"]) + 1, "calendar_id": [cid, name], "dayofweek": str(day - 1),
                    "hour_from": float(h1), "hour_to": float(h2), "day_period": period,
                    "week_type": False if week is None else str(week),
                    "display_type": False, "date_from": False, "date_to": False, "resource_id": False,
                    "write_date": dt(-400)})
        if company is not None:
            for row in self.rows["companies"]:
                if row["id"] == company:
                    row["resource_calendar_id"] = [cid, name]
        return self

    def holiday(self, start, end, name="Public holiday", calendar=None, company=None):
        """A global leave (``resource.calendar.leaves`` without resource): ``start`` and ``end``
        as :func:`dt` takes them (naive UTC); no ``calendar``: every calendar of ``company`` (None: all)."""
        self.optional.update(WORKING_TIME)
        self.rows["public_holidays"].append({
            "id": len(self.rows["public_holidays"]) + 1, "name": name, "calendar_id": self.m2o("calendar", calendar),
            "company_id": self.m2o("company", company), "date_from": dt(start), "date_to": dt(end),
            "time_type": "leave", "write_date": dt(-400)})
        return self

    def runs_as(self, uid=BOT, name="ClientCare Bot"):
        """ClientCare logs in as user ``uid`` (added when unknown; its partner is ``100 + uid``):
        the snapshot's meta then says who ClientCare is (``own_user_id``, ``own_partner_id``), as a
        pull records it.  Without it the meta has neither, as in snapshots pulled before."""
        if ("user", uid) not in self.names:
            self.user(uid, name)
        self.own_user = uid
        return self

    def client(self, pid, name, salesperson=None, *, rank=1, country=None, industry=None, tags=(),
               created=-400, company=True):
        self.names[("partner", pid)] = name
        self.rows["partners"].append({
            "id": pid, "name": name, "commercial_partner_id": [pid, name], "parent_id": False,
            "is_company": company, "customer_rank": rank, "user_id": self.m2o("user", salesperson),
            "country_id": list(country) if country else False, "industry_id": list(industry) if industry else False,
            "category_id": list(tags), "company_id": False, "active": True, "email": f"{pid}@example.com",
            "phone": False, "lang": "en_US", "create_date": dt(created), "write_date": dt(created)})
        return self

    def contact(self, pid, name, parent):
        self.names[("partner", pid)] = name
        parent_name = self.names[("partner", parent)]
        self.rows["partners"].append({
            "id": pid, "name": name, "commercial_partner_id": [parent, parent_name], "parent_id": [parent, parent_name],
            "is_company": False, "customer_rank": 0, "user_id": False, "country_id": False, "industry_id": False,
            "category_id": [], "company_id": False, "active": True, "email": False, "phone": False, "lang": "en_US",
            "create_date": dt(-400), "write_date": dt(-400)})
        return self

    def project(self, pid, name, client=None, manager=SALES, *, start=None, end=None, status="on_track",
                active=True, created=-200):
        self.names[("project", pid)] = name
        self.rows["projects"].append({
            "id": pid, "name": name, "partner_id": self.m2o("partner", client), "user_id": self.m2o("user", manager),
            "date_start": d(start), "date": d(end), "active": active, "company_id": [1, "YourCompany"],
            "create_date": dt(created), "write_date": dt(created), "last_update_status": status})
        return self

    def stage(self, sid, name, fold=False):
        self.names[("stage", sid)] = name
        self.rows["task_stages"].append({"id": sid, "name": name, "fold": fold, "write_date": dt(-400)})
        return self

    def task(self, tid, name, project=None, *, client=None, users=(), deadline=None, state="01_in_progress",
             stage="In Progress", created=-100, written=None, closed_on=None, active=True, kanban="normal",
             stage_id=None):
        """``state`` is the 17+ state; on 16 it becomes the stage's closed flag (1_done/1_canceled).
        ``stage_id`` puts the task in a stage declared with :meth:`stage` (its fold flag)."""
        done = state in ("1_done", "1_canceled")
        row = {"id": tid, "name": name, "project_id": self.m2o("project", project),
               "partner_id": self.m2o("partner", client), "user_ids": list(users),
               "stage_id": [1 if not done else 3, stage if not done else ("Cancelled" if state == "1_canceled"
                                                                          else "Done")],
               "active": active, "company_id": [1, "YourCompany"], "parent_id": False,
               "date_last_stage_update": dt(created), "create_date": dt(created),
               "write_date": dt(written if written is not None else (closed_on if closed_on is not None else created))}
        if stage_id is not None:
            row["stage_id"] = [stage_id, self.names[("stage", stage_id)]]
            done = done or (self.version < 17 and any(
                r["fold"] for r in self.rows["task_stages"] if r["id"] == stage_id))  # 16: is_closed follows fold
        if self.version >= 17:
            row.update(date_deadline=dt(deadline), state=state, date_end=False)
        else:
            row.update(date_deadline=d(deadline), is_closed=done, kanban_state=kanban,
                       date_end=dt(closed_on) if done and closed_on is not None else False)
        self.rows["tasks"].append(row)
        return self

    def invoice(self, mid, client, due, total, residual=None, *, move_type="out_invoice", state="posted",
                payment_state=None, currency=None, rate=1.0, salesperson=None, invoice_date=None, paid=None,
                company=1, name=None, no_followup=None, credited_by=None):
        """``due``/``invoice_date``/``paid`` are day offsets from AS_OF (or dates); ``rate`` converts the
        invoice currency to the company currency (company amount = amount * rate).  ``credited_by``:
        the credit note numbers it was reconciled with (with ``paid``).  ``no_followup``:
        accounting excluded it from follow-up, ``"line"`` (the receivable line's flag: ``blocked``
        on 16/17, ``no_followup`` on 19) or ``"invoice"`` (19's ``no_followup`` on the invoice);
        Odoo 18 has neither (a disputed invoice there is ``payment_state="blocked"``)."""
        residual = total if residual is None else residual
        company_cur = self.company_currency[company]
        currency = currency or company_cur
        sign = -1 if move_type == "out_refund" else 1
        if payment_state is None:
            payment_state = "not_paid" if residual == total else ("paid" if residual == 0 else "partial")
        client_name = self.names[("partner", client)]
        self.rows["moves"].append({
            "id": mid, "name": name or f"{'RINV' if sign < 0 else 'INV'}/2026/{mid:05d}", "move_type": move_type,
            "state": state, "partner_id": [client, client_name], "commercial_partner_id": [client, client_name],
            "invoice_user_id": self.m2o("user", salesperson),
            "invoice_date": d(invoice_date if invoice_date is not None else (due if isinstance(due, int) else None)),
            "invoice_date_due": d(due), "amount_total": float(total), "amount_residual": float(residual),
            "amount_total_signed": round(sign * total * rate, 2),
            "amount_residual_signed": round(sign * residual * rate, 2),
            "currency_id": [_currency_id(currency), currency],
            "company_id": [company, self.names[("company", company)]],
            "company_currency_id": [_currency_id(company_cur), company_cur], "payment_state": payment_state,
            "invoice_origin": False, "create_date": dt(-300), "write_date": dt(-1)})
        if paid is not None:
            self.payments.append((mid, d(paid), credited_by))
        if no_followup is not None:
            fields = EXCLUSION_FIELDS.get(self.version, ())
            model = {"line": "account.move.line.", "invoice": "account.move.no_followup"}.get(no_followup, "?")
            if not any(f.startswith(model) for f in fields):
                raise ValueError(f"Odoo {self.version} has no follow-up exclusion on the {no_followup} "
                                 f"(it has: {', '.join(fields) or 'none'})")
            self.exclusions.append((mid, no_followup))
        return self

    def refund(self, mid, client, total, residual=None, **kw):
        return self.invoice(mid, client, kw.pop("due", -1), total, residual, move_type="out_refund", **kw)

    def message(self, mid, model, res_id, when, *, message_type="comment", author=None, activity_type=None,
                subtype="Discussions"):
        """``subtype`` "Note" is an internal note (``mail.mt_note``, id 2), else a discussion (id 1)."""
        self.optional.add("messages")
        self.rows["messages"].append({
            "id": mid, "date": dt(when), "model": model, "res_id": res_id, "message_type": message_type,
            "author_id": [author, self.names.get(("partner", author), f"partner {author}")] if author else False,
            "mail_activity_type_id": [activity_type, "Call"] if activity_type else False,
            "subtype_id": [2 if subtype == "Note" else 1, subtype], "create_date": dt(when), "write_date": dt(when)})
        return self

    def activity(self, aid, model, res_id, due=1, *, user=SALES, summary="planned", done=None):
        """``done``: the day it was marked done; from 17 on Odoo keeps it archived with that
        ``date_done`` (16 deletes it: leave it out there)."""
        self.optional.add("activities")
        row = {"id": aid, "res_model": model, "res_id": res_id, "activity_type_id": [4, "To-Do"],
               "user_id": self.m2o("user", user), "date_deadline": d(due), "summary": summary,
               "create_date": dt(-2), "write_date": dt(-2)}
        if self.version >= 17:
            row.update(active=done is None, date_done=d(done))
        elif done is not None:
            raise ValueError("Odoo 16 deletes done activities: leave the row out")
        self.rows["activities"].append(row)
        return self

    def rating(self, rid, client, value, when=-10, *, task=None):
        self.optional.add("ratings")
        self.rows["ratings"].append({
            "id": rid, "res_model": "project.task", "res_id": task or 1, "partner_id": self.m2o("partner", client),
            "rating": float(value), "rating_text": "top" if value >= 4 else ("ok" if value >= 2 else "ko"),
            "parent_res_model": "project.project", "parent_res_id": 1, "create_date": dt(when), "write_date": dt(when)})
        return self

    def deadline_move(self, tid, task, old, new, when=-5):
        self.optional |= {"deadline_changes", "deadline_messages"}
        self.rows["deadline_messages"].append({"id": 9000 + tid, "model": "project.task", "res_id": task,
                                               "date": dt(when), "write_date": dt(when)})
        self.rows["deadline_changes"].append({
            "id": tid, "mail_message_id": [9000 + tid, False], "old_value_datetime": dt(old),
            "new_value_datetime": dt(new), "create_date": dt(when), "write_date": dt(when),
            "field_id": [1, "Deadline (Task)"]})
        return self

    def tables(self, *names: str):
        """Declare optional tables as pulled (possibly empty)."""
        self.optional |= set(names)
        return self

    def unreadable(self, table: str, why: str = "AccessError: not allowed"):
        """The server would not give ``table`` (left out, ``why`` in the snapshot's unavailable tables)."""
        self.unavailable[table] = why
        return self

    def add(self, table: str, types: dict[str, str], *rows: dict):
        """Rows of any table (e.g. one a plugin declares), typed as Odoo's ``fields_get`` types
        them: ``{"state": "selection", "date_order": "datetime", "partner_id": "many2one"}``."""
        self.extra_types[table] = {"id": "integer", **types}
        self.rows[table] += [dict(r) for r in rows]
        return self

    # -- the snapshot ------------------------------------------------------------------------------
    def build(self) -> Snapshot:
        types = dict(COMMON, tasks=TASKS_17 if self.version >= 17 else TASKS_16, **self.extra_types)
        if self.version >= 17:  # done activities are archived, with their day
            types["activities"] = dict(COMMON["activities"], active="boolean", date_done="date")
        wanted = ["partners", "users", "companies", "projects", "tasks", "task_stages", "moves",
                  *sorted(self.optional), *sorted(self.extra_types)]
        tables = {name: to_frame(self.rows.get(name, []), types[name]) for name in wanted}
        payments = pd.DataFrame(self.payments, columns=["move_id", "paid_date", "credited_by"])
        tables["payments"] = pd.DataFrame({
            "move_id": payments["move_id"].astype("int64"),
            "paid_date": pd.to_datetime(payments["paid_date"], format="%Y-%m-%d").astype("datetime64[ns]"),
            "source": pd.array(["payment" if c is None else "reconciliation" for c in payments["credited_by"]],
                               dtype="string"),
            "credited_by": pd.array(payments["credited_by"].tolist(), dtype="string")})
        excluded = pd.DataFrame(self.exclusions, columns=["move_id", "source"])
        tables["followup_exclusions"] = pd.DataFrame({"move_id": excluded["move_id"].astype("int64"),
                                                      "source": excluded["source"].astype("string")})
        meta = {"server_version": f"{self.version}.0", "server_major": self.version,
                "pulled_at": f"{AS_OF.isoformat()}T12:00:00+00:00",
                "field_types": {k: types[k] for k in wanted},
                "has_payment_state_blocked": self.version >= 18,
                "followup_exclusion_fields": list(EXCLUSION_FIELDS.get(self.version, ())),
                "unavailable_tables": dict(self.unavailable)}
        if self.own_user is not None:
            meta.update(own_user_id=self.own_user, own_partner_id=100 + self.own_user)
        for table in self.unavailable:
            tables.pop(table, None)
        return Snapshot(tables, meta)


#: The follow-up exclusion fields each Odoo version has (what the pull's ``fields_get`` finds).
EXCLUSION_FIELDS = {16: ("account.move.line.blocked",), 17: ("account.move.line.blocked",), 18: (),
                    19: ("account.move.line.no_followup", "account.move.no_followup")}


def _currency_id(code: str) -> int:
    return {"USD": 1, "EUR": 2, "GBP": 3}.get(code, 9)
