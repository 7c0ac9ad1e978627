"""SIGINT and SIGTERM end a command as exceptions, so a run is recorded as ``interrupted``.

Python turns SIGINT (Ctrl-C) into ``KeyboardInterrupt`` but lets SIGTERM (how systemd,
Kubernetes and ``kill`` stop a job) kill the process outright: the run history then said
``running`` for ever.  While a command runs (:func:`signals_raise`, installed by the CLI), SIGTERM
raises :class:`Terminated` instead, which, like ``KeyboardInterrupt``, is no ``Exception``: no
``except Exception`` on the way swallows it, and every ``finally`` (the profile lock, the run
row, SQLite's rollback) runs.  :func:`held` puts a signal off while the run row is written, so a
second Ctrl-C cannot leave it half-recorded.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Terminated(BaseException):
    """SIGTERM arrived while a command ran (a ``BaseException``, as ``KeyboardInterrupt``)."""

    signum = signal.SIGTERM


#: Signals that came while :func:`held` was in force, raised when it ends.
_held: list[list[int]] = []


def _interrupt(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def _on_signal(signum, frame) -> None:
    if _held:
        _held[-1].append(signum)
        return
    raise _interrupt(signum)


def signal_of(exc: BaseException) -> int | None:
    """The signal an interrupt stands for (None for anything else)."""
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    if isinstance(exc, Terminated):
        return signal.SIGTERM
    return None


@contextmanager
def signals_raise():
    """While the block runs, SIGTERM raises :class:`Terminated` and SIGINT ``KeyboardInterrupt``
    (SIGINT only if Python's own handler is in force: a job started in the background by a
    shell ignores it, and keeps ignoring it).  Handlers can only be set in the main thread;
    elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _on_signal)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def held(raise_after: bool = True):
    """Put SIGINT and SIGTERM off while the block runs (it records how a run ended).  One that
    came meanwhile is raised when the block ends, if ``raise_after`` (no need when the run is
    ending because of a signal already) and the block itself raised nothing."""
    _held.append([])
    try:
        yield
    finally:
        pending = _held.pop()
    if pending and raise_after:
        raise _interrupt(pending[0])
