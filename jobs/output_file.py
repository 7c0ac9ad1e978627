"""Where a report goes with ``--output FILE``: written whole or not at all, and never through,
over or next to anything that is not ClientCare's to replace.

* A regular file, or a new name: the report is written to a temporary file made in the same
  directory with a random name, created exclusively and never through a link
  (:func:`tempfile.mkstemp`: ``O_CREAT | O_EXCL | O_NOFOLLOW``), then renamed over the name (a
  rename replaces a directory entry and never follows a link).  A reader sees the old report or
  the new one, never half of one; a name someone prepared next to it (``FILE.partial``, a link
  where the old code wrote) is never opened, moved or deleted.  The new file keeps the old one's
  permissions (and owner, as root), or gets the usual ones (0666 less the umask).
* A device node, a FIFO (``-o /dev/null``, ``-o /dev/stdout`` in a pipe): written in place,
  opened without following a link; never replaced by a plain file.
* A symbolic link: written through only to a FIFO or a character device (``/dev/stdout``, a
  shell's process substitution ``>(gzip > r.gz)``, a link to ``/dev/null``); a link to a file, a
  directory or nothing is refused with one line (exit 2) and left as it is: a link someone
  planted could point at any file of the user's, and ClientCare replaces no file it was not named.

:func:`problem` says, before any work, why a name cannot take a report (exit 2).
"""
from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from clientcare.connector import errors as E


def _reason(exc: OSError) -> str:
    import errno
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _through_link_ok(mode: int) -> bool:
    """What a link may lead to: a pipe or a character device (a terminal, /dev/null)."""
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def problem(output: str) -> str | None:
    """Why ``output`` cannot take a report, or None; checked before any work."""
    path = Path(output)
    try:
        st = _lstat(path)
    except OSError as exc:
        return _reason(exc)
    if st is not None and stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return (f"is a symbolic link to {target}, which does not exist: ClientCare does not create "
                    f"files through links; name the file itself")
        if not _through_link_ok(mode):
            return (f"is a symbolic link to {target}: ClientCare writes through a link only to a pipe "
                    f"or a device, never to a file it was not named (a planted link could point "
                    f"anywhere); name the file itself")
        return None if os.access(path, os.W_OK) else "permission denied"
    if st is not None and stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if st is not None and stat.S_ISSOCK(st.st_mode):
        return "is a socket, not a file"
    if st is not None and not stat.S_ISREG(st.st_mode):  # a device or a FIFO: written in place
        return None if os.access(path, os.W_OK) else "permission denied"
    parent = path.parent
    if not parent.exists():
        return f"its directory {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return (f"permission denied in its directory {parent} (the report is written to a temporary "
                f"file there, then renamed)")
    if st is not None and not os.access(path, os.W_OK):
        return "permission denied"
    return None


def write(output: str, chunks: Iterable[str]) -> None:
    """Write ``chunks`` (text, UTF-8) to ``output`` as the module says; a failure leaves the old
    file as it was and no temporary file behind.  An OS error names ``output``."""
    path = Path(output)
    try:
        st = _lstat(path)
        if st is not None and (stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode)):
            _write_in_place(path, chunks, follow=stat.S_ISLNK(st.st_mode))
        else:
            _write_and_rename(path, chunks, st)
    except OSError as exc:
        if exc.filename:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _write_in_place(path: Path, chunks: Iterable[str], follow: bool) -> None:
    """A device or a FIFO (through a link only when ``follow``), opened without creating or
    truncating anything; refused if, by the time it is open, it turned out to be a file."""
    flags = os.O_WRONLY | os.O_NOCTTY | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        mode = os.fstat(fd).st_mode
        wanted = _through_link_ok(mode) if follow else not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
        if not wanted:
            raise E.UsageError(f"--output {path}: changed into a file while the report was made; "
                               f"nothing written")
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "w", encoding="utf-8") as fh:
        fh.writelines(chunks)


def _write_and_rename(path: Path, chunks: Iterable[str], old: os.stat_result | None) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if old is not None:
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
            if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, old.st_uid, old.st_gid)
                except PermissionError:
                    pass
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        with open(fd, "w", encoding="utf-8") as fh:
            fh.writelines(chunks)
            fh.flush()
            os.fsync(fh.fileno())
        now = _lstat(path)
        if now is not None and not stat.S_ISREG(now.st_mode):  # something else took the name meanwhile
            raise E.UsageError(f"--output {path}: became a {_kind(now.st_mode)} while the report was "
                               f"made; left as it is, nothing written")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISDIR(mode):
        return "directory"
    return "device, FIFO or socket"
