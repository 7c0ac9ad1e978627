"""Profiles: a TOML file, ``CLIENTCARE_*`` environment variables and flags.

Precedence, lowest to highest: built-in defaults < config file < environment <
command-line flags.  Everything is validated once, at start-up, and every
problem is reported together with where the value came from.  Secrets come
from the environment, a prompt, or the file (with a warning when the file is
readable by others); they are never printed.
"""
from __future__ import annotations

import logging
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.errors import ConfigError
from clientcare.connector.settings import TRANSPORTS
from clientcare.connector.state import default_state_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)

ENV_PREFIX = "CLIENTCARE_"

#: Profile keys: name -> (type, default, secret, help).  One table drives parsing,
#: env lookup, validation, ``config show`` and docs/configuration.md.
KEYS: dict[str, tuple[type, Any, bool, str]] = {
    "url": (str, None, False, "Odoo base URL, e.g. https://odoo.example.com"),
    "db": (str, None, False, "database name"),
    "login": (str, None, False, "login of the ClientCare (bot) user"),
    "password": (str, "", True, "password (or an API key); prefer the environment"),
    "api_key": (str, "", True, "API key; required for the json2 transport"),
    "transport": (str, "auto", False, f"one of {', '.join(TRANSPORTS)}"),
    "timeout": (float, 60.0, False, "seconds per request"),
    "verify_tls": (bool, True, False, "verify the server certificate (only turn off for tests)"),
    "ca_bundle": (str, None, False, "extra CA bundle file for a private CA"),
    "page_size": (int, 2000, False, "records per search_read page"),
    "retry_attempts": (int, 4, False, "attempts for retriable failures"),
    "state_path": (str, None, False, "SQLite state file (default: user data dir/<profile>.sqlite3)"),
    "max_creations": (int, 500, False, "per-run cap on activities and notes created"),
    "max_new_per_person_per_day": (int, 10, False, "new activities a person gets a day, the rest wait for their "
                                                   "next working days (0: no limit; critical ones never wait behind milder ones)"),
    "default_user_id": (int, None, False, "Odoo user id that gets findings no one else owns"),
    "notify_assignees": (bool, False, False, "let Odoo email each assignee about a new or reassigned activity"),
    "health_tags": (bool, False, False, "keep one contact tag per health band on each client in Odoo"),
    "history_days": (int, 400, False, "days of client health history kept in the state file"),
    "talking_points": (bool, True, False, "put each rule's talking points in the activities it creates"),
    "lang": (str, None, False, "language of audit, explain, history and the report, an Odoo code such as fr_FR "
                               "(default: the environment's locale, else English; --lang overrides it)"),
    "rules_enabled": (list, None, False, "installed rules to load, comma-separated in the environment "
                                         "(default: every installed rule)"),
}
SECTIONS = ("rules", "routing", "scripts", "working_time")


def default_config_path() -> Path:
    return Path(os.environ.get(f"{ENV_PREFIX}CONFIG")
                or Path(platformdirs.user_config_dir("clientcare")) / "config.toml")


@dataclass(frozen=True)
class Profile:
    """One resolved profile: built once by :func:`load_profile`, after validation, and only read
    afterwards.  One attribute per key of :data:`KEYS` (same name, same order); the secrets are
    left out of ``repr`` and masked by :meth:`shown`."""

    name: str
    url: str | None
    db: str | None
    login: str | None
    password: str = field(repr=False)
    api_key: str = field(repr=False)
    transport: str
    timeout: float
    verify_tls: bool
    ca_bundle: str | None
    page_size: int
    retry_attempts: int
    #: The SQLite state file: the one configured (``configured_state_path``), else the
    #: profile's own in the user data dir.
    state_path: Path
    max_creations: int
    max_new_per_person_per_day: int
    default_user_id: int | None
    notify_assignees: bool
    health_tags: bool
    history_days: int
    talking_points: bool
    #: The language of the reports (None: the environment's; ``--lang`` overrides it).
    lang: str | None
    #: The installed rules to load (None: every one).
    rules_enabled: tuple[str, ...] | None
    #: Key -> where its value came from (a key left out has its default).
    sources: Mapping[str, str] = field(default_factory=dict)
    #: ``[profiles.NAME.rules]``: rule -> its settings (validated by the RuleSet, not here).
    rules: Mapping[str, Any] = field(default_factory=dict)
    #: ``[profiles.NAME.routing]``: who owns a finding.
    routing: Mapping[str, Any] = field(default_factory=dict)
    #: ``[profiles.NAME.scripts.RULE]``: kind -> talking points replacing the rule's own.
    scripts: Mapping[str, Any] = field(default_factory=dict)
    #: ``[profiles.NAME.working_time]``: working days, hours, time zone, holidays over Odoo's calendars.
    working_time: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path | None = None
    #: ``state_path`` as written (None: not set), what ``config show`` prints.
    configured_state_path: str | None = None

    def __post_init__(self) -> None:
        # read-only whoever builds it (load_profile, or dataclasses.replace in a test)
        for section in ("sources", "rules", "routing", "scripts", "working_time"):
            object.__setattr__(self, section, MappingProxyType(dict(getattr(self, section))))
        if self.rules_enabled is not None:
            object.__setattr__(self, "rules_enabled", tuple(self.rules_enabled))
        object.__setattr__(self, "state_path", Path(self.state_path))

    def connection(self) -> ConnectionSettings:
        return ConnectionSettings(
            url=self.url, db=self.db, login=self.login, password=self.password or "",
            api_key=self.api_key or "", transport=self.transport, timeout=self.timeout,
            verify_tls=self.verify_tls, ca_bundle=self.ca_bundle, page_size=self.page_size,
            retry_attempts=self.retry_attempts)

    def shown(self) -> dict[str, Any]:
        """Values with secrets masked and each value's source, for ``config show``."""
        out = {}
        for key, (_, _, secret, _) in KEYS.items():
            value = getattr(self, key)
            if key == "url" and isinstance(value, str):
                value = strip_credentials(value)
            elif key == "state_path":
                value = self.configured_state_path
            elif key == "rules_enabled" and value is not None:
                value = list(value)
            out[key] = {"value": ("***" if value else "") if secret else value,
                        "source": self.sources.get(key, "default")}
        return out


#: Allowed ranges, checked at start-up by every command (connecting or not).
RANGES: dict[str, tuple[float, float, str]] = {
    "timeout": (0.001, 3600, "a positive number of seconds, at most 3600"),
    "page_size": (1, 100_000, "an integer from 1 to 100000"),
    "retry_attempts": (1, 20, "an integer from 1 to 20"),
    "max_creations": (0, 1_000_000, "an integer from 0 (create nothing) to 1000000"),
    "max_new_per_person_per_day": (0, 1_000_000, "an integer from 0 (no limit) to 1000000"),
    "default_user_id": (1, 2**31 - 1, "an Odoo user id (a positive integer)"),
    "history_days": (1, 100_000, "a number of days from 1 to 100000"),
}

_TOML_TYPES = {bool: "a TOML boolean (true or false)", int: "a TOML integer", float: "a TOML number",
               str: "a TOML string", list: "a TOML array of strings"}


def _coerce_file(key: str, raw: Any, source: str, problems: list[str]) -> Any:
    """A value from the TOML file: TOML has types, so ``verify_tls = "yes"`` or
    ``page_size = 1.5`` is a mistake, not something to guess about."""
    typ = KEYS[key][0]
    ok = (isinstance(raw, list) and all(isinstance(i, str) for i in raw) if typ is list else
          isinstance(raw, bool) if typ is bool else
          isinstance(raw, int) and not isinstance(raw, bool) if typ is int else
          isinstance(raw, (int, float)) and not isinstance(raw, bool) if typ is float else
          isinstance(raw, str))
    if not ok:
        problems.append(f"{source}: {key} must be {typ.__name__} ({_TOML_TYPES[typ]}), not {raw!r}")
        return None
    return float(raw) if typ is float else raw


def _check_value(key: str, value: Any, source: str, problems: list[str]) -> None:
    """Ranges and shapes every command relies on, whatever the value's source."""
    if value is None:
        return
    if key in RANGES:
        lo, hi, what = RANGES[key]
        if not (lo <= value <= hi) or (isinstance(value, float) and value != value):
            problems.append(f"{source}: {key} must be {what}, not {value!r}")
    elif key == "transport" and value not in TRANSPORTS:
        problems.append(f"{source}: transport must be one of {', '.join(TRANSPORTS)}, not {value!r}")
    elif key == "url":
        problems += [f"{source}: {p}" for p in url_problems(value)]
    elif key == "ca_bundle":
        problem = ca_bundle_problem(value)
        if problem:
            problems.append(f"{source}: ca_bundle {value!r} {problem}")
    elif key == "lang":
        from clientcare.rules import i18n
        if not i18n.valid(value):
            problems.append(f"{source}: lang must be a language code such as fr_FR or de, not {value!r}")
    elif key in ("db", "login") and value != value.strip():
        problems.append(f"{source}: {key} {value!r} has leading or trailing spaces")


def ca_bundle_problem(path: str) -> str | None:
    """Why ``path`` cannot serve as a CA bundle (None when it can)."""
    import ssl
    p = Path(path)
    if not p.is_file():
        return "does not exist" if not p.exists() else "is not a file"
    try:
        ssl.create_default_context(cafile=str(p))
    except PermissionError:
        return "cannot be read: permission denied"
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"is not a PEM file of CA certificates ({type(exc).__name__})"
    return None


def url_problems(url: str) -> list[str]:
    """What is wrong with an Odoo base URL (never repeating credentials found in it)."""
    if url != url.strip():
        return ["url has leading or trailing spaces"]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"url: {strip_credentials(url)!r} is not an http(s) URL such as https://odoo.example.com"]
    out = []
    if parts.username or parts.password:
        out.append(f"url: {strip_credentials(url)!r} holds credentials: put the login in login and the "
                   "password in CLIENTCARE_PASSWORD")
    if parts.path.rstrip("/") in ("/web", "/odoo") or parts.path.rstrip("/").startswith(("/web/", "/odoo/")):
        out.append(f"url: {strip_credentials(url)!r} has the path {parts.path!r}: use the base URL "
                   f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}")
    if parts.query or parts.fragment:
        out.append(f"url: {strip_credentials(url)!r} has a query or fragment: use the base URL")
    return out


def strip_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (safe to print)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _coerce(key: str, raw: Any, source: str, problems: list[str]) -> Any:
    typ = KEYS[key][0]
    if raw is None:
        return None
    try:
        if typ is list:
            items = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else list(raw)
            if not all(isinstance(i, str) for i in items):
                raise ValueError
            return [i for i in items if i]
        if typ is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int and isinstance(raw, bool):
            raise ValueError
        if typ is float and isinstance(raw, bool):
            raise ValueError
        return typ(raw)
    except (TypeError, ValueError):
        problems.append(f"{source}: {key} must be {typ.__name__}, not {raw!r}")
        return None


def load_profile(name: str | None = None, config_path: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None,
                 require_connection: bool = True, validators: tuple = ()) -> Profile:
    """Resolve one profile from file, environment and flags; raise ConfigError listing every problem,
    with those the ``validators`` (called with the Profile, e.g. the rules') raise."""
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    name = name or env.get(f"{ENV_PREFIX}PROFILE") or "default"
    path = Path(config_path) if config_path else default_config_path()
    explicit = config_path is not None or f"{ENV_PREFIX}CONFIG" in env
    data: dict = {}
    if path.exists():
        try:
            # utf-8-sig: a byte-order mark (Windows editors write one) is read as none; the file's
            # encoding is UTF-8 whatever the locale says (TOML's own rule)
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):  # `profiles = 5`: one problem, then no profile to read
        problems.append(f"{path}: profiles must be a table of [profiles.NAME] tables, not {profiles!r}")
        profiles = {}
    unknown_top = set(data) - {"profiles"}
    if unknown_top:
        problems.append(f"{path}: unknown top-level key(s) {', '.join(repr(k) for k in sorted(unknown_top))} "
                        f"(put settings under [profiles.NAME])")
    if profiles and name not in profiles:
        problems.append(f"{path}: no profile {name!r} (profiles: {', '.join(sorted(profiles))})")
    section = profiles.get(name, {})
    if not isinstance(section, dict):  # `[profiles] default = "x"`
        problems.append(f"{path}: profile {name!r} must be a table ([profiles.{name}]), not {section!r}")
        section = {}

    values: dict[str, Any] = {k: spec[1] for k, spec in KEYS.items()}
    sources: dict[str, str] = {}
    where = f"{path} [profiles.{name}]"
    for key, raw in section.items():
        if key in SECTIONS:
            if not isinstance(raw, dict):
                problems.append(f"{where}: {key} must be a table")
            continue
        if key not in KEYS:
            problems.append(f"{where}: unknown key {key!r}")
            continue
        values[key] = _coerce_file(key, raw, where, problems)
        _check_value(key, values[key], where, problems)
        sources[key] = str(path)
        if KEYS[key][2] and raw:
            _warn_if_readable(path)
    for key in KEYS:
        var = f"{ENV_PREFIX}{key.upper()}"
        if var in env and env[var] != "":
            values[key] = _coerce(key, env[var].strip() if KEYS[key][0] is not str else env[var],
                                  f"environment {var}", problems)
            _check_value(key, values[key], f"environment {var}", problems)
            sources[key] = f"env {var}"
    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = _coerce(key, raw, f"option --{key.replace('_', '-')}", problems)
            _check_value(key, values[key], f"option --{key.replace('_', '-')}", problems)
            sources[key] = "command line"

    tables = {key: section.get(key) if isinstance(section.get(key), dict) else {} for key in SECTIONS}
    state_path = values.pop("state_path")
    profile = Profile(name=name, **values, state_path=Path(state_path) if state_path else default_state_path(name),
                      configured_state_path=state_path, sources=sources, **tables, config_path=path)
    if require_connection:
        for key in ("url", "db", "login"):
            if not getattr(profile, key):
                problems.append(f"{key}: not set (set it in {where}, ${ENV_PREFIX}{key.upper()} "
                                f"or --{key})")
        if profile.url and profile.db and profile.login:
            problems += [p for p in profile.connection().problems()
                         if not p.startswith(("db:", "login:", "url:", "timeout:", "page_size:",
                                              "retry_attempts:", "transport:"))]
    for validate in validators:  # e.g. the rules' own config, so every problem shows at once
        try:
            validate(profile)
        except ConfigError as exc:
            problems += [f"{where}: {p}" for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    return profile


def _warn_if_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s holds a secret and is readable by other users: chmod 600 %s", path, path)
