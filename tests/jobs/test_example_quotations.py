"""The example third-party package (examples/clientcare-quotations) against the recorded Odoo 16-19:
its declared table (sale.order) is pulled like ClientCare's own, its finding lands as an activity
on the quotation, and ``undo`` removes it.  The demo databases (sale_management) hold one
quotation in the "sent" state, S00019, dated 2026-10-30: a month unanswered at recording time."""
from __future__ import annotations

import sys

import pytest

from clientcare.connector.client import OdooClient
from clientcare.jobs import sync as sync_job
from clientcare.jobs.ruleset import RuleSet
from clientcare.connector.facts import MARKER_PREFIX
from clientcare.rules.registry import builtin_names

from conftest import ROOT, entry_point_installed, recorded_profile

EXAMPLE = ROOT / "examples" / "clientcare-quotations"
RULE = "stale_quotations"


@pytest.fixture
def example_installed(monkeypatch):
    """The example's entry point, as ``pip install examples/clientcare-quotations`` declares it
    (already there when CI installed it)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    with entry_point_installed(monkeypatch, RULE, "clientcare_quotations.stale_quotations"):
        yield
    for name in [m for m in sys.modules if m.startswith("clientcare_quotations")]:
        del sys.modules[name]


@pytest.fixture
def profile(odoo, tmp_path, monkeypatch, example_installed):
    return recorded_profile(odoo, tmp_path, "quotations-run", monkeypatch, rules=[RULE],
                            extra="\n[profiles.test.rules.stale_quotations]\nafter_days = 21\n")


def test_the_declared_table_is_pulled_and_the_quotation_gets_an_activity(odoo, cassette, profile):
    as_of = odoo.recorded_at.date()
    options = sync_job.pull_options(RuleSet.from_profile(profile).only([RULE]))
    assert "quotations" in options.tables and options.spec("quotations").model == "sale.order"

    first = sync_job.sync(profile, as_of=as_of, rule_names=[RULE])
    assert first.exit_code == 0, (first.error, first.rule_errors, first.write_errors)
    assert first.pulled["quotations"] == 1 and first.findings == {RULE: 1}
    assert first.plan["counts"] == {RULE: {"create": 1}}

    admin = OdooClient(profile.connection())
    order = admin.search_read_all("sale.order", [("state", "=", "sent")], ["name", "user_id"])
    assert [o["name"] for o in order] == ["S00019"]
    acts = admin.search_read_all("mail.activity", [("res_model", "=", "sale.order"),
                                                   ("note", "ilike", MARKER_PREFIX)],
                                 ["res_id", "summary", "date_deadline", "user_id", "activity_type_id"])
    assert [(a["res_id"], a["user_id"][0]) for a in acts] == [(order[0]["id"], order[0]["user_id"][0])]
    assert acts[0]["summary"].startswith("follow up quotation S00019 sent to ")
    assert acts[0]["date_deadline"] == as_of.isoformat()  # went stale 2026-11-20: due the run day, not before

    again = sync_job.sync(profile, as_of=as_of, rule_names=[RULE])
    assert again.exit_code == 0 and again.applied == {}, "the activity is left as it is"

    undone = sync_job.undo(profile, first.run_id)
    assert undone.exit_code == 0 and undone.applied["activities_removed"] == 1


def test_on_a_snapshot_without_its_table_the_rule_is_skipped_with_why(example_installed, tmp_path):
    from click.testing import CliRunner
    from clientcare.jobs.cli import main
    config = tmp_path / "empty.toml"
    config.write_text("")
    env = {"CLIENTCARE_CONFIG": str(config), "CLIENTCARE_RULES_ENABLED": ",".join([*builtin_names(), RULE])}
    result = CliRunner().invoke(main, ["audit", "--demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    assert "rule stale_quotations skipped: needs quotations, not in this snapshot" in result.stderr
    assert "late_payment" in result.stdout


def test_the_rule_writing_guide_shows_the_example_word_for_word():
    guide = (ROOT / "docs" / "writing-rules.md").read_text()
    for path in ("clientcare_quotations/stale_quotations.py", "pyproject.toml", "tests/test_stale_quotations.py"):
        text = (EXAMPLE / path).read_text().rstrip()
        assert f"# examples/clientcare-quotations/{path}\n{text}\n```" in guide, path


def test_rules_show_and_tables_name_the_declared_table(example_installed):
    from click.testing import CliRunner
    from clientcare.jobs.cli import main
    shown = CliRunner().invoke(main, ["rules", "show", RULE], catch_exceptions=False)
    assert shown.exit_code == 0
    assert "declares quotations: sale.order where [('state', '=', 'sent')]: name, partner_id" in shown.stdout
    tables = CliRunner().invoke(main, ["rules", "tables"], catch_exceptions=False).stdout
    assert "quotations (table: sale.order, declared by a rule)\n  id " in tables
