"""One run per profile at a time: a second sync exits at once with the lock code."""
from __future__ import annotations

import subprocess
import sys
import time

from click.testing import CliRunner

from clientcare.jobs.exit_codes import EXIT_LOCKED
from clientcare.jobs.cli import main

HOLDER = """
import sys, time
from pathlib import Path
from clientcare.jobs.run_history import profile_lock
with profile_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(30)
"""


def test_second_sync_exits_with_the_lock_code(tmp_path):
    state = tmp_path / "state.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(state)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        (tmp_path / "empty.toml").write_text("")
        env = {"CLIENTCARE_CONFIG": str(tmp_path / "empty.toml"), "CLIENTCARE_URL": "http://127.0.0.1:9",
               "CLIENTCARE_DB": "x", "CLIENTCARE_LOGIN": "bot", "CLIENTCARE_PASSWORD": "x",
               "CLIENTCARE_STATE_PATH": str(state)}
        started = time.monotonic()
        result = CliRunner().invoke(main, ["sync"], env=env)
        assert result.exit_code == EXIT_LOCKED, result.output
        assert "another ClientCare run holds" in result.output and "pid" in result.output
        assert time.monotonic() - started < 5  # at once, no waiting
    finally:
        holder.kill()
        holder.wait()
    # the holder died (as with kill -9): the lock is free again, no stale lock file to clean
    from clientcare.jobs.run_history import profile_lock
    with profile_lock(state):
        pass
