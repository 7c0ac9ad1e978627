"""One error tree for every transport.

Callers decide what to do from the class alone: ``RetriableError`` may succeed
if tried again later (network, overloaded server, concurrency), ``FatalError``
never will without a human fixing something (credentials, rights, config,
missing module, bad field).  Each transport turns its own failure shapes
(XML-RPC faults, JSON-RPC error payloads, JSON-2 HTTP errors) into this tree
through :func:`classify_server_error`, so the mapping lives in one place.
"""
from __future__ import annotations

import re


class ClientCareError(Exception):
    """Base of every error ClientCare raises on purpose."""

    #: A short hint for the person reading the message (shown by the CLI).
    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None, details: str | None = None):
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        #: Server traceback or payload, for ``--debug`` only; never contains secrets.
        self.details = details

    def __str__(self) -> str:
        return self.message


class FatalError(ClientCareError):
    """Retrying will not help; a person must change something."""


class RetriableError(ClientCareError):
    """A transient failure: the same call may succeed later."""


# --- fatal -----------------------------------------------------------------
class ConfigError(FatalError):
    """Configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str] | str, **kw):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        text = ("invalid configuration: " + self.problems[0] if len(self.problems) == 1 else
                "invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))
        super().__init__(text, **kw)


class UsageError(ConfigError):
    """A bad argument on the command line (an unknown client, run or date), shown as the
    problem itself, not as "invalid configuration"."""

    def __init__(self, message: str, **kw):
        super().__init__([message], **kw)
        self.message = message
        self.args = (message,)


class AuthenticationError(FatalError):
    hint = "check the login and the password or API key (API keys are required for JSON-2)"


class AccessError(FatalError):
    hint = "give the ClientCare user read (and for sync, write) rights on this model"


class UserError(FatalError):
    """Odoo refused the operation (validation or user error)."""


class MissingModelError(FatalError):
    hint = "install the Odoo module that provides this model, or disable the rules that need it"


class MissingMethodError(FatalError):
    pass


class InvalidFieldError(FatalError):
    pass


class MissingRecordError(FatalError):
    pass


class MissingDatabaseError(FatalError):
    hint = "check the database name (it is case-sensitive)"


class ProtocolError(FatalError):
    """The server answered something that is not Odoo's API (wrong URL, proxy page, TLS)."""


#: What every command says when the URL answers but is not Odoo's API.
NOT_ODOO_HINT = ("set url to the address you open Odoo with in a browser (no /web or /odoo path); "
                 "`clientcare check` tests it")


class NotOdooError(ProtocolError):
    """The URL answers, but not as Odoo does (a web page, another application, a wrong path).
    A configuration problem, not a refusal by Odoo: every command shows the same hint."""

    hint = NOT_ODOO_HINT


class ServerError(FatalError):
    """Any other server-side exception."""


# --- retriable -------------------------------------------------------------
class ConnectionFailure(RetriableError):
    hint = "is the Odoo server running and reachable from here?"


class TimeoutFailure(RetriableError):
    hint = "the server did not answer in time; raise the timeout or retry later"


class ServerUnavailable(RetriableError):
    """HTTP 502/503/504 from Odoo or the proxy in front of it."""


class ConcurrencyFailure(RetriableError):
    """PostgreSQL serialization failure or deadlock: the transaction was rolled back."""


_CONCURRENCY = re.compile(
    r"SerializationFailure|TransactionRollbackError|DeadlockDetected|LockNotAvailable"
    r"|could not serialize access|deadlock detected|concurrent update",
    re.I,
)
_MISSING_DB = re.compile(r'database "[^"\n]*" does not exist|Database not found', re.I)
_INVALID_FIELD = re.compile(r"Invalid field|Unknown field|does not have a field|has no field", re.I)
_MISSING_MODEL = re.compile(
    r"Object .* doesn't exist|Model not found|Unknown model|KeyError: '[a-z_]+\.[a-z_.]+'|"
    r"model .* does not exist",
    re.I,
)
_MISSING_METHOD = re.compile(
    r"has no attribute|does not exist on the model|Private methods|cannot be called remotely|"
    r"The method .* does not exist|is not a valid method",
    re.I,
)

_BY_EXCEPTION_NAME = {
    "odoo.exceptions.AccessDenied": AuthenticationError,
    "odoo.exceptions.AccessError": AccessError,
    "odoo.exceptions.ValidationError": UserError,
    "odoo.exceptions.UserError": UserError,
    "odoo.exceptions.RedirectWarning": UserError,
    "odoo.exceptions.Warning": UserError,
    "odoo.exceptions.MissingError": MissingRecordError,
    "werkzeug.exceptions.Unauthorized": AuthenticationError,
}


#: The line a Python traceback ends with: ``odoo.exceptions.AccessError: <message…>``.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Warning|Denied)\b[^\n:]*: ", re.M)


def server_message(message: str) -> str:
    """Odoo's whole message on one line.

    An access error spans several lines and names the model, the operation and the
    groups that would allow it: all of it is what a person needs to fix the rights, so
    nothing is dropped.  From a traceback (XML-RPC fault 1) only the final exception's
    message is kept, from its first line to the end.
    """
    text = message.strip()
    if "Traceback (most recent call last)" in text:
        last = None
        for last in _EXCEPTION_LINE.finditer(text):
            pass
        text = text[last.end():] if last else text.splitlines()[-1]
    return " ".join(text.split()) or "server error"


def _text(value) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def classify_server_error(
    message: str,
    *,
    exception_name: str = "",
    fault_code: int | str | None = None,
    http_status: int | None = None,
    details: str | None = None,
    where: str = "",
) -> ClientCareError:
    """Turn what a server said about a failure into one error of the tree.

    Text patterns come first because the generic codes are ambiguous: Odoo
    sends fault 1 both for a bad field and for a deadlock, and JSON-2 answers
    HTTP 500 for both too.  The exception name is the next best signal; the
    numeric codes are the fallback.
    """
    # an error body of an unexpected shape (a number, a list) is still an error: its text
    message, exception_name = _text(message), _text(exception_name)
    details = None if details is None else _text(details)
    haystack = "\n".join(x for x in (exception_name, message, details or "") if x)
    prefix = f"{where}: " if where else ""
    text = prefix + server_message(message)
    kw = {"details": details}
    if http_status in (502, 503, 504):
        return ServerUnavailable(f"{prefix}HTTP {http_status} from the server", **kw)
    if _CONCURRENCY.search(haystack):
        return ConcurrencyFailure(text, **kw)
    short = exception_name.rsplit(".", 1)[-1]
    by_name = {k.rsplit(".", 1)[-1]: v for k, v in _BY_EXCEPTION_NAME.items()}.get(short)
    if by_name in (AuthenticationError, AccessError, MissingRecordError):
        cls = by_name
    elif _MISSING_DB.search(haystack):
        cls = MissingDatabaseError
    elif _INVALID_FIELD.search(haystack):
        cls = InvalidFieldError
    elif _MISSING_MODEL.search(haystack):
        cls = MissingModelError
    elif _MISSING_METHOD.search(haystack):
        cls = MissingMethodError
    elif by_name is not None:
        cls = by_name
    elif str(fault_code) == "3" or http_status == 401:
        cls = AuthenticationError
    elif str(fault_code) == "4" or http_status == 403:
        cls = AccessError
    elif str(fault_code) == "2" or http_status == 422:
        cls = UserError
    elif http_status == 404:
        cls = MissingModelError
    else:
        cls = ServerError
    return cls(text, **kw)


class LockedError(ClientCareError):
    """Another run holds this profile's lock."""

