"""The plugin API's one argument, RuleContext: filled by the engine, nothing ambient; previous
findings kept in the state store for every rule; the shipped test kit."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import FrozenInstanceError, dataclass
from datetime import date
from types import SimpleNamespace

import pytest

from clientcare.connector.state import SCHEMA_VERSION
from clientcare.jobs import ledger
from clientcare.jobs import previous_findings
from clientcare.jobs.run_session import open_store
from clientcare.rules import Finding, RuleConfig, RuleContext, RuleSpecError, TableSpec, run_rules, validate_rule
from clientcare.rules.registry import Registry
from clientcare.rules.testing import AS_OF, MANAGER, SALES, SnapshotBuilder, builtin_rules, demo, evaluate, keys, run


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
    store = open_store(tmp_path / "s.sqlite3")
    assert previous_findings.load(store, "u|db") == {}
    previous_findings.save(store, "u|db", "run1", {"a": [{"key": "a:1"}], "b": []})
    previous_findings.save(store, "u|db", "run2", {"a": [{"key": "a:2"}]})  # b did not run: its findings stay
    assert previous_findings.load(store, "u|db") == {"a": [{"key": "a:2"}], "b": []}
    assert previous_findings.load(store, "other|db") == {}
    store.close()


def test_a_version_1_state_file_gains_the_previous_findings_table(tmp_path):
    path = tmp_path / "old.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    for table in ("previous_findings", "health_history", "health_tags", "ledger", "xmlid_cache"):
        db.execute(f"DROP TABLE {table}")
    db.executescript(ledger.TABLES.ddl[1])  # the ledger as version 1 made it
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    store = open_store(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    previous_findings.save(store, "s", "r", {"x": []})
    assert previous_findings.load(store, "s") == {"x": []}
    store.close()


def test_test_kit_runs_a_builtin_on_the_demo_and_on_a_built_snapshot():
    from clientcare.rules.builtin import late_payment
    snap, day = demo()
    assert run(late_payment, snap, day).findings
    built = SnapshotBuilder(17).client(10, "Azure Interior", SALES).invoice(1, 10, -40, 500.0).build()
    out = evaluate(late_payment, built, AS_OF)
    assert keys(out.findings) == ["late_payment:res.partner:10"]  # one activity per client
    assert out.findings[0].data["kind"] == "manager"  # 40 days late: escalated


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


def _plain(**over):
    attrs = dict(name="x_rule", version="1", description="one line", needs={}, evaluate=lambda ctx: [])
    return SimpleNamespace(**dict(attrs, **over))


def test_config_is_optional_and_defaults_to_no_settings():
    rule = validate_rule(_plain())
    assert rule.Config is RuleConfig and rule.default_config() == RuleConfig()


@pytest.mark.parametrize("tables, message", [
    ([TableSpec("moves", "account.move")], "'moves' is already a table"),
    ([TableSpec("quotes", "Sale Order")], "not an Odoo model name"),
    ([TableSpec("Quotes", "sale.order")], "must match"),
    (["sale.order"], "is not a TableSpec"),
])
def test_declared_tables_are_checked(tables, message):
    with pytest.raises(RuleSpecError, match=message):
        validate_rule(_plain(tables=tables))


def test_a_declared_table_is_required_and_may_be_named_in_needs():
    spec = TableSpec("quotes", "sale.order", domain=[("state", "=", "sent")], fields=["name"])
    rule = validate_rule(_plain(tables=[spec]))
    assert rule.needs == {"quotes": ()} and rule.tables["quotes"].fields == ("name",)
    assert validate_rule(_plain(tables=[spec], needs={"quotes": ["amount_total"]})).needs == {
        "quotes": ("amount_total",)}
    registry = Registry(rules={"x_rule": rule})
    assert registry.needs()[0] == {"quotes": []} and registry.tables() == {"quotes": rule.tables["quotes"]}


def test_route_first_puts_one_step_before_the_configured_chain():
    def evaluate_(ctx):
        return [Finding(rule="x_rule", subject_model="account.move", subject_id=1, subject_name="INV/1",
                        client_id=10, severity="low", summary="s", evidence=[{"id": 1}],
                        route={"invoice_user_ids": [MANAGER], "first": "invoice_salesperson"})]
    snap = SnapshotBuilder(17).client(10, "Azure Interior", SALES).build()
    plain = run(_plain(evaluate=evaluate_), snap, AS_OF).findings[0]
    assert (plain.responsible_user_id, plain.routed_by) == (MANAGER, "invoice_salesperson")
    configured = run(_plain(evaluate=evaluate_), snap, AS_OF,
                     routing={"order": ["client_salesperson"]}).findings[0]
    assert configured.responsible_user_id == MANAGER  # first, then the configured chain
    no_first = _plain(evaluate=lambda ctx: [Finding(
        rule="x_rule", subject_model="account.move", subject_id=1, subject_name="INV/1", client_id=10,
        severity="low", summary="s", evidence=[{"id": 1}], route={"invoice_user_ids": [MANAGER]})])
    assert run(no_first, snap, AS_OF, routing={"order": ["client_salesperson"]}).findings[0] \
        .responsible_user_id == SALES
