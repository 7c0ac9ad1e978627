"""``sync`` against the recorded Odoo 16, 18 and 19: create, leave, close/update, dry run, undo.

The test starts by removing any ClientCare activity and note from the server
(recorded too), so it re-records from a clean slate on a live server.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from clientcare.connector.client import OdooClient
from clientcare.connector.snapshot import Snapshot
from clientcare.connector.pull import snapshot_dir_for
from clientcare.jobs import previous_findings
from clientcare.jobs.ruleset import RuleSet
from clientcare.jobs import sync as sync_job
from clientcare.jobs.run_session import open_store
from clientcare.connector.facts import MARKER_PREFIX
from clientcare.jobs.writeback import undo_run

from conftest import recorded_profile

WRITE_METHODS = ("create", "write", "unlink", "action_feedback", "message_post")
HOSTILE = '<script>alert(1)</script> & "Co"'


#: What a record is in a finding: its id, and its level or kind (an invoice reaching the next level
#: or a task at risk falling late updates the client's or the project's one activity: issue 21).
RECORD_COLUMNS = ("id", "invoice_id", "move_id", "task_id", "level", "kind")


def evidence_records(snapshot, profile, day) -> dict[str, set]:
    """Per finding key, the records its evidence lists (ids only, not their day counts)."""
    out = {}
    for f in RuleSet.from_profile(profile).evaluate(snapshot, day).findings:
        cols = [c for c in RECORD_COLUMNS if c in (f.evidence_columns or [])]
        out[f.key] = {tuple(row[c] for c in cols) for row in f.evidence}
    return out


def writes(summary) -> dict[str, int]:
    return {k: v for k, v in summary.rpc_by_method.items() if k.rsplit(".", 1)[1] in WRITE_METHODS}


@pytest.fixture
def profile(odoo, tmp_path, monkeypatch):
    return recorded_profile(odoo, tmp_path, "test-run", monkeypatch)


def clean_slate(client: OdooClient) -> None:
    acts = client.search_ids("mail.activity", [("note", "ilike", MARKER_PREFIX)])
    if acts:
        client.call("mail.activity", "unlink", [acts])
    # our notes; the "activity done" notifications Odoo 18+ keeps as audit trail stay
    msgs = client.search_ids("mail.message", [("body", "ilike", MARKER_PREFIX), ("message_type", "=", "comment")])
    if msgs:
        client.call("mail.message", "unlink", [msgs])


def overdue_invoice(client: OdooClient, partner_id: int, due) -> int:
    """A posted invoice 20 days overdue for ``partner_id`` (so every recording has one to pay)."""
    income = client.call("account.account", "search_read", [], {
        "domain": [("account_type", "=", "income")], "fields": ["id"], "limit": 1, "order": "id asc"})[0]
    journal = client.call("account.journal", "search_read", [], {
        "domain": [("type", "=", "sale")], "fields": ["id"], "limit": 1, "order": "id asc"})[0]
    ids = client.call("account.move", "create", [[{
        "move_type": "out_invoice", "partner_id": partner_id, "journal_id": journal["id"],
        "invoice_date": (due - timedelta(days=30)).isoformat(), "invoice_date_due": due.isoformat(),
        "ref": "CCSEED-sync", "invoice_line_ids": [(0, 0, {
            "name": "Design work", "quantity": 1, "price_unit": 777.0, "account_id": income["id"],
            "tax_ids": [(6, 0, [])]})]}]])
    move_id = ids[0] if isinstance(ids, list) else ids
    client.call("account.move", "write", [[move_id], {"invoice_date_due": due.isoformat()}])
    client.call("account.move", "action_post", [[move_id]])
    return move_id


def open_keys(client: OdooClient) -> dict[str, int]:
    from clientcare.connector.facts import MARKER_RE
    from clientcare.jobs.writeback import open_only
    rows = client.search_read_all("mail.activity", [("note", "ilike", MARKER_PREFIX)] + open_only(client),
                                  ["note"])
    keys = [MARKER_RE.search(r["note"])["key"] for r in rows]
    assert len(keys) == len(set(keys)), "two open activities for one finding"
    return {k: r["id"] for k, r in zip(keys, rows)}


def test_sync_lifecycle(odoo, cassette, profile):
    as_of = odoo.recorded_at.date()
    admin = OdooClient(profile.connection())
    clean_slate(admin)
    # a hostile client name, to see it escaped in what we write
    hostile_id = admin.call("res.partner", "search", [[("ref", "=", "CCSEED-hostile")]])
    if not hostile_id:
        hostile_id = [admin.call("res.partner", "create", [[{"name": HOSTILE, "ref": "CCSEED-hostile",
                                                            "is_company": True, "customer_rank": 1}]])[0]]
    overdue_invoice(admin, hostile_id[0], as_of - timedelta(days=20))

    dry = sync_job.sync(profile, dry_run=True, as_of=as_of)
    assert dry.exit_code == 0, dry.error
    assert writes(dry) == {}, "a dry run makes no write call"
    planned = sum(c.get("create", 0) + c.get("note", 0) for c in dry.plan["counts"].values())
    assert planned > 5

    first = sync_job.sync(profile, as_of=as_of)
    assert first.exit_code == 0, (first.error, first.write_errors)
    assert first.applied.get("created", 0) + first.applied.get("noted", 0) == planned
    keys = first_keys = open_keys(admin)
    state = sync_job.open_state(profile)
    previous = previous_findings.load(state, admin.scope)  # what each rule's context holds next run
    state.close()
    assert {r: len(v) for r, v in previous.items() if v} == first.findings
    assert len(keys) == first.applied["created"]
    assert any(k.startswith("late_payment:res.partner:") for k in keys)
    deadlines = admin.search_read_all("mail.activity", [("id", "in", list(keys.values()))], ["date_deadline"])
    assert min(d["date_deadline"] for d in deadlines) >= as_of.isoformat(), "no activity is born overdue"

    second = sync_job.sync(profile, as_of=as_of)
    assert second.exit_code == 0 and second.applied == {} and writes(second) == {}
    assert open_keys(admin) == keys

    # a day passes: day counts grow, but nothing an activity asks of a person changed, so no
    # activity is rewritten (a level reached today updates the client's one activity)
    tomorrow = sync_job.sync(profile, as_of=as_of + timedelta(days=1))
    assert tomorrow.exit_code == 0, tomorrow.error
    changes = tomorrow.plan["changes"]
    # an update is allowed only where a record joined or left the finding, or changed level (an
    # invoice or a task fell due today): day counts alone never rewrite an activity
    rewritten = [c["key"] for c in changes if c["op"] == "update"]
    if rewritten:
        snap = Snapshot.load(snapshot_dir_for(open_store(profile.state_path), admin.scope))
        before, after = (evidence_records(snap, profile, day) for day in (as_of, as_of + timedelta(days=1)))
        rewritten = [k for k in rewritten if before.get(k) == after.get(k)]
    assert not rewritten, "a day passing rewrote activities"
    assert not {c["key"] for c in changes if c["op"] == "create"} & set(keys)
    keys = open_keys(admin)

    # the hostile partner's name is escaped in every note ClientCare wrote about it
    notes = admin.search_read_all("mail.activity", [("res_model", "=", "res.partner"),
                                                    ("res_id", "=", hostile_id[0]),
                                                    ("note", "ilike", MARKER_PREFIX)], ["note", "summary"])
    assert notes
    for row in notes:
        assert "<script>" not in row["note"] and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in row["note"]
        # and isolated: in <bdi> in the note (Odoo's sanitiser keeps it), in U+2068/2069 in the summary
        assert "<bdi>&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in row["note"]
        assert "\u2068<script>alert(1)</script> & \"Co\"\u2069" in row["summary"]

    # a person writes in an activity's note, then the client gets another salesperson: the
    # activity follows its new owner (an update) and what the person wrote stays
    target = next(k for k in sorted(keys) if k.startswith("late_payment:res.partner:") and k in first_keys
                  and k.count(":") == 2  # a client's payment activity (not its chronic or manager one)
                  and k != f"late_payment:res.partner:{hostile_id[0]}")  # written by the first run
    client_id = int(target.split(":")[2])
    act = admin.call("mail.activity", "read", [[keys[target]], ["note", "user_id"]])[0]
    admin.call("mail.activity", "write", [[keys[target]], {
        "note": act["note"] + "<p>Called them: payment promised for Friday.</p>"}])
    salesperson = admin.call("res.partner", "read", [[client_id], ["user_id"]])[0]["user_id"]
    demo = admin.call("res.users", "search", [[("login", "=", odoo.server["demo_login"])]])[0]
    new_owner = demo if act["user_id"][0] != demo else 2
    admin.call("res.partner", "write", [[client_id], {"user_id": new_owner}])
    moved = sync_job.sync(profile, as_of=as_of + timedelta(days=1))
    assert moved.exit_code == 0, moved.error
    assert target in {c["key"] for c in moved.plan["changes"] if c["op"] == "update"}
    act = admin.call("mail.activity", "read", [[keys[target]], ["note", "user_id"]])[0]
    assert act["user_id"][0] == new_owner and "payment promised for Friday" in act["note"]
    admin.call("res.partner", "write", [[client_id], {"user_id": salesperson[0] if salesperson else False}])

    # the data changes: one late client pays everything, one late task is closed
    partner = hostile_id[0]
    overdue_levels = {k for k in keys if k.split(":")[:3] == ["late_payment", "res.partner", str(partner)]
                      and not k.endswith(":chronic")}  # the client's payment activity (and a manager's)
    assert overdue_levels
    unpaid = admin.call("account.move", "search_read", [], {
        "domain": [("commercial_partner_id", "=", partner), ("move_type", "=", "out_invoice"),
                   ("state", "=", "posted"), ("payment_state", "in", ["not_paid", "partial"])],
        "fields": ["id", "company_id"], "order": "id asc"})
    for company in sorted({r["company_id"][0] for r in unpaid}):  # one payment wizard per company
        ids = [r["id"] for r in unpaid if r["company_id"][0] == company]
        ctx = admin.context(active_model="account.move", active_ids=ids)
        wizard = admin.call("account.payment.register", "create",
                            [{"payment_date": as_of.isoformat(), "group_payment": False}], {"context": ctx})
        admin.call("account.payment.register", "action_create_payments",
                   [[wizard[0] if isinstance(wizard, list) else wizard]], {"context": ctx})

    third = sync_job.sync(profile, as_of=as_of + timedelta(days=1))
    assert third.exit_code == 0, third.error
    closed = {i["key"] for i in third.plan["changes"] if i["op"] == "close"}
    late_closed = {k for k in closed if k.startswith("late_payment:") and not k.endswith(":chronic")}
    assert late_closed == overdue_levels  # exactly the paid client's overdue levels, nobody else's
    after = open_keys(admin)
    assert not overdue_levels & set(after)
    assert third.applied.get("closed", 0) == len(closed)
    created = {i["key"] for i in third.plan["changes"] if i["op"] == "create"}
    assert set(after) == (set(keys) - closed) | created  # nothing lost, nothing duplicated

    def done_messages() -> int:  # "activity done" messages quoting the first applied run's marker
        return admin.call("mail.message", "search_count", [[("mail_activity_type_id", "!=", False),
                                                             ("body", "ilike", "run=test-run-2 ")]])
    closed_by_later_runs = done_messages()
    report = undo_run(admin, "test-run-2")  # the first applied run
    of_that_run = {k for k in after if k not in created and k in first_keys}
    # the activity a person wrote in is listed and kept, the rest removed
    assert [(k["id"], k["why"]) for k in report["kept"]] == [(keys[target], "note written in")]
    assert report["activities_removed"] == len(of_that_run) - 1
    assert closed_by_later_runs > 0 and done_messages() == closed_by_later_runs  # history stays
    assert report["notes_removed"] == 0 and not report["not_removed"]
    assert set(open_keys(admin)) == set(after) - first_keys.keys() | {target}
    forced = undo_run(admin, "test-run-2", force=True)
    assert forced["activities_removed"] == 1 and forced["kept"] == []
    assert set(open_keys(admin)) == set(after) - first_keys.keys()
    clean_slate(admin)


@pytest.mark.odoo_versions(19)
@pytest.mark.own_recording_time
def test_sync_over_json2_creates_leaves_and_undoes(odoo, cassette, tmp_path, monkeypatch):
    """JSON-2 takes named arguments only: every write-back call (activity type look-up, create,
    feedback, undo) must reach Odoo 19 in that form, as ``auto`` picks JSON-2 there."""
    if not odoo.has_api_key:
        pytest.skip("recorded without an API key")
    profile = recorded_profile(odoo, tmp_path, "json2-run", monkeypatch, transport="json2",
                               extra="max_creations = 3\n")
    as_of = odoo.recorded_at.date()
    admin = OdooClient(profile.connection())
    clean_slate(admin)
    first = sync_job.sync(profile, as_of=as_of)
    assert first.exit_code == 1 and first.applied["created"] == 3, (first.error, first.write_errors)  # capped
    created = open_keys(admin)
    assert len(created) == 3
    second = sync_job.sync(profile, as_of=as_of)
    assert second.applied.get("created", 0) == 3 and not second.write_errors  # the next three
    assert set(created) < set(open_keys(admin))
    for run in (second, first):
        undone = sync_job.undo(profile, run.run_id)
        assert undone.exit_code == 0, undone.error
    assert open_keys(admin) == {}


def test_a_sync_configures_the_rules_once(odoo, tmp_path, monkeypatch):
    """The profile and its rules are resolved once at start-up, then only read: replays the first
    dry run of test_cli's sync test, counting how often the registry validates the rules' settings."""
    import json

    from click.testing import CliRunner

    from clientcare.jobs.cli import main
    from clientcare.rules.registry import Registry

    from test_cli import env_for

    calls = []
    configure = Registry.configure
    monkeypatch.setattr(Registry, "configure", lambda self, *a, **k: calls.append(a) or configure(self, *a, **k))
    with odoo.cassette("test_sync_dry_run_then_runs_and_undo", replay_only=True):
        result = CliRunner().invoke(main, ["sync", "--dry-run", "--json", "--as-of",
                                           odoo.recorded_at.date().isoformat()], env=env_for(odoo, tmp_path),
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan"]["counts"], "the rules ran"
    assert len(calls) == 1, calls
