"""The rule plugin API: discovery through entry points, spec checks, config, runner, routing."""
from __future__ import annotations

import json
import sys
import textwrap
from datetime import date, datetime
from importlib import metadata
from types import SimpleNamespace

import pytest

from clientcare.rules.testing import builtin_rules

from clientcare.connector.errors import ConfigError
from clientcare.rules import (ENTRY_POINT_GROUP, Action, Finding, RoutingConfig, RuleSpecError, load_rules,
                              run_rules, validate_rule)
from clientcare.rules.routing import assign

from clientcare.rules.testing import ADMIN, AS_OF, INACTIVE, MANAGER, SALES, SnapshotBuilder

BUILTINS = {"fit_checklist", "late_payment", "unmet_deadlines", "follow_up"}

BIG_INVOICES = '''
from dataclasses import dataclass
from clientcare.rules import Action, Finding, RuleConfig

name = "big_invoices"
version = "0.1"
description = "Customer invoices at or above a threshold"
needs = {"moves": ["amount_total"]}


@dataclass(frozen=True)
class Config(RuleConfig):
    threshold: float = 1000.0


def evaluate(snapshot, as_of, config):
    inv = snapshot.invoices
    big = inv.loc[inv["amount_total"] >= config.threshold]
    return [Finding(rule=name, subject_model="account.move", subject_id=int(i), subject_name=str(n),
                    client_id=int(c), severity="info", summary=f"big invoice {n}",
                    evidence=[{"invoice_id": int(i), "amount_total": float(a)}],
                    action=Action("activity", f"thank {n}", "call", as_of))
            for i, n, c, a in zip(big["id"], big["name"], big["commercial_partner_id"], big["amount_total"])]
'''

BOOM = '''
from dataclasses import dataclass
from clientcare.rules import RuleConfig

name = "boom"
version = "0.1"
description = "Always raises"
needs = {}


@dataclass(frozen=True)
class Config(RuleConfig):
    pass


def evaluate(snapshot, as_of, config):
    raise RuntimeError("the rule exploded")
'''


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a throwaway distribution with rule modules registered under ``clientcare.rules``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def _install(dist: str, modules: dict[str, str], entry_points: dict[str, str] | None = None):
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            monkeypatch.delitem(sys.modules, module, raising=False)
        info = site / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        eps = entry_points or {m: m for m in modules}
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n"
                                               + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    yield _install
    for name in ("big_invoices", "boom", "broken_import", "misspelled"):
        sys.modules.pop(name, None)


def small_snapshot(version=17):
    b = SnapshotBuilder(version)
    b.client(10, "Azure Interior", SALES).client(20, "Deco Addict", SALES)
    b.invoice(1, 10, -20, 1500.0).invoice(2, 20, -40, 300.0).invoice(3, 20, 10, 2000.0)
    b.project(1, "Office Design", 10, MANAGER, start=-90, end=-3).task(1, "Chairs", 1, users=[SALES], deadline=-5)
    return b.build()


# -- discovery -------------------------------------------------------------------------------------
def test_builtins_are_loaded_through_entry_points():
    declared = {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert BUILTINS <= set(declared)
    assert all(declared[n] == f"clientcare.rules.builtin.{n}" for n in BUILTINS)
    registry = builtin_rules()
    assert BUILTINS <= set(registry.rules) and not registry.failures
    rows = {r["name"]: r for r in registry.describe()}
    for n in BUILTINS:
        assert rows[n]["status"] == "loaded" and "clientcare" in rows[n]["origin"]
        assert rows[n]["version"] and "\n" not in rows[n]["description"]


def test_a_third_party_rule_installed_through_an_entry_point_runs(install):
    install("thirdparty-rules", {"big_invoices": BIG_INVOICES})
    registry = builtin_rules("big_invoices")
    assert "big_invoices" in registry.rules and BUILTINS <= set(registry.rules)
    assert "thirdparty-rules" in registry.rules["big_invoices"].origin
    required, _ = registry.needs(["big_invoices"])
    assert required == {"moves": ["amount_total"]}
    result = run_rules(small_snapshot(), AS_OF, {"big_invoices": {"threshold": 1000}}, registry=registry)
    big = [f for f in result.findings if f.rule == "big_invoices"]
    assert sorted(f.subject_id for f in big) == [1, 3]
    assert all(f.responsible_user_id == SALES and f.routed_by == "client_salesperson" for f in big)
    assert not result.partial and {"big_invoices", *BUILTINS} <= result.rules_run


def test_a_failing_third_party_rule_does_not_stop_the_others(install):
    install("bad-rules", {"boom": BOOM, "broken_import": "raise ImportError('missing dependency xyz')\n"})
    registry = builtin_rules("boom", "broken_import")
    assert [f.name for f in registry.failures] == ["broken_import"]
    assert "missing dependency xyz" in registry.failures[0].traceback
    result = run_rules(small_snapshot(), AS_OF, registry=registry)
    assert result.partial
    by_rule = {e["rule"]: e for e in result.errors}
    assert by_rule["boom"]["stage"] == "evaluate" and "RuntimeError: the rule exploded" in by_rule["boom"]["error"]
    assert "Traceback" in by_rule["boom"]["traceback"] and "boom.py" in by_rule["boom"]["traceback"]
    assert by_rule["broken_import"]["stage"] == "load"
    assert "boom" not in result.rules_run and BUILTINS <= result.rules_run
    assert {f.rule for f in result.findings} >= {"late_payment", "unmet_deadlines"}
    json.dumps(result.summary())


def test_strict_loading_raises_with_every_failure(install):
    install("bad-rules", {"broken_import": "raise ImportError('nope')\n"})
    with pytest.raises(RuleSpecError, match="broken_import"):
        load_rules(strict=True)


# -- the spec fails loudly -------------------------------------------------------------------------
def _rule(**over):
    from clientcare.rules.builtin import late_payment as lp
    attrs = dict(name="x_rule", version="1", description="one line", Config=lp.Config, needs={},
                 evaluate=lambda snapshot, as_of, config: [])
    attrs.update(over)
    return SimpleNamespace(**{k: v for k, v in attrs.items() if v is not ...})


def test_misspelled_evaluate_is_an_error(install):
    source = BIG_INVOICES.replace("def evaluate(", "def evalute(").replace('"big_invoices"', '"misspelled"')
    install("typo-rules", {"misspelled": source})
    registry = load_rules()
    failure = next(f for f in registry.failures if f.name == "misspelled")
    assert "missing 'evaluate'" in failure.error and "evalute" in failure.error
    with pytest.raises(RuleSpecError, match="evalute"):
        validate_rule(_rule(evaluate=..., evalute=lambda s, a, c: []))


@pytest.mark.parametrize("over, message", [
    ({"optional_need": {}}, "optional_need' looks like a misspelling"),
    ({"evaluate": lambda snapshot, as_of: []}, "must accept"),
    ({"evaluate": lambda snapshot, as_of, config, extra: []}, "required parameters"),
    ({"needs": {"invoices": []}}, "unknown table 'invoices'"),
    ({"needs": {"moves": "amount_total"}}, "list of field names"),
    ({"description": "two\nlines"}, "one non-empty line"),
    ({"name": "Bad Name"}, "must match"),
    ({"Config": dict}, "Config must be a dataclass"),
])
def test_spec_problems_are_reported(over, message):
    with pytest.raises(RuleSpecError, match=message):
        validate_rule(_rule(**over))


def test_entry_point_name_must_match_the_rule_name(install):
    install("renamed", {"big_invoices": BIG_INVOICES}, {"huge_invoices": "big_invoices"})
    failure = next(f for f in load_rules().failures if f.name == "huge_invoices")
    assert "differs from its entry-point name" in failure.error


# -- config -------------------------------------------------------------------------------------------
def test_every_config_problem_is_reported_at_once():
    registry = builtin_rules()
    with pytest.raises(ConfigError) as err:
        registry.configure({
            "late_payment": {"grace_day": 3, "min_amount": "ten", "levels": [30, 15, 60, 90]},
            "unmet_deadlines": {"group_by": "team"},
            "fit_checklist": {"weights": {"pays_late": 2}},
            "late_paymnet": {},
        })
    problems = err.value.problems
    text = "\n".join(problems)
    assert "rules.late_payment: unknown key 'grace_day' (did you mean 'grace_days'?)" in text
    assert "rules.late_payment.min_amount must be float, not 'ten'" in text
    assert "rules.unmet_deadlines.group_by must be one of 'project', 'assignee'" in text
    assert "unknown criteria ['pays_late']" in text
    assert "rules.late_paymnet: no such rule (did you mean 'late_payment'?)" in text
    assert len(problems) == 5  # levels is checked only once the types are right


def test_cross_field_checks_and_disabling():
    registry = builtin_rules()
    with pytest.raises(ConfigError, match="levels must be ascending"):
        registry.configure({"late_payment": {"levels": [30, 15, 60, 90]}})
    with pytest.raises(ConfigError, match="enabled must be true or false"):
        registry.configure({"late_payment": {"enabled": "no"}})
    configs = registry.configure({"late_payment": {"enabled": False}, "follow_up": {"check_in_after_days": 30}})
    assert "late_payment" not in configs and configs["follow_up"].check_in_after_days == 30
    result = run_rules(small_snapshot(), AS_OF, {"late_payment": {"enabled": False}}, registry=registry)
    assert "late_payment" not in result.rules_run and not [f for f in result.findings if f.rule == "late_payment"]


def test_nested_config_tables_are_typed():
    registry = builtin_rules()
    cfg = registry.configure({"follow_up": {"onboarding_steps": [
        {"name": "kickoff", "summary": "kick off with {client}", "owner": "project_manager", "due_after_days": 3}]}})
    step = cfg["follow_up"].onboarding_steps[0]
    assert (step.name, step.owner, step.due_after_days, step.activity_type) == ("kickoff", "project_manager", 3, "todo")
    with pytest.raises(ConfigError, match=r"onboarding_steps\[0\]: unknown key 'owner_id'"):
        registry.configure({"follow_up": {"onboarding_steps": [{"name": "k", "owner_id": 3}]}})


@pytest.mark.parametrize("bad", [None, datetime(2026, 11, 22, 10, 30), "22/11/2026", 20261122])
def test_as_of_is_an_explicit_date(bad):
    with pytest.raises(ConfigError, match="as_of"):
        run_rules(small_snapshot(), bad, registry=builtin_rules())


def test_as_of_accepts_a_date_or_iso_text():
    a = run_rules(small_snapshot(), "2026-11-22", registry=builtin_rules())
    b = run_rules(small_snapshot(), datetime(2026, 11, 22), registry=builtin_rules())
    assert a.as_of == b.as_of == date(2026, 11, 22)
    assert [f.key for f in a.findings] == [f.key for f in b.findings]


# -- the runner checks what rules return ---------------------------------------------------------------
def _registry_with(evaluate):
    registry = builtin_rules()
    rule = validate_rule(_rule(evaluate=evaluate))
    registry.rules = {rule.name: rule}
    return registry


def test_findings_without_evidence_or_with_duplicate_keys_are_rejected():
    def evaluate(snapshot, as_of, config):
        base = dict(rule="x_rule", subject_model="res.partner", subject_name="A", severity="low", summary="s")
        return [Finding(subject_id=10, evidence=[], **base),
                Finding(subject_id=20, evidence=[{"id": 20}], **base),
                Finding(subject_id=20, evidence=[{"id": 20}], **base),
                Finding(subject_id=30, evidence=[{"id": 30}], **dict(base, severity="urgent"))]
    result = run_rules(small_snapshot(), AS_OF, registry=_registry_with(evaluate))
    assert [f.key for f in result.findings] == ["x_rule:res.partner:20"]
    error = result.errors[0]["error"]
    assert error.count("x_rule:res.partner") == 3
    assert "no evidence" in error and "duplicate key" in error and "severity 'urgent'" in error
    assert result.partial and "x_rule" not in result.rules_run  # its old activities must not be closed


# -- routing -------------------------------------------------------------------------------------------
def _routing_snapshot():
    b = SnapshotBuilder(17)
    b.client(10, "Has salesperson", SALES).client(20, "Gone salesperson", INACTIVE).client(30, "No salesperson")
    b.project(1, "P1", 20, MANAGER).project(2, "P2", 30, None)
    return b.build()


def _f(rule="r", client=None, **route):
    return Finding(rule=rule, subject_model="res.partner", subject_id=client or 1, subject_name="x",
                   severity="low", summary="s", evidence=[{"a": 1}], client_id=client, route=route)


def test_the_routing_chain_skips_missing_and_inactive_users():
    snap = _routing_snapshot()
    findings = [
        _f(client=10, project_id=1),                                        # client salesperson
        _f(client=20, project_id=1),                                        # inactive salesperson -> PM
        _f(client=30, project_id=2, task_user_ids=[INACTIVE, MANAGER, SALES]),  # -> first active assignee
        _f(client=30, invoice_user_ids=[INACTIVE, SALES]),                  # -> invoice salesperson
        _f(client=30),                                                      # -> default user
        _f(client=30, user_id=MANAGER, why="escalation manager"),           # preset by the rule
        _f(client=10, user_id=INACTIVE, why="gone"),                        # preset inactive -> chain
    ]
    assign(findings, snap, RoutingConfig.from_mapping({}, default_user_id=ADMIN))
    assert [(f.responsible_user_id, f.routed_by) for f in findings] == [
        (SALES, "client_salesperson"), (MANAGER, "project_manager"), (MANAGER, "task_assignee"),
        (SALES, "invoice_salesperson"), (ADMIN, "default"), (MANAGER, "rule: escalation manager"),
        (SALES, "client_salesperson")]


def test_routing_order_is_configurable_per_rule_and_always_ends_with_someone():
    snap = _routing_snapshot()
    findings = [_f("r", client=10, project_id=1), _f("s", client=10, project_id=1), _f("s", client=30)]
    routing = RoutingConfig.from_mapping({"order": ["project_manager", "client_salesperson"],
                                          "rules": {"s": {"order": ["client_salesperson"]}}})
    assign(findings, snap, routing)
    assert [f.responsible_user_id for f in findings] == [MANAGER, SALES, ADMIN]
    assert findings[2].routed_by.startswith("fallback")  # no default user configured: lowest active id
    with pytest.raises(ConfigError, match="unknown routing step"):
        RoutingConfig.from_mapping({"order": ["client_salesman"]})
    with pytest.raises(ConfigError, match="routing.rules.nope: no such rule"):
        run_rules(snap, AS_OF, routing={"rules": {"nope": {"order": ["default"]}}}, registry=builtin_rules())


# -- every finding is usable -------------------------------------------------------------------------------
def rich_snapshot(version):
    b = SnapshotBuilder(version)
    b.client(10, "Azure Interior", SALES, created=-20).contact(11, "Ann", 10)
    b.client(20, "Deco Addict", INACTIVE).client(30, "Gemini Furniture")
    for i, due in enumerate((-2, -16, -31, -61, -100)):
        b.invoice(100 + i, 20, due, 100.0 * (i + 1))
    for i in range(4):
        b.invoice(200 + i, 30, -90 + 10 * i, 50.0, 0.0, paid=-70 + 10 * i + 20)
    b.invoice(300, 10, 5, 80.0)
    b.project(1, "Office Design", 10, MANAGER, start=-60, end=-1, created=-15)
    b.project(2, "Helpdesk", 30, None, start=-300, end=200)
    b.project(3, "Done project", 20, MANAGER, start=-100, end=-20)
    b.task(1, "Chairs", 1, users=[SALES], deadline=-20, created=-10)
    b.task(2, "Desk", 1, users=[], deadline=2, created=-30)
    b.task(3, "Fix login", 2, users=[SALES], state="1_done", closed_on=-8, created=-20)
    b.task(4, "Wrap up", 3, users=[MANAGER], state="1_done", closed_on=-15, created=-90)
    b.task(5, "Waiting", 2, users=[SALES], state="02_changes_requested", kanban="blocked", created=-60, written=-30)
    b.message(1, "res.partner", 11, -90).message(2, "project.task", 3, -100, message_type="email")
    b.tables("activities", "ratings")
    return b.build()


@pytest.mark.parametrize("version", [16, 17, 19])
def test_every_finding_has_evidence_an_owner_and_a_stable_json_form(version):
    config = {"follow_up": {"fix_projects": ["Helpdesk"], "survey_every_days": 30}}
    result = run_rules(rich_snapshot(version), AS_OF, config, {"default_user_id": ADMIN}, registry=builtin_rules())
    assert not result.errors
    assert {f.rule for f in result.findings} == BUILTINS
    kinds = {f.data.get("kind") for f in result.findings if f.rule == "follow_up"}
    assert {"check_in", "fix_check", "punch_list", "onboarding", "survey"} <= kinds
    for f in result.findings:
        assert f.evidence and all(isinstance(row, dict) and row for row in f.evidence), f.key
        assert f.responsible_user_id in (ADMIN, SALES, MANAGER), f.key
        assert f.routed_by and f.routed_by != "unrouted"
        json.dumps(f.to_dict())
    again = run_rules(rich_snapshot(version), AS_OF, config, {"default_user_id": ADMIN}, registry=builtin_rules())
    assert [f.to_dict() for f in again.findings] == [f.to_dict() for f in result.findings]
    assert len({f.key for f in result.findings}) == len(result.findings)


def test_action_and_finding_contract_problems():
    f = Finding(rule="r", subject_model="Sale Order", subject_id=0, subject_name="x", severity="low",
                summary="two\nlines", evidence=[{"a": 1}], action=Action("activity", "do", "fax", None))
    problems = " | ".join(f.problems())
    for text in ("subject model 'Sale Order' is not an Odoo model name", "subject id 0", "one non-empty line", "activity type 'fax'",
                 "needs a due date"):
        assert text in problems


@pytest.mark.parametrize("version", [16, 19])
@pytest.mark.parametrize("optional", [False, True])
def test_empty_databases_give_no_findings_and_no_errors(version, optional):
    b = SnapshotBuilder(version)
    if optional:
        b.tables("messages", "activities", "ratings", "deadline_changes", "deadline_messages")
    result = run_rules(b.build(), AS_OF, registry=builtin_rules())
    assert not result.errors and not result.findings and BUILTINS <= result.rules_run
    b.client(10, "Lonely client")  # a client with nothing else
    result = run_rules(b.build(), AS_OF, registry=builtin_rules())
    assert not result.errors
    assert [f.key for f in result.findings] == ["fit_checklist:res.partner:10:checklist"]


def test_without_invoices_the_client_rules_still_run():
    snap = rich_snapshot(17)
    del snap.tables["moves"], snap.tables["payments"]  # the bot may not read invoices
    result = run_rules(snap, AS_OF, routing={"default_user_id": ADMIN}, only=["fit_checklist", "follow_up"], registry=builtin_rules())
    assert not result.errors and {"fit_checklist", "follow_up"} <= result.rules_run
    pays = [r for f in result.findings if f.level == "checklist" for r in f.evidence if r["criterion"] == "pays on time"]
    assert pays and all(r["status"] == "unknown" and r["detail"] == "invoices not readable" for r in pays)
