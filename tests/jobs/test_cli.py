"""The command line, with click's runner, against the recorded servers and offline."""
from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from clientcare.connector import errors as E
from clientcare.jobs.exit_codes import EXIT_ODOO_REFUSED, EXIT_PARTIAL, EXIT_RETRY_LATER, EXIT_USAGE
from clientcare.jobs.cli import main

from conftest import LIMITED_PASSWORD, PASSWORD, ROOT, WRONG_PASSWORD


def empty_config(directory: Path) -> str:
    path = directory / "empty.toml"
    path.write_text("")
    return str(path)


def env_for(odoo, state_dir: Path, *, login=None, password=PASSWORD, transport="xmlrpc") -> dict:
    return {
        "CLIENTCARE_CONFIG": empty_config(state_dir),
        "CLIENTCARE_URL": odoo.server["url"], "CLIENTCARE_DB": odoo.server["db"],
        "CLIENTCARE_LOGIN": login or odoo.server["login"], "CLIENTCARE_PASSWORD": odoo.secret(password),
        "CLIENTCARE_API_KEY": "", "CLIENTCARE_TRANSPORT": transport,
        "CLIENTCARE_STATE_PATH": str(state_dir / "state.sqlite3"), "CLIENTCARE_RETRY_ATTEMPTS": "1",
    }


def invoke(args, env=None):
    runner = CliRunner()
    return runner.invoke(main, args, env=env, catch_exceptions=False)


def all_commands(group: click.Group, prefix=()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((prefix + (name,), cmd))
        if isinstance(cmd, click.Group):
            out += all_commands(cmd, prefix + (name,))
    return out


# -- help and the command reference (docs/commands.md) ---------------------------------
COMMANDS_DOC = ROOT / "docs" / "commands.md"


def documented_options(cmd: click.Command) -> list[str]:
    """Every spelling of every option a user can type (``--help`` is click's own)."""
    return [o for p in cmd.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts]


@pytest.mark.parametrize("path, cmd", all_commands(main), ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_command_has_help_and_is_in_the_command_reference(path, cmd):
    assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"
    reference = COMMANDS_DOC.read_text()
    assert f"clientcare {' '.join(path)}" in reference, f"`clientcare {' '.join(path)}` is not in {COMMANDS_DOC.name}"
    missing = [o for o in documented_options(cmd) if not re.search(rf"`{re.escape(o)}[` /|=]", reference)]
    assert missing == [], f"options of `clientcare {' '.join(path)}` not in {COMMANDS_DOC.name}"
    result = invoke(list(path) + ["--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_every_global_option_is_in_the_command_reference():
    reference = COMMANDS_DOC.read_text()
    assert [o for o in documented_options(main) if not re.search(rf"`{re.escape(o)}[` /|=]", reference)] == []


# -- offline ---------------------------------------------------------------------------
def test_demo_audit_shows_findings(tmp_path):
    result = invoke(["audit", "--demo"], env={"CLIENTCARE_CONFIG": empty_config(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "finding(s)" in result.output and "late_payment" in result.output
    assert "Not raised, because" in result.output and "covered by open credit note(s)" in result.output


def test_demo_audit_for_one_client_keeps_its_not_raised_only(tmp_path):
    env = {"CLIENTCARE_CONFIG": empty_config(tmp_path)}
    acme = invoke(["audit", "--demo", "--client", "Acme Corporation"], env=env)
    assert acme.exit_code == 0, acme.output
    assert "match 4 credit notes (103,556.25 USD) with overdue invoices of \u2068Acme Corporation\u2069" in acme.output
    assert "covered by open credit note(s)" in acme.output and "private task" not in acme.output
    explain = invoke(["explain", "--demo", "Acme Corporation"], env=env)
    assert "Not raised, because:" in explain.output and "not judged this run" in explain.output


@pytest.mark.parametrize("fmt", ["csv", "json", "html"])
def test_demo_audit_formats(tmp_path, fmt):
    out = tmp_path / f"audit.{fmt}"
    result = invoke(["audit", "--demo", "--format", fmt, "--output", str(out)],
                    env={"CLIENTCARE_CONFIG": empty_config(tmp_path)})
    assert result.exit_code == 0, result.output
    text = out.read_text()
    if fmt == "json":
        data = json.loads(text)
        assert data["findings"] and all(f["evidence"] for f in data["findings"])
        assert data["not_raised"] and {"rule", "model", "res_id", "client_id", "reason"} == set(data["not_raised"][0])
        assert {n["pattern"] for n in data["not_judged"]} >= {"fit_checklist:*:attention"}
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and text.count("<div class='card'><svg") == 4
        assert "<script" not in text and "Not raised, because" in text
    else:
        assert text.splitlines()[0].startswith("client_id,client,severity,rule")


def test_rules_list_and_show():
    result = invoke(["rules", "list"])
    assert result.exit_code == 0
    for name in ("fit_checklist", "late_payment", "unmet_deadlines", "follow_up"):
        assert re.search(rf"^{name}\s", result.output, re.M), result.output
    shown = invoke(["rules", "show", "late_payment"])
    assert shown.exit_code == 0 and "config" in shown.output and "needs" in shown.output
    missing = invoke(["rules", "show", "late_paymnet"])
    assert missing.exit_code == EXIT_USAGE and "did you mean 'late_payment'" in missing.output


def test_bad_profile_reports_every_problem_with_its_source(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[profiles.default]\nurl = "ftp://x"\ntimeout = "soon"\nlogn = "bot"\n'
                   '[profiles.default.rules.late_payment]\ngrace_dayz = 3\n')
    result = invoke(["--config", str(cfg), "sync"], env={"CLIENTCARE_PASSWORD": "x"})
    assert result.exit_code == EXIT_USAGE
    out = result.output
    assert "unknown key 'logn'" in out and "timeout must be float" in out and str(cfg) in out
    assert "grace_dayz" in out and "login: not set" in out


def test_config_show_masks_secrets(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[profiles.default]\nurl = "https://odoo.example.com"\ndb = "prod"\nlogin = "bot"\n'
                   'password = "hunter2-secret"\n')
    cfg.chmod(0o644)
    result = CliRunner().invoke(main, ["--config", str(cfg), "config", "show"])
    assert result.exit_code == 0
    assert "hunter2-secret" not in result.output and "***" in result.output


def test_unreachable_server_exits_retry_later(tmp_path):
    env = {"CLIENTCARE_CONFIG": empty_config(tmp_path), "CLIENTCARE_URL": "http://127.0.0.1:9",
           "CLIENTCARE_DB": "x", "CLIENTCARE_LOGIN": "bot", "CLIENTCARE_PASSWORD": "x",
           "CLIENTCARE_RETRY_ATTEMPTS": "1", "CLIENTCARE_STATE_PATH": str(tmp_path / "s.sqlite3"),
           "CLIENTCARE_TRANSPORT": "xmlrpc"}
    result = invoke(["audit"], env=env)
    assert result.exit_code == EXIT_RETRY_LATER and "connection failed" in result.output
    assert "hint:" in result.output
    check = invoke(["check"], env=env)
    assert check.exit_code == EXIT_RETRY_LATER and "FAIL server reachable" in check.output


# -- against the recorded servers --------------------------------------------------------
def test_check_passes_for_admin(odoo, cassette, tmp_path):
    result = invoke(["check"], env=env_for(odoo, tmp_path))
    assert result.exit_code == 0, result.output
    assert f"Odoo {odoo.server['server_version']}" in result.output
    assert "ok   credentials" in result.output


def test_check_wrong_password(odoo, cassette, tmp_path):
    result = invoke(["check"], env=env_for(odoo, tmp_path, password=WRONG_PASSWORD))
    assert result.exit_code == EXIT_ODOO_REFUSED
    assert "FAIL credentials" in result.output and WRONG_PASSWORD not in result.output


def test_check_reports_missing_rights(odoo, cassette, tmp_path):
    env = env_for(odoo, tmp_path, login=odoo.server["limited_login"], password=LIMITED_PASSWORD)
    result = invoke(["check"], env=env)
    assert "FAIL rights on account.move: no read right" in result.output, result.output
    # what sync would be refused: activities on clients need write on res.partner; the fix names the group
    assert "FAIL activities on res.partner: no write right" in result.output
    assert "Contact Creation (base.group_partner_manager)" in result.output
    assert result.exit_code == EXIT_ODOO_REFUSED


def test_audit_without_invoice_rights_skips_those_rules(odoo, cassette, tmp_path):
    env = env_for(odoo, tmp_path, login=odoo.server["limited_login"], password=LIMITED_PASSWORD)
    result = invoke(["audit", "--as-of", odoo.recorded_at.date().isoformat()], env=env)
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert "rule late_payment skipped: needs moves" in result.output
    # without invoices nobody can tell a new client from an old one: no onboarding is proposed
    assert "rule follow_up" not in result.output  # it ran, without invoices
    assert "agree on expectations" not in result.output and "onboarding" not in result.output
    assert "allowed for the following groups" in result.output  # Odoo's whole message, groups included
    assert "unmet_deadlines" in result.output or "No findings" in result.output


def test_audit_wrong_password_exits_4(odoo, cassette, tmp_path):
    result = invoke(["audit"], env=env_for(odoo, tmp_path, password=WRONG_PASSWORD))
    assert result.exit_code == EXIT_ODOO_REFUSED
    assert "refused the credentials" in result.output and odoo.server["url"] in result.output


def test_pull_then_offline_audit_and_explain(odoo, cassette, tmp_path):
    env = env_for(odoo, tmp_path)
    out = tmp_path / "snap"
    pulled = invoke(["pull", "--out", str(out)], env=env)
    assert pulled.exit_code == 0, pulled.output
    assert (out / "meta.json").exists()
    as_of = odoo.recorded_at.date().isoformat()
    audit = invoke(["audit", "--snapshot", str(out), "--as-of", as_of, "--format", "json"], env=env)
    assert audit.exit_code == 0, audit.output
    findings = json.loads(audit.stdout)["findings"]
    assert findings
    client = next(f["client_id"] for f in findings if f["client_id"])
    explained = invoke(["explain", str(client), "--snapshot", str(out), "--as-of", as_of], env=env)
    assert explained.exit_code == 0 and "sync would" in explained.output


def test_sync_dry_run_then_runs_and_undo(odoo, cassette, tmp_path, monkeypatch):
    import itertools
    from clientcare.jobs import sync as sync_job

    counter = itertools.count(1)
    monkeypatch.setattr(sync_job, "new_run_id", lambda: f"cli-run-{next(counter)}")
    env = env_for(odoo, tmp_path)
    as_of = odoo.recorded_at.date().isoformat()
    dry = invoke(["sync", "--dry-run", "--as-of", as_of], env=env)
    assert dry.exit_code == 0, dry.output
    assert "run cli-run-1 (dry run): ok" in dry.output and "create" in dry.output
    as_json = invoke(["sync", "--dry-run", "--json", "--as-of", as_of], env=env)
    summary = json.loads(as_json.stdout)
    assert summary["dry_run"] and summary["plan"]["counts"] and summary["applied"] == {}
    assert not [k for k in summary["rpc_by_method"] if k.rsplit(".", 1)[1] in ("create", "write", "unlink")]
    listed = invoke(["runs"], env=env)
    assert listed.exit_code == 0 and "cli-run-1" in listed.output and "cli-run-2" in listed.output
    one = invoke(["runs", "cli-run-2"], env=env)
    assert json.loads(one.stdout)["summary"]["plan"]["counts"] == summary["plan"]["counts"]
    undone = invoke(["undo", "cli-run-1"], env=env)  # a dry run created nothing: nothing to remove
    assert undone.exit_code == 0 and "removed 0 activities and 0 notes" in undone.output
    assert "cli-run-3  undo cli-run-1" in invoke(["runs"], env=env).output  # undo is in the history
    missing = invoke(["undo", "no-such-run"], env=env)
    assert missing.exit_code == EXIT_USAGE and "no run 'no-such-run'" in missing.output


class _Stderr(io.StringIO):
    def __init__(self, terminal: bool):
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize("command", [["pull", "--out", "snap"], ["audit"], ["sync"]], ids=" ".join)
@pytest.mark.parametrize("terminal, quiet", [(False, False), (True, False), (True, True)],
                         ids=["cron", "terminal", "terminal-quiet"])
def test_progress_only_on_a_terminal(command, terminal, quiet, tmp_path, monkeypatch):
    """The client a command opens gets the progress line on a terminal; nothing when stderr is a
    file or a pipe (cron), nor with -q."""
    from clientcare.jobs import sync as sync_job

    given = []

    def open_client(profile, state=None, progress=None):
        given.append(progress)
        if progress is not None:
            progress("res.partner", 120)
        raise E.ConnectionFailure("stopped by the test")

    monkeypatch.setattr(sync_job, "open_client", open_client)
    monkeypatch.chdir(tmp_path)
    for name, value in {"CLIENTCARE_CONFIG": empty_config(tmp_path), "CLIENTCARE_URL": "http://127.0.0.1:9",
                        "CLIENTCARE_DB": "d", "CLIENTCARE_LOGIN": "bot", "CLIENTCARE_PASSWORD": "x",
                        "CLIENTCARE_STATE_PATH": str(tmp_path / "state.sqlite3")}.items():
        monkeypatch.setenv(name, value)
    stderr = _Stderr(terminal)
    monkeypatch.setattr(sys, "stderr", stderr)
    with pytest.raises(click.ClickException):
        main.main(["-q", *command] if quiet else command, obj={}, standalone_mode=False)
    assert len(given) == 1
    if terminal and not quiet:
        assert callable(given[0])
        assert "\r\033[K  pulling res.partner: 120 records" in stderr.getvalue()
        assert stderr.getvalue().endswith("\r\033[K")  # the line is cleared when the command ends
    else:
        assert given == [None] and "pulling" not in stderr.getvalue()
