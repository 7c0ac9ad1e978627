"""People outrank rules, on the recorded Odoo 16-19 (issue "Listen to people"): what a person
does in Odoo on a ClientCare activity steers the next sync.

Each scenario starts from a clean slate (ClientCare's activities and notes removed, recorded
too), acts in Odoo as a person would (the demo user marks done with feedback, the admin gives an
activity to a colleague, reschedules it, writes in its note, registers a payment) and syncs
again, moving "today" forward where the scenario needs it.
"""
from __future__ import annotations

import html
import json
import re
from datetime import date, timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.connector.client import OdooClient
from clientcare.connector.facts import marked_key, ours
from clientcare.jobs import sync as sync_job

from conftest import DEMO_PASSWORD, PASSWORD, recorded_profile
from test_cli import invoke
from test_sync_cassettes import clean_slate, open_keys, overdue_invoice

FEEDBACK = "client promised to pay on Friday"


def fresh_start(admin: OdooClient) -> None:
    """A clean slate, and no "activity done" message quoting a ClientCare marker: a fresh state
    file takes those for people's answers, so one scenario's "done" must not reach the next."""
    clean_slate(admin)
    done = admin.search_ids("mail.message", [("mail_activity_type_id", "!=", False), ours("body")])
    if done:
        admin.call("mail.message", "unlink", [done])


def first_sync(odoo, tmp_path, monkeypatch, run_prefix: str, **profile):
    """A scenario's start: its profile (:func:`recorded_profile`), the recording day, the admin,
    a fresh start and a first sync; with the keys of the open ClientCare activities."""
    profile = recorded_profile(odoo, tmp_path, run_prefix, monkeypatch, **profile)
    as_of = odoo.recorded_at.date()
    admin = OdooClient(profile.connection())
    fresh_start(admin)
    first = sync_job.sync(profile, as_of=as_of)
    assert first.exit_code == 0, (first.error, first.write_errors)
    return profile, as_of, admin, first, open_keys(admin)


def cli_env(odoo, tmp_path) -> dict:
    """The CLI on the profile :func:`recorded_profile` wrote (its state file, its rules)."""
    return {"CLIENTCARE_CONFIG": str(tmp_path / "clientcare.toml"), "CLIENTCARE_PROFILE": "test",
            "CLIENTCARE_PASSWORD": odoo.secret(PASSWORD)}


def decisions(summary) -> dict[str, tuple[str, str]]:
    return {d["key"]: (d["op"], visible(d["reason"])) for d in summary.plan["decisions"]}


def late_key_of(keys: dict[str, int], client_ids) -> str:
    """The one late-payment key (not chronic, not the manager's) of one of ``client_ids``."""
    return next(k for k in sorted(keys) if LEVEL_KEY.fullmatch(k) and int(k.split(":")[2]) in client_ids)


def as_demo(odoo, profile) -> OdooClient:
    return OdooClient(odoo.settings(login=odoo.server["demo_login"], password=DEMO_PASSWORD))


def pay(admin: OdooClient, move_ids: list[int], day, amount: float | None = None) -> None:
    """Register a payment (``amount``, else in full) as a person does: the payment wizard."""
    ctx = admin.context(active_model="account.move", active_ids=move_ids)
    vals = {"payment_date": day.isoformat(), **({"amount": amount} if amount is not None else {})}
    wizard = admin.call("account.payment.register", "create", [vals], {"context": ctx})
    admin.call("account.payment.register", "action_create_payments",
               [[wizard[0] if isinstance(wizard, list) else wizard]], {"context": ctx})


def stable_late_keys(profile, admin, as_of, days: int) -> list[str]:
    """Late-payment keys (one per client) whose invoices stay the same from ``as_of`` to ``days`` later (no
    invoice crosses into or out of the level meanwhile), from the snapshot the last sync pulled."""
    from clientcare.connector.pull import snapshot_dir_for
    from clientcare.connector.snapshot import Snapshot
    from clientcare.jobs.ruleset import RuleSet
    from clientcare.jobs.run_session import open_store

    store = open_store(profile.state_path)
    snap = Snapshot.load(snapshot_dir_for(store, admin.scope))
    store.close()
    rules = RuleSet.from_profile(profile)
    then, later = ({f.key: f.record_ids() for f in rules.evaluate(snap, day).findings}
                   for day in (as_of, as_of + timedelta(days=days)))
    return sorted(k for k, ids in then.items() if later.get(k) == ids and LEVEL_KEY.fullmatch(k))


LEVEL_KEY = re.compile(r"late_payment:res\.partner:\d+")  # a client's one payment activity (issue 21)


@pytest.mark.own_recording_time
def test_done_is_an_answer_new_money_is_raised_and_a_recheck_quotes_the_person(odoo, cassette, tmp_path,
                                                                                monkeypatch):
    """Done + feedback → left, saying until when (and explain says the same); a new overdue invoice
    joining → raised at once for the same person; no payment → raised again after
    ``recheck_after_days``, for the same person, quoting them."""
    profile, as_of, admin, first, keys = first_sync(
        odoo, tmp_path, monkeypatch, "done-run", builtin=("late_payment",),
        extra="[profiles.test.rules.late_payment]\nrecheck_after_days = 3\n")
    key = next(k for k in stable_late_keys(profile, admin, as_of, 4) if k in keys)
    client_id = int(key.split(":")[2])
    owner = admin.call("mail.activity", "read", [[keys[key]], ["user_id"]])[0]["user_id"]
    demo = as_demo(odoo, profile)
    person = demo if owner[0] == demo.transport.uid else admin  # the owner marks it done
    name = admin.call("res.users", "read", [[owner[0]], ["name"]])[0]["name"]
    person.call("mail.activity", "action_feedback", [[keys[key]]], {"feedback": FEEDBACK})
    done_day = admin.call("mail.message", "search_read", [], {
        "domain": [("model", "=", "res.partner"), ("res_id", "=", client_id), ("mail_activity_type_id", "!=", False)],
        "fields": ["date"], "order": "id desc", "limit": 1})[0]["date"][:10]

    # the next day: left, saying until when, and explain says the same as the dry run
    day1 = as_of + timedelta(days=1)
    dry = sync_job.sync(profile, as_of=day1, dry_run=True)
    op, reason = decisions(dry)[key]
    recheck_on = (date.fromisoformat(done_day) + timedelta(days=3)).isoformat()
    assert (op, reason) == ("leave", f"done by {name} on {done_day} — they noted: '{FEEDBACK}'; "
                                     f"raised again on {recheck_on} if still found")
    explained = invoke(["explain", str(client_id), "--as-of", day1.isoformat()], env=cli_env(odoo, tmp_path))
    assert explained.exit_code in (0, 1), explained.output
    assert f"sync will: leave it — {reason}" in visible(explained.output)
    second = sync_job.sync(profile, as_of=day1)
    assert second.exit_code == 0 and key not in open_keys(admin)

    # a new invoice of that client falls overdue: it joins the client's one activity, new work raised at once
    move = overdue_invoice(admin, client_id, day1 - timedelta(days=2))
    number = admin.call("account.move", "read", [[move], ["name"]])[0]["name"]
    third = sync_job.sync(profile, as_of=day1)
    assert decisions_of(third)[key] == ("create", f"new since {name} marked it done on {done_day}: {number}")
    act = admin.call("mail.activity", "read", [[open_keys(admin)[key]], ["summary", "user_id"]])[0]
    assert act["user_id"][0] == owner[0] and visible(act["summary"]).endswith(f"— new since your 'done' on {done_day}: {number}")

    # the new invoice is paid; done again with the same words; the rest is not: raised again 3 days
    # after, quoting them
    pay(admin, [move], day1)
    person.call("mail.activity", "action_feedback", [[open_keys(admin)[key]]], {"feedback": FEEDBACK})
    done_again = admin.call("mail.message", "search_read", [], {
        "domain": [("model", "=", "res.partner"), ("res_id", "=", client_id), ("mail_activity_type_id", "!=", False)],
        "fields": ["date"], "order": "id desc", "limit": 1})[0]["date"][:10]
    waiting = sync_job.sync(profile, as_of=as_of + timedelta(days=2), dry_run=True)
    assert decisions(waiting)[key][0] == "leave"
    later = as_of + timedelta(days=4)
    fourth = sync_job.sync(profile, as_of=later)
    op, reason = decisions_of(fourth)[key]
    assert (op, reason) == ("create", f"still found 3 days after {name} marked it done on {done_again} — "
                                      f"they noted: '{FEEDBACK}'")
    act = admin.call("mail.activity", "read", [[open_keys(admin)[key]], ["summary", "user_id"]])[0]
    assert act["user_id"][0] == owner[0]
    assert visible(act["summary"]).endswith(f"— still open 3 days after your 'done' on {done_again} — you noted: '{FEEDBACK}'")
    fresh_start(admin)


@pytest.mark.own_recording_time
def test_a_persons_reassignment_survives_a_partial_payment(odoo, cassette, tmp_path, monkeypatch):
    """A person gives a ClientCare activity to a colleague; a partial payment then changes the
    evidence: the update keeps the colleague and says so in the note, once."""
    profile, as_of, admin, first, keys = first_sync(odoo, tmp_path, monkeypatch, "moved-run", builtin=("late_payment",))
    demo_uid = as_demo(odoo, profile).transport.uid
    assert any(LEVEL_KEY.fullmatch(k) for k in keys), (sorted(keys), first.plan)
    key = next(k for k in sorted(keys) if LEVEL_KEY.fullmatch(k))
    client_id = int(key.split(":")[2])
    owner = admin.call("mail.activity", "read", [[keys[key]], ["user_id"]])[0]["user_id"][0]
    colleague = demo_uid if owner != demo_uid else 2
    colleague_name = admin.call("res.users", "read", [[colleague], ["name"]])[0]["name"]
    admin.call("mail.activity", "write", [[keys[key]], {"user_id": colleague}])  # given to a colleague
    invoice = admin.call("account.move", "search_read", [], {
        "domain": [("commercial_partner_id", "=", client_id), ("move_type", "=", "out_invoice"),
                   ("state", "=", "posted"), ("payment_state", "in", ["not_paid", "partial"]),
                   ("invoice_date_due", "<", as_of.isoformat())],
        "fields": ["id", "amount_residual"], "order": "invoice_date_due asc", "limit": 1})[0]
    pay(admin, [invoice["id"]], as_of, round(invoice["amount_residual"] / 2, 2))
    second = sync_job.sync(profile, as_of=as_of)
    op, reason = decisions_of(second)[key]
    assert op == "update" and f"kept with {colleague_name}, to whom a person gave it" in reason
    act = admin.call("mail.activity", "read", [[keys[key]], ["user_id", "note"]])[0]
    assert act["user_id"][0] == colleague
    assert f"stays with <bdi>{colleague_name}</bdi>, to whom a person gave it" in html.unescape(act["note"])
    third = sync_job.sync(profile, as_of=as_of)
    assert third.applied == {} and third.plan["changes"] == []  # told once
    fresh_start(admin)


def decisions_of(summary) -> dict[str, tuple[str, str]]:
    """Every key's decision: a dry run lists them, an applied run its changes and reasons."""
    if "decisions" in summary.plan:
        return decisions(summary)
    return {c["key"]: (c["op"], visible(c["reason"])) for c in summary.plan["sample"]} | \
        {c["key"]: (c["op"], "") for c in summary.plan["changes"] if c["key"] not in
         {s["key"] for s in summary.plan["sample"]}}


@pytest.mark.own_recording_time
def test_undo_spares_an_activity_a_person_rescheduled_and_annotated(odoo, cassette, tmp_path, monkeypatch):
    """``undo`` lists and keeps what people worked on; ``--force`` removes it; the next sync raises
    again what undo removed and the rules still find."""
    profile, as_of, admin, first, keys = first_sync(odoo, tmp_path, monkeypatch, "undo-run", builtin=("late_payment",))
    key = sorted(keys)[0]
    act = admin.call("mail.activity", "read", [[keys[key]], ["note", "date_deadline"]])[0]
    moved_to = (as_of + timedelta(days=10)).isoformat()
    admin.call("mail.activity", "write", [[keys[key]], {
        "date_deadline": moved_to, "note": act["note"] + "<p>Spoke to their accountant Jane: paying on the 15th.</p>"}])
    env = cli_env(odoo, tmp_path)
    undone = invoke(["undo", first.run_id], env=env)
    assert undone.exit_code == 0, undone.output
    assert f"removed {len(keys) - 1} activities" in undone.output
    assert f"kept res.partner,{key.split(':')[2]} activity {keys[key]}" in undone.output
    assert f"(note written in, rescheduled to {moved_to})" in undone.output
    assert set(open_keys(admin)) == {key}
    again = sync_job.sync(profile, as_of=as_of)  # what undo removed comes back; the kept one stays
    assert again.applied.get("created") == len(keys) - 1 and set(open_keys(admin)) == set(keys)
    forced = invoke(["undo", first.run_id, "--force"], env=env)
    assert forced.exit_code == 0 and "removed 1 activities" in forced.output
    fresh_start(admin)


@pytest.mark.own_recording_time
def test_explain_and_the_dry_run_agree_on_every_key(odoo, cassette, tmp_path, monkeypatch):
    """For every client with a decision, ``explain`` says what ``sync --dry-run`` decided, word for word."""
    profile, as_of, admin, first, keys = first_sync(odoo, tmp_path, monkeypatch, "agree-run")
    some = next(k for k in stable_late_keys(profile, admin, as_of, 1) if k in keys)  # no invoice joins overnight
    admin.call("mail.activity", "action_feedback", [[keys[some]]], {"feedback": "done, see notes"})
    env = cli_env(odoo, tmp_path)
    day = (as_of + timedelta(days=1)).isoformat()
    dry = json.loads(invoke(["sync", "--dry-run", "--json", "--as-of", day], env=env).stdout)
    planned = {d["key"]: d for d in dry["plan"]["decisions"]}
    clients = sorted({int(k.split(":")[2]) for k in planned if k.split(":")[1] == "res.partner"})
    seen, outputs = {}, {}
    for client in clients:
        out = outputs[client] = invoke(["explain", str(client), "--as-of", day], env=env).output
        for block in out.split("\n\n"):
            key = re.search(r"key: (\S+)|\(([^)\s]+)\):", block)
            said = re.search(r"sync will: (.*)", block)
            if key and said:
                seen[key.group(1) or key.group(2)] = said.group(1)
    for key, d in planned.items():
        if key.split(":")[1] == "res.partner":
            assert key in seen, (key, outputs[int(key.split(":")[2])])
            assert visible(seen[key]).endswith(visible(d["reason"])), (key, seen[key], d)
    assert planned[some]["reason"].startswith("done by Mitchell Admin on ")
    fresh_start(admin)


def set_exclusion(odoo, admin: OdooClient, move_id: int, on: bool) -> None:
    """Accounting takes an invoice out of follow-up, as each version offers it: the receivable
    line's "No Follow-up" (16, 17), the invoice's payment block (18: disputed), ``no_followup``
    on the invoice (19)."""
    if odoo.major <= 17:
        line = admin.call("account.move.line", "search", [[("move_id", "=", move_id),
                                                            ("account_id.account_type", "=", "asset_receivable")]])
        admin.call("account.move.line", "write", [line, {"blocked": on}])
    elif odoo.major == 18:  # a toggle that returns nothing: XML-RPC cannot carry that answer
        OdooClient(odoo.settings("jsonrpc")).call("account.move", "action_toggle_block_payment", [[move_id]])
    else:
        admin.call("account.move", "write", [[move_id], {"no_followup": on}])


@pytest.mark.own_recording_time
def test_accountings_exclusion_is_not_chased_and_closes_the_activity_saying_so(odoo, cassette, tmp_path,
                                                                              monkeypatch):
    """An invoice excluded from follow-up in Odoo leaves the payment findings, is listed as not
    raised with the reason (explain), and the open activity about it closes with that reason."""
    profile, as_of, admin, first, keys = first_sync(odoo, tmp_path, monkeypatch, "excl-run", builtin=("late_payment",))
    records = {k: ids for k, ids in level_records(profile, admin, as_of).items() if k in keys}
    unpaid = set(admin.search_ids("account.move", [("id", "in", sorted({i for ids in records.values() for i in ids})),
                                                   ("payment_state", "=", "not_paid")]))
    # the client's only invoice, not partly paid (18 computes a partly paid invoice's state anew)
    key = next(k for k, ids in sorted(records.items()) if len(ids) == 1 and ids[0] in unpaid)
    move_id, client_id = records[key][0], int(key.split(":")[2])
    number = admin.call("account.move", "read", [[move_id], ["name"]])[0]["name"]
    reason = {16: "excluded from follow-up by accounting (No Follow-up on the receivable line)",
              17: "excluded from follow-up by accounting (No Follow-up on the receivable line)",
              18: "disputed (payment blocked by accounting)",
              19: "excluded from follow-up by accounting (No Follow-up on the invoice)"}[odoo.major]
    set_exclusion(odoo, admin, move_id, True)
    try:
        explained = invoke(["explain", str(client_id), "--as-of", as_of.isoformat()], env=cli_env(odoo, tmp_path))
        assert f"late_payment: {number}: {reason}" in visible(explained.output), explained.output
        second = sync_job.sync(profile, as_of=as_of)
        assert second.exit_code == 0, (second.error, second.write_errors)
        assert decisions_of(second)[key] == ("close", f"{number} {reason}")
        assert key not in open_keys(admin)
        feedback = admin.call("mail.message", "search_read", [], {
            "domain": [("model", "=", "res.partner"), ("res_id", "=", client_id), marked_key("body", key),
                       ("mail_activity_type_id", "!=", False)], "fields": ["body"], "order": "id desc", "limit": 1})
        assert f"ClientCare: resolved: {number} {reason}" in html.unescape(feedback[0]["body"])
        third = sync_job.sync(profile, as_of=as_of)
        assert third.applied == {}, "an excluded invoice is not chased again"
    finally:
        set_exclusion(odoo, admin, move_id, False)
    fresh_start(admin)


def level_records(profile, admin, as_of) -> dict[str, tuple[int, ...]]:
    """The invoices (and credit notes) of each client's late-payment key, from the snapshot the last sync pulled."""
    from clientcare.connector.pull import snapshot_dir_for
    from clientcare.connector.snapshot import Snapshot
    from clientcare.jobs.ruleset import RuleSet
    from clientcare.jobs.run_session import open_store

    store = open_store(profile.state_path)
    snap = Snapshot.load(snapshot_dir_for(store, admin.scope))
    store.close()
    return {f.key: f.record_ids() for f in RuleSet.from_profile(profile).evaluate(snap, as_of).findings
            if LEVEL_KEY.fullmatch(f.key)}


@pytest.mark.own_recording_time
def test_clientcare_closing_a_payment_activity_leaves_the_check_in_alone(odoo, cassette, tmp_path, monkeypatch):
    """When sync closes a resolved payment activity, Odoo posts "activity done" as ClientCare's
    user: that is no contact with the client, so the client's check-in stays as it was."""
    profile, as_of, admin, first, keys = first_sync(
        odoo, tmp_path, monkeypatch, "contact-run", builtin=("late_payment", "follow_up"))
    check_ins = {int(k.split(":")[2]): k for k in keys if k.endswith(":check_in")}
    key = next(k for k in sorted(keys) if LEVEL_KEY.fullmatch(k) and int(k.split(":")[2]) in check_ins)
    client_id = int(key.split(":")[2])
    check_in = check_ins[client_id]
    unpaid = admin.call("account.move", "search_read", [], {
        "domain": [("commercial_partner_id", "=", client_id), ("move_type", "=", "out_invoice"),
                   ("state", "=", "posted"), ("payment_state", "in", ["not_paid", "partial"])],
        "fields": ["id", "company_id"], "order": "id asc"})
    for company in sorted({r["company_id"][0] for r in unpaid}):
        pay(admin, [r["id"] for r in unpaid if r["company_id"][0] == company], as_of)
    second = sync_job.sync(profile, as_of=as_of)
    assert second.exit_code == 0, (second.error, second.write_errors)
    closed = {c["key"] for c in second.plan["changes"] if c["op"] == "close"}
    assert key in closed and check_in not in closed
    done = admin.call("mail.message", "search_read", [], {
        "domain": [("model", "=", "res.partner"), ("res_id", "=", client_id), ("mail_activity_type_id", "!=", False)],
        "fields": ["author_id", "body"], "order": "id desc", "limit": 1})[0]
    own_partner = admin.call("res.users", "read", [[admin.transport.uid], ["partner_id"]])[0]["partner_id"][0]
    assert done["author_id"][0] == own_partner and "ClientCare: resolved: " in html.unescape(done["body"])
    third = sync_job.sync(profile, as_of=as_of)
    assert third.exit_code == 0 and third.applied == {}, third.plan["changes"]
    assert open_keys(admin)[check_in] == keys[check_in], "the check-in is unchanged"
    fresh_start(admin)


@pytest.mark.own_recording_time
def test_a_date_a_person_agreed_is_kept_and_its_passing_said_once(odoo, cassette, tmp_path, monkeypatch):
    """A person moves a ClientCare activity's deadline (a date agreed with the client); sync keeps
    it; when it passes with the situation unchanged, one dated line says so, once."""
    profile, as_of, admin, first, keys = first_sync(
        odoo, tmp_path, monkeypatch, "promise-run", builtin=("late_payment",))
    key = next(k for k in stable_late_keys(profile, admin, as_of, 3) if k in keys)
    agreed = (as_of + timedelta(days=1)).isoformat()
    admin.call("mail.activity", "write", [[keys[key]], {"date_deadline": agreed}])
    kept = sync_job.sync(profile, as_of=as_of + timedelta(days=1))
    assert key not in {c["key"] for c in kept.plan["changes"]}
    passed = sync_job.sync(profile, as_of=as_of + timedelta(days=2))
    assert decisions_of(passed)[key][0] == "update"
    act = admin.call("mail.activity", "read", [[keys[key]], ["note", "date_deadline"]])[0]
    assert str(act["date_deadline"]) == agreed
    day = (as_of + timedelta(days=2)).isoformat()
    assert f"{day}: the agreed date {agreed} passed and the situation is unchanged." in html.unescape(act["note"])
    again = sync_job.sync(profile, as_of=as_of + timedelta(days=3))
    assert key not in {c["key"] for c in again.plan["changes"]}, "said once"
    fresh_start(admin)
