"""Logging for people (text) and for log shippers (JSON lines), with secrets redacted."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone


class RedactSecrets(logging.Filter):
    """Replace every known secret value in a log record's final text by ``***``."""

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s and len(s) >= 4]

    def add(self, *secrets: str) -> None:
        self.secrets += [s for s in secrets if s and len(s) >= 4 and s not in self.secrets]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, ()
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
        if record.exc_info and logging.getLogger().isEnabledFor(logging.DEBUG):
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


REDACTOR = RedactSecrets()


def setup_logging(fmt: str = "text", verbosity: int = 0, quiet: bool = False) -> None:
    """Quiet by default (warnings only) so cron mails only when something happened."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(REDACTOR)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_clientcare", False):
            root.removeHandler(old)
    handler._clientcare = True
    root.addHandler(handler)
    root.setLevel(level)
