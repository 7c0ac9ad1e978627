"""responsiveness on real Odoo 16, 18 and 19: an email posted through the API as the client's
contact, one on its quotation (a watched ``sale.order``) and an activity a person let run
overdue are all raised by a sync, with talking points; a second sync writes nothing; a new
script updates their activities once, then nothing, and an internal note leaves the message
unanswered; replies and "done" close them, the reply's author and date as feedback.  ClientCare
logs in as the admin, so the replies come from a colleague (the demo user): what ClientCare's own
user writes answers nobody.  The broken promise is checked against Odoo's own "Late Activities"
filter (deadline before today)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from clientcare.rules.testing import visible
from clientcare.connector.client import OdooClient
from clientcare.jobs import previous_findings, sync as sync_job
from clientcare.connector.facts import CLOSE_FEEDBACK, MARKER_PREFIX

from conftest import recorded_profile
from test_sync_cassettes import clean_slate, open_keys, writes

pytestmark = [pytest.mark.own_recording_time, pytest.mark.odoo_versions(16, 18, 19)]
REF = "CCSEED-responsiveness"


def seeded_client(admin: OdooClient) -> tuple[int, int, int]:
    """A client company (salesperson: the demo user) with one contact, its chatter and
    activities emptied, so every recording starts alike."""
    found = admin.call("res.partner", "search", [[("ref", "=", REF)]])
    demo = admin.call("res.users", "search", [[("login", "=", "demo")]])[0]
    if found:
        company = found[0]
    else:
        company = admin.call("res.partner", "create", [[{"name": "Responsive Client", "ref": REF,
                                                         "is_company": True, "customer_rank": 1}]])[0]
        admin.call("res.partner", "create", [[{"name": "Rita Request", "parent_id": company,
                                               "email": "rita@example.com"}]])
    admin.call("res.partner", "write", [[company], {"user_id": demo}])
    contact = admin.call("res.partner", "search", [[("parent_id", "=", company)]])[0]
    orders = admin.call("sale.order", "search", [[("partner_id", "=", contact)]])
    if orders:  # earlier recordings' quotations, answered by the admin: ClientCare's own user here
        admin.call("sale.order", "action_cancel", [orders])
        admin.call("sale.order", "unlink", [orders])
    acts = admin.call("mail.activity", "search", [[("res_model", "=", "res.partner"), ("res_id", "=", company)]])
    if acts:
        admin.call("mail.activity", "unlink", [acts])
    msgs = admin.call("mail.message", "search", [[("model", "=", "res.partner"), ("res_id", "=", company),
                                                  ("message_type", "in", ["email", "comment"])]])
    if msgs:
        admin.call("mail.message", "unlink", [msgs])
    return company, contact, demo


def post(admin: OdooClient, partner: int, body: str, author: int, *, message_type: str, subtype: str,
         model: str = "res.partner") -> int:
    out = admin.call(model, "message_post", [[partner]], {
        "body": body, "message_type": message_type, "author_id": author, "subtype_xmlid": subtype})
    return out[0] if isinstance(out, list) else out


def test_unanswered_email_and_broken_promise_are_raised_then_closed(odoo, cassette, tmp_path, monkeypatch):
    as_of = odoo.recorded_at.date()
    profile = recorded_profile(odoo, tmp_path, "resp-run", monkeypatch, builtin=("responsiveness",),
                               talking_points=True,
                               extra='[profiles.test.rules.responsiveness]\nwatch_models = ["sale.order"]\n')
    profile = dataclasses.replace(profile, transport="jsonrpc")  # a third of XML-RPC's size: a leaner cassette
    admin = OdooClient(profile.connection())
    clean_slate(admin)
    client, contact, demo = seeded_client(admin)
    # ClientCare logs in as the admin; a colleague (the demo user, the client's salesperson) answers
    colleague = admin.call("res.users", "read", [[demo], ["partner_id"]])[0]["partner_id"][0]

    # the client's contact writes in (an inbound email, as the mail gateway would post it),
    # a week ago: more than 8 working hours whatever the day of the week
    email = post(admin, client, "Could you send the revised quote?", contact, message_type="email",
                 subtype="mail.mt_comment")
    # and on a quotation of theirs (a watched model), whose salesperson is the admin
    order = admin.call("sale.order", "create", [[{"partner_id": contact, "user_id": 2}]])
    order = order[0] if isinstance(order, list) else order
    quote_mail = post(admin, order, "Is the discount still valid?", contact, message_type="email",
                      subtype="mail.mt_comment", model="sale.order")
    sent = datetime.combine(as_of - timedelta(days=7), time(10))
    admin.call("mail.message", "write", [[email, quote_mail], {"date": sent.strftime("%Y-%m-%d %H:%M:%S")}])
    # and a colleague promised something ten days ago and let it run overdue
    promise = admin.call("mail.activity", "create", [[{
        "res_id": client, "summary": "Send the revised quote", "user_id": 2,
        "date_deadline": (as_of - timedelta(days=10)).isoformat()}]], {"context": {"default_res_model": "res.partner"}})
    promise = promise[0] if isinstance(promise, list) else promise

    first = sync_job.sync(profile, as_of=as_of, client_ids={client})
    assert first.exit_code == 0, (first.error, first.write_errors)
    unanswered = f"responsiveness:res.partner:{client}:unanswered"
    broken = f"responsiveness:res.partner:{client}:broken_promises"
    quote = f"responsiveness:sale.order:{order}:unanswered"
    keys = open_keys(admin)
    assert set(keys) == {unanswered, broken, quote} and first.applied == {"created": 3}
    acts = {a["id"]: a for a in admin.search_read_all("mail.activity", [("id", "in", list(keys.values()))],
                                                      ["summary", "user_id", "note"])}
    reply_act, promise_act = acts[keys[unanswered]], acts[keys[broken]]
    # times in the time zone of the person expected to answer (the salesperson's, else the calendar's)
    tz = admin.call("res.users", "read", [[demo], ["tz"]])[0]["tz"] or "Europe/Brussels"
    local = sent.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz))
    assert visible(reply_act["summary"]) == (f"reply to Rita Request of Responsive Client: waiting since "
                                    f"{local:%Y-%m-%d %H:%M} ({tz})")
    assert reply_act["user_id"][0] == demo and promise_act["user_id"][0] == demo  # the salesperson
    assert "Talking points:" in reply_act["note"] and "Answer <bdi>Rita Request</bdi> today" in reply_act["note"]
    assert "Send the revised quote" in promise_act["note"]
    quote_act = admin.search_read_all("mail.activity", [("id", "=", keys[quote])], ["res_model", "user_id"])[0]
    assert quote_act["res_model"] == "sale.order" and quote_act["user_id"][0] == 2  # the order's salesperson

    # Odoo's own "Late Activities" (deadline before today) on the clients' partner records, older
    # than the 3 days' grace, is exactly what the broken promises list there
    state = sync_job.open_state(profile)
    found = previous_findings.load(state, admin.scope)["responsiveness"]
    state.close()
    listed = {i for f in found if f["data"].get("kind") == "broken_promises" for i in f["data"]["activity_ids"]}
    late = admin.call("mail.activity", "search", [[
        ("res_model", "=", "res.partner"), ("date_deadline", "<", (as_of - timedelta(days=3)).isoformat()),
        ("note", "not ilike", MARKER_PREFIX)]])
    late_all = set(admin.call("mail.activity", "search", [[("date_deadline", "<", as_of.isoformat())]]))
    assert promise in listed and set(late) <= listed and listed <= late_all

    second = sync_job.sync(profile, as_of=as_of, client_ids={client})
    assert second.exit_code == 0 and second.applied == {} and writes(second) == {}

    # a new script for unanswered messages: each of their open activities is updated once
    profile = dataclasses.replace(profile, scripts={
        "responsiveness": {"unanswered": ["Call {contact} back about {subject} today."]}})
    rescripted = sync_job.sync(profile, as_of=as_of, client_ids={client})
    assert rescripted.exit_code == 0 and rescripted.applied == {"updated": 2}, rescripted.applied
    note = admin.search_read_all("mail.activity", [("id", "=", keys[unanswered])], ["note"])[0]["note"]
    assert "Call <bdi>Rita Request</bdi> back about <bdi>Responsive Client</bdi> today." in note \
        and "Answer <bdi>Rita" not in note

    # then nothing is rewritten, and an internal note is not an answer
    post(admin, client, "Rita wants the quote, I'll do it tomorrow", colleague, message_type="comment",
         subtype="mail.mt_note")
    noted = sync_job.sync(profile, as_of=as_of, client_ids={client})
    assert noted.exit_code == 0 and noted.applied == {} and writes(noted) == {}
    assert set(open_keys(admin)) == {unanswered, broken, quote}

    # a reply the client receives, and the promise kept
    post(admin, client, "Here is the revised quote.", colleague, message_type="comment",
         subtype="mail.mt_comment")
    post(admin, order, "Yes, until the end of the month.", colleague, message_type="email",
         subtype="mail.mt_comment", model="sale.order")
    admin.call("mail.activity", "action_feedback", [[promise]], {"feedback": "sent"})
    last = sync_job.sync(profile, as_of=as_of, client_ids={client})
    assert last.exit_code == 0 and last.applied == {"closed": 3}, (last.applied, last.write_errors)
    assert open_keys(admin) == {}
    done = admin.call("mail.message", "search_read", [[("model", "=", "res.partner"), ("res_id", "=", client),
                                                       ("id", ">", email),
                                                       ("body", "ilike", CLOSE_FEEDBACK + "answered by")]],
                      {"fields": ["body"]})
    assert len(done) == 1 and "answered by Marc Demo on " in done[0]["body"]
