"""What lands in Odoo speaks its reader's language, and reads as a colleague would write it.

Every kind of note of every built-in rule is rendered in a pseudo language (each message
``⟦msgid⟧``): a text outside ⟦⟧ that is not data is an untranslated word; a model name, a record
reference or a setting name is never shown.  The language is the owner's, else their company's,
else English; the marker remembers it, so a switch rewrites an open activity once.
"""
from __future__ import annotations

import dataclasses
import html
import importlib
import re
from datetime import date, timedelta

import pytest
from babel import Locale

from clientcare.connector.demo import demo_as_of, demo_snapshot
from clientcare.connector.facts import FEEDBACK_PREFIX, compose_marker, parse_marker
from clientcare.jobs import health_history
from clientcare.jobs.config import Profile
from clientcare.jobs.sync import languages
from clientcare.jobs.writeback import WriteBack, done_feedback, evidence_table
from clientcare.rules import i18n, run_rules
from clientcare.rules.bidi import isolate, strip_controls
from clientcare.rules.testing import builtin_rules, pseudo_language
from clientcare.connector.snapshot import Snapshot
from odoo_double import OdooDouble
from writeback_findings import finding

PSEUDO = "fr_FR"
#: The test findings' own messages (a rule's, as the rules write them), added to the pseudo catalog.
SUMMARY = "call {client}: {n} invoices overdue"
HEADINGS = {"invoice": "invoice", "partner": "client", "amount_due": "amount due", "days_late": "days late"}
EXTRA = (SUMMARY, *HEADINGS.values())


@pytest.fixture
def pseudo(tmp_path):
    """Every ClientCare message as ``⟦msgid⟧`` in :data:`PSEUDO` (French formats)."""
    with pseudo_language(tmp_path, "fr", pieces=False, extra=EXTRA):
        yield PSEUDO

def spoken(i: int, **kw):
    """A test finding that speaks through messages, as the converted rules' findings do."""
    f = finding(i, **kw)
    summary = i18n._(SUMMARY, client=isolate(f.subject_name), n=2)
    view = i18n.EvidenceView(labels={c: i18n.N_(h) for c, h in HEADINGS.items()},
                             links={"invoice": ("account.move", "invoice_id")})
    return dataclasses.replace(f, summary=summary, action=dataclasses.replace(f.action, summary=summary), view=view)


def setting_names() -> set[str]:
    names = {f.name for f in dataclasses.fields(Profile)}
    for rule in sorted(builtin_rules().rules):
        config = getattr(importlib.import_module(f"clientcare.rules.builtin.{rule}"), "Config", None)
        if config is not None:
            names |= {f.name for f in dataclasses.fields(config)}
    return {n for n in names if "_" in n}  # one-word names ("lang", "url") are words, not keys


MODEL = re.compile(r"\b[a-z_]+\.[a-z_.]+\b")
REFERENCE = re.compile(r"\b[a-z_]+\.[a-z_.]+,\s*\d+")


def visible(text: str) -> str:
    return strip_controls(html.unescape(re.sub(r"<!--.*?-->|<[^>]*>", " ", text or "", flags=re.S)))


def outside(text: str) -> str:
    """The text outside every ⟦…⟧ (nested ones too).  A summary shortened in the middle ("…")
    leaves brackets open in its head and closed in its tail: each side is balanced first."""
    parts = text.split("…")
    for i in range(len(parts)):
        opened = closed = 0
        for ch in parts[i]:
            if ch == "⟦":
                opened += 1
            elif ch == "⟧":
                if opened:
                    opened -= 1
                else:
                    closed += 1
        parts[i] = "⟦" * closed + parts[i] + "⟧" * opened
    text = " … ".join(parts)
    while True:
        shorter = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
        if shorter == text:
            return text
        text = shorter


def data_words(snapshot: Snapshot | None, extra=()) -> set[str]:
    """Words that are data: names from Odoo, currency symbols and codes, the locale's month names."""
    words = {"ClientCare"}
    texts = list(extra)
    if snapshot is not None:
        for table, column in (("partners", "name"), ("users", "name"), ("projects", "name"), ("tasks", "name"),
                              ("task_stages", "name"), ("moves", "name"), ("companies", "name"),
                              ("currencies", "name"), ("activities", "summary")):  # what people wrote
            frame = snapshot.tables.get(table)
            if frame is not None and column in frame:
                texts += [str(v) for v in frame[column].dropna()]
    locale = Locale.parse("fr")
    texts += list(locale.months["format"]["abbreviated"].values()) + list(locale.months["format"]["wide"].values())
    for code in ("USD", "EUR", "GBP", "CHF", "CAD"):
        texts += [code, i18n.money(1, code).render(PSEUDO)]
    for t in texts:
        words |= set(re.findall(r"[^\W\d_]+", t))
    return words


def problems(text: str, allowed: set[str], settings: set[str]) -> list[str]:
    shown = visible(text)
    out = [f"model name {m!r}" for m in MODEL.findall(shown)]
    out += [f"record reference {m!r}" for m in REFERENCE.findall(shown)]
    out += [f"setting name {s!r}" for s in settings if re.search(rf"\b{re.escape(s)}\b", shown)]
    out += [f"untranslated {w!r}" for w in re.findall(r"[^\W\d_]{2,}", outside(shown)) if w not in allowed]
    return out


def written(odoo: OdooDouble) -> list[str]:
    """Every text ClientCare put in Odoo: activity summaries and notes, notes, done feedback."""
    out = []
    for act in odoo.records["mail.activity"].values():
        out += [act.get("summary") or "", act.get("note") or "", act.get("feedback") or ""]
    for msg in odoo.records["mail.message"].values():
        if not msg.get("mail_activity_type_id"):  # Odoo's own "activity done" messages are Odoo's words
            out.append(msg.get("body") or "")
    return out


@pytest.mark.parametrize("rule", sorted(builtin_rules().rules))
def test_every_note_of_every_rule_speaks_the_readers_language(rule, pseudo, state, request):
    """The rule runs on the demo every two weeks for half a year, with its health history and its
    previous findings, and each run is written back: activities and notes created, updated and
    closed (with the rule's own word on how the situation went away)."""
    snap = demo_snapshot()
    day = demo_as_of(snap)
    odoo, previous, ops = OdooDouble(), {}, set()
    for k in range(12, -1, -1):
        as_of = day - timedelta(days=14 * k)
        result = run_rules(snap, as_of, {}, {}, registry=builtin_rules(), only=[rule], previous=previous,
                           history=health_history.load(state, odoo.scope))
        health_history.record(state, odoo.scope, f"run{k}", as_of, result.findings, 400)
        previous = {rule: [f.to_dict() for f in result.findings]}
        wb = WriteBack(odoo, state, f"run{k}", as_of=as_of, company_lang=pseudo, max_creations=10**6,
                       max_new_per_person_per_day=0)
        plan = wb.plan(result.findings, rules_run=result.rules_run, not_judged=result.not_judged,
                       resolved=result.resolved)
        wb.apply(plan)
        ops |= {it.op for it in plan.items}
    assert {"create"} <= ops and odoo.records["mail.activity"], f"the demo shows {rule} at work"
    wb = WriteBack(odoo, state, "last", as_of=day + timedelta(days=1), company_lang=pseudo)
    wb.apply(wb.plan([], rules_run={rule}))  # every open activity closed: the closing feedback
    allowed, settings = data_words(snap), setting_names()
    bad = {p for text in written(odoo) for p in problems(text, allowed, settings)}
    assert not bad, sorted(bad)


def test_the_write_backs_own_lines_speak_the_readers_language(pseudo, state):
    """Created, updated (a person gave it away), merged, closed, raised again after a person's
    "done", a chatter note: ClientCare's own words."""
    odoo = OdooDouble()
    first = [spoken(1, invoices=(11,)), spoken(2), spoken(3), spoken(4), spoken(6, invoices=(61,)),
             spoken(7, kind="note"), spoken(8)]
    wb = WriteBack(odoo, state, "run1", as_of=date(2026, 11, 22), company_lang=pseudo)
    wb.apply(wb.plan(first))
    act = next(a for a in odoo.open_activities() if a["res_id"] == 1001)
    act["user_id"] = [5, "Joel Willis"]  # a person gives it to a colleague
    for client in (1006, 1008):
        odoo.mark_done(next(a for a in odoo.open_activities() if a["res_id"] == client)["id"], "soon")
    later = [spoken(1, invoices=(11, 12)), dataclasses.replace(spoken(2, level=2), replaces=(first[1].key, first[2].key)),
             spoken(6, invoices=(61, 62)), spoken(7, kind="note"), spoken(8)]
    wb = WriteBack(odoo, state, "run2", as_of=date(2026, 11, 26), company_lang=pseudo,
                   user_names={2: "Mitchell Admin", 5: "Joel Willis"})
    plan = wb.plan(later, rules_run={"late_payment"})
    wb.apply(plan)
    assert {it.op for it in plan.items} >= {"update", "close", "merge", "create"}
    assert any("⟦new since your 'done' on" in a["summary"] for a in odoo.open_activities())
    assert any(m["body"].startswith("<p><strong>ClientCare</strong>: ⟦") for m in odoo.messages())
    wb = WriteBack(odoo, state, "run3", as_of=date(2026, 12, 2), company_lang=pseudo)
    wb.apply(wb.plan(later, rules_run={"late_payment"}))  # a week after the "done", still there
    assert any("⟦still open ⟦a week⟧ after your 'done' on" in a["summary"] for a in odoo.open_activities())
    allowed = data_words(None, ["Client", "Joel Willis", "Mitchell Admin", "INV", "soon"])  # "soon": a person's words
    texts = written(odoo)
    assert any(FEEDBACK_PREFIX + "⟦resolved: " in html.unescape(t) for t in texts)
    assert any(FEEDBACK_PREFIX + "⟦merged: " in html.unescape(t) for t in texts)
    bad = {p for text in texts for p in problems(text, allowed, setting_names())}
    assert not bad, sorted(bad)


# -- which language ---------------------------------------------------------------------------

def _snapshot(users, companies, partners):
    import pandas as pd
    return Snapshot({"users": pd.DataFrame(users), "companies": pd.DataFrame(companies),
                     "partners": pd.DataFrame(partners)}, {})


def test_the_language_is_the_users_else_their_companys_else_english():
    snap = _snapshot(
        users=[{"id": 2, "name": "A", "lang": "fr_FR", "company_id": 1},
               {"id": 3, "name": "B", "lang": False, "company_id": 2},
               {"id": 4, "name": "C", "lang": False, "company_id": 1}],
        companies=[{"id": 1, "name": "US", "partner_id": 1}, {"id": 2, "name": "DE", "partner_id": 9}],
        partners=[{"id": 1, "name": "US", "lang": False}, {"id": 9, "name": "DE", "lang": "de_DE"}])
    langs, company = languages(snap)
    assert langs == {2: "fr_FR", 3: "de_DE", 4: "en"} and company == "en"


def test_a_company_partner_the_pull_did_not_hold_is_read_once():
    calls = []

    class Client:
        transport = type("T", (), {"uid": 3})()

        def call(self, model, method, args, kwargs):
            calls.append((model, method, args))
            return [{"id": 9, "lang": "de_DE"}]

    snap = _snapshot(users=[{"id": 3, "name": "Bot", "lang": False, "company_id": 2}],
                     companies=[{"id": 2, "name": "DE", "partner_id": 9}], partners=[{"id": 1, "name": "x", "lang": False}])
    assert languages(snap, Client()) == ({3: "de_DE"}, "de_DE")
    assert calls == [("res.partner", "read", [[9]])]


def test_the_marker_remembers_the_language():
    assert parse_marker(compose_marker("k", "r", "0a", "ff", "fr_FR")).lang == "fr_FR"
    assert compose_marker("k", "r", "0a", "ff", "en_US") == compose_marker("k", "r", "0a", "ff")
    assert parse_marker(compose_marker("k", "r", "0a")).lang == "en_US"


def test_a_language_switch_rewrites_an_open_activity_once(pseudo, state):
    odoo = OdooDouble()
    found = [spoken(1), spoken(2, owner=3)]
    wb = WriteBack(odoo, state, "run1", as_of=date(2026, 11, 22))
    wb.apply(wb.plan(found))
    english = {a["id"]: (a["summary"], a["note"]) for a in odoo.open_activities()}
    fps = {a["id"]: parse_marker(a["note"]).fp for a in odoo.open_activities()}
    wb = WriteBack(odoo, state, "run2", as_of=date(2026, 11, 23), langs={2: pseudo})
    plan = wb.plan(found)
    assert [(it.op, it.reason) for it in plan.items] == [("update", "changed: language"), ("leave", "unchanged")]
    wb.apply(plan)
    act = next(a for a in odoo.open_activities() if a["user_id"] == 2)
    assert act["summary"].startswith("⟦") and parse_marker(act["note"]).lang == pseudo
    assert parse_marker(act["note"]).fp == fps[act["id"]]  # the English text's: the same
    again = WriteBack(odoo, state, "run3", as_of=date(2026, 11, 24), langs={2: pseudo}).plan(found)
    assert {it.op for it in again.items} == {"leave"}
    back = WriteBack(odoo, state, "run4", as_of=date(2026, 11, 25)).plan(found)  # back to English
    assert [it.reason for it in back.items if it.op == "update"] == ["changed: language"]
    other = next(a for a in odoo.open_activities() if a["user_id"] == 3)
    assert (other["summary"], other["note"]) == english[other["id"]]  # English readers: nothing changed


@pytest.mark.parametrize("body", [
    # 16-17: the feedback, then the note (labels in the language of who marked it done)
    '<div><p><span>Appel</span> fait<span>: </span><span>appeler X</span></p><div>payé demain</div>'
    '<div class="o_mail_note_title"><strong>Note d\'origine :</strong></div><div><p>appeler X</p>'
    '<!-- clientcare key=k run=r fp=00 --></div></div>',
    # 18-19: the note, then the feedback
    '<div><p><span>Anruf</span> erledigt<span>: </span><span>X anrufen</span></p>'
    '<div class="o_mail_note_title fw-bold">Ursprüngliche Notiz:</div><div><p>X anrufen</p>'
    '<!-- clientcare key=k run=r fp=00 --></div><div><div class="fw-bold">Rückmeldung:</div>payé demain</div></div>'])
def test_a_persons_feedback_is_read_in_any_language(body):
    assert done_feedback(body) == "payé demain"


def test_the_evidence_reads_as_a_colleague_would_show_it():
    view = i18n.EvidenceView(labels={"amount_due": i18n.N_("amount due")}, money={"amount_due": "currency"},
                             links={"invoice": ("account.move", "invoice_id")},
                             values={"payment_state": {"not_paid": i18n.N_("not paid")}})
    rows = [{"invoice": "INV/2026/0012", "invoice_id": 12, "amount_due": 1000.0, "currency": "EUR",
             "payment_state": "not_paid", "due": date(2026, 11, 2)}]
    table = evidence_table(rows, view=view, lang="de_DE")
    assert '<a href="/web#model=account.move&amp;id=12&amp;view_type=form"><bdi>INV/2026/0012</bdi></a>' in table
    assert "<td>1.000,00\xa0€</td>" in table and "<td>not paid</td>" in table and "<td>02.11.2026</td>" in table
    assert "<th>amount due</th>" in table and "currency" not in table and "invoice id" not in table
    english = evidence_table(rows, view=view)
    assert "<td>1,000.00 EUR</td>" in english and "<td>2026-11-02</td>" in english
    assert 'href="https://odoo.example/web#model=account.move' in evidence_table(rows, view=view,
                                                                                base_url="https://odoo.example/")
