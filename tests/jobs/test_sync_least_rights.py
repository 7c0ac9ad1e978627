"""The least-rights bot of the README (``ODOO_BOT_USER``, default ``ccbot``) can check, sync
and undo on a real server: no call it makes needs more than the documented groups.

Recorded against a server where that user exists with exactly the README's groups (and, on
Odoo 16, an email address).  The same recording shows the calm write-back: no activity born
overdue, no mail queued, a second sync, a sync with a fresh state file and a sync that runs
one rule only all write nothing (unknown is never taken for resolved).
"""
from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner

from clientcare.connector.client import OdooClient
from clientcare.jobs import sync as sync_job
from clientcare.jobs.cli import main

from conftest import BOT_PASSWORD, RECORDED_RULES
from test_sync_cassettes import clean_slate, open_keys


@pytest.fixture
def bot_env(odoo, tmp_path, monkeypatch):
    counter = itertools.count(1)
    monkeypatch.setattr(sync_job, "new_run_id", lambda: f"bot-run-{next(counter)}")
    (tmp_path / "empty.toml").write_text("")
    return {
        "CLIENTCARE_CONFIG": str(tmp_path / "empty.toml"), "CLIENTCARE_URL": odoo.server["url"],
        "CLIENTCARE_DB": odoo.server["db"], "CLIENTCARE_LOGIN": odoo.server["bot_login"],
        "CLIENTCARE_PASSWORD": odoo.secret(BOT_PASSWORD), "CLIENTCARE_API_KEY": "",
        "CLIENTCARE_TRANSPORT": "xmlrpc", "CLIENTCARE_STATE_PATH": str(tmp_path / "state.sqlite3"),
        "CLIENTCARE_RETRY_ATTEMPTS": "1", "CLIENTCARE_DEFAULT_USER_ID": "2",
        # as recorded: before responsiveness and talking points
        "CLIENTCARE_RULES_ENABLED": ",".join(RECORDED_RULES), "CLIENTCARE_TALKING_POINTS": "false",
    }


def invoke(args, env):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_least_rights_bot_checks_syncs_and_undoes(odoo, bot_env, cassette, tmp_path):
    admin = OdooClient(odoo.settings())
    clean_slate(admin)
    as_of = odoo.recorded_at.date().isoformat()

    check = invoke(["check"], bot_env)
    assert check.exit_code == 0, check.output
    for model in ("res.partner", "project.project", "project.task"):
        assert f"ok   activities on {model}" in check.output

    dry = invoke(["sync", "--dry-run", "--json", "--as-of", as_of], bot_env)
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert planned["status"] == "ok" and not [k for k in planned["rpc_by_method"] if k.startswith("ir.model.")
                                              and not k.endswith("check_object_reference")]

    last_mail = admin.call("mail.mail", "search", [[]], {"limit": 1, "order": "id desc"})
    first = json.loads(invoke(["sync", "--json", "--as-of", as_of], bot_env).stdout)
    queued = admin.call("mail.mail", "search_count", [[("id", ">", last_mail[0] if last_mail else 0)]])
    assert queued == 0, "assignment mails are off by default"
    assert first["exit_code"] == 0 and first["write_errors"] == [], first
    keys = open_keys(admin)
    assert first["applied"]["created"] == len(keys) > 0
    rows = admin.search_read_all("mail.activity", [("id", "in", list(keys.values()))], ["date_deadline"])
    assert min(r["date_deadline"] for r in rows) >= as_of, "no activity is born overdue"

    second = invoke(["sync", "--json", "--as-of", as_of], bot_env)
    assert second.exit_code == 0 and json.loads(second.stdout)["applied"] == {}
    # one rule only: the others' activities are not judged this run, so none is closed
    one_rule = invoke(["sync", "--json", "--as-of", as_of, "--rules", "unmet_deadlines"], bot_env)
    assert one_rule.exit_code == 0 and json.loads(one_rule.stdout)["applied"] == {}
    # a fresh state file adopts the open activities from their marker: nothing closed or doubled
    fresh = invoke(["sync", "--json", "--as-of", as_of], dict(bot_env, CLIENTCARE_STATE_PATH=str(tmp_path / "new.sqlite3")))
    assert fresh.exit_code == 0 and json.loads(fresh.stdout)["applied"] == {}
    assert open_keys(admin) == keys

    undone = invoke(["undo", "bot-run-2"], bot_env)
    assert undone.exit_code == 0, undone.output
    assert f"removed {len(keys)} activities" in undone.output and open_keys(admin) == {}
    assert "undo bot-run-2" in invoke(["runs"], bot_env).output
    clean_slate(admin)

