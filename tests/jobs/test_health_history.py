"""The client health history: storing (compact, retention), `clientcare history`, the report's
section, and what stores nothing (dry runs are in test_health_cassettes)."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date, timedelta
from types import SimpleNamespace

from click.testing import CliRunner

from clientcare.connector.state import SCHEMA_VERSION
from clientcare.jobs import ledger
from clientcare.jobs import health_history as history, report
from clientcare.jobs.cli import main
from clientcare.jobs.run_session import open_store

from conftest import ROOT

SCOPE = "http://odoo.example|prod"
DAY = date(2026, 11, 30)


def checklist(cid: int, score, band: str, **criteria):
    """A fit checklist finding as the rule makes it (what the history reads)."""
    return SimpleNamespace(rule="fit_checklist", level="checklist", subject_id=cid, subject_name=f"Client {cid}",
                           data={"score": score, "band": band, "criteria": criteria})


def invoke(args, tmp_path):
    """The CLI with an empty config file (a user's own config must not change the result)."""
    config = tmp_path / "empty.toml"
    config.touch()
    return CliRunner().invoke(main, args, env={"CLIENTCARE_CONFIG": str(config)})


def test_history_demo_in_every_format(tmp_path):
    text = invoke(["history", "--demo", "Gemini"], tmp_path)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == "Gemini Furniture (id 10): fit score over 4 stored stretch(es)"
    assert lines[1].endswith("first stored") and "band good -> poor" in lines[-1]
    as_json = json.loads(invoke(["history", "--demo", "10", "--format", "json"], tmp_path).output)
    assert as_json["name"] == "Gemini Furniture" and [p["score"] for p in as_json["history"]] == [100, 100, 88, 38]
    out = tmp_path / "trend.csv"
    assert invoke(["history", "--demo", "10", "--format", "csv", "-o", str(out)], tmp_path).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["band"] for r in rows] == ["good", "good", "good", "poor"] and rows[-1]["pays_on_time"] == "warn"
    wrong = invoke(["history", "--demo", "Wood"], tmp_path)
    assert wrong.exit_code == 2 and "matches several clients" in wrong.output


def test_unchanged_runs_add_no_row_and_retention_keeps_the_window(tmp_path):
    state = open_store(tmp_path / "s.sqlite3")
    start = DAY - timedelta(days=1499)
    for i in range(1500):  # a daily run over four years; client 1 changes every 30 days, client 2 never
        day = start + timedelta(days=i)
        score = 100 - 10 * ((i // 30) % 5)
        findings = [checklist(1, score, "good" if score >= 75 else "fair", pays_on_time="pass"),
                    checklist(2, 50, "fair", pays_on_time="warn")]
        history.record(state, SCOPE, f"run{i}", day, findings, keep_days=100)
    stored = history.load(state, SCOPE)
    assert list(stored.loc[stored["client_id"] == 2, "since"]) == [start.isoformat()]  # one row, never dropped
    mine = stored.loc[stored["client_id"] == 1]
    cutoff = (DAY - timedelta(days=100)).isoformat()
    assert (mine["since"] < cutoff).sum() == 1                      # the stretch current at the cut-off
    assert list(mine["since"].iloc[1:]) == ["2026-09-02", "2026-10-02", "2026-11-01"]  # one row per change since
    assert history.record(state, SCOPE, "again", DAY, [checklist(2, 50, "fair", pays_on_time="warn")], 100) == 0
    assert history.load(state, "other|db").empty
    state.close()


def test_a_version_2_state_file_gains_the_history_tables(tmp_path):
    path = tmp_path / "old.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE health_history; DROP TABLE health_tags; DROP TABLE ledger; DROP TABLE xmlid_cache;"
                     + ledger.TABLES.ddl[1] + "; PRAGMA user_version=2;")
    db.close()
    state = open_store(path)
    assert state.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert history.record(state, SCOPE, "r", DAY, [checklist(1, 80, "good")], 400) == 1
    state.close()


def test_history_reads_the_state_file_by_name_or_id(tmp_path):
    state = open_store(tmp_path / "s.sqlite3")
    history.record(state, SCOPE, "r1", DAY - timedelta(days=9), [checklist(7, 78, "good", pays_on_time="pass")], 400)
    history.record(state, SCOPE, "r2", DAY, [checklist(7, 41, "poor", pays_on_time="fail")], 400)
    state.close()
    config = tmp_path / "c.toml"
    config.write_text(f'[profiles.p]\nurl = "http://odoo.example"\ndb = "prod"\nstate_path = "{tmp_path / "s.sqlite3"}"\n')
    out = invoke(["--config", str(config), "-p", "p", "history", "client 7"], tmp_path)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[2] == ("2026-11-30   41  poor     score 78 -> 41; band good -> poor; "
                                          "pays on time pass -> fail")
    none = invoke(["--config", str(config), "-p", "p", "history", "7", "--state", str(tmp_path / "new.sqlite3")],
                  tmp_path)
    assert not (tmp_path / "new.sqlite3").exists()
    assert none.exit_code == 2 and none.output.count("\n") == 1 and "no client health stored" in none.output


def test_offline_audits_store_nothing(tmp_path):
    state = tmp_path / "s.sqlite3"
    for args in (["--demo"], ["--snapshot", str(ROOT / "connector" / "demo_data")]):
        result = invoke(["audit", *args, "--format", "json", "--state", str(state)], tmp_path)
        assert result.exit_code == 0, result.output
    assert not state.exists() or history.load(open_store(state), "demo").empty


def test_the_report_shows_who_fell_first_then_a_capped_line_per_client(tmp_path):
    out = tmp_path / "r.html"
    assert invoke(["audit", "--demo", "--format", "html", "-o", str(out)], tmp_path).exit_code == 0
    section = out.read_text().split("<h2>Client health</h2>")[1].split("<div class='charts'>")[0]
    assert "3 client(s) whose health fell since the last stored run" in section
    fell, trends = section.split("<th>trend</th>")
    assert fell.index("Gemini Furniture") < fell.index("Acme Corporation")      # the largest fall first
    assert trends.count("<svg") == 4 and trends.index("Gemini") < trends.index("Joel Willis")
    state = open_store(tmp_path / "s.sqlite3")
    for cid in range(1, 100):
        history.record(state, SCOPE, "r", DAY, [checklist(cid, 60, "fair")], 400)
    many = report.health_section(history.load(state, SCOPE), [checklist(c, 60, "fair") for c in range(1, 100)], DAY)
    assert many.count("<svg") == report.HEALTH_TRENDS_SHOWN and "... and 39 more" in many
    state.close()
