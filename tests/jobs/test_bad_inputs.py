"""Bad inputs the CLI meets in the field, each with its message and exit code (offline rows).

Rows that need a real server (wrong database, wrong password, revoked key, missing
rights) are recorded cassette tests in test_connector_cassettes.py and test_cli.py.
"""
from __future__ import annotations

import http.server
import shutil
import sqlite3
import ssl
import subprocess
import threading
from datetime import date

import pytest

from clientcare.rules.testing import builtin_rules
from click.testing import CliRunner

from clientcare.jobs.exit_codes import EXIT_ODOO_REFUSED, EXIT_USAGE
from clientcare.jobs.cli import main
from clientcare.jobs.run_session import open_store
from clientcare.jobs.writeback import WriteBack

from odoo_double import OdooDouble
from writeback_findings import finding


def run(args, env):
    return CliRunner().invoke(main, args, env=env)


@pytest.fixture
def base_env(tmp_path):
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    return {"CLIENTCARE_CONFIG": str(cfg), "CLIENTCARE_DB": "db", "CLIENTCARE_LOGIN": "bot",
            "CLIENTCARE_PASSWORD": "pw-not-shown", "CLIENTCARE_RETRY_ATTEMPTS": "1",
            "CLIENTCARE_TRANSPORT": "xmlrpc", "CLIENTCARE_STATE_PATH": str(tmp_path / "state.sqlite3")}


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server with a self-signed certificate on loopback."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_tls_failure_is_a_clear_fatal_error(tls_server, base_env):
    url, cert = tls_server
    result = run(["audit"], dict(base_env, CLIENTCARE_URL=url))
    assert result.exit_code == EXIT_ODOO_REFUSED, result.output
    assert "TLS failure" in result.output and "--ca-bundle" in result.output
    assert "pw-not-shown" not in result.output
    # with the CA added, TLS passes and the next problem (not an Odoo server) is named instead
    trusted = run(["check", "--ca-bundle", str(cert)], dict(base_env, CLIENTCARE_URL=url))
    assert "TLS" not in trusted.output.split("\n")[0] or "verified" in trusted.output
    assert "not Odoo" in trusted.output or "HTTP" in trusted.output
    insecure = run(["check", "--insecure"], dict(base_env, CLIENTCARE_URL=url))
    assert "TLS verification is off" in insecure.output


def test_bad_url(base_env):
    result = run(["sync"], dict(base_env, CLIENTCARE_URL="odoo.example.com"))
    assert result.exit_code == EXIT_USAGE and "is not an http(s) URL" in result.output


def test_newer_state_file_is_refused_not_reset(base_env, tmp_path):
    path = tmp_path / "state.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    result = run(["runs"], base_env)
    assert result.exit_code == EXIT_USAGE and "newer than this ClientCare" in result.output
    assert path.stat().st_size > 0


def test_corrupted_state_file_is_refused(base_env, tmp_path):
    (tmp_path / "state.sqlite3").write_bytes(b"garbage" * 1000)
    result = run(["runs"], base_env)
    assert result.exit_code == EXIT_USAGE and "not a usable ClientCare state store" in result.output


def test_mistyped_and_unknown_keys(tmp_path, base_env):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[profiles.default]\nurl = "https://x.example"\ndb = "d"\nlogin = "l"\n'
                   'page_size = "big"\nverify_tls = "maybe"\ncolour = "blue"\n'
                   '[profiles.default.rules.late_payment]\nlevels = "1,15"\n')
    result = run(["--config", str(cfg), "check"], dict(base_env, CLIENTCARE_CONFIG=str(cfg)))
    assert result.exit_code == EXIT_USAGE
    for text in ("page_size must be int", "verify_tls must be bool", "unknown key 'colour'",
                 "rules.late_payment.levels"):
        assert text in result.output, text


def test_missing_profile(tmp_path, base_env):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[profiles.prod]\nurl = "https://x.example"\n')
    result = run(["--config", str(cfg), "--profile", "staging", "check"], base_env)
    assert result.exit_code == EXIT_USAGE and "no profile 'staging'" in result.output


def test_long_and_non_latin_names_reach_odoo_escaped_and_bounded(state):
    odoo = OdooDouble()
    name = "Société Générale 株式会社 <b>" + "Ω" * 400
    wb = WriteBack(odoo, state, "run1", as_of=date(2026, 11, 22))
    wb.apply(wb.plan([finding(1, name=name)]))
    activity = odoo.open_activities()[0]
    assert len(activity["summary"]) <= 250 and "株式会社" in activity["note"]
    assert "<b>" not in activity["note"] and "&lt;b&gt;" in activity["note"]


def test_rules_survive_deleted_partners_missing_rates_and_odd_names():
    """Invoices and tasks of a partner deleted in Odoo, a currency without a rate (Odoo
    leaves the company-currency amount at 0), missing dates, long non-Latin names."""
    from clientcare.rules.testing import AS_OF, SnapshotBuilder
    from clientcare.rules import run_rules

    b = SnapshotBuilder(version=18)
    b.company(1, "Main", "USD")
    b.user(2, "Admin")
    b.client(10, "株式会社テスト " + "长" * 300, salesperson=2)
    b.client(99, "Gone Ltd")
    b.invoice(1, 10, -40, 100.0)
    b.invoice(2, 99, -40, 250.0)                      # partner 99 was deleted in Odoo
    b.invoice(3, 10, -20, 70.0, currency="XAF", rate=0.0)  # no rate: company amount 0
    b.invoice(4, 10, None, 30.0, invoice_date=None)   # no due date, no invoice date
    b.project(5, "Проект", client=99, end=-3)
    b.task(6, "Задача", project=5, client=99, deadline=-2)
    snapshot = b.build()
    partners = snapshot.tables["partners"]
    snapshot.tables["partners"] = partners.loc[partners["id"] != 99].reset_index(drop=True)
    result = run_rules(snapshot, AS_OF, registry=builtin_rules())
    assert not result.errors, result.errors
    assert result.findings and all(f.evidence and f.responsible_user_id for f in result.findings)
