"""Importing the CLI (what `clientcare --help` and every cron start pay) loads no pandas,
pyarrow or requests: they are imported where they are used."""
from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_loads_no_heavy_library():
    code = ("import sys, clientcare.jobs.cli\n"
            "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'requests') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_help_runs_without_them():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom clientcare.jobs.cli import main\n"
            "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
