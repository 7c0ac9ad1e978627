"""Logging for people (text) and for log shippers (JSON lines), with secrets redacted."""
from __future__ import annotations

import base64
import html
import json
import logging
import re
import sys
from datetime import datetime, timezone
from urllib.parse import quote, quote_plus

#: Loggers that print whole request payloads at debug level (odoorpc logs every JSON-RPC call
#: with its arguments, where the password travels): never below WARNING, whatever -v says.
PAYLOAD_LOGGERS = ("odoorpc", "urllib3", "requests")


def _base64_cores(secret: bytes) -> set[str]:
    """The base64 characters that encode only ``secret``'s bytes, at each of the three
    alignments it may have inside a longer encoded text (e.g. ``login:secret`` in a Basic
    authorization header)."""
    out = set()
    n = len(secret)
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + secret + b"\0" * 3).decode()
        first = -(-8 * k // 6)                     # first character made of secret bits only
        last = (8 * (k + n) - 6) // 6               # last such character
        core = encoded[first:last + 1]
        if len(core) >= 4:
            out.add(core)
        for alphabet in (core.replace("+", "-").replace("/", "_"),):  # URL-safe base64
            if len(alphabet) >= 4:
                out.add(alphabet)
    return out


def _text_forms(secret: str) -> set[str]:
    """The readable ways ``secret`` may appear: as is, Python-escaped (``repr``), JSON-encoded
    (ASCII or not, and JSON inside JSON: a logged payload), URL-encoded, XML/HTML-escaped."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1], quote(secret, safe=""), quote_plus(secret),
             quote(secret), html.escape(secret), html.escape(secret, quote=False),
             secret.encode("unicode_escape").decode("ascii"),
             json.dumps(json.dumps(secret))[3:-3]}
    forms |= {" ".join(f.split()) for f in forms}      # whitespace collapsed (one-line messages)
    return {f for f in forms if f and len(f) >= 4}


def _encoded_forms(secret: str) -> set[str]:
    """``secret`` in base64 (alone, or inside a longer encoded value at any alignment) and hex."""
    raw = secret.encode("utf-8")
    forms = _base64_cores(raw) | {base64.b64encode(raw).decode(), raw.hex()}
    return {f for f in forms if f and len(f) >= 4}


def secret_forms(secret: str) -> set[str]:
    """Every way ``secret`` may appear in a log line, an exception or a payload: as is,
    Python-escaped (``repr``), JSON-encoded (ASCII or not), URL-encoded, XML/HTML-escaped,
    and base64 (alone or inside a longer encoded value)."""
    return _text_forms(secret) | _encoded_forms(secret)


#: What may stand just before a readable form that starts with a letter or digit for it to be
#: the secret: not a character that continues a word or a path (a letter, a digit, ``_``, ``/``,
#: ``-``, or ``.`` after a word character: "state" inside "statement", "main" in ``/work/main/x``
#: or ``main.py`` are not the secret), except the end of an escape that may precede a secret in
#: a quoted or encoded payload (``\n``, ``\x41``, ``\u00e9``, ``%3D``).
_BEFORE = (r"(?:(?<![\w/-])(?<!\w\.)|(?<=\\[nrtfvab0])|(?<=\\x[0-9a-fA-F]{2})"
           r"|(?<=\\u[0-9a-fA-F]{4})|(?<=%[0-9A-Fa-f]{2}))")
#: The same after a form that ends with a letter or digit (an escape may follow it: ``\n``).
_AFTER = r"(?:(?![\w/-])(?!\.\w)|(?=\\[nrtfvabux0\\\"']))"


def _pattern(form: str, bounded: bool) -> str:
    """``form`` as a regular expression; a readable form (``bounded``) must stand alone on each
    side where it starts or ends with a word character, as ``\b`` would but with paths and
    escapes in mind (:data:`_BEFORE`, :data:`_AFTER`)."""
    body = re.escape(form)
    if bounded and re.match(r"\w", form[0]):
        body = _BEFORE + body
    if bounded and re.match(r"\w", form[-1]):
        body = body + _AFTER
    return body


class RedactSecrets(logging.Filter):
    """Replace every known secret, in each of its encoded forms, in a log record's final text
    (message and traceback) by ``***``.  The secret itself, not its letters inside other words:
    a password that is a common word ("state", "main") leaves "statement" and a path holding
    ``/main/`` alone, and is still masked where it stands as a value (URL userinfo, a JSON
    string, after ``password=``, a word of its own).  Encoded forms (base64, hex) are masked
    wherever they appear: inside a longer encoded value is where they hide."""

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets: list[str] = []
        self._forms: list[str] = []
        self._regex: re.Pattern | None = None
        self.add(*(secrets or []))

    def add(self, *secrets: str) -> None:
        new = [s for s in dict.fromkeys(secrets) if s and len(s) >= 4 and s not in self.secrets]
        if not new:  # every command adds the profile's secrets again: compiled once
            return
        self.secrets += new
        forms = {f: True for s in self.secrets for f in _text_forms(s)}
        for s in self.secrets:
            forms.update({f: False for f in _encoded_forms(s) if f not in forms})
        self._forms = sorted(forms, key=len, reverse=True)
        self._regex = re.compile("|".join(_pattern(f, forms[f]) for f in self._forms))

    def clear(self) -> None:
        self.secrets, self._forms, self._regex = [], [], None

    def redact(self, text: str) -> str:
        if self._regex is None or not text:
            return text
        return self._regex.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._forms:
            record.msg, record.args = self.redact(record.getMessage()), ()
            if record.exc_info:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
                record._clientcare_exc = record.exc_text
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("run_id", "profile", "event"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if logging.getLogger().isEnabledFor(logging.DEBUG) or getattr(record, "debug_traceback", False):
            if record.exc_info:
                entry["exc"] = self.formatException(record.exc_info)
            elif record.exc_text:
                entry["exc"] = record.exc_text
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message``; a traceback only at debug verbosity (``--debug`` / ``-vv``)."""

    def __init__(self):
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return super().format(record)
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


REDACTOR = RedactSecrets()


def setup_logging(fmt: str = "text", verbosity: int = 0, quiet: bool = False) -> None:
    """Quiet by default (warnings only) so cron mails only when something happened."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(REDACTOR)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_clientcare", False):
            root.removeHandler(old)
    handler._clientcare = True
    root.addHandler(handler)
    root.setLevel(level)
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
