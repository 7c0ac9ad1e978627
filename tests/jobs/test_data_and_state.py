"""Data and state (issue 23): names with any characters, snapshots whose columns or types
drifted, duplicate ids, and a state file damaged deep inside.  Each ends in the findings it
should, or in one line naming the file and exit 2, never "internal error"."""
from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from clientcare.rules.bidi import FSI, PDI
from clientcare.connector.errors import UsageError
from clientcare.connector.snapshot import Snapshot
from clientcare.jobs import health_history
from clientcare.jobs.cli import main
from clientcare.jobs.exit_codes import EXIT_PARTIAL, EXIT_USAGE
from clientcare.jobs.run_history import RunHistory
from clientcare.jobs.run_session import open_store
from clientcare.rules.engine import run_rules
from clientcare.rules.finding import Finding
from clientcare.rules.snapshot_builder import AS_OF, SALES, SnapshotBuilder
from clientcare.rules.testing import builtin_rules

from test_bad_input_matrix import env  # noqa: F401 - the fixture: a profile from the environment, nothing reachable


def invoke(args, env):
    return CliRunner().invoke(main, args, env=env)


def error_line(result) -> str:
    """The one ``Error:`` line of a failed command (no traceback, no internal error)."""
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "internal error" not in errors[0], errors[0]
    return errors[0]




# -- a state file damaged deep inside ------------------------------------------------------------
def _seed_state(path: Path) -> None:
    """A real state file with rows over many pages: runs with summaries and client health."""
    store = open_store(path)
    runs = RunHistory(store)
    for i in range(60):
        run_id = f"20261130T0000{i:02d}Z-abcdef"
        runs.start(run_id, "default", "sync")
        runs.finish(run_id, "ok", 0, {"findings": {"late_payment": i}, "padding": "x" * 900})
    findings = [Finding("res.partner", cid, f"Client {cid}", "info", "fit", [{"id": cid}], client_id=cid,
                        level="checklist", data={"score": 50 + cid % 40, "band": "good",
                                                 "criteria": {"pays": "met", "note": "y" * 200}})
                for cid in range(1, 200)]
    for f in findings:
        f.rule = "fit_checklist"
    health_history.record(store, "http://127.0.0.1:9|db", "20261130T000000Z-abcdef", date(2026, 11, 30),
                          findings, 400)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def _damage_middle_pages(path: Path) -> None:
    """Garbage over the middle of every page after the first two (the header and the schema
    stay intact, so the file opens and its checks pass: only a query meets the damage)."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        for page in range(2, size // 4096):
            f.seek(page * 4096 + 8)
            f.write(b"\xff" * 3000)


@pytest.fixture
def damaged_state(tmp_path):
    path = tmp_path / "state.sqlite3"
    _seed_state(path)
    assert path.stat().st_size > 20 * 4096
    _damage_middle_pages(path)
    return path


@pytest.mark.parametrize("args", [["runs"], ["runs", "20261130T000005Z"], ["history", "Client 7"],
                                  ["sync"], ["sync", "--dry-run"]],
                         ids=["runs", "runs-RUN", "history", "sync", "sync-dry-run"])
def test_damaged_state_page_is_one_line_naming_the_file_exit_2(args, damaged_state, env):
    before = damaged_state.read_bytes()
    result = invoke(args, env)
    assert result.exit_code == EXIT_USAGE, result.output
    line = error_line(result)
    assert f"state file {damaged_state}" in line and "malformed" in line, line
    assert damaged_state.read_bytes() == before  # never reset nor repaired behind the person's back


def test_state_store_maps_damage_on_any_query_not_other_sqlite_errors(damaged_state):
    from clientcare.connector.state import damaged
    store = open_store(damaged_state)  # the header and schema are intact: it opens
    with pytest.raises(UsageError, match="is not a usable ClientCare state store .*malformed"):
        store.db.execute("SELECT * FROM runs").fetchall()
    with pytest.raises(UsageError, match="malformed"):
        for _ in store.db.execute("SELECT * FROM health_history"):
            pass
    store.close()
    full = damaged(damaged_state, sqlite3.OperationalError("database or disk is full"))
    assert isinstance(full, UsageError) and f"state file {damaged_state}: no space left" in str(full)
    assert damaged(damaged_state, sqlite3.OperationalError("database is locked")) is None
    assert damaged(damaged_state, sqlite3.IntegrityError("UNIQUE constraint failed")) is None


# -- names with any characters ---------------------------------------------------------------
CONTROL_NAMES = {"newline": "Acme\nCorp", "tab": "Acme\tCorp", "nul": "Acme\x00Corp", "rlo": "Acme\u202eCorp",
                 "bom": "\ufeffAcme Corp", "crlf-nel-ls": "Acme\r\n\x85\u2028Corp", "escape": "Acme\x1b[31mCorp"}


def _client_snapshot(name: str) -> Snapshot:
    b = SnapshotBuilder(17)
    b.client(10, name, SALES).invoice(500, 10, -60, 1000.0)
    b.project(20, name, 10).task(30, name, 20, client=10, users=[SALES], deadline=-30)
    return b.build()


@pytest.mark.parametrize("name", CONTROL_NAMES.values(), ids=CONTROL_NAMES.keys())
def test_control_characters_in_a_name_keep_every_finding(name):
    clean = run_rules(_client_snapshot("Acme Corp"), AS_OF, registry=builtin_rules())  # hermetic: built-ins only
    result = run_rules(_client_snapshot(name), AS_OF, registry=builtin_rules())
    assert result.errors == []
    assert sorted(f.key for f in result.findings) == sorted(f.key for f in clean.findings)
    assert any(f.severity == "critical" and f.client_id == 10 for f in result.findings)
    for f in result.findings:
        shown = [f.subject_name, f.summary, f.action.summary if f.action else "", *f.talking_points]
        for text in shown:
            # no control, separator or format character but the isolates around names
            assert text.replace(FSI, "").replace(PDI, "").isprintable(), repr(text)
        assert name not in f.key


@pytest.mark.parametrize("name", CONTROL_NAMES.values(), ids=CONTROL_NAMES.keys())
def test_control_characters_in_a_name_audit_of_a_saved_snapshot(name, tmp_path, env):
    directory = _client_snapshot(name).save(tmp_path / "snap")
    result = invoke(["audit", "--snapshot", str(directory), "--as-of", AS_OF.isoformat(), "--format", "json"], env)
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)["findings"]
    assert {f["rule"] for f in findings if f["client_id"] == 10} >= {"late_payment", "fit_checklist"}
    text = invoke(["audit", "--snapshot", str(directory), "--as-of", AS_OF.isoformat()], env)
    assert text.exit_code == 0 and all(line.replace(FSI, "").replace(PDI, "").isprintable()
                                             for line in text.stdout.splitlines()), text.stdout


# -- snapshots whose columns or types drifted ----------------------------------------------------
def _edit(table, change):
    def apply(directory: Path) -> None:
        path = directory / f"{table}.parquet"
        change(pd.read_parquet(path)).to_parquet(path, index=False)
    return apply


DRIFTS = {
    "column-missing": ("moves", "invoice_date_due", _edit("moves", lambda f: f.drop(columns=["invoice_date_due"]))),
    "dates-as-text": ("moves", "invoice_date_due", _edit("moves", lambda f: f.assign(
        invoice_date_due=f["invoice_date_due"].dt.strftime("%Y-%m-%d")))),
    "datetimes-as-text": ("tasks", "write_date", _edit("tasks", lambda f: f.assign(write_date=f["write_date"].astype(str)))),
    "ids-as-floats": ("partners", "id", _edit("partners", lambda f: f.assign(id=f["id"].astype(float)))),
    "many2one-as-plain-int": ("tasks", "project_id_name", _edit("tasks", lambda f: f.drop(columns=["project_id_name"]))),
    "many2one-as-text": ("partners", "user_id", _edit("partners", lambda f: f.assign(user_id=f["user_id"].astype(str)))),
    "amount-as-text": ("moves", "amount_residual", _edit("moves", lambda f: f.assign(
        amount_residual=f["amount_residual"].astype(str)))),
    "flag-as-text": ("tasks", "active", _edit("tasks", lambda f: f.assign(active=f["active"].astype(str)))),
    "payment-date-missing": ("payments", "paid_date", _edit("payments", lambda f: f.drop(columns=["paid_date"]))),
}


@pytest.fixture
def demo_dir(tmp_path):
    from clientcare.connector.demo import demo_snapshot
    return demo_snapshot().save(tmp_path / "snap")


@pytest.mark.parametrize("command", [["audit"], ["audit", "--format", "csv"], ["explain", "9"]],
                         ids=["audit", "audit-csv", "explain"])
@pytest.mark.parametrize("drift", DRIFTS.values(), ids=DRIFTS.keys())
def test_drifted_snapshot_is_one_line_naming_the_table_and_column_exit_2(drift, command, demo_dir, env):
    table, column, apply = drift
    apply(demo_dir)
    result = invoke([*command, "--snapshot", str(demo_dir)], env)
    assert result.exit_code == EXIT_USAGE, result.output
    line = error_line(result)
    assert f"snapshot file {demo_dir / (table + '.parquet')}" in line and repr(column) in line, line
    assert "pull it again" in line


HARMLESS = {
    "extra-column": _edit("partners", lambda f: f.assign(x_custom=1)),
    "empty-table": _edit("tasks", lambda f: f.iloc[0:0]),
    "empty-table-without-columns": _edit("moves", lambda f: pd.DataFrame()),
}


@pytest.mark.parametrize("change", HARMLESS.values(), ids=HARMLESS.keys())
def test_extra_columns_and_empty_tables_are_read(change, demo_dir, env):
    change(demo_dir)
    snapshot = Snapshot.load(demo_dir)
    assert "invoice_date_due" in snapshot.tables["moves"] and "project_id_name" in snapshot.tables["tasks"]
    result = invoke(["audit", "--snapshot", str(demo_dir), "--format", "json"], env)
    assert result.exit_code in (0, EXIT_PARTIAL), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output


# -- duplicate ids ------------------------------------------------------------------------------
def test_duplicate_ids_are_collapsed_to_the_last_written_and_said_once(demo_dir, env):
    from clientcare.connector.demo import demo_snapshot
    clean_dir = demo_snapshot().save(demo_dir.parent / "clean")
    partners = pd.read_parquet(demo_dir / "partners.parquet")
    acme = partners.loc[partners["id"] == 9]
    older = acme.assign(name="Acme OLD", write_date=acme["write_date"] - pd.Timedelta(days=30))
    pd.concat([partners, older]).to_parquet(demo_dir / "partners.parquet", index=False)  # older row last
    moves = pd.read_parquet(demo_dir / "moves.parquet")
    pd.concat([moves, moves.iloc[:2]]).to_parquet(demo_dir / "moves.parquet", index=False)  # same rows twice
    snapshot = Snapshot.load(demo_dir)
    p = snapshot.tables["partners"]
    assert len(p) == len(partners) and p["id"].is_unique
    assert p.loc[p["id"] == 9, "name"].item() == acme["name"].item()  # the last written, not the last row
    assert len(snapshot.tables["moves"]) == len(moves) and snapshot.summary()["moves"] == len(moves)
    args = ["audit", "--as-of", "2026-11-30", "--format", "json", "--snapshot"]
    result, clean = invoke([*args, str(demo_dir)], env), invoke([*args, str(clean_dir)], env)
    assert result.exit_code == clean.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "appear more than once" in line]
    assert len(warned) == 2, result.stderr  # one line per table, once
    assert any("snapshot table partners: 1 id(s) appear more than once (9)" in w for w in warned)
    assert json.loads(result.stdout)["findings"] == json.loads(clean.stdout)["findings"]  # never counted twice


def test_duplicate_ids_without_write_date_keep_the_last_row():
    b = SnapshotBuilder(17).client(10, "Acme", SALES)
    snapshot = b.build()
    frame = snapshot.tables["task_stages"]
    twice = pd.concat([frame, frame.assign(name="Renamed").iloc[:1]]).drop(columns=["write_date"])
    again = Snapshot(dict(snapshot.tables, task_stages=twice), snapshot.meta)
    stages = again.tables["task_stages"]
    assert stages["id"].is_unique and stages.loc[stages["id"] == frame["id"].iloc[0], "name"].item() == "Renamed"


def test_the_two_spellings_of_unsafe_characters_agree():
    """The Arrow scan (RE2) and the cleaning (Python's re) name the same characters, and
    cleaning leaves none of them."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from clientcare.connector.snapshot import _ANY_UNSAFE, _ANY_UNSAFE_RE2, display_text
    chars = [chr(c) for c in range(0x3000) if not 0xD800 <= c <= 0xDFFF] + ["\ufeff", "\ufffe"]
    by_arrow = pc.match_substring_regex(pa.array(chars), _ANY_UNSAFE_RE2).to_pylist()
    assert by_arrow == [bool(_ANY_UNSAFE.search(c)) for c in chars]
    assert not any(_ANY_UNSAFE.search(display_text(c)) for c in chars)
    assert display_text("Ac\u200dme\u00e9") == "Ac\u200dme\u00e9"  # joiners and letters stay


@pytest.mark.parametrize("key, value", [("unavailable_tables", "messages"), ("unavailable_tables", {"messages": 5}),
                                        ("own_partner_id", "x"), ("own_user_id", [1]), ("field_types", [1]),
                                        ("field_types", {"partners": {"id": 5}})])
def test_meta_of_the_wrong_shape_is_one_line_naming_it(key, value, demo_dir, env):
    meta = json.loads((demo_dir / "meta.json").read_text())
    meta[key] = value
    (demo_dir / "meta.json").write_text(json.dumps(meta))
    result = invoke(["audit", "--snapshot", str(demo_dir)], env)
    assert result.exit_code == EXIT_USAGE, result.output
    assert f"snapshot file {demo_dir / 'meta.json'} is damaged" in error_line(result)
