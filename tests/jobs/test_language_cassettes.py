"""Each person's language, on the recorded Odoo 16-19 (issue "Language and money"): French and
German installed, a salesperson speaking each (tests/seed_odoo.py: CCSEED Camille, fr_FR, and
CCSEED Jonas, de_DE, each with a client 40 days overdue and a task 5 days late of their own).

Sync writes each one's activities in their language, amounts and dates as that locale writes them
(Babel's CLDR data, the oracle here: "12 345,67 $US", "1.234,56 $", "28 oct. 2026", "28.10.2026");
a second sync writes nothing; a person switching language gets each open activity rewritten once
(the fingerprint does not depend on the language), then nothing.  The French and German words
come from the shipped catalogs: the test asserts the formats, the marker's language and that the
English words of the summary are gone, not the translated sentences.
"""
from __future__ import annotations

import html
import re

import pytest
from babel.dates import format_date
from babel.numbers import format_currency

from clientcare.connector.client import OdooClient
from clientcare.connector.facts import MARKER_PREFIX
from clientcare.jobs import sync as sync_job
from clientcare.rules.testing import visible

from seed_odoo import PEOPLE
from test_calm_cassettes import changes, open_ours
from test_people_cassettes import first_sync, fresh_start

RULES = ("late_payment", "unmet_deadlines")
#: Words of the English summaries (late_payment's "manager: review the account of ...: 1 invoice
#: 30+ days overdue (...)", unmet_deadlines' "...: 1 task past deadline since ..."): none may be
#: left in a French or German one.
ENGLISH = re.compile(r"\b(review|account|invoices?|overdue|days|tasks?|past|deadline|since|call|reminder)\b", re.I)


@pytest.fixture
def tidy(odoo):
    """The scenario leaves the database as it found it (its activities removed)."""
    yield
    fresh_start(OdooClient(odoo.settings()))


def flat(text: str | None) -> str:
    """What a person reads: HTML entities decoded, bidi isolates removed, every kind of space
    (CLDR's narrow no-break space in "12 345,67") one plain space."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", visible(html.unescape(text or "")))


def person(admin: OdooClient, login: str) -> int:
    return admin.call("res.users", "search", [[("login", "=", login)]])[0]


def theirs(admin: OdooClient, uid: int) -> list[dict]:
    """The open ClientCare activities of the payment and deadline rules assigned to ``uid``."""
    return [a for rule in RULES for a in open_ours(admin, rule) if a["user_id"][0] == uid]


def marker_lang(note: str) -> str | None:
    """The language the marker says the note was written in (``lang=fr_FR``)."""
    comment = note[note.index(MARKER_PREFIX):].split("-->", 1)[0]
    found = re.search(r"\blang=(\S+)", comment)
    return found.group(1) if found else None


def client_of(admin: OdooClient, login: str) -> int:
    return admin.call("res.partner", "search", [[("ref", "=", f"CCSEED-{login}")]])[0]


def assert_in_language(admin: OdooClient, uid: int, login: str, lang: str) -> list[dict]:
    """``uid``'s payment and deadline activities about their own client are written in ``lang``:
    the marker says so, the amount and the due date of the overdue invoice and the task's
    deadline are in that locale's formats, and no English word of the summary is left."""
    client = client_of(admin, login)
    acts = theirs(admin, uid)
    assert {a["key"].split(":", 1)[0] for a in acts} == set(RULES), acts
    for a in acts:
        assert marker_lang(a["note"]) == lang, (a["key"], a["note"][-200:])
        assert not ENGLISH.search(flat(a["summary"])), (lang, a["summary"])
    invoice = admin.call("account.move", "search_read", [], {
        "domain": [("partner_id", "=", client), ("move_type", "=", "out_invoice"), ("state", "=", "posted")],
        "fields": ["amount_residual", "currency_id", "invoice_date_due"], "limit": 1})[0]
    payment = next(a for a in acts if a["key"] == f"late_payment:res.partner:{client}")
    amount = flat(format_currency(invoice["amount_residual"], invoice["currency_id"][1], locale=lang))
    assert amount in flat(payment["summary"]), (amount, payment["summary"])
    due = format_date(_day(invoice["invoice_date_due"]), "medium", locale=lang)
    assert flat(due) in flat(payment["note"]), (due, payment["note"])
    assert str(invoice["invoice_date_due"])[:10] not in flat(payment["summary"] + payment["note"]), "an ISO date"
    task = admin.call("project.task", "search_read", [], {
        "domain": [("project_id.partner_id", "=", client), ("user_ids", "in", [uid])],
        "fields": ["date_deadline", "project_id"], "limit": 1})[0]
    late = next(a for a in acts if a["key"].startswith("unmet_deadlines:") and a["res_id"] == task["project_id"][0])
    deadline = format_date(_day(task["date_deadline"]), "medium", locale=lang)
    assert flat(deadline) in flat(late["summary"] + " " + late["note"]), (deadline, late["summary"])
    return acts


def _day(value):
    from datetime import date
    return date.fromisoformat(str(value)[:10])


@pytest.mark.own_recording_time
def test_each_salesperson_reads_their_activities_in_their_language_and_a_switch_rewrites_them_once(
        odoo, cassette, tidy, tmp_path, monkeypatch):
    profile, as_of, admin, first, keys = first_sync(
        odoo, tmp_path, monkeypatch, "lang-run", builtin=RULES, talking_points=True,
        extra="max_new_per_person_per_day = 0\n")
    people = {login: person(admin, login) for login in PEOPLE}
    for login, (_name, lang, _client, _amount) in PEOPLE.items():
        assert_in_language(admin, people[login], login, lang)

    second = sync_job.sync(profile, as_of=as_of)
    assert second.exit_code == 0 and not any((second.applied or {}).values()), second.plan["changes"]

    jonas = people["ccseed-jonas"]
    before = {a["key"]: a["id"] for a in theirs(admin, jonas)}
    admin.call("res.users", "write", [[jonas], {"lang": "fr_FR"}])
    try:
        switched = sync_job.sync(profile, as_of=as_of)
        assert switched.exit_code == 0, (switched.error, switched.write_errors)
        assert changes(switched) == {k: "update" for k in before}, "each of his open activities, nobody else's"
        after = assert_in_language(admin, jonas, "ccseed-jonas", "fr_FR")
        assert {a["key"]: a["id"] for a in after} == before, "rewritten in place, not replaced"
        third = sync_job.sync(profile, as_of=as_of)
        assert third.exit_code == 0 and not any((third.applied or {}).values()), third.plan["changes"]
    finally:
        admin.call("res.users", "write", [[jonas], {"lang": PEOPLE["ccseed-jonas"][1]}])
