"""Connection settings, validated once, with secrets that never print."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ConfigError

TRANSPORTS = ("auto", "xmlrpc", "jsonrpc", "json2")


class Secret(str):
    """A string that shows as ``'***'`` in repr/str formatting of containers.

    ``str(secret)`` still gives the value (transports need it); only ``repr``
    is masked, which is what dataclass reprs, logs of dicts and tracebacks use.
    Use :meth:`reveal` where the value is really needed, for readability.
    """

    def __repr__(self) -> str:  # pragma: no cover - trivial
        return "'***'" if self else "''"

    def reveal(self) -> str:
        return str.__str__(self)


def _header_safe(value: str) -> bool:
    try:
        str(value).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\n" not in value and "\r" not in value


def _secret(value) -> Secret:
    return value if isinstance(value, Secret) else Secret(value or "")


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to reach one Odoo database.

    ``password`` may be a real password or an API key (Odoo 14+ accepts a key
    in its place for XML-RPC/JSON-RPC); ``api_key`` is used for JSON-2 and,
    when no password is given, for the other transports too.
    """

    url: str
    db: str
    login: str
    password: Secret = field(default=Secret(""), metadata={"secret": True})
    api_key: Secret = field(default=Secret(""), metadata={"secret": True})
    transport: str = "xmlrpc"
    timeout: float = 60.0
    verify_tls: bool = True
    ca_bundle: str | None = None
    page_size: int = 2000
    retry_attempts: int = 4
    retry_initial_wait: float = 0.5
    retry_max_wait: float = 8.0

    def __post_init__(self):
        object.__setattr__(self, "password", _secret(self.password))
        object.__setattr__(self, "api_key", _secret(self.api_key))
        object.__setattr__(self, "url", (self.url or "").rstrip("/"))

    @property
    def secret(self) -> str:
        """What the password-based transports send: the password, else the API key."""
        return (self.password or self.api_key).reveal()

    @property
    def requests_verify(self) -> bool | str:
        """``requests``' ``verify``: the extra CA bundle, True (system CAs), or False (--insecure)."""
        return (self.ca_bundle or True) if self.verify_tls else False

    def problems(self) -> list[str]:
        """Every problem with these settings, so the user can fix them all at once."""
        out = []
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            out.append(f"url: {self.url!r} is not an http(s) URL such as https://odoo.example.com")
        if not self.db:
            out.append("db: the database name is required")
        if not self.login:
            out.append("login: the user login is required")
        if not self.password and not self.api_key:
            out.append("password/api_key: give a password or an API key")
        if self.transport not in TRANSPORTS:
            out.append(f"transport: {self.transport!r} is not one of {', '.join(TRANSPORTS)}")
        if self.transport == "json2" and not self.api_key:
            out.append("api_key: the json2 transport needs an API key")
        if self.transport == "json2" and self.api_key and not _header_safe(self.api_key):
            out.append("api_key: holds characters an HTTP header cannot carry (an Odoo API key is "
                       "40 hexadecimal characters): check it was copied whole")
        if not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            out.append(f"timeout: must be a positive number of seconds, not {self.timeout!r}")
        if not (isinstance(self.page_size, int) and 1 <= self.page_size <= 100_000):
            out.append(f"page_size: must be an integer from 1 to 100000, not {self.page_size!r}")
        if not (isinstance(self.retry_attempts, int) and 1 <= self.retry_attempts <= 20):
            out.append(f"retry_attempts: must be an integer from 1 to 20, not {self.retry_attempts!r}")
        return out

    def validate(self) -> "ConnectionSettings":
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return self

    def public_dict(self) -> dict:
        """The settings as a dict with secrets masked, for display and run summaries."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = ("***" if value else "") if f.metadata.get("secret") else value
        return out

    def describe(self) -> str:
        """``url, db, login`` — what an error message may name (never the secret)."""
        return f"{self.url} (database {self.db!r}, login {self.login!r})"
