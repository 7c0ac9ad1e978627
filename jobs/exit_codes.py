"""Exit codes of the ``clientcare`` command, one per outcome a scheduler must tell apart.

The connector only says what went wrong (:mod:`clientcare.connector.errors`: retrying may help
or not, a person must fix the configuration, another run holds the lock); which number a process
ends with is a command-line policy, decided here.  It is not inside :mod:`clientcare.jobs.cli`
because the run history records the same code the process exits with: the run session stores
:func:`exit_code_for` in the ``runs`` row and a sync marks a run partial without the command
line (or click) being loaded.
"""
from __future__ import annotations

from clientcare.connector import errors as E
from clientcare.jobs.interrupts import Terminated

EXIT_OK = 0
EXIT_PARTIAL = 1          # some rules or writes failed; the rest landed
EXIT_USAGE = 2            # bad command line or configuration (click's own code for usage errors)
EXIT_RETRY_LATER = 3      # Odoo unreachable, timing out or overloaded: try again later
EXIT_ODOO_REFUSED = 4     # credentials, rights or modules: a person must fix something in Odoo
EXIT_LOCKED = 5           # another run of the same profile is in progress
EXIT_INTERRUPTED = 130    # stopped by SIGINT (Ctrl-C): 128 + 2, as shells report it
EXIT_TERMINATED = 143     # stopped by SIGTERM (systemd, Kubernetes, kill): 128 + 15

#: Error classes and their exit code, the first match wins: a ``NotOdooError`` is a fatal
#: protocol error but a wrong URL is the configuration's fault, so it comes before ``FatalError``
#: (``UsageError`` is a ``ConfigError``).
_CODE_BY_ERROR: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
    (KeyboardInterrupt, EXIT_INTERRUPTED),
    (Terminated, EXIT_TERMINATED),
    (E.LockedError, EXIT_LOCKED),
    ((E.ConfigError, E.NotOdooError), EXIT_USAGE),
    (E.RetriableError, EXIT_RETRY_LATER),
    (E.FatalError, EXIT_ODOO_REFUSED),
)


def exit_code_for(exc: BaseException) -> int:
    """The code a command ends with after ``exc``; anything unforeseen counts as partial."""
    for classes, code in _CODE_BY_ERROR:
        if isinstance(exc, classes):
            return code
    return EXIT_PARTIAL
