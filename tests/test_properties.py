"""Property-based tests (issue 23): "internal error" is a bug, found by machines.

Hypothesis generates profiles (TOML, valid and broken), snapshots (valid and drifted: columns
dropped or retyped, names with control characters, duplicate ids), command-line arguments and
server answers (every transport, from a tiny loopback server).  Whatever comes in, a command
ends with a documented exit code and, when it fails, a last stderr line of the documented form
(``Error: …``, or a JSON object under ``--log-format json``); a transport raises only the
classes of :mod:`clientcare.connector.errors`.

The CI budget is small and stable (``derandomize``: the same examples every run).  A longer
run: ``HYPOTHESIS_PROFILE=long pytest tests/test_properties.py`` (RELIABILITY.md gives its
count and what it found).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import string
import tempfile
import threading
import xmlrpc.client
from datetime import date, datetime, time, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from clientcare.rules.bidi import FSI, PDI
from clientcare.connector import errors as E
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.transports import TRANSPORT_CLASSES, open_transport
from clientcare.jobs.cli import main
from clientcare.jobs.config import KEYS, SECTIONS
from clientcare.rules.registry import builtin_names
from clientcare.rules.snapshot_builder import AS_OF, SALES, SnapshotBuilder

settings.register_profile("clientcare-ci", derandomize=True, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("long", parent=settings.get_profile("clientcare-ci"), derandomize=False)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "clientcare-ci")
#: The long run multiplies each test's CI budget.
SCALE = 40 if PROFILE == "long" else 1


def budget(n: int):
    return settings(settings.get_profile(PROFILE), max_examples=n * SCALE)


#: What each command may end with (docs/commands.md, "Exit codes").
DOCUMENTED = {0, 1, 2, 3, 4, 5}


def check_ending(result, allowed: set[int], json_log: bool = False) -> None:
    """A documented exit code; on failure a last stderr line of the documented form; never an
    internal error nor a traceback."""
    assert result.exit_code in allowed, (result.exit_code, result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    stderr = result.stderr
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    if json_log:
        entries = [json.loads(line) for line in lines]  # every stderr line is JSON
        if result.exit_code not in (0, 1) or (entries and entries[-1]["level"] == "error"):
            assert entries and entries[-1]["level"] == "error" and entries[-1]["exit_code"] == result.exit_code, \
                stderr
    elif result.exit_code not in (0, 1):
        # one line, or "Error: invalid configuration:" and one "  - " line per problem
        errors = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
        assert errors and all(line.startswith("  - ") for line in lines[errors[-1] + 1:]), stderr


def invoke(args, env):
    return CliRunner().invoke(main, args, env=env)


@pytest.fixture
def workdir():
    """A fresh directory for each example (pytest's tmp_path is one per test, not per example)."""
    made = []

    def make() -> Path:
        made.append(Path(tempfile.mkdtemp(prefix="clientcare-prop-")))
        return made[-1]
    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


# -- (a) profiles -------------------------------------------------------------------------------
def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(st.integers(-2**63, 2**63 - 1), st.integers(-5, 5), st.floats(), st.booleans(), names,
                    st.dates(), st.datetimes(timezones=st.sampled_from([timezone.utc])), st.times())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(names, inner, max_size=3)), max_leaves=6)
plausible = {
    "url": st.sampled_from(["http://127.0.0.1:9", "https://odoo.example.com", "odoo.example.com", " http://x/web",
                            "http://u:p@127.0.0.1:9", "ftp://x", ""]),
    "transport": st.sampled_from(["auto", "xmlrpc", "jsonrpc", "json2", "soap", ""]),
    "timeout": st.one_of(st.floats(-10, 5000), st.integers(-3, 4000)),
    "page_size": st.integers(-2, 200_000), "retry_attempts": st.integers(-1, 30),
    "max_creations": st.integers(-3, 2_000_000), "history_days": st.integers(-1, 200_000),
    "default_user_id": st.integers(-1, 2**32), "rules_enabled": st.lists(st.sampled_from(builtin_names() + ["nope"])),
}
rule_settings = st.dictionaries(
    st.sampled_from(["enabled", "severity", "levels", "grace_days", "activity_type", "escalate_after_days", "days",
                     "check_in_after_days", "ideal_countries", "waiting_stage_names", "at_risk_days", "x"]) | names,
    st.booleans() | st.integers(-3, 400) | values, max_size=3)


@st.composite
def profile_texts(draw):
    """A config file: ``[profiles.NAME]`` with random keys, values and types, rule tables,
    sometimes broken TOML (cut, a stray byte, a BOM)."""
    name = draw(st.sampled_from(["default", "other"]))
    lines = [f"[profiles.{toml_key(name)}]"]
    if draw(st.booleans()):  # a good profile (so the rules run), with random rule settings below
        good = {"url": "http://127.0.0.1:9", "db": "d", "login": "bot", "timeout": draw(st.floats(0.5, 3600)),
                "max_creations": draw(st.integers(0, 1000)), "history_days": draw(st.integers(1, 1000)),
                "talking_points": draw(st.booleans()), "notify_assignees": draw(st.booleans())}
        keys = draw(st.lists(st.sampled_from(sorted(good)), max_size=5, unique=True))
        lines += [f"{key} = {toml_value(good[key])}" for key in keys]
        keys = []
    else:
        keys = draw(st.lists(st.sampled_from(list(KEYS) + list(SECTIONS)) | names, max_size=6, unique=True))
    for key in keys:
        if key in ("state_path", "ca_bundle"):
            continue  # paths are set by the test, inside its directory
        value = draw(plausible[key] | values if key in plausible else values)
        lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for rule in draw(st.lists(st.sampled_from(builtin_names() + ["no_such_rule"]), max_size=2, unique=True)):
        lines.append(f"[profiles.{toml_key(name)}.rules.{rule}]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in draw(rule_settings).items()]
    if not draw(st.integers(0, 3)):  # a top-level key (`profiles = 5` among them)
        top = draw(st.sampled_from(["profiles", "rules"]) | names) or "x"
        lines.insert(0, f"{toml_key(top)} = {toml_value(draw(values))}")
    text = "\n".join(lines) + "\n"
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "byte", "bom"]))
    if damage == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    elif damage == "byte":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["\x00", "[", "=", '"', "\ufffe", "\\"])) + text[at:]
    elif damage == "bom":
        text = "\ufeff" + text
    return name, text


@budget(40)
@given(profile=profile_texts(), json_log=st.booleans())
def test_any_profile_ends_in_a_documented_way(profile, json_log, workdir):
    name, text = profile
    tmp = workdir()
    (tmp / "config.toml").write_bytes(text.encode("utf-8", "surrogatepass"))
    env = {"CLIENTCARE_CONFIG": str(tmp / "config.toml"), "CLIENTCARE_PROFILE": name,
           "CLIENTCARE_STATE_PATH": str(tmp / "state.sqlite3")}
    log = ["--log-format", "json"] if json_log else []
    check_ending(invoke([*log, "config", "show"], env), {0, 2}, json_log)
    result = invoke([*log, "audit", "--demo", "--format", "json"], env)
    event(f"audit --demo exit {result.exit_code}")
    check_ending(result, {0, 1, 2}, json_log)


# -- (b) snapshots, valid and drifted --------------------------------------------------------------
odd_names = st.text(st.sampled_from(list("Acme Co.-&'\"<>é中🙂") + ["\n", "\t", "\r", "\x00", "\x1b", "\u202e",
                                                                     "\ufeff", "\u2028", "\x85", "=", "+"]),
                    min_size=1, max_size=12)


@st.composite
def snapshots(draw):
    version = draw(st.sampled_from([16, 17, 19]))
    b = SnapshotBuilder(version)
    for i, client_name in enumerate(draw(st.lists(odd_names, min_size=1, max_size=4))):
        cid = 10 + i
        b.client(cid, client_name, SALES)
        for j in range(draw(st.integers(0, 2))):
            b.invoice(500 + 10 * i + j, cid, draw(st.integers(-120, 30)), draw(st.floats(1, 1e6)))
        if draw(st.booleans()):
            b.project(20 + i, draw(odd_names), cid).task(30 + i, draw(odd_names), 20 + i, client=cid, users=[SALES],
                                                           deadline=draw(st.integers(-60, 30)))
    return b.build()


TABLES = ["partners", "users", "companies", "projects", "tasks", "moves", "payments", "task_stages"]
mutations = st.lists(st.tuples(st.sampled_from(["drop", "text", "float", "int", "dup", "empty", "extra", "shuffle"]),
                               st.sampled_from(TABLES), st.integers(0, 40)), max_size=3)


def mutate(directory: Path, kind: str, table: str, pick: int) -> None:
    path = directory / f"{table}.parquet"
    if not path.exists():
        return
    frame = pd.read_parquet(path)
    col = frame.columns[pick % len(frame.columns)] if len(frame.columns) else None
    if kind == "drop" and col is not None:
        frame = frame.drop(columns=[col])
    elif kind == "text" and col is not None:
        frame[col] = frame[col].astype(str)
    elif kind == "float" and col is not None:
        frame[col] = pd.to_numeric(frame[col].astype(str), errors="coerce").astype("float64")
    elif kind == "int" and col is not None:
        frame[col] = pd.to_numeric(frame[col].astype(str), errors="coerce").fillna(0).astype("int64")
    elif kind == "dup":
        frame = pd.concat([frame, frame.iloc[:1 + pick % 3]])
    elif kind == "empty":
        frame = frame.iloc[0:0]
    elif kind == "extra":
        frame = frame.assign(**{f"x_{pick}": pick})
    elif kind == "shuffle":
        frame = frame.sample(frac=1, random_state=pick)
    frame.to_parquet(path, index=False)


@budget(30)
@given(snapshot=snapshots(), changes=mutations, fmt=st.sampled_from(["json", "text", "csv"]))
def test_any_snapshot_audits_or_is_refused_in_one_line(snapshot, changes, fmt, workdir):
    tmp = workdir()
    directory = snapshot.save(tmp / "snap")
    for change in changes:
        try:
            mutate(directory, *change)
        except (TypeError, ValueError, OverflowError):
            assume(False)  # a change pandas or Parquet cannot write: not a snapshot anyone could have
    env = {"CLIENTCARE_CONFIG": str(tmp / "none.toml"), "CLIENTCARE_STATE_PATH": str(tmp / "state.sqlite3")}
    (tmp / "none.toml").write_text("")
    result = invoke(["audit", "--snapshot", str(directory), "--as-of", AS_OF.isoformat(), "--format", fmt], env)
    event(f"exit {result.exit_code}")
    check_ending(result, {0, 1, 2})
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and str(directory) in errors[0], result.stderr
    elif fmt == "json":
        findings = json.loads(result.stdout)["findings"]
        assert len({f["key"] for f in findings}) == len(findings)  # nothing counted twice
    if not changes:  # a valid snapshot: every rule ran, names or not
        assert result.exit_code == 0, result.output
    if fmt == "text":
        # printable but the isolates around names (no other format character)
        assert all(line.replace(FSI, "").replace(PDI, "").isprintable()
                   for line in result.stdout.splitlines()), result.stdout


# -- (c) command-line arguments --------------------------------------------------------------------
arg_text = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                     st.integers(-10**12, 10**12).map(str), st.dates().map(date.isoformat),
                     st.sampled_from(["", " ", "-", "--", "9", " 9 ", "2026-02-30", "0", "-3", "1e3", "Acme",
                                      "late_payment", ",", "late_payment,nope", "json", "xls"]))


@st.composite
def command_lines(draw, out_dir: str):
    command = draw(st.sampled_from(["audit", "explain", "history", "runs"]))
    args = [command]
    if command in ("explain", "history"):
        args.append(draw(arg_text))
    if command == "runs" and draw(st.booleans()):
        args.append(draw(arg_text))
    options = {
        "audit": ["--as-of", "--client", "--rules", "--format", "--output"],
        "explain": ["--as-of"], "history": ["--format", "--output"], "runs": ["--limit"],
    }[command]
    for option in draw(st.lists(st.sampled_from(options), max_size=3)):
        value = draw(arg_text)
        if option == "--output":  # inside the test's directory, or the directory itself
            value = draw(st.sampled_from([out_dir, f"{out_dir}/{re.sub(r'[^A-Za-z0-9]', '', value) or 'x'}",
                                          f"{out_dir}/no/such/dir/out"]))
        args += [option, value]
    if command != "runs" and (command != "audit" or draw(st.booleans())):
        args.append("--demo")  # audit without it pulls from a closed port: exit 3
    if draw(st.booleans()):
        args.append("--json" if command == "runs" else draw(st.sampled_from(["--strict", "-q", "--debug"])))
    return args


@budget(60)
@given(data=st.data())
def test_any_command_line_ends_in_a_documented_way(data, workdir):
    tmp = workdir()
    args = data.draw(command_lines(str(tmp)))
    assume(not (args[0] == "history" and "--demo" in args and len(args) > 4))  # the slowest command: fewer
    (tmp / "none.toml").write_text("")
    env = {"CLIENTCARE_CONFIG": str(tmp / "none.toml"), "CLIENTCARE_STATE_PATH": str(tmp / "state.sqlite3"),
           "CLIENTCARE_URL": "http://127.0.0.1:9", "CLIENTCARE_DB": "db", "CLIENTCARE_LOGIN": "bot",
           "CLIENTCARE_PASSWORD": "pw", "CLIENTCARE_RETRY_ATTEMPTS": "1"}
    result = invoke(args, env)
    event(f"{args[0]} exit {result.exit_code}")
    check_ending(result, DOCUMENTED)


def _outside_pandas(value: str) -> bool:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return False
    return not date(1677, 9, 22) <= day <= date(2262, 4, 11)


# -- (d) server answers, every transport ------------------------------------------------------------
json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                           | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=8)
odoo_error = st.fixed_dictionaries({}, optional={
    "code": json_values, "message": json_values, "name": json_values, "debug": json_values,
    "data": st.fixed_dictionaries({}, optional={"name": json_values, "message": json_values, "debug": json_values,
                                                "arguments": json_values}) | json_values})


def xmlrpc_body(draw) -> bytes:
    kind = draw(st.sampled_from(["value", "fault", "bad-fault"]))
    marshal = st.recursive(st.booleans() | st.integers(-2**31, 2**31 - 1) | st.floats(allow_nan=False)
                           | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20) | st.none(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.text(string.ascii_letters, max_size=8), inner, max_size=3), max_leaves=8)
    if kind == "value":
        return xmlrpc.client.dumps((draw(marshal),), methodresponse=True, allow_none=True).encode()
    if kind == "fault":
        return xmlrpc.client.dumps(xmlrpc.client.Fault(draw(st.integers(-5, 5)), draw(st.text(max_size=40))),
                                   methodresponse=True).encode()
    return (b"<?xml version='1.0'?><methodResponse><fault><value><struct><member><name>faultString</name>"
            b"<value><int>3</int></value></member></struct></value></fault></methodResponse>")


@st.composite
def answers(draw):
    """One HTTP answer: a status, a content type and a body of some shape."""
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 405, 418, 500, 502, 503, 504]))
    shape = draw(st.sampled_from(["bytes", "json", "jsonrpc-result", "jsonrpc-error", "json2-error", "xmlrpc",
                                  "html", "empty", "version", "version"]))
    if shape == "version":  # a good version answer in each protocol, so later calls are reached too
        status, info = 200, {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0]}
        return status, "text/xml", draw(st.sampled_from([
            xmlrpc.client.dumps((info,), methodresponse=True).encode(),
            json.dumps({"jsonrpc": "2.0", "id": None, "result": info}).encode()]))
    if shape == "bytes":
        body = draw(st.binary(max_size=60))
    elif shape == "json":
        body = json.dumps(draw(json_values)).encode()
    elif shape == "jsonrpc-result":
        body = json.dumps({"jsonrpc": "2.0", "id": draw(json_values), "result": draw(json_values)}).encode()
    elif shape == "jsonrpc-error":
        body = json.dumps({"jsonrpc": "2.0", "id": None, "error": draw(odoo_error | json_values)}).encode()
    elif shape == "json2-error":
        body = json.dumps(draw(odoo_error)).encode()
    elif shape == "xmlrpc":
        body = xmlrpc_body(draw)
    elif shape == "html":
        body = b"<html><body>Login</body></html>"
    else:
        body = b""
    ctype = draw(st.sampled_from(["application/json", "text/xml", "text/html", "application/octet-stream"]))
    return status, ctype, body


class _Answers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        queue = self.server.queue
        status, ctype, body = queue.pop(0) if len(queue) > 1 else queue[0]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def answering_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    server.queue = [(200, "text/html", b"")]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@budget(100)
@given(transport=st.sampled_from(["xmlrpc", "jsonrpc", "json2", "auto"]),
       replies=st.lists(answers(), min_size=1, max_size=5))
def test_any_server_answer_is_a_clientcare_error(transport, replies, answering_server):
    answering_server.queue = list(replies)
    url = f"http://127.0.0.1:{answering_server.server_address[1]}"
    settings_ = ConnectionSettings(url=url, db="db", login="bot", password="pw", api_key="0" * 40,
                                   transport=transport, timeout=2.0, retry_attempts=1)
    try:
        if transport == "auto":
            t = open_transport(settings_)
        else:
            t = TRANSPORT_CLASSES[transport](settings_)
            t.version()
            t.authenticate()
        t.execute_kw("res.partner", "search_read", [[]], {"fields": ["name"], "limit": 2})
        event("answered")
    except E.ClientCareError as exc:
        event(type(exc).__name__)


def _xml(value) -> tuple[int, str, bytes]:
    return 200, "text/xml", xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True).encode()


def _json(body) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(body).encode()


VERSION = {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0]}
#: What the long run found (each was a raw TypeError, ValueError or AttributeError, so an
#: "internal error" of every command): answers of the right protocol but the wrong shape.
FOUND = {
    "xmlrpc-uid-text": ("xmlrpc", [_xml(VERSION), _xml("abc")], E.NotOdooError),
    "xmlrpc-uid-list": ("xmlrpc", [_xml(VERSION), _xml([1])], E.NotOdooError),
    "xmlrpc-version-number": ("xmlrpc", [_xml(5)], E.NotOdooError),
    "auto-version-text": ("auto", [_xml("not a table")], E.NotOdooError),
    "auto-version-info-table": ("auto", [_xml({"server_version_info": {"a": 1}})], E.ClientCareError),
    "json2-version-list": ("json2", [_json({"result": 5})], E.NotOdooError),
    "json2-context-list": ("json2", [_json({"result": VERSION}), _json([1])], E.NotOdooError),
    "json2-uid-text": ("json2", [_json({"result": VERSION}), _json({"uid": "x"})], E.NotOdooError),
    "json2-error-message-number": ("json2", [_json({"result": VERSION}),
                                             (500, "application/json", b'{"message": 5, "name": [1]}')], E.ServerError),
}


@pytest.mark.parametrize("transport, replies, error", FOUND.values(), ids=FOUND.keys())
def test_answers_of_the_wrong_shape_are_errors_of_the_tree(transport, replies, error, answering_server):
    answering_server.queue = list(replies)
    settings_ = ConnectionSettings(url=f"http://127.0.0.1:{answering_server.server_address[1]}", db="db",
                                   login="bot", password="pw", api_key="0" * 40, transport=transport, timeout=2.0,
                                   retry_attempts=1)
    with pytest.raises(error):
        if transport == "auto":
            open_transport(settings_)
        else:
            t = TRANSPORT_CLASSES[transport](settings_)
            t.version()
            t.authenticate()
