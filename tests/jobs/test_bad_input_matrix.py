"""The bad-input matrix (issue 13): every bad input ends in one clear line and its documented
exit code, with no traceback (unless ``--debug``), no secret anywhere, no spreadsheet formula,
and nothing at all under ``-q`` for the exits the README calls harmless (3 and 5).

Offline rows run the CLI in-process with click's runner; the transport rows run it against
tiny HTTP servers on 127.0.0.1: one that is not Odoo (a web page), one that answers 404, and an
"echo" server that plays Odoo just far enough to log in and then puts the request it received
(password, API key and authorization header included) into its error message, on every
transport, so that a secret would reach the output if any layer failed to redact it.
"""
from __future__ import annotations

import base64
import dataclasses
import errno
import json
import logging
import os
import sqlite3
import threading
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from clientcare.connector import errors as E
from clientcare.jobs.exit_codes import (EXIT_LOCKED, EXIT_ODOO_REFUSED, EXIT_OK, EXIT_PARTIAL,
                                        EXIT_RETRY_LATER, EXIT_USAGE)
from clientcare.connector import state as state_mod
from clientcare.jobs import cli as cli_mod
from clientcare.jobs.cli import main
from clientcare.jobs.config import KEYS
from clientcare.connector.demo import demo_as_of, demo_snapshot
from clientcare.jobs.logs import RedactSecrets, secret_forms
from clientcare.jobs.run_history import RunHistory, profile_lock
from clientcare.jobs.run_session import open_store

# Secrets with quotes, backslashes, non-ASCII, JSON/XML/URL-special characters.
SECRETS = [
    'pa"ss\\wörd{1}<&>',
    "it's-a-\\n-'quoted'+/=%20",
    "ключ-🔑-\\u00e9\\\"end",
    'x{"password": "y"}&amp;#',
]


# -- helpers -------------------------------------------------------------------------
def invoke(args, env, **kw):
    return CliRunner().invoke(main, args, env=env, **kw)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_one_error_line(result, code: int, *texts: str, absent: tuple[str, ...] = ()):
    """The documented exit code, one ``Error:`` line holding ``texts``, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    errors = [line for line in lines(result.stderr) if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for text in texts:
        assert text in errors[0], (text, errors[0])
    for text in absent:
        assert text not in result.output, (text, result.output)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return errors[0]


def every_form_absent(blobs: list[bytes | str], secret: str) -> list[str]:
    found = []
    for blob in blobs:
        text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
        found += [f for f in secret_forms(secret) if len(f) >= 6 and f in text]
    return found


@pytest.fixture
def env(tmp_path):
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    return {"CLIENTCARE_CONFIG": str(cfg), "CLIENTCARE_URL": "http://127.0.0.1:9", "CLIENTCARE_DB": "db",
            "CLIENTCARE_LOGIN": "bot", "CLIENTCARE_PASSWORD": "pw-not-shown-1", "CLIENTCARE_RETRY_ATTEMPTS": "1",
            "CLIENTCARE_TRANSPORT": "xmlrpc", "CLIENTCARE_STATE_PATH": str(tmp_path / "state.sqlite3")}


def profile_file(tmp_path: Path, body: str, rules: str = "") -> str:
    path = tmp_path / "profile.toml"
    path.write_text('[profiles.default]\nurl = "http://127.0.0.1:9"\ndb = "d"\nlogin = "bot"\n'
                    f'state_path = "{tmp_path / "state.sqlite3"}"\n{body}\n{rules}')
    return str(path)


@pytest.fixture
def snapshot_dir(tmp_path):
    return demo_snapshot().save(tmp_path / "snap")


# -- damaged files ClientCare reads: snapshots ------------------------------------------
def _missing_table(d):
    (d / "tasks.parquet").unlink()
    return "tasks.parquet is missing"


def _damaged_parquet(d):
    (d / "moves.parquet").write_bytes(b"PAR1 this is not parquet" * 10)
    return "moves.parquet is damaged"


def _truncated_parquet(d):
    data = (d / "partners.parquet").read_bytes()
    (d / "partners.parquet").write_bytes(data[: len(data) // 2])
    return "partners.parquet is damaged"


def _damaged_meta(d):
    (d / "meta.json").write_text('{"tables": ["partners", ')
    return "meta.json is damaged"


def _meta_not_an_object(d):
    (d / "meta.json").write_text('["partners"]')
    return "meta.json is damaged"


def _meta_tables_wrong(d):
    (d / "meta.json").write_text('{"tables": "partners"}')
    return "meta.json is damaged"


def _meta_binary(d):
    (d / "meta.json").write_bytes(b"\xff\xfe\x00garbage")
    return "meta.json is damaged"


def _no_meta(d):
    (d / "meta.json").unlink()
    return "no meta.json"


def _newer_meta(d):
    meta = json.loads((d / "meta.json").read_text())
    (d / "meta.json").write_text(json.dumps(dict(meta, format_version=99)))
    return "newer ClientCare"


@pytest.mark.parametrize("damage", [_missing_table, _damaged_parquet, _truncated_parquet, _damaged_meta,
                                    _meta_not_an_object, _meta_tables_wrong, _meta_binary, _no_meta,
                                    _newer_meta], ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("command", [["audit"], ["audit", "--format", "csv"], ["explain", "9"]],
                         ids=lambda c: " ".join(c))
def test_damaged_snapshot_is_one_line_naming_the_file_exit_2(damage, command, snapshot_dir, env):
    text = damage(snapshot_dir)
    result = invoke([*command, "--snapshot", str(snapshot_dir)], env)
    line = assert_one_error_line(result, EXIT_USAGE, text)
    if "damaged" in text or "missing" in text:
        assert "clientcare pull --out" in line  # what to do


# -- damaged files ClientCare reads: the config file and the state file --------------------
def test_damaged_config_file_is_one_line_exit_2(tmp_path, env):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[profiles.default\nurl = ")
    result = invoke(["--config", str(cfg), "runs"], env)
    assert_one_error_line(result, EXIT_USAGE, "not valid TOML")


@pytest.mark.parametrize("content", [b"garbage" * 1000, b"SQLite format 3\x00" + b"\x00" * 50])
def test_damaged_state_file_is_one_line_exit_2(content, tmp_path, env):
    (tmp_path / "state.sqlite3").write_bytes(content)
    result = invoke(["runs"], env)
    assert_one_error_line(result, EXIT_USAGE, "state file", absent=("invalid configuration",))
    assert (tmp_path / "state.sqlite3").read_bytes() == content  # never reset


def test_foreign_sqlite_file_is_refused_untouched(tmp_path, env):
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE x (y)")
    db.commit()
    db.close()
    before = path.read_bytes()
    result = invoke(["runs"], env)
    assert_one_error_line(result, EXIT_USAGE, "not written by ClientCare")
    assert path.read_bytes() == before


def _deny(monkeypatch, denied: Path):
    """Permission denied on ``denied`` (root ignores file modes, so the check is simulated there;
    other users get a real chmod)."""
    if os.geteuid() != 0:
        denied.chmod(0o500 if denied.is_dir() else 0o000)
        return
    real = os.access

    def access(path, mode, *a, **kw):
        if Path(path) == denied:
            return False
        return real(path, mode, *a, **kw)

    monkeypatch.setattr(state_mod.os, "access", access)


def test_unreadable_state_file_says_permission_denied_not_move_it_away(tmp_path, env, monkeypatch):
    path = tmp_path / "state.sqlite3"
    open_store(path).close()
    _deny(monkeypatch, path)
    try:
        for command in (["runs"], ["sync"], ["audit"]):
            result = invoke(command, env)
            line = assert_one_error_line(result, EXIT_USAGE, "permission denied", str(path))
            assert "move it away" not in line.replace("do not move it away", "")
    finally:
        path.chmod(0o600)


def test_unwritable_state_directory_is_refused_before_any_work(tmp_path, env, monkeypatch, odoo_like):
    ro = tmp_path / "ro"
    ro.mkdir()
    _deny(monkeypatch, ro)
    try:
        result = invoke(["sync", "--state", str(ro / "s.sqlite3")], dict(env, CLIENTCARE_URL=odoo_like.url))
        assert_one_error_line(result, EXIT_USAGE, "permission denied", str(ro))
        assert odoo_like.requests == []  # refused before connecting
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("where", ["state_under_a_file", "state_is_a_directory"])
def test_impossible_state_path_is_one_line_exit_2(where, tmp_path, env, odoo_like):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "s.sqlite3" if where == "state_under_a_file" else tmp_path
    result = invoke(["sync"], dict(env, CLIENTCARE_URL=odoo_like.url, CLIENTCARE_STATE_PATH=str(target)))
    assert_one_error_line(result, EXIT_USAGE, "state file")
    assert odoo_like.requests == []


def test_unwritable_pull_out_is_refused_before_the_pull(tmp_path, env, monkeypatch, odoo_like):
    (tmp_path / "afile").write_text("x")
    result = invoke(["pull", "--out", str(tmp_path / "afile" / "snap")], dict(env, CLIENTCARE_URL=odoo_like.url))
    assert_one_error_line(result, EXIT_USAGE, "--out", "not a directory")
    assert odoo_like.requests == []
    ro = tmp_path / "ro"
    ro.mkdir()
    _deny(monkeypatch, ro)
    try:
        result = invoke(["pull", "--out", str(ro / "snap")], dict(env, CLIENTCARE_URL=odoo_like.url))
        assert_one_error_line(result, EXIT_USAGE, "--out", "permission denied")
        assert odoo_like.requests == []
    finally:
        ro.chmod(0o700)


def test_unwritable_audit_output_is_refused_before_the_audit(tmp_path, env):
    (tmp_path / "afile").write_text("x")
    result = invoke(["audit", "--demo", "-o", str(tmp_path / "afile" / "r.html")], env)
    assert_one_error_line(result, EXIT_USAGE, "--output")


# -- CSV: no spreadsheet formula ----------------------------------------------------------
FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
            "\tTAB", "\rCR"]


def test_csv_neutralises_formula_cells(tmp_path, env):
    snap = demo_snapshot()
    partners = snap.tables["partners"].copy()
    clients = snap.clients["id"].astype(int).tolist()[: len(FORMULAS)]
    for cid, name in zip(clients, FORMULAS):
        partners.loc[partners["id"] == cid, "name"] = name
    snap.tables["partners"] = partners
    d = snap.save(tmp_path / "hostile")
    out = tmp_path / "r.csv"
    result = invoke(["audit", "--snapshot", str(d), "--as-of", demo_as_of(snap).isoformat(), "--format", "csv",
                     "-o", str(out)], env)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    cells = [c for col in frame.columns for c in frame[col].tolist()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    named = set(frame["client"])
    assert "'" + FORMULAS[0] in named  # neutralised with a single quote, text kept
    assert any(c.startswith("'=HYPERLINK") for c in frame["summary"]) or "'" + FORMULAS[0] in named
    # ids are integers, not floats
    ids = [v for v in frame["client_id"] if v]
    assert ids and all(v.isdigit() for v in ids), ids[:5]


def test_csv_keeps_negative_numbers_numbers():
    from clientcare.jobs.report import render_csv
    text = render_csv(pd.DataFrame({"client_id": [1.0, None], "amount": [-5.0, 3.0], "name": ["-x", "ok"]}))
    assert text.split("\r\n") == ["client_id,amount,name", "1,-5.0,'-x", ",3.0,ok", ""]


# -- -q under cron: nothing for the harmless exits 3 and 5 -----------------------------------
def test_quiet_sync_prints_nothing_when_odoo_is_down(env):
    result = invoke(["-q", "sync"], env)
    assert result.exit_code == EXIT_RETRY_LATER
    assert result.stdout == "" and result.stderr == ""
    loud = invoke(["sync"], env)  # without -q: exactly one line saying why
    assert_one_error_line(loud, EXIT_RETRY_LATER, "connection failed")
    assert loud.stdout == ""


def test_quiet_sync_prints_nothing_when_locked(env, tmp_path):
    with profile_lock(tmp_path / "state.sqlite3"):
        result = invoke(["-q", "sync"], env)
        assert result.exit_code == EXIT_LOCKED
        assert result.stdout == "" and result.stderr == ""
        loud = invoke(["sync"], env)
        assert_one_error_line(loud, EXIT_LOCKED, "another ClientCare run")


def test_quiet_still_reports_what_needs_a_person(env):
    result = invoke(["-q", "sync"], dict(env, CLIENTCARE_URL="ftp://x"))
    assert_one_error_line(result, EXIT_USAGE, "not an http(s) URL")


def test_quiet_does_not_print_wrote_file(env, tmp_path):
    result = invoke(["-q", "audit", "--demo", "-o", str(tmp_path / "a.txt")], env)
    assert result.exit_code == 0 and "wrote" not in result.output


# -- --debug: traceback added, exit code kept -----------------------------------------------
@pytest.mark.parametrize("args, code", [
    (["sync"], EXIT_RETRY_LATER),
    (["audit", "--demo", "--client", "Nobody"], EXIT_USAGE),
    (["runs", "no-such"], EXIT_USAGE),
    (["audit"], EXIT_RETRY_LATER),
])
def test_debug_adds_the_traceback_and_keeps_the_exit_code(args, code, env):
    plain = invoke(args, env)
    assert plain.exit_code == code and "Traceback" not in plain.output
    debug = invoke(["--debug", *args], env)
    assert debug.exit_code == code, debug.output
    assert "Traceback (most recent call last)" in debug.stderr
    assert [line for line in lines(debug.stderr) if line.startswith("Error:")]


def test_internal_error_is_one_line_exit_1_and_traceback_with_debug(env, monkeypatch):
    from clientcare.jobs import report

    def boom(*a, **kw):
        raise RuntimeError("a bug")

    monkeypatch.setattr(report, "render_text", boom)
    result = invoke(["audit", "--demo"], env)
    assert_one_error_line(result, EXIT_PARTIAL, "internal error RuntimeError: a bug", "--debug")
    debug = invoke(["--debug", "audit", "--demo"], env)
    assert debug.exit_code == EXIT_PARTIAL and "Traceback" in debug.stderr


# -- --log-format json: every line JSON ------------------------------------------------------
@pytest.mark.parametrize("args", [["sync"], ["audit"], ["runs", "no-such"], ["audit", "--demo", "--as-of", "x"],
                                  ["--debug", "sync"], ["audit", "--demo", "--client", "Nobody"],
                                  ["explain", "999", "--demo"], ["nosuchcommand"]])
def test_json_log_format_makes_every_stderr_line_json(args, env):
    result = invoke(["--log-format", "json", *args], env)
    assert result.exit_code != 0
    entries = [json.loads(line) for line in lines(result.stderr)]  # fails on any non-JSON line
    final = entries[-1]
    assert final["level"] == "error" and final["exit_code"] == result.exit_code and final["msg"]
    if "--debug" in args:
        assert "Traceback" in final.get("exc", "")


# -- max_creations ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", [-5, -1])
def test_negative_max_creations_refused_at_start_up(value, tmp_path, env):
    cfg = profile_file(tmp_path, f"max_creations = {value}")
    for command in (["runs"], ["audit", "--demo"], ["config", "show"]):
        result = invoke(["--config", cfg, *command], dict(env, CLIENTCARE_CONFIG=cfg))
        assert_one_error_line(result, EXIT_USAGE, "max_creations must be an integer from 0")
    from_env = invoke(["runs"], dict(env, CLIENTCARE_MAX_CREATIONS=str(value)))
    assert_one_error_line(from_env, EXIT_USAGE, "CLIENTCARE_MAX_CREATIONS", "max_creations")


def test_max_creations_zero_creates_nothing_and_is_not_partial(state):
    from datetime import date

    from clientcare.jobs.config import load_profile
    from clientcare.jobs.sync import _max_creations
    from clientcare.jobs.writeback import WriteBack

    from odoo_double import OdooDouble
    from writeback_findings import finding

    profile = load_profile("default", None, {"max_creations": 0}, env={}, require_connection=False)
    assert _max_creations(profile) == 0
    assert _max_creations(load_profile("default", None, {}, env={}, require_connection=False)) == 500
    odoo = OdooDouble()
    wb = WriteBack(odoo, state, "run0", as_of=date(2026, 11, 22), max_creations=0)
    plan = wb.plan([finding(i) for i in range(1, 11)])
    wb.apply(plan)
    assert odoo.open_activities() == [] and not plan.of("create", "note")
    assert not wb.warnings  # turned off on purpose: not a partial run
    capped = WriteBack(OdooDouble(), state, "run1", as_of=date(2026, 11, 22), max_creations=5)
    plan = capped.plan([finding(i) for i in range(1, 11)])
    assert len(plan.of("create", "note")) == 5 and capped.warnings


# -- escalation off: one documented way ---------------------------------------------------------
def _escalated(result) -> list[str]:
    return [f for f in json.loads(result.stdout)["findings"] if f["data"].get("kind") == "escalated"]


def test_escalation_turned_off_with_zero(tmp_path, env):
    on = invoke(["audit", "--demo", "--format", "json"], env)
    assert on.exit_code == 0 and _escalated(on)
    cfg = profile_file(tmp_path, "", "[profiles.default.rules.unmet_deadlines]\nescalate_after_days = 0\n")
    off = invoke(["--config", cfg, "audit", "--demo", "--format", "json"], dict(env, CLIENTCARE_CONFIG=cfg))
    assert off.exit_code == 0, off.output
    assert not _escalated(off)
    shown = invoke(["rules", "show", "unmet_deadlines"], env)
    assert "escalate_after_days" in shown.output and "0 turns escalation off" in shown.output


@pytest.mark.parametrize("value", ['"none"', "false", "-3", "1.5"])
def test_other_ways_to_turn_escalation_off_are_refused_with_the_right_one(value, tmp_path, env):
    cfg = profile_file(tmp_path, "", f"[profiles.default.rules.unmet_deadlines]\nescalate_after_days = {value}\n")
    result = invoke(["--config", cfg, "audit", "--demo"], dict(env, CLIENTCARE_CONFIG=cfg))
    assert result.exit_code == EXIT_USAGE and "escalate_after_days" in result.output
    assert "Traceback" not in result.output


# -- config: every key, wrong type / negative / absurd, from the file and the environment ----------
def _bad_values(key: str) -> list[tuple[str, str, str]]:
    """(TOML literal, env value, why) of values each key must refuse."""
    typ = KEYS[key][0]
    if typ is bool:
        return [('"yes"', "maybe", "wrong type"), ("2", "2", "wrong type")]
    if typ is int:
        return [('"many"', "many", "wrong type"), ("1.5", "1.5", "wrong type"), ("-1", "-1", "negative"),
                ("1000000000000", "1000000000000", "absurd")]
    if typ is float:
        return [('"slow"', "slow", "wrong type"), ("-1", "-1", "negative"), ("0", "0", "zero"),
                ("1e9", "1e9", "absurd")]
    return [("5", None, "wrong type")]


CONFIG_CASES = [(k, *v) for k in KEYS for v in _bad_values(k)
                if not (k in ("max_creations",) and v[2] == "negative")] + [
    ("url", '" https://odoo.example.com"', " https://odoo.example.com", "leading space"),
    ("url", '"https://odoo.example.com/web"', "https://odoo.example.com/web", "a /web path"),
    ("url", '"https://bot:hunter2-in-url@odoo.example.com"', "https://bot:hunter2-in-url@odoo.example.com",
     "credentials in the URL"),
    ("url", '"odoo.example.com"', "odoo.example.com", "no scheme"),
    ("transport", '"carrier-pigeon"', "carrier-pigeon", "unknown"),
    ("max_creations", "-5", "-5", "negative"),
    ("page_size", "0", "0", "zero"),
    ("retry_attempts", "0", "0", "zero"),
]


@pytest.mark.parametrize("key, literal, env_value, why", CONFIG_CASES,
                         ids=[f"{c[0]}-{c[3]}-{c[1]}" for c in CONFIG_CASES])
@pytest.mark.parametrize("command", [["config", "show"], ["runs"], ["audit", "--demo"]], ids=" ".join)
def test_every_config_key_is_validated_at_start_up(key, literal, env_value, why, command, tmp_path, env):
    if key == "state_path" and why == "wrong type":
        literal = "5"
    path = tmp_path / "profile.toml"
    values = {"url": '"http://127.0.0.1:9"', "db": '"d"', "login": '"bot"',
              "state_path": f'"{tmp_path / "state.sqlite3"}"'}
    values[key] = literal
    lines_ = ['[profiles.default]'] + [f"{k} = {v}" for k, v in values.items()]
    path.write_text("\n".join(lines_) + "\n")
    clean_env = {k: v for k, v in env.items() if k == "CLIENTCARE_CONFIG"}
    result = invoke(["--config", str(path), *command], dict(clean_env, CLIENTCARE_CONFIG=str(path)))
    assert result.exit_code == EXIT_USAGE, (result.exit_code, result.output)
    assert "Traceback" not in result.output and key in result.stderr, result.output
    assert str(path) in result.stderr  # where the value came from
    assert "hunter2-in-url" not in result.output
    if env_value is not None:
        result = invoke([*command], dict(env, **{f"CLIENTCARE_{key.upper()}": env_value}))
        assert result.exit_code == EXIT_USAGE, (key, env_value, result.output)
        assert f"CLIENTCARE_{key.upper()}" in result.stderr and "Traceback" not in result.output
        assert "hunter2-in-url" not in result.output


def test_every_config_problem_is_reported_at_once(tmp_path, env):
    cfg = profile_file(tmp_path, 'timeout = -1\npage_size = 0\nverify_tls = "yes"\nmax_creations = -5\n')
    result = invoke(["--config", cfg, "runs"], dict(env, CLIENTCARE_CONFIG=cfg))
    assert result.exit_code == EXIT_USAGE
    for key in ("timeout", "page_size", "verify_tls", "max_creations"):
        assert key in result.stderr


def test_config_show_masks_credentials_in_the_url(tmp_path):
    from clientcare.jobs.config import load_profile
    profile = load_profile("default", None, {}, env={"CLIENTCARE_URL": "https://odoo.example.com"},
                           require_connection=False)
    profile = dataclasses.replace(profile, url="https://bot:hunter2-in-url@odoo.example.com")
    assert "hunter2" not in json.dumps(profile.shown())


def test_verify_tls_off_from_the_file_warns_once(tmp_path, env, odoo_like):
    cfg = profile_file(tmp_path, 'verify_tls = false\npassword = "pw-x-1"\nretry_attempts = 1\n')
    cfg_text = Path(cfg).read_text().replace("http://127.0.0.1:9", odoo_like.url)
    Path(cfg).write_text(cfg_text)
    Path(cfg).chmod(0o600)
    result = invoke(["--config", cfg, "check"], {"CLIENTCARE_CONFIG": cfg})
    assert result.output.count("TLS verification is off") == 1, result.output
    assert "verify_tls = false" in result.output
    insecure = invoke(["check", "--insecure"], dict(env, CLIENTCARE_URL=odoo_like.url))
    assert insecure.output.count("TLS verification is off") == 1, insecure.output


# -- wording: usage errors that name the problem -------------------------------------------------
@pytest.mark.parametrize("args, text", [
    (["audit", "--demo", "--client", "Nobody"], "no client matches 'Nobody'"),
    (["explain", "999", "--demo"], "no client matches '999'"),
    (["runs", "no-such"], "no run 'no-such'"),
    (["audit", "--demo", "--as-of", "2026-02-30"], "not a date of the calendar"),
    (["audit", "--demo", "--as-of", "30/11/2026"], "YYYY-MM-DD"),
    (["audit", "--demo", "--rules", ","], "names no rule"),
    (["audit", "--demo", "--rules", "no_such_rule"], "no_such_rule"),
    (["sync", "--client", "Acme"], "sync takes a client id"),
    (["runs", "--limit", "0"], "--limit"),
    (["runs", "--limit", "-3"], "--limit"),
    (["audit", "--demo", "--snapshot", "."], "give one"),
    (["audit", "--format", "xls"], "--format"),
])
def test_usage_errors_name_the_problem(args, text, env):
    result = invoke(args, env)
    assert_one_error_line(result, EXIT_USAGE, text, absent=("invalid configuration",))


def test_disabled_rule_named_in_rules_is_refused(tmp_path, env):
    cfg = profile_file(tmp_path, "", "[profiles.default.rules.follow_up]\nenabled = false\n")
    result = invoke(["--config", cfg, "audit", "--demo", "--rules", "follow_up"], dict(env, CLIENTCARE_CONFIG=cfg))
    assert_one_error_line(result, EXIT_USAGE, "follow_up", "disabled")


def test_client_option_is_trimmed(env):
    plain = invoke(["audit", "--demo", "--client", "9", "--format", "json"], env)
    padded = invoke(["audit", "--demo", "--client", " 9 ", "--format", "json"], env)
    assert plain.exit_code == padded.exit_code == 0, padded.output
    assert json.loads(plain.stdout)["findings"] == json.loads(padded.stdout)["findings"] != []


def test_sync_client_help_says_id():
    result = invoke(["sync", "--help"], {})
    assert "--client" in result.output and "its id" in result.output


# -- sync --dry-run: the whole plan, or a visible "and N more" -------------------------------------
def test_dry_run_text_lists_the_plan_or_says_how_many_more():
    d = {"run_id": "r", "dry_run": True, "status": "ok", "rpc_calls": 1, "retries": 0, "duration_s": 0.1,
         "plan": {"counts": {"late_payment": {"create": 5}}, "sample_total": 5,
                  "sample": [{"op": "create", "res_model": "res.partner", "res_id": i, "summary": f"s{i}",
                              "user_id": 2, "date_deadline": "2026-11-30", "reason": "new"} for i in range(2)]},
         "applied": {}, "rule_errors": [], "write_errors": [], "warnings": []}
    text = cli_mod._summary_text(d)
    assert "... and 3 more" in text
    d["plan"]["sample"] = d["plan"]["sample"] * 3
    d["plan"]["sample"] = d["plan"]["sample"][:5]
    assert "more" not in cli_mod._summary_text(d)


def test_plan_to_dict_gives_all_changes_for_a_dry_run(state):
    from datetime import date

    from clientcare.jobs.writeback import WriteBack

    from odoo_double import OdooDouble
    from writeback_findings import finding

    wb = WriteBack(OdooDouble(), state, "run", as_of=date(2026, 11, 22))
    plan = wb.plan([finding(i) for i in range(1, 16)])
    full, short = plan.to_dict(sample=None), plan.to_dict()
    assert len(full["sample"]) == full["sample_total"] == 15
    assert len(short["sample"]) == 10 and short["sample_total"] == 15


# -- rules show ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["late_payment", "unmet_deadlines", "follow_up", "fit_checklist", "responsiveness"])
def test_rules_show_prints_toml_defaults_and_meanings(name, env):
    result = invoke(["rules", "show", name], env)
    assert result.exit_code == 0, result.output
    for python_only in ("None", "('", "OnboardingStep(", "True", "False"):
        assert python_only not in result.output, python_only
    needs = result.output.split("\nneeds")[1].splitlines()[1:]
    assert needs and all(line.split(":", 1)[1].strip() for line in needs if line.strip())


def test_rules_show_unknown_rule_is_one_line(env):
    result = invoke(["rules", "show", "nope"], env)
    assert result.exit_code == EXIT_USAGE and "Traceback" not in result.output


# -- a URL that is not Odoo: the same hint and exit code from every command -----------------------
class _Recorder(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.server.requests.append(("GET", self.path, b"", dict(self.headers)))
        self._answer(b"")

    def do_POST(self):
        body = self._body()
        self.server.requests.append(("POST", self.path, body, dict(self.headers)))
        self._answer(body)

    def _send(self, status: int, body: bytes, ctype: str):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class _WebPage(_Recorder):
    def _answer(self, body):
        if self.server.status == 404:
            return self._send(404, b"<html><body>Not Found</body></html>", "text/html")
        self._send(200, b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>"
                        b"<p>It works!</p></body></html>", "text/html")


class _Server:
    def __init__(self, handler, **attrs):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []
        for k, v in attrs.items():
            setattr(self.httpd, k, v)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def requests(self):
        return self.httpd.requests

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def odoo_like():
    """A web server that is not Odoo (a page for every request)."""
    server = _Server(_WebPage, status=200)
    yield server
    server.close()


@pytest.fixture(params=[200, 404], ids=["web-page", "http-404"])
def not_odoo(request):
    server = _Server(_WebPage, status=request.param)
    yield server
    server.close()


def _seed_run(path: Path) -> str:
    store = open_store(path)
    RunHistory(store).start("20261130T000000Z-abcdef", "default", "sync")
    store.close()
    return "20261130T000000Z-abcdef"


NOT_ODOO_COMMANDS = [["check"], ["audit"], ["sync"], ["sync", "--dry-run"], ["pull", "--out", "{tmp}/snap"],
                     ["explain", "Acme"], ["undo", "20261130T000000Z-abcdef"]]


@pytest.mark.parametrize("transport", ["auto", "xmlrpc", "jsonrpc", "json2"])
@pytest.mark.parametrize("command", NOT_ODOO_COMMANDS, ids=lambda c: c[0] + ("-dry" if len(c) > 1 and
                                                                               c[1] == "--dry-run" else ""))
def test_not_odoo_url_same_hint_and_exit_code_from_every_command(command, transport, not_odoo, env, tmp_path):
    _seed_run(tmp_path / "state.sqlite3")
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = invoke(args, dict(env, CLIENTCARE_URL=not_odoo.url, CLIENTCARE_TRANSPORT=transport,
                               CLIENTCARE_API_KEY="key-not-shown-1"))
    assert result.exit_code == EXIT_USAGE, (result.exit_code, result.output)
    assert E.NOT_ODOO_HINT in result.output, result.output
    assert "Traceback" not in result.output and "ExpatError" not in result.output
    assert "pw-not-shown-1" not in result.output and "key-not-shown-1" not in result.output
    if command[0] != "check":
        assert_one_error_line(result, EXIT_USAGE, "not Odoo", E.NOT_ODOO_HINT)
    else:
        assert "FAIL server reachable" in result.output


# -- secrets: every transport at -vv, whatever their characters -----------------------------------
class _Echo(_Recorder):
    """Plays Odoo 17 (19 for JSON-2) just far enough to log in, then answers every call with an
    error whose message quotes the whole request: its body (the password in the arguments) and
    its headers (the API key), plus the Basic form of the credentials."""

    def _answer(self, body: bytes):
        path = self.path
        headers = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        echo = f"echo of {path}: {body.decode('utf-8', 'replace')} | {headers}"
        basic = base64.b64encode(f"bot:{self.server.secret}".encode()).decode()
        echo += f" | Authorization: Basic {basic}"
        if path.startswith("/xmlrpc/2/common"):
            method = xmlrpc.client.loads(body)[1]
            value = {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""],
                     "protocol_version": 1} if method == "version" else 2
            return self._send(200, xmlrpc.client.dumps((value,), methodresponse=True).encode(), "text/xml")
        if path.startswith("/xmlrpc/2/object"):
            fault = xmlrpc.client.Fault(1, "Traceback (most recent call last):\nValueError: " + echo)
            return self._send(200, xmlrpc.client.dumps(fault, methodresponse=True).encode(), "text/xml")
        if path == "/web/webclient/version_info":
            major = 19 if self.server.json2 else 17
            return self._json({"result": {"server_version": f"{major}.0",
                                          "server_version_info": [major, 0, 0, "final", 0, ""],
                                          "protocol_version": 1}}, body)
        if path == "/jsonrpc":
            params = json.loads(body)["params"]
            if params.get("service") == "common" and params.get("method") == "login":
                return self._json({"result": 2}, body)
            if params.get("service") == "common":
                return self._json({"result": {"server_version": "17.0",
                                              "server_version_info": [17, 0, 0, "final", 0, ""]}}, body)
            if params.get("args", [None] * 5)[4:5] == ["context_get"]:
                return self._json({"result": {"uid": 2, "lang": "en_US"}}, body)
            return self._json({"error": {"code": 200, "message": "Odoo Server Error",
                                         "data": {"name": "builtins.ValueError", "message": echo,
                                                  "debug": echo}}}, body)
        if path.startswith("/json/2/"):
            payload = json.dumps({"name": "odoo.exceptions.ValidationError", "message": echo, "debug": echo})
            return self._send(422, payload.encode(), "application/json")
        return self._send(404, b"not here", "text/html")

    def _json(self, answer: dict, body: bytes):
        try:
            rid = json.loads(body).get("id")
        except ValueError:
            rid = None
        self._send(200, json.dumps(dict(answer, jsonrpc="2.0", id=rid)).encode(), "application/json")


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@pytest.fixture
def echo_server(request):
    servers = []

    def make(secret: str, json2: bool = False):
        server = _Server(_Echo, secret=secret, json2=json2)
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()


@pytest.fixture(autouse=True)
def _fresh_redactor():
    from clientcare.jobs.logs import REDACTOR
    REDACTOR.clear()
    yield
    REDACTOR.clear()
    for name in ("odoorpc", "urllib3", "requests"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("transport", ["xmlrpc", "jsonrpc", "json2"])
@pytest.mark.parametrize("secret", SECRETS, ids=[f"secret{i}" for i in range(len(SECRETS))])
def test_no_secret_at_vv_on_any_transport(secret, transport, log_format, echo_server, tmp_path):
    server = echo_server(secret, json2=transport == "json2")
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    env = {"CLIENTCARE_CONFIG": str(cfg), "CLIENTCARE_URL": server.url, "CLIENTCARE_DB": "db",
           "CLIENTCARE_LOGIN": "bot", "CLIENTCARE_TRANSPORT": transport, "CLIENTCARE_RETRY_ATTEMPTS": "1",
           "CLIENTCARE_STATE_PATH": str(tmp_path / "state.sqlite3")}
    env["CLIENTCARE_API_KEY" if transport == "json2" else "CLIENTCARE_PASSWORD"] = secret
    header_safe = _latin1(secret)
    refused = transport == "json2" and not header_safe  # cannot be an API key: refused, never sent
    outputs = []
    for args in (["audit"], ["sync"], ["sync", "--dry-run", "--json"], ["pull", "--out", str(tmp_path / "snap")],
                 ["check"], ["--debug", "sync"], ["--debug", "audit"], ["runs"], ["config", "show"],
                 *[["audit", "--demo", "--format", f, "-o", str(tmp_path / f"report.{f}")]
                   for f in ("html", "json", "csv")]):
        result = invoke(["--log-format", log_format, "-vv", *args], env)
        outputs += [result.stdout, result.stderr, repr(result.exception)]
        if refused and args[-1] not in ("runs", "show") and "--demo" not in args:
            assert result.exit_code == EXIT_USAGE and "api_key: holds characters an HTTP header" in result.stderr
        else:
            assert result.exit_code in (EXIT_ODOO_REFUSED, EXIT_OK, EXIT_PARTIAL), (args, result.output)
        assert "Traceback" not in result.output or "--debug" in args
    if not refused:
        # the server did receive the secret (so the test can fail) ...
        sent = b"".join(r[2] + json.dumps(r[3]).encode() for r in server.requests)
        assert every_form_absent([sent], secret), "the secret never travelled: the test proves nothing"
        assert any("echo of" in o for o in outputs)  # ... and echoed it back into an error
    # ... but no form of it reached an output, the state file, a snapshot or a report
    files = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in tmp_path.rglob("report.*")} == {"report.html", "report.json", "report.csv"}
    assert not every_form_absent(outputs + files, secret)


def test_redaction_covers_escaped_json_url_and_base64_forms():
    secret = 'pa"ss\\wörd/+=?&'
    redactor = RedactSecrets([secret])
    texts = [
        secret, repr(secret), json.dumps(secret), json.dumps(secret, ensure_ascii=False),
        json.dumps({"args": ["db", 2, secret]}), repr({"args": ["db", 2, secret]}),
        "password=" + __import__("urllib.parse").parse.quote_plus(secret),
        "Authorization: Basic " + base64.b64encode(f"bot:{secret}".encode()).decode(),
        "Authorization: Basic " + base64.b64encode(f"b:{secret}".encode()).decode(),
        "Authorization: Basic " + base64.b64encode(f":{secret}".encode()).decode(),
        "<string>" + secret.replace("&", "&amp;") + "</string>",
    ]
    for text in texts:
        record = logging.LogRecord("odoorpc", logging.DEBUG, __file__, 1, "%s", (text,), None)
        redactor.filter(record)
        assert not every_form_absent([record.getMessage()], secret), (text, record.getMessage())
    # a traceback in a record is redacted too
    try:
        raise ValueError(f"server said {json.dumps(secret)}")
    except ValueError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    redactor.filter(record)
    assert json.dumps(secret)[1:-1] not in (record.exc_text or "") and "***" in record.exc_text


def test_odoorpc_payload_logger_is_silenced_at_vv(env):
    invoke(["-vv", "runs"], env)
    assert logging.getLogger("odoorpc").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("clientcare").getEffectiveLevel() == logging.DEBUG


def test_permission_reason_names_permission_denied():
    assert cli_mod._os_reason(PermissionError(errno.EACCES, "x")) == "permission denied"


# -- damaged files ClientCare reads: the CA bundle (the previous findings live in the state store) --
@pytest.mark.parametrize("content, text", [(b"not a certificate", "is not a PEM file"),
                                           (None, "does not exist")])
@pytest.mark.parametrize("command", [["check"], ["audit"], ["config", "show"]], ids=" ".join)
def test_damaged_or_missing_ca_bundle_is_one_line_exit_2(content, text, command, tmp_path, env):
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_bytes(content)
    result = invoke(command, dict(env, CLIENTCARE_CA_BUNDLE=str(bundle), CLIENTCARE_URL="https://127.0.0.1:9"))
    assert_one_error_line(result, EXIT_USAGE, "ca_bundle", text, "CLIENTCARE_CA_BUNDLE")


def test_json_log_format_keeps_warnings_and_wrote_lines_json(tmp_path, env):
    result = invoke(["--log-format", "json", "audit", "--demo", "-o", str(tmp_path / "a.txt")], env)
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in lines(result.stderr)]
    assert any(e["msg"].startswith("wrote ") for e in entries)


def test_explain_refuses_demo_with_snapshot(env):
    result = invoke(["explain", "9", "--demo", "--snapshot", "."], env)
    assert_one_error_line(result, EXIT_USAGE, "give one")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_logged_exception_shows_no_traceback_below_debug(fmt, capsys):
    from clientcare.jobs.logs import setup_logging
    setup_logging(fmt, 0, False)
    try:
        raise ValueError("inner")
    except ValueError:
        logging.getLogger("some.library").warning("it failed", exc_info=True)
    err = capsys.readouterr().err
    assert "it failed" in err and "Traceback" not in err
    setup_logging(fmt, 2, False)
    try:
        raise ValueError("inner")
    except ValueError:
        logging.getLogger("some.library").warning("it failed", exc_info=True)
    assert "Traceback" in capsys.readouterr().err
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_clientcare", False)]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


@pytest.mark.parametrize("exc, code, text", [
    (PermissionError(errno.EACCES, "Permission denied", "/some/file"), EXIT_USAGE, "/some/file: permission denied"),
    (FileNotFoundError(errno.ENOENT, "No such file", "/gone"), EXIT_USAGE, "/gone: no such file or directory"),
    (ConnectionResetError(errno.ECONNRESET, "reset"), EXIT_RETRY_LATER, "network failure"),
    (OSError(errno.EIO, "io"), EXIT_PARTIAL, "internal error"),
])
def test_stray_os_errors_are_one_line_with_a_fitting_code(exc, code, text, env, monkeypatch):
    from clientcare.jobs import report

    def boom(*a, **kw):
        raise exc

    monkeypatch.setattr(report, "render_text", boom)
    result = invoke(["audit", "--demo"], env)
    assert_one_error_line(result, code, text)


def test_snapshot_without_a_base_table_is_refused(tmp_path, env):
    snap = demo_snapshot()
    snap.tables = {"partners": snap.tables["partners"]}
    d = snap.save(tmp_path / "thin")
    for command in (["audit"], ["explain", "9"]):
        result = invoke([*command, "--snapshot", str(d)], env)
        assert_one_error_line(result, EXIT_USAGE, "has no users, companies table", "clientcare pull --out")


def test_snapshot_without_a_table_a_rule_needs_skips_that_rule_exit_1(tmp_path, env):
    snap = demo_snapshot()
    snap.tables = {k: snap.tables[k] for k in ("partners", "users", "companies", "moves", "payments")}
    d = snap.save(tmp_path / "invoices-only")
    for command in (["audit"], ["explain", "9"]):
        result = invoke([*command, "--snapshot", str(d), "--as-of", "2026-11-30"], env)
        assert result.exit_code == EXIT_PARTIAL, result.output
        assert "Traceback" not in result.output and "KeyError" not in result.output
        assert "rule unmet_deadlines skipped: needs projects, tasks" in result.stderr
        assert "rule late_payment" not in result.stderr  # it had its tables and ran
