"""Arguments, settings and files (issue 23): every argument checked before any network work,
config sections of the wrong kind, a byte-order mark, read-only state files for the commands
that only read, redaction of secrets that are common words, a full disk.  Each bad input ends
in one ``Error:`` line and its documented exit code (``assert_one_error_line``)."""
from __future__ import annotations

import base64
import errno
import json
import os
import sqlite3
from pathlib import Path

import pytest

from clientcare.connector import errors as E
from clientcare.connector import state as state_mod
from clientcare.connector.client import OdooClient
from clientcare.connector.demo import demo_snapshot
from clientcare.jobs.exit_codes import EXIT_OK, EXIT_USAGE
from clientcare.jobs.logs import RedactSecrets
from clientcare.jobs.run_history import RunHistory
from clientcare.jobs.run_session import open_store

from test_bad_input_matrix import assert_one_error_line, env, invoke  # noqa: F401 - env: the fixture




# -- --client ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["audit", "--client"], ["sync", "--client"], ["explain"], ["history"]])
@pytest.mark.parametrize("value", ["", "   "])
def test_empty_client_is_an_error_not_ignored(command, value, env):
    result = invoke([*command, value], env)
    assert_one_error_line(result, EXIT_USAGE, "empty: give a client id, or part of a client's name")


@pytest.mark.parametrize("value, text", [
    ("0", "'0' is not an Odoo id (1 to 2147483647)"),
    ("99999999999", "is not an Odoo id"),
    ("a\0b", "holds a NUL character"),
])
@pytest.mark.parametrize("command", [["audit", "--client"], ["sync", "--client"], ["explain"]])
def test_impossible_client_refused_when_parsed(command, value, text, env, tmp_path):
    """Refused before the configuration is even read: a broken config file does not hide it."""
    (tmp_path / "bad.toml").write_text("profiles = 5")
    result = invoke([*command, value], dict(env, CLIENTCARE_CONFIG=str(tmp_path / "bad.toml")))
    assert_one_error_line(result, EXIT_USAGE, text)


@pytest.mark.parametrize("value", ["1 2", "-3", "²", "٣", "%", "%%", "_", "a\nb", "a\x01b", "\t", "x" * 5000,
                                   "Acme\r\nCorp"])
def test_unusual_client_values_are_one_line_exit_2_offline(value, env):
    for command in (["audit", "--demo", "--client", value], ["explain", "--demo", "--", value]):
        result = invoke(command, env)
        if value.strip() == "":
            line = assert_one_error_line(result, EXIT_USAGE, "empty")
        else:
            line = assert_one_error_line(result, EXIT_USAGE, "no client matches")
        assert len(line) < 300, line  # a long value is cut when echoed


def test_sync_client_name_refused_when_parsed(env, tmp_path):
    (tmp_path / "bad.toml").write_text("profiles = 5")
    result = invoke(["sync", "--client", "Acme"], dict(env, CLIENTCARE_CONFIG=str(tmp_path / "bad.toml")))
    assert_one_error_line(result, EXIT_USAGE, "'Acme': sync takes a client id")


class _Transport:
    """Just enough of a logged-in transport for the name look-up; records every call.  The pull
    would be the next call: it is refused, so a test fails if the look-up did not stop the run."""

    name = "xmlrpc"

    def __init__(self, partners: list[int]):
        self.partners, self.log, self.calls, self.uid, self.retries = partners, [], {}, 2, 0

    @property
    def call_count(self):
        return len(self.log)

    def version(self):
        return {"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0, ""]}

    def execute_kw(self, model, method, args=(), kwargs=None, **kw):
        self.log.append((model, method, kwargs))
        self.calls[f"{model}.{method}"] = self.calls.get(f"{model}.{method}", 0) + 1
        if (model, method) == ("res.users", "read"):
            return [{"company_ids": [1], "company_id": [1, "C"]}]
        if (model, method) == ("res.partner", "search"):
            return self.partners[: kwargs.get("limit") or None]
        raise AssertionError(f"the run went on to {model}.{method}")


@pytest.fixture
def fake_odoo(monkeypatch):
    made = []

    def open_client(profile, state=None, progress=None):
        client = OdooClient(profile.connection(), state=state, transport=_Transport(made[0]))
        made.append(client)
        return client

    monkeypatch.setattr("clientcare.jobs.sync.open_client", open_client)
    return made


@pytest.mark.parametrize("value", ["Nobody", "%", "_", "50%", "a\\b", "x" * 3000])
@pytest.mark.parametrize("command", ["audit", "explain"])
def test_live_client_name_matching_nothing_stops_before_the_pull(command, value, env, fake_odoo):
    fake_odoo.append([])  # Odoo has no such partner
    args = ["audit", "--client", value] if command == "audit" else ["explain", value]
    result = invoke(args, env)
    assert_one_error_line(result, EXIT_USAGE, "no client matches", "no company or contact in Odoo is named so")
    calls = fake_odoo[1].transport.log
    assert [c[:2] for c in calls] == [("res.users", "read"), ("res.partner", "search")]  # then nothing
    domain = calls[1][2]["domain"]
    pattern = domain[-1][2]
    assert domain[-1][:2] == ("name", "ilike") and calls[1][2]["limit"] == 1
    # Odoo's wildcards and escape character mean themselves
    assert pattern == value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    runs = RunHistory(open_store(env["CLIENTCARE_STATE_PATH"])).list()
    assert runs[0]["status"] == "failed" and runs[0]["exit_code"] == EXIT_USAGE


@pytest.mark.parametrize("value", ["9", "Acme"])
def test_live_client_found_or_an_id_goes_on_to_the_pull(value, env, fake_odoo):
    """A name Odoo knows, and any id (checked against the pulled snapshot, as before: no
    request is added for ids), go on to the pull, the next call."""
    fake_odoo.append([9])
    result = invoke(["audit", "--client", value], env)
    assert "the run went on to" in result.output, result.output
    searched = [c for c in fake_odoo[1].transport.log if c[:2] == ("res.partner", "search")]
    assert len(searched) == (0 if value.isdigit() else 1)


# -- --as-of -------------------------------------------------------------------------------
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1677-09-21", "2262-04-12", "1899-12-31", "2200-01-01"])
@pytest.mark.parametrize("command", [["audit", "--demo"], ["explain", "--demo", "9"], ["sync"]])
def test_as_of_outside_pandas_range_is_one_line_before_any_work(command, day, env):
    result = invoke([*command, "--as-of", day], env)
    assert_one_error_line(result, EXIT_USAGE, f"'{day}' is outside the days ClientCare can evaluate "
                                              f"(1900-01-01 to 2199-12-31)")


@pytest.mark.parametrize("day", ["1900-01-01", "2199-12-31"])
def test_as_of_at_the_ends_of_the_range_runs(day, env):
    for fmt in ("text", "json", "html", "csv"):
        result = invoke(["audit", "--demo", "--as-of", day, "--format", fmt], env)
        assert result.exit_code == EXIT_OK, result.output


# -- configuration -------------------------------------------------------------------------
@pytest.mark.parametrize("body, texts", [
    ("profiles = 5", ["profiles must be a table of [profiles.NAME] tables, not 5"]),
    ('[profiles]\ndefault = "x"', ["profile 'default' must be a table ([profiles.default]), not 'x'"]),
    ('[profiles.default]\nrules = 5\nrouting = "x"\nscripts = [1]',
     ["rules must be a table", "routing must be a table", "scripts must be a table"]),
])
@pytest.mark.parametrize("command", [["config", "show"], ["runs"], ["audit", "--demo"]])
def test_config_section_that_is_not_a_table_is_reported_once(body, texts, command, env, tmp_path):
    """(A rule's own section, ``rules.late_payment = 5``, is checked by the commands that load the
    rules: ``test_rule_section_that_is_not_a_table_is_one_line``.)"""
    path = tmp_path / "c.toml"
    path.write_text(body)
    result = invoke(command, dict(env, CLIENTCARE_CONFIG=str(path)))
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for text in texts:
        assert result.stderr.count(text) == 1, (text, result.stderr)


def test_rule_section_that_is_not_a_table_is_one_line(env, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[profiles.default.rules]\nlate_payment = 5")
    result = invoke(["audit", "--demo"], dict(env, CLIENTCARE_CONFIG=str(path)))
    assert_one_error_line(result, EXIT_USAGE, "rules.late_payment must be a table")


def test_config_file_with_a_byte_order_mark_is_read(env, tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + '[profiles.default]\nurl = "https://odoo.example.com"\ntimeout = 7\n'
                     .encode())
    result = invoke(["config", "show", "--json"], dict(env, CLIENTCARE_CONFIG=str(path), CLIENTCARE_URL=""))
    assert result.exit_code == EXIT_OK, result.output
    settings = json.loads(result.stdout)["settings"]
    assert settings["url"]["value"] == "https://odoo.example.com" and settings["timeout"]["value"] == 7.0


# -- read-only state file --------------------------------------------------------------------
def _read_only(monkeypatch, paths: list[Path]):
    """The state file and its directory read-only: a real chmod for a user, simulated for root
    (which file modes do not stop), as ``test_bad_input_matrix._deny`` does."""
    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return
    real = os.access

    def access(path, mode, *a, **kw):
        if Path(path) in paths and mode & os.W_OK:
            return False
        return real(path, mode, *a, **kw)

    monkeypatch.setattr(state_mod.os, "access", access)


def test_read_only_state_file_serves_readers_and_writers_refuse_it(tmp_path, env, monkeypatch):
    directory = tmp_path / "ro"
    directory.mkdir()
    path = directory / "state.sqlite3"
    store = open_store(path)
    RunHistory(store).start("20261130T000000Z-abcdef", "default", "sync")
    store.close()
    for extra in directory.glob("state.sqlite3-*"):  # as after a clean close
        extra.unlink()
    before = (path.read_bytes(), sorted(p.name for p in directory.iterdir()))
    _read_only(monkeypatch, [path, directory])
    env = dict(env, CLIENTCARE_STATE_PATH=str(path))
    try:
        listed = invoke(["runs", "--json"], env)
        assert listed.exit_code == EXIT_OK, listed.output
        assert json.loads(listed.stdout)[0]["run_id"] == "20261130T000000Z-abcdef"
        assert invoke(["runs", "20261130T000000Z-abcdef"], env).exit_code == EXIT_OK
        history = invoke(["history", "9"], env)  # nothing stored: its own one line, not a refusal
        assert_one_error_line(history, EXIT_USAGE, "no client health stored")
        for command in (["config", "show"], ["audit", "--demo"], ["rules", "list"]):
            assert invoke(command, env).exit_code == EXIT_OK, command
        for command in (["sync"], ["audit"]):  # writers refuse it, before connecting
            assert_one_error_line(invoke(command, env), EXIT_USAGE, "permission denied", str(path))
        # the file untouched, nothing new beside it but the writers' lock (they take it first; in
        # a directory they may not write they stop there: "cannot open its lock file ...")
        after = (path.read_bytes(), sorted(p.name for p in directory.iterdir() if p.suffix != ".lock"))
        assert after == before
    finally:
        directory.chmod(0o755)
        path.chmod(0o644)


def test_read_only_state_of_an_older_schema_says_a_writer_upgrades_it(tmp_path, env, monkeypatch):
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA application_id={state_mod._APP_ID}")
    db.execute("PRAGMA user_version=1")
    db.close()
    _read_only(monkeypatch, [path])
    try:
        result = invoke(["runs"], dict(env, CLIENTCARE_STATE_PATH=str(path)))
        assert_one_error_line(result, EXIT_USAGE, "schema version 1 and is read-only here",
                              "a command that writes (sync) upgrades it")
    finally:
        path.chmod(0o644)


# -- a full disk -----------------------------------------------------------------------------
def test_full_disk_while_writing_the_state_file_is_one_line_naming_it(tmp_path, env, monkeypatch):
    """SQLite's own "database or disk is full" (a page limit makes it real), while a run writes its
    history row: one line naming the state file, exit 2; the file still opens and holds what it
    held."""
    path = tmp_path / "state.sqlite3"
    open_store(path).close()
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        db = real_connect(*args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages}")  # no room to grow
        return db

    monkeypatch.setattr(state_mod.sqlite3, "connect", connect)
    for _ in range(60):  # runs rows until the file is full (a row's summary is ~1 kB)
        result = invoke(["sync"], dict(env, CLIENTCARE_STATE_PATH=str(path)))
        if "no space left" in result.output:
            break
    assert_one_error_line(result, EXIT_USAGE, f"state file {path}: no space left on the device",
                          "free space on that disk")
    monkeypatch.setattr(state_mod.sqlite3, "connect", real_connect)
    assert RunHistory(open_store(path)).list() is not None


def test_full_disk_while_writing_a_snapshot_is_one_line_naming_the_file(tmp_path, monkeypatch):
    import pandas as pd

    real = pd.DataFrame.to_parquet
    written = []

    def to_parquet(self, path, *args, **kwargs):
        if len(written) == 2:  # the third table finds the disk full, half written
            Path(path).write_bytes(b"PAR1 half")
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path)
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    with pytest.raises(E.UsageError) as info:
        demo_snapshot().save(tmp_path / "snap")
    assert "could not be written: no space left on the device" in str(info.value)
    assert str(tmp_path / "snap") in str(info.value) and ".parquet" in str(info.value)
    assert info.value.hint.startswith("free space")
    assert not list((tmp_path / "snap").glob(".*.tmp"))  # no temporary file left behind


def test_full_disk_while_writing_a_snapshot_meta_is_one_line(tmp_path, monkeypatch):
    real = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.startswith(".meta.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(E.UsageError, match=r"snapshot file .*meta\.json could not be written: no space left"):
        demo_snapshot().save(tmp_path / "snap")


# -- redaction ---------------------------------------------------------------------------------
COMMON_WORD_TEXTS = {
    "state": ["the statement of account", "file /var/lib/clientcare/state.sqlite3: permission denied",
              "/home/x/.local/share/clientcare/default-state/x", "restated", "state_path", "x.state"],
    "main": ["/work/main/tests/x.py", "main.py", "remain", "mainland", "domain-main-x", "git main-branch"],
}


@pytest.mark.parametrize("secret", list(COMMON_WORD_TEXTS))
def test_a_common_word_secret_leaves_other_words_and_paths_alone(secret):
    redactor = RedactSecrets([secret])
    for text in COMMON_WORD_TEXTS[secret]:
        assert redactor.redact(text) == text, text


@pytest.mark.parametrize("secret", ["state", "main", "pässwörd", "a.b*c+?(x)", "[main]", "-pw-", "p@ss/w0rd",
                                    "1234", "x{\"password\": \"y\"}"])
def test_the_secret_is_masked_wherever_it_stands_as_the_secret(secret):
    redactor = RedactSecrets([secret])
    from urllib.parse import quote, quote_plus
    texts = [
        secret, f"http://admin:{quote(secret, safe='')}@odoo.example.com/",
        json.dumps({"password": secret}), json.dumps({"args": ["db", 2, secret]}),
        f"password={quote_plus(secret)}&db=x", f"bearer {secret}", repr(("db", secret)),
        f"failed for {secret}.", repr(f"line\n{secret}\nnext"), json.dumps(json.dumps({"p": secret})),
        "Authorization: Basic " + base64.b64encode(f"bot:{secret}".encode()).decode(),
        f"<string>{secret.replace('&', '&amp;')}</string>",
    ]
    for text in texts:
        out = redactor.redact(text)
        assert "***" in out, (text, out)
        assert secret not in out or len(secret) < 4, (text, out)


def test_redaction_with_several_secrets_masks_the_longest_first():
    redactor = RedactSecrets(["main", "main-key-1"])
    assert redactor.redact("key=main-key-1 and /work/main/x") == "key=*** and /work/main/x"
