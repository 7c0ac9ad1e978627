"""Signals and pipes (issue 23): SIGINT and SIGTERM end a run as ``interrupted`` with exit 130 /
143, one line, the lock released and the ledger saying what reached Odoo; a closed standard
output ends a command quietly with exit 0.

The signal tests send real signals to ``clientcare`` in a subprocess while a local server (the
replay of a recorded Odoo 19 sync, :mod:`replay_server`) holds one chosen request unanswered: the
run is then certainly in the middle of the pull (a page in flight in the pull's page thread) or of
the write-back (a ``create`` sent, no answer yet), whatever the machine's speed.  Nothing is timed:
the waits are only guards against a hang.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientcare.jobs import interrupts
from clientcare.jobs.cli import main
from clientcare.jobs.exit_codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE
from clientcare.jobs.run_history import RunHistory, profile_lock
from clientcare.jobs.run_session import open_store
from clientcare.rules.registry import builtin_names

from conftest import CASSETTES, PASSWORD
from replay_server import ReplayServer

#: A recorded ``sync --dry-run --as-of`` (then ``runs`` and ``pull``) on Odoo 19 over XML-RPC.
CASSETTE = CASSETTES / "odoo19" / "test_recorded_sync_keeps_secrets.json.xz"
SERVER = json.loads((CASSETTES / "odoo19" / "server.json").read_text())
AS_OF = SERVER["recorded_at"][:10]
CODES = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED}
GUARD = 120  # seconds: only against a hang, never an expectation


class HoldingReplay(ReplayServer):
    """The replay server, except that the ``nth`` request whose body holds ``needle`` gets no
    answer until :attr:`release` is set; :attr:`reached` tells it arrived."""

    def __init__(self, cassette, needle: bytes, nth: int = 1):
        super().__init__(cassette)
        self.needle, self.nth, self.seen = needle, nth, 0
        self.reached, self.release = threading.Event(), threading.Event()
        self._server.handle_error = lambda request, address: None  # the held answer finds its client gone

    def lookup(self, method, target, body):
        if self.needle in body:
            with self._lock:
                self.seen += 1
                hold = self.seen == self.nth
            if hold:
                self.reached.set()
                self.release.wait(GUARD)
        return super().lookup(method, target, body)

    def _before_stop(self):
        self.release.set()


def cli_env(tmp_path: Path, url: str) -> dict:
    """Everything explicit: the recorded server's names and placeholder password, one attempt,
    the built-in rules only (a rule package installed beside ClientCare must not change what the
    subprocess asks the replayed server)."""
    (tmp_path / "empty.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTCARE_")}
    return dict(env, CLIENTCARE_CONFIG=str(tmp_path / "empty.toml"), CLIENTCARE_URL=url,
                CLIENTCARE_DB=SERVER["db"], CLIENTCARE_LOGIN=SERVER["login"], CLIENTCARE_PASSWORD=PASSWORD,
                CLIENTCARE_TRANSPORT="xmlrpc", CLIENTCARE_RETRY_ATTEMPTS="1",
                CLIENTCARE_RULES_ENABLED=",".join(builtin_names()),
                CLIENTCARE_STATE_PATH=str(tmp_path / "state.sqlite3"))


def interrupt(args: list[str], env: dict, server: HoldingReplay, signum: int) -> subprocess.CompletedProcess:
    """Start ``clientcare ARGS``, wait until it sent the held request, send ``signum``."""
    proc = subprocess.Popen([sys.executable, "-m", "clientcare.jobs.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.reached.wait(GUARD), "the command never sent the request held for it"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def the_one_line(result: subprocess.CompletedProcess, json_log: bool) -> str:
    """stderr is one error line (JSON with --log-format json): no traceback, no "Aborted!"."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    lines = [line for line in lines if "no one owns go to user" not in line]  # the recording's routing warning
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Aborted" not in result.stderr, result.stderr
    if json_log:
        entry = json.loads(lines[0])
        assert entry["level"] == "error" and entry["exit_code"] == result.returncode, entry
        return entry["msg"]
    assert lines[0].startswith("Error: interrupted by "), lines[0]
    return lines[0]


def the_run(state: Path) -> dict:
    store = open_store(state)
    try:
        (row,) = RunHistory(store).list()
        return RunHistory(store).get(row["run_id"])
    finally:
        store.close()


def assert_lock_free(state: Path) -> None:
    with profile_lock(state):  # raises LockedError if the interrupted run still held it
        pass


LIVE_COMMANDS = {"sync": ["sync", "--as-of", AS_OF], "pull": ["pull", "--out", "{tmp}/snap"],
                 "audit": ["audit", "--as-of", AS_OF], "explain": ["explain", "8", "--as-of", AS_OF]}


@pytest.mark.parametrize("signum, json_log", [(signal.SIGINT, False), (signal.SIGTERM, True),
                                              (signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["INT-text", "TERM-json", "TERM-text", "INT-json"])
@pytest.mark.parametrize("command", list(LIVE_COMMANDS))
def test_a_signal_during_the_pull_ends_the_run_interrupted(command, signum, json_log, tmp_path):
    """Held: the second ``search_read`` page, on the wire in the pull's page thread."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in LIVE_COMMANDS[command]]
    with HoldingReplay(CASSETTE, b"<string>search_read</string>", nth=2) as server:
        result = interrupt((["--log-format", "json"] if json_log else []) + args,
                           cli_env(tmp_path, server.url), server, signum)
    assert result.returncode == CODES[signum], (result.returncode, result.stderr)
    line = the_one_line(result, json_log)
    run = the_run(tmp_path / "state.sqlite3")
    assert (run["command"], run["status"], run["exit_code"]) == (command, "interrupted", CODES[signum])
    assert run["finished_at"] and run["summary"]["error"] == f"interrupted by {signal.Signals(signum).name}"
    assert f"interrupted by {signal.Signals(signum).name}; run {run['run_id']} is recorded as interrupted" in line
    assert_lock_free(tmp_path / "state.sqlite3")
    assert result.stdout == ""
    assert not (tmp_path / "snap").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_signal_during_the_write_back_records_what_reached_odoo_and_never_ok(signum, tmp_path):
    """Held: the first ``create`` of activities (sent, so it may have reached Odoo; no answer).
    The ledger has that batch ``pending`` (the next sync finds what landed by its markers:
    ``test_writeback_crash.py``), nothing ``open`` it cannot know of, and the run is not ``ok``."""
    with HoldingReplay(CASSETTE, b"<string>create</string>") as server:
        result = interrupt(["sync", "--as-of", AS_OF], cli_env(tmp_path, server.url), server, signum)
    name = signal.Signals(signum).name
    assert result.returncode == CODES[signum], (result.returncode, result.stderr)
    line = the_one_line(result, json_log=False)
    assert "hint: what reached Odoo before" in line and "clientcare sync` again" in line
    run = the_run(tmp_path / "state.sqlite3")
    assert (run["status"], run["exit_code"]) == ("interrupted", CODES[signum])
    assert run["summary"]["status"] == "interrupted" and run["summary"]["error"] == f"interrupted by {name}"
    store = open_store(tmp_path / "state.sqlite3")
    try:
        statuses = dict(store.db.execute("SELECT status, count(*) FROM ledger GROUP BY status").fetchall())
    finally:
        store.close()
    assert statuses.get("pending", 0) > 0 and statuses.get("open", 0) == 0, statuses
    assert_lock_free(tmp_path / "state.sqlite3")


def test_a_signal_during_undo_ends_it_interrupted(tmp_path):
    state = tmp_path / "state.sqlite3"
    store = open_store(state)
    RunHistory(store).start("earlier-run", "default", "sync")
    RunHistory(store).finish("earlier-run", "ok", 0, {})
    store.close()
    with HoldingReplay(CASSETTE, b"", nth=1) as server:  # its very first request
        result = interrupt(["undo", "earlier-run"], cli_env(tmp_path, server.url), server, signal.SIGTERM)
    assert result.returncode == EXIT_TERMINATED, result.stderr
    line = the_one_line(result, json_log=False)
    assert "clientcare undo earlier-run` again" in line
    store = open_store(state)
    try:
        runs = {r["command"].split()[0]: r for r in RunHistory(store).list()}
    finally:
        store.close()
    assert (runs["undo"]["status"], runs["undo"]["exit_code"]) == ("interrupted", EXIT_TERMINATED)
    assert runs["sync"]["status"] == "ok"
    assert_lock_free(state)


def test_a_finished_run_is_not_touched_by_a_later_signal(tmp_path):
    """The signal handlers are the command's only while it runs: after it, SIGTERM is the
    process's own again (here: pytest's), and the run's row stays as it ended."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    result = CliRunner().invoke(main, ["audit", "--demo", "--format", "json"], env={})
    assert result.exit_code == 0, result.output
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_signal_while_the_run_row_is_written_waits_until_it_is_written():
    """:func:`interrupts.held` puts a real signal off until the block ends, then raises it; when
    the run is already ending because of one, the second is dropped."""
    with interrupts.signals_raise():
        with pytest.raises(interrupts.Terminated):
            with interrupts.held():
                os.kill(os.getpid(), signal.SIGTERM)
                written = [sum(range(1000)) for _ in range(3)]  # bytecodes run: the handler has run
            pytest.fail("not raised after the block")
        assert written == [499500] * 3
        with interrupts.held(raise_after=False):
            os.kill(os.getpid(), signal.SIGINT)
            written = [sum(range(1000)) for _ in range(3)]
    assert written == [499500] * 3


def test_ctrl_c_outside_a_run_is_one_line_exit_130(monkeypatch):
    """A command holding no run (``rules list``): Ctrl-C is one line, exit 130, not "Aborted!"."""
    from clientcare.jobs import rule_catalog

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(rule_catalog, "describe_rules", interrupted)
    result = CliRunner().invoke(main, ["rules", "list"])
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    assert result.output == "Error: interrupted by SIGINT\n"
    result = CliRunner().invoke(main, ["--log-format", "json", "rules", "list"])
    assert result.exit_code == EXIT_INTERRUPTED
    entry = json.loads(result.output)
    assert (entry["msg"], entry["exit_code"]) == ("interrupted by SIGINT", EXIT_INTERRUPTED)


def test_end_of_input_at_the_password_prompt_is_a_usage_error(tmp_path):
    """``--ask-password`` with nothing on standard input (cron): one line, exit 2, not "Aborted!"."""
    (tmp_path / "empty.toml").write_text("")
    result = CliRunner().invoke(main, ["check", "--ask-password"], input="",
                                env={"CLIENTCARE_CONFIG": str(tmp_path / "empty.toml"),
                                     "CLIENTCARE_URL": "http://127.0.0.1:9", "CLIENTCARE_DB": "x",
                                     "CLIENTCARE_LOGIN": "bot"})
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Aborted" not in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: no answer: standard input ended")


# -- pipes ---------------------------------------------------------------------------------------
PIPED = [["rules", "show", "late_payment"], ["audit", "--demo"], ["audit", "--demo", "--format", "json"],
         ["rules", "list"], ["--help"], ["audit", "--help"]]


@pytest.mark.parametrize("args", PIPED, ids=lambda a: "-".join(a))
def test_a_closed_standard_output_ends_quietly_with_exit_0(args, tmp_path):
    """The reader is gone before the first line is written (``| head -1`` that already exited,
    made certain: the pipe's read end is closed before the command starts)."""
    read, write = os.pipe()
    os.close(read)
    (tmp_path / "empty.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTCARE_")}
    env["CLIENTCARE_CONFIG"] = str(tmp_path / "empty.toml")
    try:
        result = subprocess.run([sys.executable, "-m", "clientcare.jobs.cli", *args], stdout=write,
                                stderr=subprocess.PIPE, text=True, env=env, timeout=GUARD)
    finally:
        os.close(write)
    errors = [line for line in result.stderr.splitlines() if "no one owns go to user" not in line]
    assert (result.returncode, errors) == (EXIT_OK, []), result.stderr


def test_head_reads_the_first_line_and_the_command_still_ends_with_0(tmp_path):
    """The shell's own pipe, as a person types it."""
    (tmp_path / "empty.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTCARE_")}
    env["CLIENTCARE_CONFIG"] = str(tmp_path / "empty.toml")
    result = subprocess.run(["bash", "-c", f'"{sys.executable}" -m clientcare.jobs.cli rules show late_payment '
                             f'| head -1; echo "exit ${{PIPESTATUS[0]}}"'], capture_output=True, text=True,
                            env=env, timeout=GUARD)
    assert result.stdout.startswith("late_payment ") and result.stdout.endswith("\nexit 0\n"), result.stdout
    assert result.stderr == "", result.stderr


def test_a_broken_pipe_to_odoo_is_still_a_network_failure(tmp_path, monkeypatch):
    """A broken pipe on anything but standard output stays what it was: exit 3."""
    from clientcare.jobs import rule_catalog

    def broken():
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(rule_catalog, "describe_rules", broken)
    result = CliRunner().invoke(main, ["rules", "list"])
    assert result.exit_code == 3 and "network failure" in result.output, result.output
