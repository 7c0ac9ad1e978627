"""A command that reads only the profile or the state file (``--help``, ``--version``, ``runs``,
``config show``, ``history`` from the state file) loads no pandas, pyarrow or requests: each is
run in a fresh interpreter against a real config and state file, and the heavy libraries it
loaded are listed.  (``clientcare runs`` went from 0.5 s to 0.08 s with this; see BENCHMARKS.md.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from types import SimpleNamespace

import pytest

from clientcare.jobs.run_session import open_store
from clientcare.jobs import health_history as history
from clientcare.jobs.run_history import RunHistory

HEAVY = ("pandas", "pyarrow", "numpy", "requests")
SCOPE = "https://odoo.example.com|prod"

#: Runs the CLI as the console script does, then writes the exit code and the heavy modules loaded.
RUN_CLI = """
import json, sys
from clientcare.jobs.cli import main
try:
    main(sys.argv[2:], prog_name="clientcare", obj={})
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as fh:
    json.dump({"exit": code, "heavy": sorted(m for m in %r if m in sys.modules)}, fh)
""" % (HEAVY,)


def checklist(cid: int, name: str, score, band: str, **criteria):
    return SimpleNamespace(rule="fit_checklist", level="checklist", subject_id=cid, subject_name=name,
                           data={"score": score, "band": band, "criteria": criteria})


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory):
    """A config file and a state file holding two runs and three clients' health."""
    directory = tmp_path_factory.mktemp("startup")
    state_path = directory / "state.sqlite3"
    (directory / "config.toml").write_text(
        f'[profiles.default]\nurl = "https://odoo.example.com"\ndb = "prod"\nlogin = "bot"\n'
        f'password = "hunter2"\nstate_path = "{state_path}"\n[profiles.default.rules.late_payment]\n'
        f'grace_days = 3\n')
    (directory / "config.toml").chmod(0o600)
    state = open_store(state_path)
    runs = RunHistory(state)
    for run_id in ("20261130T060000Z-aaaaaa", "20261201T060000Z-bbbbbb"):
        runs.start(run_id, "default", "sync")
        runs.finish(run_id, "ok", 0, {"run_id": run_id})
    for day, scores in ((date(2026, 11, 30), (80, None, 50)), (date(2026, 12, 1), (60, 70, 50))):
        history.record(state, SCOPE, f"run-{day}", day, [
            checklist(10, "Gemini Furniture", scores[0], "good" if scores[0] >= 75 else "fair", pays_on_time="pass"),
            checklist(11, "Wood Corner", scores[1], "unknown" if scores[1] is None else "fair", replies="warn"),
            checklist(12, "Wood Corner Annex", scores[2], "fair")], 400)
    state.close()
    return directory


def run_fresh(args: list[str], directory, tmp_path) -> dict:
    """One command in a fresh interpreter: its exit code, output and the heavy modules loaded."""
    result_file = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTCARE_")}
    env["CLIENTCARE_CONFIG"] = str(directory / "config.toml")
    out = subprocess.run([sys.executable, "-c", RUN_CLI, str(result_file), *args], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=120)
    return dict(json.loads(result_file.read_text()), stdout=out.stdout, stderr=out.stderr)


COMMANDS = {  # the command -> a piece of its output that shows it did its work
    "--help": "Usage: clientcare",
    "--version": "version",
    "runs": "20261201T060000Z-bbbbbb  sync",
    "runs --json": '"run_id": "20261130T060000Z-aaaaaa"',
    "runs 20261130T060000Z-aaaaaa": '"status": "ok"',
    "config show": "https://odoo.example.com",
    "config show --json": '"grace_days": 3',
    "history Gemini": "Gemini Furniture (id 10): fit score over 2 stored stretch(es)",
    "history 11 --format json": '"name": "Wood Corner"',
    "history gemini --format csv": "since,score,band,changes,run_id,pays_on_time",
    "runs --help": "Run history",
}


@pytest.mark.parametrize("command", COMMANDS)
def test_command_reading_the_profile_or_state_loads_no_heavy_library(command, profile_dir, tmp_path):
    result = run_fresh(command.split(), profile_dir, tmp_path)
    assert result["exit"] in (0, None), result
    assert COMMANDS[command] in result["stdout"], result
    assert result["heavy"] == [], f"`clientcare {command}` loaded {result['heavy']}"


def test_a_command_running_rules_does_load_them(profile_dir, tmp_path):
    """The check above can see pandas: the demo history runs the rules."""
    result = run_fresh(["history", "--demo", "Gemini"], profile_dir, tmp_path)
    assert result["exit"] in (0, None) and "pandas" in result["heavy"], result


def test_history_without_pandas_matches_the_report_s_frame(profile_dir):
    """``history`` reads plain rows; the report reads them as a frame: the same trend either way."""
    state = open_store(profile_dir / "state.sqlite3")
    try:
        rows, frame = history.stretches(state, SCOPE), history.load(state, SCOPE)
    finally:
        state.close()
    assert len(rows) == len(frame) == 5
    for cid in (10, 11, 12):
        plain = history.trend_of(r for r in rows if r.client_id == cid)
        assert plain == history.trend(frame, cid)
    assert [p["score"] for p in history.trend_of(r for r in rows if r.client_id == 11)] == [None, 70]


def test_importing_the_cli_loads_no_heavy_library():
    code = ("import sys, clientcare.jobs.cli\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
