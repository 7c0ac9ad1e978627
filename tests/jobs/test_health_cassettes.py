"""Client health over time against real Odoo 16, 18 and 19 (each recorded on its own copy of
the seeded database): two syncs with a change in between store the history, raise the decline
activity for the salesperson and move the health tag; a live audit stores and shows the
decline; a third sync writes nothing; undo and opting out take off ClientCare's tags and
leave a hand-set one.  Only the fit checklist runs, to keep the recordings lean.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from clientcare.connector.client import OdooClient
from clientcare.jobs import health_history as history, health_tags, sync as sync_job
from clientcare.jobs.check import run_check
from clientcare.jobs.cli import main
from clientcare.jobs.run_history import RunHistory

from conftest import PASSWORD, recorded_profile
from test_sync_cassettes import clean_slate, open_keys, overdue_invoice, writes

pytestmark = [pytest.mark.own_recording_time, pytest.mark.odoo_versions(16, 18, 19)]

GOOD = health_tags.NAMES["good"]


def tags_of(admin: OdooClient, partner_ids) -> dict[int, set[str]]:
    """Each partner's health tags, by name, as Odoo has them."""
    rows = admin.call("res.partner", "read", [sorted(partner_ids), ["category_id"]])
    names = {r["id"]: r["name"] for r in admin.call(
        "res.partner.category", "read", [sorted({t for r in rows for t in r["category_id"]}), ["name"]])}
    return {r["id"]: {names[t] for t in r["category_id"]} & set(health_tags.NAMES.values()) for r in rows}


def good_client(admin: OdooClient, as_of, salesperson: int) -> tuple[int, int]:
    """A client on track: a project running until two months ahead and one open task due in a
    week (no invoice yet, so "pays on time" is unknown); its id and the task's."""
    partner = admin.call("res.partner", "create", [[{"name": "Health Test Client", "is_company": True,
                                                      "customer_rank": 1, "user_id": salesperson}]])[0]
    project = admin.call("project.project", "create", [[{
        "name": "Health test project", "partner_id": partner, "date_start": (as_of - timedelta(days=30)).isoformat(),
        "date": (as_of + timedelta(days=60)).isoformat()}]])[0]
    task = admin.call("project.task", "create", [[{"name": "Health test task", "project_id": project,
                                                   "partner_id": partner}]])[0]
    set_deadline(admin, task, as_of + timedelta(days=7))
    return partner, task


def set_deadline(admin: OdooClient, task: int, day) -> None:
    kind = admin.call("project.task", "fields_get", [["date_deadline"]], {"attributes": ["type"]})
    value = day.isoformat() + (" 12:00:00" if kind["date_deadline"]["type"] == "datetime" else "")
    admin.call("project.task", "write", [[task], {"date_deadline": value}])


def test_health_history_decline_and_tags_over_syncs(odoo, cassette, tmp_path, monkeypatch):
    as_of = odoo.recorded_at.date()
    profile = recorded_profile(odoo, tmp_path, "health", monkeypatch, builtin=("fit_checklist",),
                               extra="health_tags = true\n")
    admin = OdooClient(profile.connection())
    clean_slate(admin)
    ours = admin.call("res.partner.category", "search", [[("name", "in", list(health_tags.NAMES.values()))]])
    if ours:
        admin.call("res.partner.category", "unlink", [ours])
    hand_good = admin.call("res.partner.category", "create", [[{"name": GOOD}]])[0]  # reused, not duplicated
    demo = admin.call("res.users", "search", [[("login", "=", odoo.server["demo_login"])]])[0]
    target, task = good_client(admin, as_of, demo)

    steps = {s.name: s for s in run_check(profile.connection(), *sync_job.models_needed(profile))}
    assert steps["rights on res.partner.category"].status == "ok"
    assert "write" in steps["rights on res.partner"].detail

    dry = sync_job.sync(profile, dry_run=True, as_of=as_of)
    assert dry.exit_code == 0, dry.error
    assert writes(dry) == {} and "res.partner.write" not in dry.rpc_by_method
    planned = dry.plan["health_tags"]
    assert planned["counts"]["add"] > 3 and GOOD not in planned["create_tags"]
    state = sync_job.open_state(profile)
    assert not len(history.load(state, admin.scope)), "a dry run stores no history"

    first = sync_job.sync(profile, as_of=as_of)
    assert first.exit_code == 0, (first.error, first.write_errors)
    assert first.applied["tags_add"] == planned["counts"]["add"]
    stored = history.load(state, admin.scope)
    assert len(stored) == first.findings["fit_checklist"] == stored["client_id"].nunique()
    assert stored.set_index("client_id").at[target, "score"] == 100
    # another client, not good, gets a "good" tag by hand
    hand = int(stored.loc[stored["band"].isin(["fair", "poor"]), "client_id"].min())
    admin.call("res.partner", "write", [[hand], {"category_id": [(4, hand_good)]}])
    before = tags_of(admin, [target, hand])
    assert before[target] == {GOOD} and len(before[hand]) == 2

    for days in (70, 75, 80):  # three invoices long overdue: "pays on time" fails
        overdue_invoice(admin, target, as_of - timedelta(days=days))
    set_deadline(admin, task, as_of - timedelta(days=3))  # and the project is late
    audit = CliRunner().invoke(main, ["--config", str(tmp_path / "clientcare.toml"), "-p", "test", "audit",
                                      "--format", "json", "--client", str(target), "--as-of", as_of.isoformat()],
                               env={"CLIENTCARE_PASSWORD": odoo.secret(PASSWORD),
                                    "CLIENTCARE_RULES_ENABLED": "fit_checklist"})
    assert audit.exit_code == 0, audit.output
    found = json.loads(audit.output)["findings"]
    decline_key = f"fit_checklist:res.partner:{target}:decline"
    decline = next(f for f in found if f["key"] == decline_key)
    assert decline["summary"].startswith("fit score of \u2068Health Test Client\u2069 fell from 100 to 50 since ")
    assert "pays on time now fails" in decline["summary"] and "reasonable expectations now fails" in decline["summary"]
    assert len(history.load(state, admin.scope, [target])) == 2, "a live audit stores the change"
    runs = {r["run_id"]: r for r in RunHistory(state).list(limit=100)}
    audited = runs[history.load(state, admin.scope, [target])["run_id"].iloc[-1]]  # a run row of its own
    assert (audited["command"], audited["status"], audited["exit_code"]) == ("audit", "ok", 0)
    assert set(history.load(state, admin.scope)["run_id"]) <= set(runs)

    second = sync_job.sync(profile, as_of=as_of)
    assert second.exit_code == 0, (second.error, second.write_errors)
    assert len(history.load(state, admin.scope)) == len(stored) + 1  # stored by the audit already
    points = history.trend(history.load(state, admin.scope), target)
    assert points[-1]["band"] != "good" and points[0]["score"] - points[-1]["score"] >= 20
    assert "pays on time unknown -> fail" in points[-1]["changes"]
    assert second.applied["tags_move"] >= 1
    assert tags_of(admin, [target])[target] == {health_tags.NAMES[points[-1]["band"]]}
    after = open_keys(admin)
    act_id = after[decline_key]
    assert f"fit_checklist:res.partner:{target}:attention" not in after, "one activity per client, not two"
    act = admin.call("mail.activity", "read", [[act_id], ["user_id", "summary"]])[0]
    salesperson = admin.call("res.partner", "read", [[target], ["user_id"]])[0]["user_id"]
    assert act["user_id"][0] == salesperson[0] == demo
    assert act["summary"].startswith("fit score of ")

    third = sync_job.sync(profile, as_of=as_of)
    assert third.exit_code == 0 and writes(third) == {} and "res.partner.write" not in third.rpc_by_method
    assert len(history.load(state, admin.scope)) == len(stored) + 1
    assert decline_key in open_keys(admin)

    undone = sync_job.undo(profile, "health-3")  # the second sync moved the tag
    assert undone.exit_code == 0 and undone.applied["tags_removed"] >= 1
    assert decline_key not in open_keys(admin) and tags_of(admin, [target])[target] == set()

    profile = dataclasses.replace(profile, health_tags=False)  # opting out
    off = sync_job.sync(profile, as_of=as_of)
    assert off.exit_code == 0, off.error
    assert off.applied["tags_remove"] == off.plan["health_tags"]["counts"]["remove"] > 0
    left = admin.call("res.partner", "search", [[("category_id", "in", admin.call(
        "res.partner.category", "search", [[("name", "in", list(health_tags.NAMES.values()))]]))]])
    assert left == [hand] and tags_of(admin, [hand])[hand] == {GOOD}, "the hand-set tag stays"
    assert health_tags.links(state, admin.scope) == {}
    state.close()
    clean_slate(admin)
