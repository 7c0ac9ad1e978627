"""A database without the account and project modules (only contacts and mail), recorded
from a real Odoo 19: `check` says what is missing, `audit` skips what cannot run."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from clientcare.jobs.exit_codes import EXIT_PARTIAL
from clientcare.jobs.cli import main

from conftest import CASSETTES, PASSWORD, OdooServer

BARE = CASSETTES / "odoo19-bare"


@pytest.fixture
def bare(request, tmp_path):
    live = request.config._clientcare_live
    if live is not None:
        if "bare" not in live.db:
            pytest.skip("re-record with ODOO_DB naming the database without account/project")
        BARE.mkdir(exist_ok=True)
        (BARE / "server.json").write_text(json.dumps(live.server, indent=1) + "\n")
        server = live.server
    else:
        server = json.loads((BARE / "server.json").read_text())
    srv = OdooServer(server, BARE, live)
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    env = {"CLIENTCARE_CONFIG": str(cfg), "CLIENTCARE_URL": server["url"], "CLIENTCARE_DB": server["db"],
           "CLIENTCARE_LOGIN": server["login"], "CLIENTCARE_PASSWORD": srv.secret(PASSWORD),
           "CLIENTCARE_TRANSPORT": "xmlrpc", "CLIENTCARE_RETRY_ATTEMPTS": "1",
           "CLIENTCARE_STATE_PATH": str(tmp_path / "state.sqlite3")}
    return srv, env


def test_check_names_the_missing_modules(bare):
    srv, env = bare
    with srv.cassette("test_check_names_the_missing_modules"):
        result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 0, result.output
    assert "warn modules: not installed: account, project, rating" in result.output
    # what each missing module costs, from the enabled rules' declared needs
    assert ("without account, the rules reading account.move are skipped or judge less: fit_checklist, "
            "follow_up, late_payment, responsiveness;" in result.output)
    assert "without rating, the rules reading rating.rating are skipped or judge less: fit_checklist, follow_up" \
        in result.output
    # no resource module: working time is the profile's (a warning, not a failure)
    assert ("warn working time: cannot read resource.calendar (the resource module is not installed): the "
            "profile's working_time values apply (none set: Monday to Friday 09:00-17:00 UTC)") in result.output


def test_audit_skips_the_rules_that_need_missing_modules(bare):
    srv, env = bare
    with srv.cassette("test_audit_skips_the_rules_that_need_missing_modules"):
        result = CliRunner().invoke(main, ["audit", "--as-of", srv.recorded_at.date().isoformat()], env=env)
    assert result.exit_code == EXIT_PARTIAL, result.output
    for rule in ("late_payment", "unmet_deadlines", "fit_checklist", "follow_up"):
        assert f"rule {rule} skipped: needs" in result.output, rule
    assert "Object project.task doesn't exist" in result.output or "MissingModelError" in result.output
