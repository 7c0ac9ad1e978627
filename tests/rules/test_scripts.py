"""Talking points: the shipped scripts, a profile's replacement, a bad template refused at
start-up with every problem (exit 2), escaping, and a template change applied exactly once."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from click.testing import CliRunner

from clientcare.rules.testing import visible
from clientcare.connector.errors import ConfigError
from clientcare.jobs.cli import main
from clientcare.jobs.ruleset import load_with_rules
from clientcare.jobs.writeback import WriteBack, fingerprint
from clientcare.rules import scripts
from clientcare.rules.registry import builtin_names
from clientcare.rules.testing import builtin_rules, demo

from odoo_double import OdooDouble
from writeback_findings import finding

AS_OF = date(2026, 11, 22)
ISSUE_KINDS = {"late_payment": {"reminder", "call", "manager", "stop_work"},
               "follow_up": {"check_in", "fix_check", "survey", "punch_list", "onboarding"},
               "responsiveness": {"unanswered", "broken_promises"}, "unmet_deadlines": {"late", "escalated"}}


def rule_set(tmp_path, text: str = ""):
    cfg = tmp_path / "clientcare.toml"
    own = "rules_enabled = [" + ", ".join(f'"{n}"' for n in builtin_names()) + "]\n"  # whatever is installed
    cfg.write_text("[profiles.p]\n" + own + text)
    return load_with_rules("p", cfg, env={}, require_connection=False)[1]


def demo_findings(tmp_path, text: str = ""):
    snapshot, as_of = demo()
    return rule_set(tmp_path, text).evaluate(snapshot, as_of).findings


def test_every_kind_the_issue_names_ships_a_valid_script():
    rules = builtin_rules().rules
    for rule, kinds in ISSUE_KINDS.items():
        assert kinds <= set(rules[rule].scripts), rule
    for rule in rules.values():
        assert scripts.spec_problems(rule.scripts) == []


def test_default_points_are_filled_from_the_finding(tmp_path):
    found = {f.key: f for f in demo_findings(tmp_path)}
    stop = found["late_payment:res.partner:8"]  # Wood Corner, at its highest level: 60+ days overdue
    assert visible(stop.talking_points[0]).startswith("Decide with the project manager whether work for Wood Corner pauses "
                                             "(INV/")
    assert "RINV" not in visible(stop.talking_points[0]), "the invoices chased, not the credit notes to match"
    assert "Note the decision and the agreed date in Odoo." in stop.talking_points
    silent = [f for f in found.values() if not f.action or f.action.kind != "activity"]
    assert silent and not any(f.talking_points for f in silent), "only activities carry talking points"
    assert all(f.talking_points for f in found.values() if f.action and f.action.kind == "activity"
               and scripts.kind_of(f) in {k for ks in ISSUE_KINDS.values() for k in ks})


def test_a_profile_replaces_a_script_and_can_turn_them_off(tmp_path):
    text = '[profiles.p.scripts.late_payment]\nstop_work = ["Phone {client} about {invoices} (since {oldest_due})"]\n'
    call = {f.key: f for f in demo_findings(tmp_path, text)}["late_payment:res.partner:8"]
    assert len(call.talking_points) == 1
    assert visible(call.talking_points[0]).startswith("Phone Wood Corner about INV/") and "(since 2026-" in visible(call.talking_points[0])
    off = demo_findings(tmp_path, "talking_points = false\n")
    assert not any(f.talking_points for f in off)
    empty = '[profiles.p.scripts.late_payment]\nstop_work = []\n'
    assert not {f.key: f for f in demo_findings(tmp_path, empty)}["late_payment:res.partner:8"].talking_points


BAD = """[profiles.p.scripts.late_payment]
call = ["Call {client} about {invoice}", "Agree {oldest_due!r}", "Note {client:>20}", "stray } brace"]
no_such_kind = ["hello"]
[profiles.p.scripts.not_a_rule]
x = ["y"]
[profiles.p.scripts.follow_up]
check_in = "not a list"
"""


def test_a_bad_template_is_refused_at_start_up_with_every_problem(tmp_path):
    with pytest.raises(ConfigError) as err:
        rule_set(tmp_path, BAD)
    problems = err.value.problems
    assert len(problems) == 7, problems
    text = "\n".join(problems)
    for expected in ("scripts.late_payment.call[0]: unknown placeholder {invoice}; known: {client}, {due}, "
                     "{invoices}, {oldest_due}, {subject}, {summary}",
                     "scripts.late_payment.call[1]: {oldest_due} may not have a format spec or conversion",
                     "scripts.late_payment.call[2]: {client} may not have a format spec or conversion",
                     "scripts.late_payment.call[3] 'stray } brace': Single '}' encountered",
                     "scripts.late_payment.no_such_kind: late_payment has no kind 'no_such_kind'",
                     "scripts.not_a_rule: no loaded rule 'not_a_rule'",
                     "scripts.follow_up.check_in must be a list of strings"):
        assert expected in text
    config = tmp_path / "clientcare.toml"
    result = CliRunner().invoke(main, ["audit", "--demo"], env={"CLIENTCARE_CONFIG": str(config),
                                                               "CLIENTCARE_PROFILE": "p"})
    assert result.exit_code == 2
    assert all(p.split(":")[0] in result.stderr for p in problems) and "{invoice}" in result.stderr


def test_rules_show_lists_each_kinds_placeholders():
    shown = CliRunner().invoke(main, ["rules", "show", "late_payment"], catch_exceptions=False)
    assert shown.exit_code == 0
    assert "talking points per kind ([profiles.NAME.scripts.late_payment]" in shown.stdout
    assert "  call:\n    - Confirm that {invoices} reached the right person at {client}." in shown.stdout
    assert "{invoices} from the finding's data.invoice_names; {oldest_due} from the finding's data.oldest_due" \
        in shown.stdout


def sync(odoo, state, found, run_id):
    wb = WriteBack(odoo, state, run_id, as_of=AS_OF)
    plan = wb.plan(found)
    return plan, wb.apply(plan)


def with_points(f, *points):
    return dataclasses.replace(f, talking_points=tuple(points))


def test_points_are_escaped_and_a_template_change_updates_once(state):
    odoo = OdooDouble()
    hostile = finding(1, name='<b>Acme</b> & "Co"')
    _, done = sync(odoo, state, [with_points(hostile, "Call <b>Acme</b> & \"Co\"")], "run1")
    assert done == {"created": 1}
    note = odoo.open_activities()[0]["note"]
    assert "<ul><li>Call &lt;b&gt;Acme&lt;/b&gt; &amp; &quot;Co&quot;</li></ul>" in note and "<b>Acme" not in note
    _, done = sync(odoo, state, [with_points(hostile, "Call <b>Acme</b> & \"Co\"")], "run2")
    assert done == {}, "unchanged points: nothing written"
    plan, done = sync(odoo, state, [with_points(hostile, "Phone them")], "run3")
    assert done == {"updated": 1} and plan.items[0].reason == "changed: evidence"
    assert "<li>Phone them</li>" in odoo.open_activities()[0]["note"]
    _, done = sync(odoo, state, [with_points(hostile, "Phone them")], "run4")
    assert done == {}, "applied once, then left alone"


def test_without_points_the_fingerprint_is_the_one_activities_were_written_with():
    vals = {"summary": "call X", "activity_type_id": 2, "user_id": 6}
    rows = [{"invoice": "INV/1", "days": 3}]
    assert fingerprint(vals, rows, ("days",)) == fingerprint(vals, rows, ("days",), ())
    assert fingerprint(vals, rows, ("days",)) != fingerprint(vals, rows, ("days",), ("Call them",))
