"""Built-in rules are plugins like any other: they use the public API only, and the jobs layer
(reports, check, sync) names none of them; what it needs comes from a rule's declared metadata."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from clientcare.jobs import report
from clientcare.rules import Finding, ReportChart, RuleConfig, RuleSpecError, run_rules, validate_rule
from clientcare.rules.registry import builtin_names
from clientcare.rules.testing import AS_OF, SALES, SnapshotBuilder, builtin_rules, demo, run

from conftest import ROOT

#: The plugin API a rule may import: the package itself and the modules it documents.
PUBLIC = {"clientcare.rules", "clientcare.rules.config", "clientcare.rules.context", "clientcare.rules.finding",
          "clientcare.rules.finding_table", "clientcare.rules.frames", "clientcare.rules.testing",
          "clientcare.rules.i18n", "clientcare.connector.facts"}


def imports(path) -> set[str]:
    """Modules a file imports (``from pkg import mod`` counts as ``pkg.mod`` when that is a module)."""
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom) and n.module:
            out |= {f"{n.module}.{a.name}" if f"{n.module}.{a.name}" in PUBLIC else n.module for a in n.names}
        elif isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
    return out


def test_builtins_import_only_the_public_plugin_api():
    for name in builtin_names():
        used = {m for m in imports(ROOT / "rules" / "builtin" / f"{name}.py") if m.startswith("clientcare")}
        assert used <= PUBLIC, f"{name} imports {sorted(used - PUBLIC)}"


def test_the_jobs_layer_names_no_builtin_rule():
    pattern = re.compile(r"\b(" + "|".join(builtin_names()) + r")\b")
    for path in sorted((ROOT / "jobs").glob("*.py")):
        hits = [line for line in path.read_text().splitlines() if pattern.search(line)]
        assert not hits, f"{path.name} names a built-in rule: {hits}"


@dataclass(frozen=True)
class Config(RuleConfig):
    pass


def test_a_plugins_declared_chart_is_drawn_in_the_html_report():
    def evaluate(ctx):
        inv = ctx.snapshot.invoices
        return [Finding(rule="sized", subject_model="account.move", subject_id=int(i), subject_name=str(n),
                        client_id=int(c), severity="info", summary=f"invoice {n}", evidence=[{"id": int(i)}],
                        level="size", data={"size": float(a)} if a < 1000 else {})
                for i, n, c, a in zip(inv["id"], inv["name"], inv["commercial_partner_id"], inv["amount_total"])]
    chart = ReportChart("Invoice size", level="size", value="size", missing="too big to draw", noun="invoices")
    rule = SimpleNamespace(name="sized", version="1", description="invoice sizes", Config=Config, needs={},
                           evaluate=evaluate, charts=(chart,))
    assert validate_rule(rule).charts == (chart,)
    snap = SnapshotBuilder(17).client(10, "Azure Interior", SALES).invoice(1, 10, -5, 300.0) \
        .invoice(2, 10, -5, 120.0).invoice(3, 10, -5, 5000.0).build()
    result = run(rule, snap, AS_OF)
    html = report.render_html(result.findings, snap, AS_OF, {}, rule_charts={"sized": (chart,)})
    assert "Invoice size; 1 too big to draw" in html
    svg = html[html.index("Invoice size"):]
    svg = svg[:svg.index("</svg>")]
    assert svg.index("120") < svg.index("300"), "lowest first"


def test_every_chart_of_the_report_is_declared_by_a_rule():
    snap, as_of = demo()
    registry = builtin_rules()
    result = run_rules(snap, as_of, registry=registry)
    assert "<svg" not in report.render_html(result.findings, snap, as_of, {}, result.not_raised, rule_charts={})
    declared = {r.name: r.charts for r in registry.rules.values() if r.charts}
    html = report.render_html(result.findings, snap, as_of, {}, result.not_raised, rule_charts=declared)
    titles = [c.title for _, charts in sorted(declared.items()) for c in charts]
    situations = [c.title for _, charts in sorted(declared.items()) for c in charts if c.bars is not None]
    assert situations and html.count("<svg") == len(titles)
    drawn = sorted(titles, key=html.index)
    assert drawn[:len(situations)] == situations, "the situations the rules judge come first"


def test_what_each_odoo_list_is_accounted_by_is_declared_by_the_rules():
    assert builtin_rules().accounts_for() == {"account.move": ("late_payment", "invoice_ids"),
                                              "project.task": ("unmet_deadlines", "task_ids")}
    bad = SimpleNamespace(name="x_rule", version="1", description="d", needs={}, evaluate=lambda ctx: [],
                          accounts_for={"sale.order": "order_ids"})
    with pytest.raises(RuleSpecError, match="accounts_for: 'sale.order' is not one of"):
        validate_rule(bad)
