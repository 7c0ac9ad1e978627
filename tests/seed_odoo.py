"""Give a live Odoo demo database the situations the rules look for, through the API.

Odoo's demo data has few overdue invoices and no payment history, so before
recording cassettes (and the demo snapshot) this script adds, relative to
today: invoices 5–120 days overdue, invoices paid late and on time, a partial
payment, a credit note, late and at-risk tasks, and salespeople on clients.
It runs once per database (it looks for its own ``CCSEED`` references).  Working time is
seeded apart (also on a database seeded before it existed): a public holiday on the first
Tuesday, Wednesday or Thursday after today (:func:`holiday_after`), a whole day in the company
calendar's time zone, and the demo user in another time zone than that calendar's
(:data:`DEMO_TZ`).

    python tests/seed_odoo.py   # with ODOO_URL, ODOO_DB, ODOO_USER, ODOO_PASSWORD set
"""
from __future__ import annotations

import logging
import os
import sys
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from clientcare.connector.client import OdooClient
from clientcare.connector.settings import ConnectionSettings

log = logging.getLogger("seed")

#: (customer index, days ago invoiced, days of term, amount, paid: None | days after due | "partial")
INVOICES = [
    (0, 120, 30, 4200.0, None), (0, 75, 30, 1800.0, None), (0, 50, 30, 950.0, None),
    (1, 45, 30, 3100.0, None), (1, 100, 30, 2500.0, 25), (1, 160, 30, 1200.0, 40),
    (2, 40, 15, 780.0, "partial"), (2, 90, 30, 2000.0, 0), (2, 130, 30, 1500.0, -5),
    (3, 20, 15, 640.0, None), (3, 70, 30, 5200.0, 18),
    (4, 35, 30, 12.0, None), (4, 60, 30, 3300.0, 30), (4, 110, 30, 2900.0, 45),
    (5, 10, 30, 1500.0, None),
]


#: The public holiday's name (how the seed finds its own) and the demo user's time zone.
HOLIDAY_NAME = "CCSEED public holiday"
DEMO_TZ = "America/New_York"


def holiday_after(today: date) -> date:
    """The seeded public holiday: the first Tuesday, Wednesday or Thursday after ``today``, so
    the day before and the day after it are both working days (2026-12-07, a Monday: the 8th)."""
    day = today + timedelta(days=1)
    while day.isoweekday() not in (2, 3, 4):
        day += timedelta(days=1)
    return day


def seed_working_time(c: OdooClient, today: date) -> None:
    """A public holiday (a global leave of the main company, no calendar: all its calendars) and
    the demo user in :data:`DEMO_TZ`; once per database."""
    if c.call("resource.calendar.leaves", "search_count", [[("name", "=", HOLIDAY_NAME)]]):
        log.info("working time already seeded")
        return
    company = c.call("res.company", "search_read", [[]], {"fields": ["resource_calendar_id"], "order": "id asc",
                                                         "limit": 1})[0]
    calendar = c.call("resource.calendar", "read", [[company["resource_calendar_id"][0]]], {"fields": ["tz"]})[0]
    zone = ZoneInfo(calendar["tz"] or "UTC")
    day = holiday_after(today)
    start = datetime.combine(day, time(0)).replace(tzinfo=zone).astimezone(timezone.utc)
    end = datetime.combine(day, time(23, 59, 59)).replace(tzinfo=zone).astimezone(timezone.utc)
    c.call("resource.calendar.leaves", "create", [[{
        "name": HOLIDAY_NAME, "company_id": company["id"], "calendar_id": False, "resource_id": False,
        "date_from": start.strftime("%Y-%m-%d %H:%M:%S"), "date_to": end.strftime("%Y-%m-%d %H:%M:%S")}]])
    demo = c.call("res.users", "search", [[("login", "=", os.environ.get("ODOO_DEMO_USER", "demo"))]])
    c.call("res.users", "write", [demo, {"tz": DEMO_TZ}])
    log.info("public holiday on %s (%s), demo user in %s", day, calendar["tz"], DEMO_TZ)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    s = ConnectionSettings(url=os.environ["ODOO_URL"], db=os.environ["ODOO_DB"],
                           login=os.environ["ODOO_USER"], password=os.environ["ODOO_PASSWORD"],
                           transport="xmlrpc")
    c = OdooClient(s)
    c.load_fields(["account.move", "project.task"])
    seed_working_time(c, date.today())
    if c.call("account.move", "search_count", [[("ref", "like", "CCSEED")]]):
        log.info("already seeded")
        return 0
    today = date.today()
    customers = c.call("res.partner", "search_read", [], {
        "domain": [("is_company", "=", True), ("customer_rank", ">", 0), ("parent_id", "=", False)],
        "fields": ["id", "name"], "order": "id asc", "limit": 6})
    if len(customers) < 6:
        customers = c.call("res.partner", "search_read", [], {
            "domain": [("is_company", "=", True), ("parent_id", "=", False), ("id", ">", 3)],
            "fields": ["id", "name"], "order": "id asc", "limit": 6})
    users = c.call("res.users", "search_read", [], {"domain": [("share", "=", False)],
                                                   "fields": ["id", "login"], "order": "id asc"})
    demo = next((u["id"] for u in users if u["login"] == "demo"), users[-1]["id"])
    for i, cust in enumerate(customers):  # salespeople: demo user for half, admin for the rest
        c.call("res.partner", "write", [[cust["id"]], {"user_id": demo if i % 2 == 0 else 2,
                                                        "customer_rank": 1}])
    income = c.call("account.account", "search_read", [], {
        "domain": [("account_type", "=", "income")], "fields": ["id"], "limit": 1})[0]["id"]
    journal = c.call("account.journal", "search_read", [], {
        "domain": [("type", "=", "sale")], "fields": ["id", "company_id"], "limit": 1, "order": "id asc"})[0]
    for n, (ci, ago, term, amount, paid) in enumerate(INVOICES):
        inv_date = today - timedelta(days=ago)
        due = inv_date + timedelta(days=term)
        move = c.call("account.move", "create", [[{
            "move_type": "out_invoice", "partner_id": customers[ci]["id"], "journal_id": journal["id"],
            "invoice_date": inv_date.isoformat(), "invoice_date_due": due.isoformat(),
            "ref": f"CCSEED-{n}", "invoice_user_id": demo if ci % 2 == 0 else 2,
            "invoice_line_ids": [(0, 0, {"name": f"Consulting ({n})", "quantity": 1,
                                         "price_unit": amount, "account_id": income,
                                         "tax_ids": [(6, 0, [])]})]}]])
        move_id = move[0] if isinstance(move, list) else move
        c.call("account.move", "write", [[move_id], {"invoice_date_due": due.isoformat()}])
        c.call("account.move", "action_post", [[move_id]])
        if paid is None:
            continue
        if paid == "partial":
            pay_date, pay_amount = due - timedelta(days=2), round(amount / 2, 2)
        else:
            pay_date, pay_amount = due + timedelta(days=paid), amount
        ctx = c.context(active_model="account.move", active_ids=[move_id])
        wiz = c.call("account.payment.register", "create", [{"payment_date": pay_date.isoformat(),
                                                             "amount": pay_amount}], {"context": ctx})
        wiz_id = wiz[0] if isinstance(wiz, list) else wiz
        c.call("account.payment.register", "action_create_payments", [[wiz_id]], {"context": ctx})
        log.info("invoice %s for %s: %s", move_id, customers[ci]["name"], paid)
    # a credit note for the first customer
    refund = c.call("account.move", "create", [[{
        "move_type": "out_refund", "partner_id": customers[0]["id"], "journal_id": journal["id"],
        "invoice_date": (today - timedelta(days=30)).isoformat(), "ref": "CCSEED-refund",
        "invoice_line_ids": [(0, 0, {"name": "Goodwill", "quantity": 1, "price_unit": 300.0,
                                     "account_id": income, "tax_ids": [(6, 0, [])]})]}]])
    c.call("account.move", "action_post", [[refund[0] if isinstance(refund, list) else refund]])
    # late and at-risk tasks on projects with a client
    is_datetime = c.profile.ftype("project.task", "date_deadline") == "datetime"
    open_domain = ([("state", "not in", ["1_done", "1_canceled"])] if c.profile.has("project.task", "state")
                   else [("stage_id.fold", "=", False)])
    tasks = c.call("project.task", "search_read", [], {
        "domain": [("project_id", "!=", False)] + open_domain, "fields": ["id", "project_id"],
        "order": "id asc", "limit": 8})
    offsets = [-40, -20, -9, -3, 2, 5, -15, 20]
    for task, off in zip(tasks, offsets):
        d = today + timedelta(days=off)
        value = f"{d.isoformat()} 10:00:00" if is_datetime else d.isoformat()
        c.call("project.task", "write", [[task["id"]], {"date_deadline": value, "user_ids": [(6, 0, [demo])]}])
    projects = c.call("project.project", "search_read", [], {"domain": [], "fields": ["id"], "order": "id asc"})
    for p, cust in zip(projects[:3], customers[:3]):
        c.call("project.project", "write", [[p["id"]], {"partner_id": cust["id"]}])
    log.info("seeded %d invoices, 1 credit note, %d tasks", len(INVOICES), len(tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
