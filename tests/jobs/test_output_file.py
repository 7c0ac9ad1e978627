"""``--output FILE`` (issue 23): written whole or not at all through an exclusive temporary file,
renamed only over a regular file or a new name; a device or a FIFO is written in place, never
replaced; a link is written through only to a pipe or a device; a name prepared next to the
target (the old ``FILE.partial``) is never touched; an impossible name is refused before any
work.  (:mod:`clientcare.jobs.output_file`.)"""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientcare.jobs import cli as cli_mod
from clientcare.jobs import output_file
from clientcare.jobs.cli import main
from clientcare.jobs.exit_codes import EXIT_OK, EXIT_USAGE

REPORT = ["audit", "--demo", "--format", "csv"]


def audit_to(path, *extra: str, env=None):
    return CliRunner().invoke(main, [*REPORT, "-o", str(path), *extra], env=env or {})


def expected_report() -> str:
    """The report as a plain new file gets it (read back as text, as ``entries`` reads)."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        assert audit_to(Path(d) / "r.csv").exit_code == 0
        return (Path(d) / "r.csv").read_text()


def one_error_line(result, *texts: str) -> str:
    assert result.exit_code == EXIT_USAGE, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for text in texts:
        assert text in errors[0], (text, errors[0])
    return errors[0]


def entries(directory: Path) -> dict[str, str]:
    """Each name in ``directory`` and what it is (a link: where it points; a file: its text)."""
    out = {}
    for p in sorted(directory.iterdir()):
        if p.is_symlink():
            out[p.name] = f"-> {os.readlink(p)}"
        elif p.is_file():
            out[p.name] = p.read_text()
        else:
            out[p.name] = stat.filemode(p.lstat().st_mode)
    return out


@pytest.fixture
def no_work(monkeypatch):
    """Fails the command if it gets as far as loading the data to audit."""
    def refuse(*a, **kw):
        raise AssertionError("the audit ran before its output was checked")
    monkeypatch.setattr(cli_mod, "_snapshot_for", refuse)


# -- what is not a regular file is never replaced ------------------------------------------------
@pytest.mark.skipif(os.geteuid() == 0, reason="as root a regression would replace the machine's own "
                    "/dev/null (it did once): the private device node below stands for it")
def test_dev_null_stays_the_device():
    before = os.stat("/dev/null")
    result = audit_to("/dev/null")
    assert result.exit_code == EXIT_OK, result.output
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_character_device_of_ones_own_stays_a_device(tmp_path):
    """As root the old code replaced ``/dev/null`` with a plain file: here a private copy of it."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    result = audit_to(node)
    assert result.exit_code == EXIT_OK, result.output
    assert stat.S_ISCHR(node.lstat().st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_a_fifo_gets_the_report_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = audit_to(fifo)
    reader.join(30)
    assert result.exit_code == EXIT_OK, result.output
    assert got and got[0].decode().replace("\r\n", "\n") == expected_report()
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["report.fifo"]


# -- links ------------------------------------------------------------------------------------
def test_a_link_to_a_file_is_refused_and_left_as_it_is(tmp_path, no_work):
    victim = tmp_path / "victim.txt"
    victim.write_text("someone's file\n")
    link = tmp_path / "report.csv"
    link.symlink_to(victim)
    before = entries(tmp_path)
    one_error_line(audit_to(link), f"--output {link}: is a symbolic link to {victim}", "name the file itself")
    assert entries(tmp_path) == before


def test_a_link_to_nothing_is_refused_and_nothing_is_created(tmp_path, no_work):
    link = tmp_path / "report.csv"
    link.symlink_to(tmp_path / "elsewhere" / "new.csv")
    (tmp_path / "elsewhere").mkdir()
    one_error_line(audit_to(link), "is a symbolic link to", "which does not exist")
    assert list((tmp_path / "elsewhere").iterdir()) == [] and link.is_symlink()


def test_a_link_to_a_pipe_or_a_device_is_written_through(tmp_path):
    """``-o /dev/stdout`` in a pipe, a shell's ``>(gzip > r.gz)``, a link to ``/dev/null``."""
    to_null = tmp_path / "quiet.csv"
    to_null.symlink_to("/dev/null")
    assert audit_to(to_null).exit_code == EXIT_OK
    assert os.readlink(to_null) == "/dev/null" and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "via.csv"
    link.symlink_to(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = audit_to(link)
    reader.join(30)
    assert result.exit_code == EXIT_OK, result.output
    assert got[0].decode().replace("\r\n", "\n") == expected_report()
    assert link.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_planted_link_where_the_old_code_wrote_is_never_followed(tmp_path):
    """The old code opened ``FILE.partial`` for writing: a link planted there made it overwrite
    the link's target.  The temporary name is now random and created exclusively."""
    victim = tmp_path / "victim.txt"
    victim.write_text("someone's file\n")
    (tmp_path / "report.csv.partial").symlink_to(victim)
    result = audit_to(tmp_path / "report.csv")
    assert result.exit_code == EXIT_OK, result.output
    assert entries(tmp_path) == {"report.csv": expected_report(), "report.csv.partial": f"-> {victim}",
                                 "victim.txt": "someone's file\n"}


def test_an_existing_partial_file_is_kept(tmp_path):
    (tmp_path / "report.csv.partial").write_bytes(b"not ClientCare's\n")
    (tmp_path / "report.csv").write_text("last week's report\n")
    result = audit_to(tmp_path / "report.csv")
    assert result.exit_code == EXIT_OK, result.output
    assert entries(tmp_path) == {"report.csv": expected_report(), "report.csv.partial": "not ClientCare's\n"}


# -- regular files ------------------------------------------------------------------------------
def test_a_regular_file_is_replaced_whole_keeping_its_permissions(tmp_path):
    old = tmp_path / "report.csv"
    old.write_text("last week's report\n")
    old.chmod(0o640)
    assert audit_to(old).exit_code == EXIT_OK
    assert old.read_text() == expected_report() and stat.S_IMODE(old.stat().st_mode) == 0o640
    new = tmp_path / "new.csv"
    umask = os.umask(0o022)
    try:
        assert audit_to(new).exit_code == EXIT_OK
    finally:
        os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o644  # as open() would make it, not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "report.csv"]


def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary_file(tmp_path):
    old = tmp_path / "report.json"
    old.write_text("last week's report\n")

    def chunks():
        yield "[{\"half\": "
        raise KeyboardInterrupt  # Ctrl-C while a large JSON report is being made

    with pytest.raises(KeyboardInterrupt):
        output_file.write(str(old), chunks())
    assert entries(tmp_path) == {"report.json": "last week's report\n"}


def test_history_writes_the_same_way(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("x")
    (tmp_path / "h.csv").symlink_to(victim)
    result = CliRunner().invoke(main, ["history", "--demo", "Azure", "--format", "csv", "-o",
                                       str(tmp_path / "h.csv")])
    one_error_line(result, "is a symbolic link")
    result = CliRunner().invoke(main, ["history", "--demo", "Azure", "--format", "csv", "-o",
                                       str(tmp_path / "h2.csv")])
    assert result.exit_code == EXIT_OK, result.output
    assert (tmp_path / "h2.csv").read_text().startswith("since,score,band")


# -- refused before any work ----------------------------------------------------------------------
def test_an_unwritable_directory_is_refused_before_the_audit(tmp_path, monkeypatch, no_work):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root ignores modes: the check is simulated
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, *a, **kw: False if Path(p) == ro else real(p, mode, *a, **kw))
    else:
        ro.chmod(0o500)
    try:
        one_error_line(audit_to(ro / "report.csv"), f"--output {ro / 'report.csv'}: permission denied in its "
                                                     f"directory {ro}")
    finally:
        ro.chmod(0o700)
    assert list(ro.iterdir()) == []


def test_a_missing_directory_or_a_directory_is_refused_before_the_audit(tmp_path, no_work):
    one_error_line(audit_to(tmp_path / "nowhere" / "report.csv"), "its directory", "does not exist")
    result = audit_to(tmp_path)
    assert result.exit_code == EXIT_USAGE and "directory" in result.output, result.output
