"""Never a sum across currencies, on the recorded Odoo 16-19 (issue "Language and money").

tests/seed_odoo.py gives each database a second company in EUR ("CCSEED Europe") and a client
("CCSEED Europa Trading", CCSEED Jonas's) owing the main USD company 2,500 and 480 USD and 730
EUR, and the EUR company 1,000 EUR, all overdue.  Whatever ``audit`` (text, JSON, HTML, and in
German), ``explain`` and ``sync`` (the activities and notes it writes) show of that client, no
amount is a sum of amounts in two currencies (invoice currencies, or company currencies of two
companies), and every amount stands next to its currency.  A total in one company's currency
from Odoo's own signed residuals is allowed: that is one currency.
"""
from __future__ import annotations

import html
import json
import re
from itertools import combinations

import pytest

from clientcare.connector.client import OdooClient
from clientcare.connector.facts import ours
from clientcare.jobs import sync as sync_job
from clientcare.rules.testing import visible

from test_calm_cassettes import open_ours
from test_cli import invoke
from test_people_cassettes import cli_env, fresh_start
from conftest import recorded_profile

RULES = ("late_payment", "follow_up", "fit_checklist")
#: An amount with two decimals, as English, French or German writes it ("3,548.80", "3 548,80",
#: "3.548,80"); not a percentage.
AMOUNT = re.compile(r"(?<![\d.,])\d{1,3}(?:[,.\u00a0\u202f ]\d{3})*[.,]\d{2}(?![\d%]|[./]\d)")  # not a date (07.12.2026)
#: A currency as an amount's neighbour: ISO code or symbol ("USD", "$US", "$", "€").
CURRENCY = re.compile(r"USD|EUR|\$|€")


@pytest.fixture
def tidy(odoo):
    """The scenario leaves the database as it found it (its activities and notes removed)."""
    yield
    fresh_start(OdooClient(odoo.settings()))


def mixed_sums(invoices: list[dict]) -> set[int]:
    """In cents, every sum of some of ``invoices`` that adds two currencies: invoice amounts of
    two currencies, or company-currency amounts of two companies; less any amount such a
    sum happens to share with a sum in one currency."""
    items = [(i["currency_id"][1], i["company_id"][0], round(i["amount_residual"] * 100),
              round(abs(i["amount_residual_signed"]) * 100)) for i in invoices]
    mixed, single = set(), set()
    for n in range(1, len(items) + 1):
        for combo in combinations(items, n):
            (mixed if len({c[0] for c in combo}) > 1 else single).add(sum(c[2] for c in combo))
            (mixed if len({c[1] for c in combo}) > 1 else single).add(sum(c[3] for c in combo))
    return mixed - single


def problems(text: str, forbidden: set[int]) -> list[str]:
    """The amounts in ``text`` that sum two currencies, or stand without a currency."""
    out = []
    for m in AMOUNT.finditer(text):
        if int(re.sub(r"\D", "", m.group())) in forbidden:
            out.append(f"sum of two currencies: {text[max(0, m.start() - 40):m.end() + 10]!r}")
        near = text[max(0, m.start() - 5):m.start()] + text[m.end():m.end() + 5]
        if not CURRENCY.search(near):
            out.append(f"no currency: {text[max(0, m.start() - 40):m.end() + 10]!r}")
    return out


def json_problems(value, forbidden: set[int]) -> list[str]:
    """:func:`problems` of every text in a JSON value, and its numbers that sum two currencies."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in json_problems(v, forbidden)]
    if isinstance(value, list):
        return [p for v in value for p in json_problems(v, forbidden)]
    if isinstance(value, str):
        return problems(visible(value), forbidden)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and round(value * 100) in forbidden:
        return [f"sum of two currencies: {value}"]
    return []


def text_of(markup: str) -> str:
    """HTML as a person reads it: tags as spaces, entities decoded, names without isolates."""
    return visible(html.unescape(re.sub(r"<[^>]+>", " ", markup or "")))


def client_section(report: str, name: str) -> str:
    """The HTML report's section of one client: from its heading to the next heading."""
    heading = re.search(rf"<h3[^>]*>(?:(?!</h3>).)*{re.escape(name)}(?:(?!</h3>).)*</h3>", report, re.S)
    assert heading, f"no section of {name} in the HTML report"
    end = re.compile(r"<h[1-3][ >]").search(report, heading.end())
    return report[heading.start():end.start() if end else len(report)]


@pytest.mark.own_recording_time
def test_no_output_sums_two_currencies(odoo, cassette, tidy, tmp_path, monkeypatch):
    profile = recorded_profile(odoo, tmp_path, "money-run", monkeypatch, builtin=RULES, talking_points=True,
                               extra="max_new_per_person_per_day = 0\n")
    as_of = odoo.recorded_at.date()
    admin = OdooClient(profile.connection())
    fresh_start(admin)
    client, = admin.call("res.partner", "search_read", [[("ref", "=", "CCSEED-currencies")]], {"fields": ["name"]})
    invoices = admin.call("account.move", "search_read", [], {
        "domain": [("partner_id", "=", client["id"]), ("move_type", "=", "out_invoice"), ("state", "=", "posted"),
                   ("payment_state", "in", ["not_paid", "partial"])],
        "fields": ["amount_residual", "amount_residual_signed", "currency_id", "company_id"]})
    assert {i["currency_id"][1] for i in invoices} == {"USD", "EUR"}, invoices
    assert len({i["company_id"][0] for i in invoices}) == 2, "an EUR company and the USD one"
    forbidden = mixed_sums(invoices)
    name, day = client["name"], ["--as-of", as_of.isoformat()]
    env = {**cli_env(odoo, tmp_path), "LC_ALL": "C.UTF-8"}  # English, whatever the shell's locale
    found: dict[str, list[str]] = {}

    reports = {}
    for fmt in ("text", "json", "html"):
        out = tmp_path / f"audit.{fmt}"
        result = invoke(["audit", *day, "--format", fmt, "-o", str(out)], env=env)
        assert result.exit_code == 0, result.output
        reports[fmt] = out.read_text(encoding="utf-8")
    lines = [line for line in visible(reports["text"]).splitlines() if name in line]
    assert any("EUR" in line and "USD" in line for line in lines), lines  # per currency, side by side
    found["audit text"] = [p for line in lines for p in problems(line, forbidden)]
    findings = [f for f in json.loads(reports["json"])["findings"] if f.get("client_id") == client["id"]]
    assert findings
    found["audit json"] = json_problems(findings, forbidden)
    found["audit html"] = problems(text_of(client_section(reports["html"], name)), forbidden)
    for currency in ("EUR", "USD"):  # the age chart: one series per currency, never one bar of both
        assert re.search(rf"31–60 days \({currency}\)", reports["html"]), currency
    explained = invoke(["explain", str(client["id"]), *day], env=env)
    assert explained.exit_code in (0, 1), explained.output
    found["explain"] = problems(visible(explained.output), forbidden)

    summary = sync_job.sync(profile, as_of=as_of)
    assert summary.exit_code == 0, (summary.error, summary.write_errors)
    written = [a for rule in RULES for a in open_ours(admin, rule)
               if (a["res_model"], a["res_id"]) == ("res.partner", client["id"])]
    assert any(a["key"].startswith("late_payment:") for a in written), written
    notes = admin.call("mail.message", "search_read", [], {
        "domain": [("model", "=", "res.partner"), ("res_id", "=", client["id"]), ours("body")], "fields": ["body"]})
    found["sync"] = [p for a in written
                     for p in problems(text_of(a["summary"]) + " \n " + text_of(a["note"]), forbidden)]
    found["sync notes"] = [p for m in notes for p in problems(text_of(m["body"]), forbidden)]

    german = tmp_path / "audit.de.txt"  # a locale's own formats ("1.000,00 €") add nothing either
    result = invoke(["audit", *day, "--lang", "de", "-o", str(german)], env=env)
    assert result.exit_code == 0, result.output
    found["audit text de"] = [p for line in visible(german.read_text(encoding="utf-8")).splitlines()
                              if name in line for p in problems(line, forbidden)]
    assert not {k: v for k, v in found.items() if v}, found
