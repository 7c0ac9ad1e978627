"""Cassette plumbing: replay recordings of real Odoo servers, or re-record them.

Replay (default, CI): every test that talks to Odoo runs once per recorded
server (``cassettes/odoo<major>/server.json``) with placeholder secrets, which
is what the recordings contain.  A request replays the recording with the same
method, URL and decoded body (``cassette_store.body_matcher``); cassettes are
xz-compressed JSON (``<test name>.json.xz``).

Re-record against a live server: ``pytest --record`` with ``ODOO_URL``,
``ODOO_DB``, ``ODOO_USER``, ``ODOO_PASSWORD`` (and ``ODOO_API_KEY`` for
JSON-2 and the API-key tests) in the environment.  The server's major version
picks the cassette folder; secrets are replaced by the placeholders before
anything is written.
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager
import json
import os
import re
import xmlrpc.client
from datetime import datetime, timezone
from pathlib import Path

import pytest
import time_machine
import vcr

from clientcare.connector.settings import ConnectionSettings
from clientcare.connector import transports as transports_mod

from cassette_store import SUFFIX, XzJsonPersister, body_matcher

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"

PASSWORD = "***password***"
API_KEY = "***api-key***"
DEMO_PASSWORD = "***demo-password***"
DEMO_API_KEY = "***demo-api-key***"
LIMITED_PASSWORD = "***limited-password***"
BOT_PASSWORD = "***bot-password***"
EXPIRED_API_KEY = "***expired-api-key***"
WRONG_PASSWORD = "not-the-password"


def pytest_addoption(parser):
    parser.addoption("--record", action="store_true",
                     help="re-record cassettes against the live server named by ODOO_URL etc.")


def _recording(config) -> bool:
    return bool(config.getoption("--record") or os.environ.get("CLIENTCARE_RECORD"))


class Live:
    """The live server and its real secrets (record mode only)."""

    def __init__(self):
        missing = [v for v in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD") if not os.environ.get(v)]
        if missing:
            raise pytest.UsageError(f"--record needs {', '.join(missing)} in the environment")
        self.url = os.environ["ODOO_URL"].rstrip("/")
        self.db = os.environ["ODOO_DB"]
        self.login = os.environ["ODOO_USER"]
        self.secrets = {
            PASSWORD: os.environ["ODOO_PASSWORD"],
            API_KEY: os.environ.get("ODOO_API_KEY", ""),
            DEMO_PASSWORD: os.environ.get("ODOO_DEMO_PASSWORD", "demo"),
            DEMO_API_KEY: os.environ.get("ODOO_DEMO_API_KEY", ""),
            LIMITED_PASSWORD: os.environ.get("ODOO_LIMITED_PASSWORD", ""),
            BOT_PASSWORD: os.environ.get("ODOO_BOT_PASSWORD", ""),
            EXPIRED_API_KEY: os.environ.get("ODOO_EXPIRED_API_KEY", ""),
        }
        info = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common").version()
        self.major = transports_mod.server_major(info)
        self.server = {"url": self.url, "db": self.db, "login": self.login,
                       "demo_login": os.environ.get("ODOO_DEMO_USER", "demo"),
                       "limited_login": os.environ.get("ODOO_LIMITED_USER", "ccbot_limited"),
                       "bot_login": os.environ.get("ODOO_BOT_USER", "ccbot"),
                       "server_version": info["server_version"],
                       "recorded_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}


def recorded_servers() -> list[dict]:
    out = []
    for path in sorted(CASSETTES.glob("odoo*/server.json")):
        if not re.fullmatch(r"odoo\d+", path.parent.name):  # e.g. odoo19-bare: its own tests
            continue
        data = json.loads(path.read_text())
        data["dir"] = path.parent
        out.append(data)
    return out


def pytest_configure(config):
    config._clientcare_live = Live() if _recording(config) else None


def pytest_generate_tests(metafunc):
    if "odoo" in metafunc.fixturenames:
        live = metafunc.config._clientcare_live
        if live is not None:
            params = [f"odoo{live.major}"]
        else:
            params = [s["dir"].name for s in recorded_servers()]
        only = metafunc.definition.get_closest_marker("odoo_versions")
        if only is not None:
            params = [p for p in params if int(p.removeprefix("odoo")) in only.args]
        metafunc.parametrize("odoo", params, indirect=True)


# -- scrubbing and matching ----------------------------------------------------
def scrub_text(text: str, secrets: dict[str, str]) -> str:
    """Replace long secrets (API keys) wherever they appear."""
    for placeholder, real in secrets.items():
        if real and len(real) >= 20:
            text = text.replace(real, placeholder)
    return text


#: Where each RPC carries the password: (service method) -> index in its params.
PASSWORD_POSITION = {"authenticate": 2, "login": 2, "execute_kw": 2, "execute": 2}


def _placeholder_for(value, secrets: dict[str, str]):
    for placeholder, real in secrets.items():
        if real and value == real:
            return placeholder
    return value


def scrub_body(body: bytes, secrets: dict[str, str]) -> bytes:
    """Put placeholders in the password slot of XML-RPC and JSON-RPC calls.

    Replacing by position, not by text, keeps a password such as ``admin`` from
    also rewriting the login ``admin`` (the demo databases use both).
    """
    text = body.decode()
    if text.lstrip().startswith("<?xml"):
        params, method = xmlrpc.client.loads(text)
        pos = PASSWORD_POSITION.get(method)
        if pos is not None and len(params) > pos:
            params = list(params)
            params[pos] = _placeholder_for(params[pos], secrets)
            text = xmlrpc.client.dumps(tuple(params), method, allow_none=True)
    else:
        data = _json_or_none(body)
        params = data.get("params") if isinstance(data, dict) else None
        if isinstance(params, dict) and isinstance(params.get("args"), list):
            pos = PASSWORD_POSITION.get(params.get("method"))
            if pos is not None and len(params["args"]) > pos:
                params["args"][pos] = _placeholder_for(params["args"][pos], secrets)
                text = json.dumps(data)
        if isinstance(params, dict) and "password" in params:
            params["password"] = _placeholder_for(params["password"], secrets)
            text = json.dumps(data)
    return scrub_text(text, secrets).encode()


def _scrubber(secrets: dict[str, str]):
    def before_record_request(request):
        if request.body:
            body = request.body if isinstance(request.body, bytes) else request.body.encode()
            request.body = scrub_body(body, secrets)
        for header in list(request.headers):
            if header.lower() == "authorization":
                request.headers[header] = scrub_text(request.headers[header], secrets)
            if header.lower() == "cookie":
                del request.headers[header]
        return request

    def before_record_response(response):
        headers = response.get("headers", {})
        for header in list(headers):
            if header.lower() == "set-cookie":
                del headers[header]
        body = response.get("body", {}).get("string")
        if body:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            scrubbed = scrub_text(text, secrets)
            if scrubbed != text:
                response["body"]["string"] = scrubbed.encode()
        return response

    return before_record_request, before_record_response


def _json_or_none(body):
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return None


class OdooServer:
    """One Odoo server, live or replayed: settings factory and cassette context."""

    def __init__(self, server: dict, directory: Path, live: Live | None):
        self.server = server
        self.dir = directory
        self.live = live
        self.major = int(re.match(r"odoo(\d+)", directory.name).group(1))
        self.recorded_at = datetime.fromisoformat(server["recorded_at"])
        secrets = live.secrets if live else {}
        req, resp = _scrubber(secrets)
        self.vcr = vcr.VCR(
            cassette_library_dir=str(directory),
            record_mode="all" if live else "none",
            match_on=["method", "uri", "clientcare_body"],
            before_record_request=req,
            before_record_response=resp,
            decode_compressed_response=True,
            serializer="json",
        )
        self.vcr.register_persister(XzJsonPersister)
        self.vcr.register_matcher("clientcare_body", body_matcher)

    def secret(self, value: str) -> str:
        """The real secret behind a placeholder when recording; anything else as it is."""
        if self.live and value in self.live.secrets:
            return self.live.secrets[value]
        return value

    @property
    def has_api_key(self) -> bool:
        return bool(self.secret(API_KEY))

    def settings(self, transport="xmlrpc", *, password=PASSWORD, api_key=API_KEY, login=None,
                 **kw) -> ConnectionSettings:
        return ConnectionSettings(
            url=self.server["url"], db=self.server["db"], login=login or self.server["login"],
            password=self.secret(password), api_key=self.secret(api_key),
            transport=transport, retry_attempts=1, **kw)

    def cassette(self, name: str, replay_only: bool = False):
        """``replay_only``: reuse another test's recording as it is, also while recording
        (re-recording it later would capture the data after other tests changed it)."""
        return self.vcr.use_cassette(f"{name}{SUFFIX}", **({"record_mode": "none"} if replay_only else {}))


def cassette_name(request, server_dir: str) -> str:
    """The cassette of a test: its name and non-server parameters."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name.replace(f"[{server_dir}]", "")
                  .replace(f"{server_dir}-", "").replace(f"-{server_dir}", ""))


#: Per-cassette server facts (recording time, database...) for cassettes recorded after their
#: folder's ``server.json``: a later recording session must not move "today" under the older ones.
RECORDINGS = "recordings.json"


def _recordings(directory: Path) -> dict:
    path = directory / RECORDINGS
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.fixture
def odoo(request):
    live = request.config._clientcare_live
    if live is not None:
        directory = CASSETTES / f"odoo{live.major}"
        directory.mkdir(parents=True, exist_ok=True)
        if request.node.get_closest_marker("own_recording_time"):
            recordings = _recordings(directory)
            recordings[cassette_name(request, directory.name)] = live.server
            (directory / RECORDINGS).write_text(json.dumps(dict(sorted(recordings.items())), indent=1) + "\n")
        else:
            (directory / "server.json").write_text(json.dumps(live.server, indent=1) + "\n")
        server = live.server
    else:
        directory = CASSETTES / request.param
        server = json.loads((directory / "server.json").read_text())
        server = {**server, **_recordings(directory).get(cassette_name(request, directory.name), {})}
    srv = OdooServer(server, directory, live)
    # "Today" is the recording date, in replay and in recording alike.
    with time_machine.travel(srv.recorded_at, tick=bool(live)):
        yield srv


@contextmanager
def entry_point_installed(monkeypatch, name: str, value: str):
    """A rule entry point visible to discovery, as installing its package would make it."""
    from importlib import metadata

    from clientcare.jobs import ruleset
    from clientcare.rules import ENTRY_POINT_GROUP, registry

    installed = registry.discover()
    ep = metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "discover", lambda: [*installed, ep])
    ruleset.load_registry.cache_clear()
    try:
        yield
    finally:
        ruleset.load_registry.cache_clear()


#: The built-in rules the older sync cassettes were recorded with (before responsiveness and
#: talking points): their profile keeps exactly these, so they send their recorded requests.
RECORDED_RULES = ("fit_checklist", "follow_up", "late_payment", "unmet_deadlines")


def recorded_profile(odoo, tmp_path, run_prefix: str, monkeypatch, rules=(), extra: str = "",
                     builtin=RECORDED_RULES, talking_points: bool = False, transport: str = "xmlrpc"):
    """A sync profile for the recorded server: XML-RPC (or ``transport``; JSON-2 logs in with the
    admin's API key), one attempt, its own state file, the ``builtin`` rules (plus ``rules``),
    and run ids ``<run_prefix>-1``, ``-2``... as recorded."""
    from clientcare.jobs import sync as sync_job
    from clientcare.jobs.config import load_profile

    counter = itertools.count(1)
    monkeypatch.setattr(sync_job, "new_run_id", lambda: f"{run_prefix}-{next(counter)}")
    enabled = ", ".join(f'"{n}"' for n in [*builtin, *rules])
    cfg = tmp_path / "clientcare.toml"
    cfg.write_text(f"""
[profiles.test]
url = "{odoo.server['url']}"
db = "{odoo.server['db']}"
login = "{odoo.server['login']}"
transport = "{transport}"
retry_attempts = 1
state_path = "{tmp_path / 'state.sqlite3'}"
default_user_id = 2
talking_points = {str(talking_points).lower()}
rules_enabled = [{enabled}]
{extra}""")
    secret = {"CLIENTCARE_API_KEY": odoo.secret(API_KEY)} if transport == "json2" else \
        {"CLIENTCARE_PASSWORD": odoo.secret(PASSWORD)}
    return load_profile("test", cfg, env=secret)


@pytest.fixture
def cassette(odoo, request):
    """A cassette named after the test (and its non-server parameters)."""
    with odoo.cassette(cassette_name(request, odoo.dir.name)) as cas:
        yield cas


@pytest.fixture(autouse=True)
def _no_ambient_clientcare_settings(monkeypatch):
    """The suite's result must not depend on the shell it runs in: every test that wants a
    ``CLIENTCARE_*`` setting passes it explicitly (the recording switch is read at start-up)."""
    for name in [n for n in os.environ if n.startswith("CLIENTCARE_")]:
        monkeypatch.delenv(name)
    # ClientCare's own rules only: an installed third-party rule must not change the suite's result
    from clientcare.jobs import ruleset
    from clientcare.rules.registry import builtin_names
    monkeypatch.setenv("CLIENTCARE_RULES_ENABLED", ",".join(builtin_names()))
    ruleset.load_registry.cache_clear()


@pytest.fixture(autouse=True)
def _english_locale(monkeypatch):
    """Reports speak the environment's language by default: the suite pins the locale to C
    (English), so a developer's ``LANG=fr_FR.UTF-8`` changes nothing; the CLI run in a
    subprocess inherits it."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.setenv(var, "C")


@pytest.fixture(autouse=True)
def _instant_backoff(monkeypatch):
    monkeypatch.setattr(transports_mod, "_sleep", lambda s: None)


@pytest.fixture
def state(tmp_path):
    from clientcare.jobs.run_session import open_store
    store = open_store(tmp_path / "state.sqlite3")
    yield store
    store.close()
