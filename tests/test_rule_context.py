"""The plugin API's one argument, RuleContext: filled by the engine, nothing ambient; previous
findings kept in the state store for every rule; the shipped test kit."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import FrozenInstanceError, dataclass
from datetime import date
from types import SimpleNamespace

import pytest

from clientcare.connector.state import SCHEMA_VERSION, StateStore
from clientcare.rules import Finding, RuleConfig, RuleContext, run_rules, validate_rule
from clientcare.rules.registry import Registry
from clientcare.rules.testing import AS_OF, SALES, SnapshotBuilder, builtin_rules, demo, evaluate, keys, run


@dataclass(frozen=True)
class Config(RuleConfig):
    min_total: float = 0.0


def spy_rule(seen: list):
    """A context-style rule that records its context and flags invoices above min_total."""
    def evaluate_(ctx: RuleContext) -> list[Finding]:
        seen.append(ctx)
        inv = ctx.snapshot.invoices
        inv = inv.loc[inv["amount_total"] > ctx.config.min_total]
        return [Finding(rule="spy", subject_model="account.move", subject_id=int(i), subject_name=str(n),
                        client_id=int(c), severity="info", summary=f"invoice {n}",
                        evidence=[{"invoice_id": int(i)}])
                for i, n, c in zip(inv["id"], inv["name"], inv["commercial_partner_id"])]
    return SimpleNamespace(name="spy", version="1", description="records its context", Config=Config,
                           needs={}, evaluate=evaluate_)


def snapshot():
    return SnapshotBuilder(17).client(10, "Azure Interior", SALES).invoice(1, 10, -20, 1500.0) \
        .invoice(2, 10, -5, 300.0).build()


def test_the_engine_fills_one_frozen_context_per_rule():
    seen: list[RuleContext] = []
    snap = snapshot()
    meta_before = dict(snap.meta)
    previous = [{"key": "spy:account.move:1", "data": {}}]
    result = run(spy_rule(seen), snap, "2026-11-22", {"min_total": 1000}, previous=previous)
    assert keys(result) == ["spy:account.move:1"]
    (ctx,) = seen
    assert ctx.snapshot is snap and ctx.as_of == date(2026, 11, 22) and ctx.config == Config(1000.0)
    assert ctx.previous == tuple(previous) and not ctx.first_run and dict(ctx.unavailable) == {}
    with pytest.raises(FrozenInstanceError):
        ctx.as_of = date(2026, 1, 1)
    assert snap.meta == meta_before, "nothing rides in snapshot.meta"


def test_unavailable_tables_come_from_the_pull_record_or_the_caller():
    seen: list[RuleContext] = []
    snap = snapshot()
    snap.meta["unavailable_tables"] = {"ratings": "no access to rating.rating"}
    registry = Registry(rules={"spy": validate_rule(spy_rule(seen))})
    run_rules(snap, AS_OF, registry=registry)
    run_rules(snap, AS_OF, registry=registry, unavailable={})
    assert [dict(c.unavailable) for c in seen] == [{"ratings": "no access to rating.rating"}, {}]


def test_shared_views_live_in_the_snapshots_explicit_cache():
    snap, day = demo()
    assert len(snap.views) == 0
    result = run_rules(snap, day, registry=builtin_rules())
    assert not result.errors and len(snap.views) > 0
    assert not [k for k in vars(snap) if k.startswith("_clientcare")], "no cache hidden in __dict__"


def test_the_first_api_signature_is_adapted_in_one_place():
    legacy = spy_rule([])
    legacy.evaluate = lambda snapshot, as_of, config: [] if as_of == AS_OF else None
    rule = validate_rule(legacy)
    assert rule.evaluate(RuleContext(snapshot(), AS_OF, Config())) == []


def test_previous_findings_are_kept_per_rule_in_the_state_store(tmp_path):
    store = StateStore(tmp_path / "s.sqlite3")
    assert store.get_previous("u|db") == {}
    store.set_previous("u|db", "run1", {"a": [{"key": "a:1"}], "b": []})
    store.set_previous("u|db", "run2", {"a": [{"key": "a:2"}]})  # b did not run: its findings stay
    assert store.get_previous("u|db") == {"a": [{"key": "a:2"}], "b": []}
    assert store.get_previous("other|db") == {}
    store.close()


def test_a_version_1_state_file_gains_the_previous_findings_table(tmp_path):
    path = tmp_path / "old.sqlite3"
    StateStore(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE previous_findings")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    store = StateStore(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    store.set_previous("s", "r", {"x": []})
    assert store.get_previous("s") == {"x": []}
    store.close()


def test_test_kit_runs_a_builtin_on_the_demo_and_on_a_built_snapshot():
    from clientcare.rules.builtin import late_payment
    snap, day = demo()
    assert run(late_payment, snap, day).findings
    built = SnapshotBuilder(17).client(10, "Azure Interior", SALES).invoice(1, 10, -40, 500.0).build()
    out = evaluate(late_payment, built, AS_OF)
    assert keys(out.findings) == ["late_payment:res.partner:10:manager"]  # 40 days late: escalated


def test_run_fails_the_test_when_the_rule_breaks():
    broken = spy_rule([])
    broken.evaluate = lambda ctx: 1 / 0
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        run(broken, snapshot(), AS_OF)


def test_rules_tables_lists_every_table_and_view_with_types(tmp_path):
    from click.testing import CliRunner
    from clientcare.connector.schema import TABLES
    from clientcare.jobs.cli import main
    result = CliRunner().invoke(main, ["rules", "tables", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tables = {t["name"]: t for t in json.loads(result.stdout)}
    assert set(TABLES) | {"payments", "clients", "contacts", "invoices", "tasks"} <= set(tables)
    moves = {c["name"]: c for c in tables["moves"]["columns"]}
    assert tables["moves"]["source"] == "account.move"
    assert (moves["amount_residual"]["dtype"], moves["amount_residual"]["odoo_type"]) == ("float64", "monetary")
    assert moves["partner_id_name"]["odoo_type"] == "many2one name"
    tasks = {c["name"]: c["dtype"] for c in tables["tasks"]["columns"] if tables["tasks"]["kind"] == "view"}
    assert tasks["is_open"] == "bool" and "deadline_date" in tasks
    text = CliRunner().invoke(main, ["rules", "tables"], catch_exceptions=False).stdout
    assert "invoices (view: snapshot.invoices)" in text
