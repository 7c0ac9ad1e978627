"""FindingTable: findings as columns give what the Finding objects gave, value for value and
text for text (to_dict, keys, the engine's output checks), and take/concat/set keep rows whole."""
from __future__ import annotations

import json
from datetime import date, datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from clientcare.connector.facts import SEVERITIES
from clientcare.rules import Action, Finding, run_rules, validate_rule
from clientcare.rules.finding import Rows
from clientcare.rules.finding_table import FindingTable, const, findings_of
from clientcare.rules.i18n import Msg
from clientcare.rules.testing import AS_OF, SnapshotBuilder, builtin_rules

DUE = date(2026, 11, 30)


def tricky() -> list[Finding]:
    """Findings with every shape to_dict handles: shared Rows with NaN, NA, numpy and dates,
    plain evidence rows, no action, an activity, a note, optional keys set on some rows only."""
    shared = Rows(["invoice_id", "amount", "due", "label"],
                  [[np.int64(1), 2, 3], [1.5, float("nan"), np.float64(2.25)],
                   [pd.Timestamp("2026-11-01"), pd.NaT, date(2026, 10, 1)], [Msg("late"), None, pd.NA]])
    own = Rows(["when", "flag"], [[datetime(2026, 11, 2, 9, 30)], [np.bool_(True)]])
    return [
        Finding("account.move", 1, "INV/1", "high", "one", Rows(shared._names, shared._columns, 0, 2),
                ["invoice_id", "amount"], client_id=10, level="15", action=Action("activity", "call", "call", DUE),
                data={"invoice_ids": [np.int64(1), 2], "when": pd.Timestamp("2026-11-01"), "kind": "late"},
                rule="r", daily=("days",), talking_points=("say hi",), route={"user_id": 7}),
        Finding("account.move", 2, "INV/2", "low", "two", Rows(shared._names, shared._columns, 2, 3),
                client_id=None, part="p", period="2026-11", action=Action("note", "noted"), rule="r",
                replaces=("r:old:2",), fold="theme", responsible_user_id=7, routed_by="rule: x"),
        Finding("res.partner", 10, "Azure", "medium", "three", [{"x": np.int64(4), "y": {"z": pd.NA}}],
                resolved_when="paid", rule="r", data={}, view=None),
        Finding("project.task", 5, "T", "critical", "four", own, rule="r", level="checklist",
                action=Action("activity", "todo it", "todo", None)),
    ]


def test_to_dicts_is_each_rows_to_dict_key_for_key_in_order():
    findings = tricky()
    table = FindingTable.from_findings(findings)
    got = table.to_dicts()
    want = [f.to_dict() for f in findings]
    assert [list(d) for d in got] == [list(d) for d in want]
    assert json.dumps(got) == json.dumps(want)
    assert got == [f.to_dict() for f in table]


def test_to_dicts_of_typed_and_constant_columns():
    table = FindingTable(subject_model="res.partner", subject_id=np.array([3, 4]), subject_name=["A", "B"],
                         severity=const("low"), summary=["s", "t"], evidence=[[{"a": 1}], [{"a": np.float64("nan")}]],
                         evidence_columns=const(["a"]), rule="r", daily=const(("a",)), data=const({"k": np.int64(2)}),
                         talking_points=[(), ("p",)], level=["x", None])
    got = table.to_dicts()
    assert got == [f.to_dict() for f in table]
    assert json.dumps(got) == json.dumps([f.to_dict() for f in table])
    assert got[0]["data"] is not got[1]["data"] and got[0]["daily"] is not got[1]["daily"]
    assert "talking_points" not in got[0] and got[1]["talking_points"] == ["p"]
    assert [type(d["subject_id"]) for d in got] == [int, int]


def test_keys_are_finding_keys():
    findings = tricky()
    assert FindingTable.from_findings(findings).keys().tolist() == [f.key for f in findings]
    table = FindingTable(subject_model="res.partner", subject_id=np.array([3, 4]), subject_name="A",
                         severity="low", summary="s", evidence=const([{"a": 1}]), rule="r", part=["", "b"])
    assert table.keys().tolist() == ["r:res.partner:3", "r:res.partner:4:b"] == [f.key for f in table]


def _reference_check(name, found):
    """What the engine checked finding by finding before the tables (the texts to keep)."""
    good, problems, keys = [], [], set()
    for f in found:
        if not isinstance(f, Finding):
            problems.append(f"{type(f).__name__} is not a Finding")
            continue
        if not f.rule:
            f.rule = name
        elif f.rule != name:
            problems.append(f"{f.key}: rule is {f.rule!r}, expected {name!r}")
            continue
        mine = f.problems()
        if f.key in keys:
            mine.append(f"{f.key}: duplicate key")
        if mine:
            problems += mine
            continue
        keys.add(f.key)
        good.append(f)
    return good, problems


def bad_findings() -> list:
    ok = dict(subject_model="res.partner", subject_name="A", severity="low", summary="s", evidence=[{"id": 1}])
    return [
        Finding(subject_id=1, **ok),
        Finding(subject_id=1, **ok),                                        # duplicate of a good one
        Finding(subject_id=2, **dict(ok, severity="urgent")),
        Finding(subject_id=3, **dict(ok, subject_model="Partner")),
        Finding(subject_id=np.int64(4), **ok),                             # numpy is not an int
        Finding(subject_id=True, **ok),
        Finding(subject_id=0, **dict(ok, evidence=[])),
        Finding(subject_id=5, **dict(ok, summary="two\nlines")),
        Finding(subject_id=6, **ok, action=Action("activity", "", "phone", None)),
        Finding(subject_id=7, **ok, action=Action("note", "")),
        Finding(subject_id=1, **dict(ok, severity="huge")),               # bad, and a duplicate too
        Finding(subject_id=8, **ok, rule="other"),
        Finding(subject_id=9, **dict(ok, subject_model="sale.order"), rule="x_rule"),
        "not a finding",
        Finding(subject_id=10, **ok, level="l", action=Action("activity", "do", "todo", DUE)),
    ]


def test_checked_gives_the_texts_and_rows_the_object_check_gave():
    want_good, want = _reference_check("x_rule", bad_findings())
    table = FindingTable.from_findings([f for f in bad_findings() if isinstance(f, Finding)])
    good, problems = table.checked("x_rule")
    assert [p for _, p in problems] == [p for p in want if p != "str is not a Finding"]
    assert list(good) == want_good and good.keys().tolist() == [f.key for f in want_good]
    assert good.constant("rule") == (False, None) and set(good.column("rule")) == {"x_rule"}


def test_the_engine_reports_a_tables_problems_as_it_did_a_lists():
    def registry(findings):
        rule = validate_rule(SimpleNamespace(name="x_rule", version="1", description="d", needs={},
                                             evaluate=lambda ctx: findings))
        reg = builtin_rules()
        reg.rules = {"x_rule": rule}
        return reg

    snap = SnapshotBuilder(17).client(10, "Azure").build()
    as_list = run_rules(snap, AS_OF, registry=registry(bad_findings()))
    _, want = _reference_check("x_rule", bad_findings())
    shown = want[:20] + ([f"... and {len(want) - 20} more"] if len(want) > 20 else [])
    assert as_list.errors[0]["error"] == "; ".join(shown)
    only = [f for f in bad_findings() if isinstance(f, Finding)]
    as_table = run_rules(snap, AS_OF, registry=registry(FindingTable.from_findings(only)))
    assert as_table.errors[0]["error"] == "; ".join(p for p in shown if p != "str is not a Finding")
    assert as_table.findings.to_dicts() == as_list.findings.to_dicts()
    assert as_list.counts() == {"x_rule": 3} and "x_rule" not in as_list.rules_run


def test_checked_typed_columns_and_a_constant_rule():
    table = FindingTable(subject_model="res.partner", subject_id=np.array([1, 0, 2, 2]), subject_name="A",
                         severity=["low", "low", "nope", "low"], summary="s", evidence=const([{"a": 1}]), rule="y")
    good, problems = table.checked("y")
    assert problems == [(1, "y:res.partner:0: subject id 0 is not a positive int"),
                        (2, f"y:res.partner:2: severity 'nope' is not one of {', '.join(SEVERITIES)}")]
    assert good.keys().tolist() == ["y:res.partner:1", "y:res.partner:2"]
    other, problems = table.checked("z")
    assert len(other) == 0 and [i for i, _ in problems] == [0, 1, 2, 3]
    assert problems[0][1] == "y:res.partner:1: rule is 'y', expected 'z'"
    floats = FindingTable(subject_model="res.partner", subject_id=np.array([1.0]), subject_name="A",
                          severity="low", summary="s", evidence=const([{"a": 1}]))
    assert floats.checked("y")[1] == [(0, "y:res.partner:1.0: subject id 1.0 is not a positive int")]


def test_take_concat_and_set_keep_rows_whole():
    findings = tricky()
    table = FindingTable.from_findings(findings)
    assert list(table.take([2, 0])) == [findings[2], findings[0]]
    assert list(table.take(np.array([False, True, False, True]))) == [findings[1], findings[3]]
    assert len(table.take([])) == 0 and list(table[1:3]) == findings[1:3]
    typed = FindingTable(subject_model="res.partner", subject_id=np.array([3]), subject_name="A", severity="low",
                         summary="s", evidence=const([{"a": 1}]), rule="r")
    both = FindingTable.concat([table, [], typed, FindingTable.empty()])
    assert list(both) == findings + list(typed) and both.keys().tolist()[-1] == "r:res.partner:3"
    assert FindingTable.concat([typed, typed]).constant("rule") == (True, "r")
    table.set("routed_by", const("default"))
    table.set("responsible_user_id", np.array([1, 2, 3, 4]))
    assert [(f.routed_by, f.responsible_user_id) for f in table] == [("default", 1), ("default", 2),
                                                                     ("default", 3), ("default", 4)]
    with pytest.raises(ValueError):
        table.set("routed_by", ["a"])
    with pytest.raises(TypeError):
        table.set("colour", const("red"))
    row = table[0]
    row.summary = "changed"
    assert table[0].summary == "one"  # rows are copies


def test_constants_isin_and_findings_of():
    table = FindingTable(subject_model="res.partner", subject_id=[1, 2, 3], subject_name="A", severity="low",
                         summary="s", evidence=const([{"a": 1}]), client_id=[10, None, np.int64(11)])
    assert table.constant("data") == (True, {}) and table.constant("severity") == (True, "low")
    assert table.constant("client_id") == (False, None) and not table.has("data")
    assert table.isin("client_id", {10, 11}).tolist() == [True, False, True]
    assert table.isin("severity", ["low"]).tolist() == [True, True, True]
    findings = tricky()
    assert findings_of(table) is table and list(findings_of(findings)) == findings
    assert table == list(table) and FindingTable.empty() == []


def test_routing_a_table_with_one_route_or_a_route_each_is_routing_the_list():
    from clientcare.rules import RoutingConfig
    from clientcare.rules.routing import assign
    from clientcare.rules.testing import ADMIN, INACTIVE, MANAGER, SALES

    snap = (SnapshotBuilder(17).client(10, "Has salesperson", SALES).client(20, "Gone", INACTIVE)
            .client(30, "Nobody").project(1, "P1", 20, MANAGER).build())
    routing = RoutingConfig.from_mapping({"rules": {"s": {"order": ["project_manager"]}}}, default_user_id=ADMIN)
    routes = [{"project_id": 1}, {"user_id": MANAGER, "why": "escalation"}, {}, {"first": "project_manager", "project_id": 1},
              {"task_user_ids": [INACTIVE, SALES]}, {"order": ["task_assignee"], "task_user_ids": [MANAGER]}]
    base = dict(subject_model="res.partner", subject_name="A", severity="low", summary="s", evidence=[{"a": 1}])
    findings = [Finding(subject_id=i + 1, client_id=c, route=r, rule=rule, **base)
                for i, (c, r, rule) in enumerate(zip([10, 20, 30, 10, 30, 20], routes, "rrrssr"))]
    assign(findings, snap, routing)
    table = FindingTable.from_findings(findings)
    table.set("responsible_user_id", None)
    table.set("routed_by", None)
    assign(table, snap, routing)
    assert [(f.responsible_user_id, f.routed_by) for f in table] == \
        [(f.responsible_user_id, f.routed_by) for f in findings]
    assert findings[1].routed_by == "rule: escalation" and findings[3].responsible_user_id == MANAGER
    one_route = FindingTable(subject_model="res.partner", subject_id=[1, 2], subject_name="A", severity="low",
                             summary="s", evidence=const([{"a": 1}]), client_id=[10, 30], rule="r",
                             route=const({"user_id": INACTIVE, "why": "gone"}))
    assign(one_route, snap, routing)
    as_list = [Finding(subject_id=i, client_id=c, route={"user_id": INACTIVE, "why": "gone"}, rule="r", **base)
               for i, c in ((1, 10), (2, 30))]
    assign(as_list, snap, routing)
    assert [(f.responsible_user_id, f.routed_by) for f in one_route] == \
        [(f.responsible_user_id, f.routed_by) for f in as_list] == [(SALES, "client_salesperson"), (ADMIN, "default")]
