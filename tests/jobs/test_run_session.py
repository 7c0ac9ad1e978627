"""Every command that writes state runs in one session (jobs/run_session.py): the profile
lock, the state store and a `runs` row.  A live audit and a pull wait for no one: a second
run of the profile exits at once with the lock code and writes nothing; offline audits take
no lock and store nothing."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from clientcare.jobs.exit_codes import EXIT_LOCKED, EXIT_RETRY_LATER
from clientcare.jobs.cli import main
from clientcare.jobs.run_history import RunHistory, profile_lock
from clientcare.jobs.run_session import open_store


def env_for(tmp_path) -> dict:
    """A server that refuses connections at once (nothing listens on port 9), tried once."""
    (tmp_path / "empty.toml").write_text("")
    return {"CLIENTCARE_CONFIG": str(tmp_path / "empty.toml"), "CLIENTCARE_URL": "http://127.0.0.1:9",
            "CLIENTCARE_DB": "x", "CLIENTCARE_LOGIN": "bot", "CLIENTCARE_PASSWORD": "x",
            "CLIENTCARE_RETRY_ATTEMPTS": "1", "CLIENTCARE_STATE_PATH": str(tmp_path / "state.sqlite3")}


WRITERS = [["audit"], ["audit", "--format", "html", "-o", "{tmp}/r.html"], ["pull", "--out", "{tmp}/snap"]]


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: "-".join(c[:2]))
def test_a_live_audit_or_pull_of_a_locked_profile_exits_at_once_and_writes_nothing(command, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    with profile_lock(tmp_path / "state.sqlite3"):  # a sync of the same profile is running
        result = CliRunner().invoke(main, args, env=env_for(tmp_path))
    assert result.exit_code == EXIT_LOCKED, result.output
    assert "another ClientCare run holds" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.toml", "state.sqlite3.lock"]


def test_offline_audits_take_no_lock(tmp_path):
    with profile_lock(tmp_path / "state.sqlite3"):
        result = CliRunner().invoke(main, ["audit", "--demo", "--format", "json"], env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "state.sqlite3").exists()


@pytest.mark.parametrize("command", WRITERS[::2], ids=lambda c: c[0])
def test_a_failed_live_audit_or_pull_is_in_the_run_history_with_its_exit_code(command, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(main, args, env=env_for(tmp_path))
    assert result.exit_code == EXIT_RETRY_LATER, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1  # reported as before
    store = open_store(tmp_path / "state.sqlite3")
    (run,) = RunHistory(store).list()
    assert (run["command"], run["status"], run["exit_code"]) == (command[0], "failed", EXIT_RETRY_LATER)
    assert "connection failed" in RunHistory(store).get(run["run_id"])["summary"]["error"]
    store.close()
