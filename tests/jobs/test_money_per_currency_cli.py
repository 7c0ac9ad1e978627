"""Never a sum across currencies, through the commands: ``audit`` in every format and
``explain`` of a client owing 1,000 EUR to an EUR company and 2,500 + 500 USD to a USD company
(the rules' and the report's own tests: tests/rules/test_money_per_currency.py)."""
from __future__ import annotations

import re

from click.testing import CliRunner

from clientcare.jobs.cli import main
from clientcare.rules.snapshot_builder import AS_OF, SALES, SnapshotBuilder

from test_bad_input_matrix import env  # noqa: F401 - the fixture: a profile from the environment, nothing reachable

#: 1,000 EUR + 3,000 USD (all owed) or + 2,500 USD (the 31-60 days bar), in any format.
SUMS = re.compile(r"\b(4,?000|3,?500)(?:\.0+)?\b")


def test_no_command_output_adds_eur_and_usd(tmp_path, env):  # noqa: F811 - the fixture
    b = SnapshotBuilder(17).company(2, "YourCompany Europe", "EUR").client(10, "Azure Interior", SALES)
    b.invoice(1, 10, -40, 1000.0, company=2).invoice(2, 10, -40, 2500.0).invoice(3, 10, -20, 500.0)
    directory = str(b.build().save(tmp_path / "snap"))
    day = ["--snapshot", directory, "--as-of", AS_OF.isoformat()]
    outputs = {}
    for fmt in ("text", "json", "csv", "html"):
        out = tmp_path / f"audit.{fmt}"
        result = CliRunner().invoke(main, ["audit", *day, "--format", fmt, "-o", str(out)], env=env)
        assert result.exit_code == 0, result.output
        outputs[fmt] = out.read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", "10", *day], env=env)
    assert result.exit_code == 0, result.output
    outputs["explain"] = result.stdout
    assert "1,000.00 EUR + 3,000.00 USD" in outputs["explain"]
    assert "31–60 days (EUR)" in outputs["html"] and "31–60 days (USD)" in outputs["html"]
    for name, text in outputs.items():
        assert not SUMS.findall(text), f"{name} adds EUR and USD: {SUMS.findall(text)}"
