"""A rule that fails to load reaches every command: named once, run partial, fatal with --strict;
and only the rules a profile enables are loaded at all."""
from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from clientcare.jobs.cli import main
from clientcare.rules.registry import builtin_names

from conftest import entry_point_installed

BROKEN = "broken_rule"


@pytest.fixture
def broken_rule_installed(tmp_path, monkeypatch):
    """A plugin whose module raises on import, visible through entry-point discovery."""
    (tmp_path / "cc_broken_rule_mod.py").write_text("raise ImportError('the plugin is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cc_broken_rule_mod", raising=False)
    with entry_point_installed(monkeypatch, BROKEN, "cc_broken_rule_mod"):
        yield


def run(args, tmp_path, enabled=(*builtin_names(), BROKEN), **extra):
    config = tmp_path / "empty.toml"
    config.write_text("")
    env = {"CLIENTCARE_CONFIG": str(config), "CLIENTCARE_RULES_ENABLED": ",".join(enabled), **extra}
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_audit_names_the_broken_rule_and_exits_partial(broken_rule_installed, tmp_path):
    result = run(["audit", "--demo"], tmp_path)
    assert result.exit_code == 1, result.output
    assert f"rule {BROKEN} failed: ImportError: the plugin is broken" in result.stderr
    assert "late_payment" in result.stdout  # the other rules still ran


def test_audit_json_lists_the_load_failure(broken_rule_installed, tmp_path):
    result = run(["audit", "--demo", "--format", "json"], tmp_path)
    assert result.exit_code == 1
    assert result.stderr.count(BROKEN) == 1


def test_strict_audit_and_sync_stop_with_exit_2(broken_rule_installed, tmp_path):
    result = run(["audit", "--demo", "--strict"], tmp_path)
    assert result.exit_code == 2, result.output
    assert f"rule {BROKEN} failed to load: ImportError: the plugin is broken" in result.stderr
    sync = run(["sync", "--strict", "--json"], tmp_path, CLIENTCARE_URL="http://127.0.0.1:9",
               CLIENTCARE_DB="x", CLIENTCARE_LOGIN="bot", CLIENTCARE_PASSWORD="x",
               CLIENTCARE_STATE_PATH=str(tmp_path / "s.sqlite3"))
    assert sync.exit_code == 2, sync.output
    summary = json.loads(sync.stdout)
    assert summary["status"] == "failed" and BROKEN in summary["error"] and summary["rpc_calls"] == 0


def test_a_rule_left_out_is_not_a_failure(broken_rule_installed, tmp_path):
    assert run(["audit", "--demo", "--strict", "--rules", "late_payment"], tmp_path).exit_code == 0
    assert run(["audit", "--demo", "--strict"], tmp_path, enabled=builtin_names()).exit_code == 0


def test_rules_list_names_each_failure_once_and_fails(broken_rule_installed, tmp_path):
    result = run(["rules", "list"], tmp_path)
    assert result.exit_code == 1
    assert result.output.count(BROKEN) == 1 and f"FAILED {BROKEN}" in result.stderr
    as_json = run(["rules", "list", "--json"], tmp_path)
    assert as_json.exit_code == 1
    assert [f["name"] for f in json.loads(as_json.stdout)["failures"]] == [BROKEN]


def test_an_enabled_rule_nobody_provides_is_a_load_failure(tmp_path):
    result = run(["audit", "--demo"], tmp_path, enabled=(*builtin_names(), "late_paymnt"))
    assert result.exit_code == 1
    assert "late_paymnt" in result.stderr and "did you mean 'late_payment'" in result.stderr


def test_rules_list_is_clean_without_failures(tmp_path):
    assert run(["rules", "list"], tmp_path, enabled=builtin_names()).exit_code == 0


def test_sync_names_the_broken_rule_and_exits_partial(broken_rule_installed, odoo, tmp_path):
    """Replays the first dry run of test_cli's sync test: a load failure adds no request."""
    from test_cli import env_for

    env = dict(env_for(odoo, tmp_path), CLIENTCARE_RULES_ENABLED=",".join([*builtin_names(), BROKEN]))
    with odoo.cassette("test_sync_dry_run_then_runs_and_undo", replay_only=True):
        result = CliRunner().invoke(main, ["sync", "--dry-run", "--json", "--as-of",
                                           odoo.recorded_at.date().isoformat()], env=env, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "partial" and summary["plan"]["counts"]  # the other rules ran
    assert [(e["rule"], e["stage"]) for e in summary["rule_errors"]] == [(BROKEN, "load")]
    assert "the plugin is broken" in summary["rule_errors"][0]["error"]
