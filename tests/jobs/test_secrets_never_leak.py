"""No password, API key or session id in logs, run summaries, reports, exceptions or files.

The commands below run with distinctive secrets, at debug verbosity with JSON logs, and
every byte they print or write (outputs, state file, snapshots, reports) is scanned.
"""
from __future__ import annotations

import itertools
import json

from click.testing import CliRunner

from clientcare.jobs import sync as sync_job
from clientcare.jobs.cli import main

from conftest import API_KEY, PASSWORD

SECRET_PW, SECRET_KEY = "Pa55-very-secret-9f3b", "0123456789abcdef0123456789abcdef01234567"


def scan(paths, outputs, secrets):
    leaks = []
    for text in outputs:
        leaks += [s for s in secrets if s in text]
    for path in paths:
        if path.is_file():
            data = path.read_bytes()
            leaks += [f"{s} in {path.name}" for s in secrets if s.encode() in data]
    return leaks


def run_all(env, extra):
    runner_ = CliRunner()
    outputs = []
    for args in extra:
        result = runner_.invoke(main, ["--log-format", "json", "-vv", *args], env=env)
        outputs.append(result.stdout)
        outputs.append(result.output + (repr(result.exception) if result.exception else ""))
    return outputs


def test_offline_commands_keep_secrets(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[profiles.default]\nurl = "http://127.0.0.1:9"\ndb = "d"\nlogin = "bot"\n'
                   f'password = "{SECRET_PW}"\napi_key = "{SECRET_KEY}"\nretry_attempts = 1\n'
                   f'state_path = "{tmp_path / "state.sqlite3"}"\n')
    env = {"CLIENTCARE_CONFIG": str(cfg)}
    outputs = run_all(env, [
        ["config", "show"], ["config", "show", "--json"], ["check"], ["audit"], ["sync"], ["sync", "--json"],
        ["runs"], ["audit", "--demo", "--format", "html", "-o", str(tmp_path / "r.html")],
        ["audit", "--demo", "--format", "json", "-o", str(tmp_path / "r.json")],
        ["audit", "--demo", "--format", "csv", "-o", str(tmp_path / "r.csv")],
        ["--debug", "sync"],
    ])
    written = [p for p in tmp_path.rglob("*") if p != cfg]  # the config file holds them by design
    assert not scan(written, outputs, [SECRET_PW, SECRET_KEY])


def test_recorded_sync_keeps_secrets(odoo, cassette, tmp_path, monkeypatch):
    counter = itertools.count(1)
    monkeypatch.setattr(sync_job, "new_run_id", lambda: f"leak-run-{next(counter)}")
    (tmp_path / "empty.toml").write_text("")
    secret = odoo.secret(PASSWORD)
    env = {"CLIENTCARE_CONFIG": str(tmp_path / "empty.toml"), "CLIENTCARE_URL": odoo.server["url"],
           "CLIENTCARE_DB": odoo.server["db"], "CLIENTCARE_LOGIN": odoo.server["login"],
           "CLIENTCARE_PASSWORD": secret, "CLIENTCARE_TRANSPORT": "xmlrpc",
           "CLIENTCARE_STATE_PATH": str(tmp_path / "state.sqlite3"), "CLIENTCARE_RETRY_ATTEMPTS": "1"}
    as_of = odoo.recorded_at.date().isoformat()
    outputs = run_all(env, [["sync", "--dry-run", "--json", "--as-of", as_of], ["runs"],
                            ["pull", "--out", str(tmp_path / "snap")]])
    summary = json.loads(outputs[0])
    assert summary["status"] == "ok"
    # (a live demo server's password "admin" is also its login and a name: nothing to learn)
    secrets = [s for s in (secret, odoo.secret(API_KEY)) if s and len(s) >= 8 and s != odoo.server["login"]]
    assert not scan(tmp_path.rglob("*"), outputs, secrets)
