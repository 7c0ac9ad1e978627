"""Give a live Odoo demo database the situations the rules look for, through the API.

Odoo's demo data has few overdue invoices and no payment history, so before
recording cassettes (and the demo snapshot) this script adds, relative to
today: invoices 5–120 days overdue, invoices paid late and on time, a partial
payment, a credit note, late and at-risk tasks, and salespeople on clients.
It runs once per database (it looks for its own ``CCSEED`` references).  Working time is
seeded apart (also on a database seeded before it existed): a public holiday on the first
Tuesday, Wednesday or Thursday after today (:func:`holiday_after`), a whole day in the company
calendar's time zone, and the demo user in another time zone than that calendar's
(:data:`DEMO_TZ`).  Languages and money likewise (each step once, looked up by its own
references): French and German installed, a salesperson speaking each with a client, an overdue
invoice and a late task of their own (:data:`PEOPLE`), a second company in EUR with the generic
chart of accounts, and a client owing USD and EUR to the main company and EUR to the second one
(:data:`EUR_CLIENT_INVOICES`).

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
    today = date.today()
    seed_working_time(c, today)
    seed_base(c, today)
    seed_languages(c, s)
    seed_people(c, today)
    seed_currencies(c, s, today)
    return 0


def seed_base(c: OdooClient, today: date) -> None:
    """Overdue, late-paid and partly paid invoices, a credit note, late tasks; once per database."""
    if c.call("account.move", "search_count", [[("ref", "like", "CCSEED-")]]):
        log.info("already seeded")
        return
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



# -- languages, people of their own, a second currency (issue "Language and money") -----------

#: The languages installed besides English, and the salespeople who speak them: each the
#: salesperson of a client of their own with an invoice :data:`OVERDUE_DAYS` overdue and a task
#: :data:`LATE_DAYS` late (under unmet_deadlines' ``escalate_after_days``: it stays theirs).
LANGS = ("fr_FR", "de_DE")
PEOPLE = {  # login: (name, lang, client, amount in the main company's currency)
    "ccseed-camille": ("CCSEED Camille", "fr_FR", "CCSEED Boulangerie Dupont", 12345.67),
    "ccseed-jonas": ("CCSEED Jonas", "de_DE", "CCSEED Brandt GmbH", 1234.56),
}
OVERDUE_DAYS, LATE_DAYS = 40, 5
#: The second company, its currency and the client owing money in two currencies (Jonas's):
#: (company, currency, amount, days overdue) per invoice; ``None`` is the main (USD) company.
EUR_COMPANY = "CCSEED Europe"
EUR_CLIENT = "CCSEED Europa Trading"
EUR_CLIENT_INVOICES = [(None, None, 2500.0, 40), (None, None, 480.0, 20), (None, "EUR", 730.0, 45),
                       (EUR_COMPANY, "EUR", 1000.0, 40)]
#: 16's demo data has EUR at 1.0 to USD: another rate, so no conversion equals a plain sum.
EUR_RATE = 1.2834


def _id(result) -> int:
    return result[0] if isinstance(result, list) else result


def _xmlid(c: OdooClient, xmlid: str) -> int | None:
    module, name = xmlid.split(".")
    rows = c.call("ir.model.data", "search_read", [[("module", "=", module), ("name", "=", name)]],
                  {"fields": ["res_id"], "limit": 1})
    return rows[0]["res_id"] if rows else None


def _void(s: ConnectionSettings) -> OdooClient:
    """A JSON-RPC session: XML-RPC cannot carry a method's ``None`` answer (try_loading)."""
    from dataclasses import replace
    return OdooClient(replace(s, transport="jsonrpc"))


def seed_languages(c: OdooClient, s: ConnectionSettings) -> None:
    """French and German installed, with Odoo's translations (takes a while)."""
    missing = [code for code in LANGS if not c.call("res.lang", "search_count", [[("code", "=", code),
                                                                                ("active", "=", True)]])]
    if not missing:
        log.info("languages already installed")
        return
    ids = c.call("res.lang", "search", [[("code", "in", missing)]])
    j = _void(s)
    wizard = _id(j.call("base.language.install", "create", [{"lang_ids": [(6, 0, ids)], "overwrite": False}]))
    j.call("base.language.install", "lang_install", [[wizard]])
    log.info("installed %s", ", ".join(missing))


def _income_and_journal(c: OdooClient, company_id: int, ctx: dict) -> tuple[int, int]:
    """An income account and the first sale journal of ``company_id`` (``ctx``: that company)."""
    income = c.call("account.account", "search", [[("account_type", "=", "income")]],
                    {"limit": 1, "order": "id asc", "context": ctx})[0]
    journal = c.call("account.journal", "search", [[("type", "=", "sale"), ("company_id", "=", company_id)]],
                     {"limit": 1, "order": "id asc", "context": ctx})[0]
    return income, journal


def _overdue_invoice(c: OdooClient, ctx: dict, partner: int, user: int, journal: int, income: int,
                     amount: float, days: int, ref: str, today: date, currency: int | None = None) -> int:
    """A posted customer invoice ``days`` overdue (30-day term)."""
    due = today - timedelta(days=days)
    vals = {"move_type": "out_invoice", "partner_id": partner, "journal_id": journal,
            "invoice_date": (due - timedelta(days=30)).isoformat(), "invoice_date_due": due.isoformat(),
            "ref": ref, "invoice_user_id": user,
            "invoice_line_ids": [(0, 0, {"name": f"Consulting ({ref})", "quantity": 1, "price_unit": amount,
                                         "account_id": income, "tax_ids": [(6, 0, [])]})]}
    if currency:
        vals["currency_id"] = currency
    move = _id(c.call("account.move", "create", [[vals]], {"context": ctx}))
    c.call("account.move", "write", [[move], {"invoice_date_due": due.isoformat()}], {"context": ctx})
    c.call("account.move", "action_post", [[move]], {"context": ctx})
    return move


def _user(c: OdooClient, login: str, name: str, lang: str) -> int:
    """An internal user (salesperson, project user, billing) speaking ``lang``."""
    found = c.call("res.users", "search", [[("login", "=", login)]])
    if found:
        return found[0]
    groups = [g for g in (_xmlid(c, x) for x in ("base.group_user", "sales_team.group_sale_salesman",
                                                  "project.group_project_user", "account.group_account_invoice"))
              if g]
    field = "group_ids" if c.profile.major >= 19 else "groups_id"
    return _id(c.call("res.users", "create", [[{"name": name, "login": login, "lang": lang,
                                                  "email": f"{login}@example.com", field: [(6, 0, groups)]}]]))


def seed_people(c: OdooClient, today: date) -> None:
    """Camille (French) and Jonas (German), each the salesperson of a client of their own with an
    invoice 40 days overdue and a project with a task 5 days late; once per database."""
    if c.call("res.partner", "search_count", [[("ref", "in", [f"CCSEED-{login}" for login in PEOPLE])]]) == len(PEOPLE):
        log.info("people already seeded")
        return
    ctx = c.context()
    income, journal = _income_and_journal(c, c.company_ids[0], ctx)
    is_datetime = c.profile.ftype("project.task", "date_deadline") == "datetime"
    for login, (name, lang, client, amount) in PEOPLE.items():
        uid = _user(c, login, name, lang)
        partner = _id(c.call("res.partner", "create", [[{"name": client, "is_company": True, "user_id": uid,
                                                          "customer_rank": 1, "ref": f"CCSEED-{login}"}]]))
        _overdue_invoice(c, ctx, partner, uid, journal, income, amount, OVERDUE_DAYS, f"CCSEED-{login}", today)
        project = _id(c.call("project.project", "create", [[{"name": f"{client} website", "partner_id": partner,
                                                              "user_id": uid}]]))
        d = (today - timedelta(days=LATE_DAYS)).isoformat()
        c.call("project.task", "create", [[{"name": f"{client}: launch page", "project_id": project,
                                            "user_ids": [(6, 0, [uid])],
                                            "date_deadline": f"{d} 10:00:00" if is_datetime else d}]])
        log.info("%s (%s): client %s, invoice %s overdue, task %s days late", name, lang, client, amount, LATE_DAYS)


def _eur_company(c: OdooClient, s: ConnectionSettings, eur: int) -> int:
    """The second company, in EUR, with the generic chart of accounts (16: l10n_generic_coa's
    template; 17+: ``generic_coa``), visible to the admin and ClientCare's bot user (its
    allowed companies)."""
    found = c.call("res.company", "search", [[("name", "=", EUR_COMPANY)]])
    if found:
        return found[0]
    # no country: a company in a new country installs that country's modules (19: account_peppol
    # for France, needing a Python package the servers lack); the generic chart makes it American
    company = _id(c.call("res.company", "create", [[{"name": EUR_COMPANY, "currency_id": eur}]]))
    users = c.call("res.users", "search", [[("login", "in", [s.login, os.environ.get("ODOO_BOT_USER", "ccbot")])]])
    c.call("res.users", "write", [users, {"company_ids": [(4, company)]}])
    c._company_ids = None
    j = _void(s)
    ctx = {"allowed_company_ids": [company], "lang": "en_US"}
    if c.profile.major <= 16:
        template = _xmlid(c, "l10n_generic_coa.configurable_chart_template")
        j.call("account.chart.template", "try_loading", [[template]], {"company": False, "install_demo": False,
                                                                        "context": ctx})
    else:
        j.call("account.chart.template", "try_loading", [[], "generic_coa", company], {"install_demo": False,
                                                                                     "context": ctx})
    # loading the chart sets the template's (16) or the country's currency: EUR, before any entry
    c.call("res.company", "write", [[company], {"currency_id": eur}], {"context": ctx})
    log.info("company %s (EUR) with the generic chart of accounts", EUR_COMPANY)
    return company


def seed_currencies(c: OdooClient, s: ConnectionSettings, today: date) -> None:
    """A second company in EUR, and a client (Jonas's) owing USD and EUR to the main company and
    EUR to the second one; once per database."""
    if c.call("res.partner", "search_count", [[("ref", "=", "CCSEED-currencies")]]):
        log.info("currencies already seeded")
        return
    eur = c.call("res.currency", "search", [[("name", "=", "EUR")]])[0]
    c.call("res.currency", "write", [[eur], {"active": True}])
    main_company = c.company_ids[0]
    if c.profile.major <= 16:
        c.call("res.currency.rate", "create", [[{"currency_id": eur, "company_id": main_company, "rate": EUR_RATE,
                                                 "name": f"{today.year - 1}-01-01"}]])
    company = _eur_company(c, s, eur)
    jonas = c.call("res.users", "search", [[("login", "=", "ccseed-jonas")]])[0]
    client = _id(c.call("res.partner", "create", [[{"name": EUR_CLIENT, "is_company": True, "user_id": jonas,
                                                     "customer_rank": 1, "company_id": False}]]))
    for n, (where, currency, amount, days) in enumerate(EUR_CLIENT_INVOICES):
        company_id = company if where else main_company
        ctx = c.context(allowed_company_ids=[company_id])
        income, journal = _income_and_journal(c, company_id, ctx)
        _overdue_invoice(c, ctx, client, jonas, journal, income, amount, days, f"CCSEED-currency-{n}", today,
                         currency=eur if currency == "EUR" and not where else None)
    c.call("res.partner", "write", [[client], {"ref": "CCSEED-currencies"}])
    log.info("client %s: %s", EUR_CLIENT, EUR_CLIENT_INVOICES)


if __name__ == "__main__":
    sys.exit(main())
