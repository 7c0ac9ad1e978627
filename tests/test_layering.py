"""The layering is a contract the suite checks: connector < rules < jobs, and rules reach the
connector only through its facts, snapshots, table specs, errors and demo snapshot (setup.cfg
``[importlinter]``; ``lint-imports`` from the repository's root says the same)."""
from __future__ import annotations

import configparser
import subprocess
import sys

from conftest import ROOT


def test_import_contracts_are_kept():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    contracts = [s for s in config.sections() if s.startswith("importlinter:contract:")]
    assert len(contracts) == 2, contracts
    out = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
                          "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in out.stdout, out.stdout


def test_the_rules_test_kit_runs_without_the_jobs():
    """What the static contract cannot see (an import by name at run time): loading the demo
    snapshot through the rule authors' kit imports nothing of ``clientcare.jobs``."""
    code = ("import sys\nfrom clientcare.rules.testing import demo\nsnapshot, day = demo()\n"
            "print(len(snapshot.clients), sorted(m for m in sys.modules if m.startswith('clientcare.jobs')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, jobs = out.stdout.split(" ", 1)
    assert int(count) > 0 and jobs.strip() == "[]", out.stdout
