"""Retries and error mapping, offline.

The recorded cassettes prove the mapping of real server answers; these tests
cover what no cassette can reach: flaky networks, retry bounds, and the
shapes each transport receives for every class of error.
"""
from __future__ import annotations

import json
import socket
import urllib.error
import xmlrpc.client

import pytest
import requests

from clientcare.connector import errors as E
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.transports import (Json2Transport, JsonRpcTransport, Transport,
                                             XmlRpcTransport, http_status_error, network_error)


def settings(**kw) -> ConnectionSettings:
    base = dict(url="http://odoo.invalid", db="db", login="bot", password="s3cret-pw", api_key="k" * 40,
                retry_attempts=3)
    base.update(kw)
    return ConnectionSettings(**base)


class Scripted(Transport):
    """A transport whose raw calls follow a script of results and exceptions."""

    name = "scripted"

    def __init__(self, script, **kw):
        super().__init__(settings(**kw))
        self.script = list(script)
        self.uid = 2

    def _execute_kw(self, model, method, args, kwargs):
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def test_retriable_error_is_retried_then_succeeds(caplog):
    t = Scripted([E.ConnectionFailure("reset"), E.ConcurrencyFailure("could not serialize"), [1, 2]])
    assert t.execute_kw("res.partner", "search", [[]]) == [1, 2]
    assert t.calls == {"res.partner.search": 3} and t.retries == 2
    assert "retrying res.partner.search" in caplog.text


def test_fatal_error_is_not_retried():
    t = Scripted([E.AccessError("no"), [1]])
    with pytest.raises(E.AccessError):
        t.execute_kw("res.partner", "search", [[]])
    assert t.call_count == 1 and t.retries == 0


def test_attempts_are_bounded_and_the_last_error_surfaces():
    t = Scripted([E.ServerUnavailable(f"503 #{i}") for i in range(10)], retry_attempts=4)
    with pytest.raises(E.ServerUnavailable, match="#3"):
        t.execute_kw("res.partner", "search", [[]])
    assert t.call_count == 4


def test_no_retry_when_the_caller_says_so():
    t = Scripted([E.ConnectionFailure("reset"), 7])
    with pytest.raises(E.ConnectionFailure):
        t.execute_kw("mail.activity", "create", [[{}]], retry=False)
    assert t.call_count == 1


# -- classification of what servers say -------------------------------------------
@pytest.mark.parametrize("kw, expected", [
    (dict(message="x", exception_name="odoo.exceptions.AccessDenied"), E.AuthenticationError),
    (dict(message="x", exception_name="odoo.exceptions.AccessError"), E.AccessError),
    (dict(message="Contacts require a name", exception_name="odoo.exceptions.ValidationError"), E.UserError),
    (dict(message="Record does not exist", exception_name="odoo.exceptions.MissingError"),
     E.MissingRecordError),
    (dict(message="Invalid field 'foo' on model 'res.partner'", fault_code=1), E.InvalidFieldError),
    (dict(message="Object x.y doesn't exist", fault_code=2), E.MissingModelError),
    (dict(message="The method 'res.partner.nope' does not exist", fault_code=1), E.MissingMethodError),
    (dict(message="psycopg2.errors.SerializationFailure: could not serialize access due to "
                  "concurrent update", fault_code=1), E.ConcurrencyFailure),
    (dict(message="deadlock detected", exception_name="psycopg2.errors.DeadlockDetected"),
     E.ConcurrencyFailure),
    (dict(message="Access Denied", fault_code=3), E.AuthenticationError),
    (dict(message="forbidden", fault_code=4), E.AccessError),
    (dict(message="whatever", fault_code=2), E.UserError),
    (dict(message="boom", fault_code=1), E.ServerError),
    (dict(message="", http_status=502), E.ServerUnavailable),
    (dict(message="invalid key", http_status=401), E.AuthenticationError),
    (dict(message="the model 'x.y' does not exist", exception_name="werkzeug.exceptions.NotFound",
          http_status=404), E.MissingModelError),
])
def test_classify_server_error(kw, expected):
    err = E.classify_server_error(**kw)
    assert type(err) is expected
    assert isinstance(err, E.RetriableError if expected in (E.ConcurrencyFailure, E.ServerUnavailable)
                      else E.FatalError)


@pytest.mark.parametrize("exc, expected", [
    (ConnectionRefusedError(111, "refused"), E.ConnectionFailure),
    (ConnectionResetError(104, "reset"), E.ConnectionFailure),
    (socket.timeout("timed out"), E.TimeoutFailure),
    (urllib.error.URLError(ConnectionRefusedError(111, "refused")), E.ConnectionFailure),
    (requests.exceptions.ConnectTimeout("slow"), E.TimeoutFailure),
    (requests.exceptions.ConnectionError("reset"), E.ConnectionFailure),
    (requests.exceptions.SSLError("bad cert"), E.ProtocolError),
])
def test_network_errors(exc, expected):
    assert type(network_error(exc, "x")) is expected


@pytest.mark.parametrize("status, expected", [(502, E.ServerUnavailable), (503, E.ServerUnavailable),
                                              (504, E.ServerUnavailable), (404, E.NotOdooError),
                                              (401, E.AuthenticationError), (500, E.ProtocolError)])
def test_http_status_without_odoo_body(status, expected):
    assert type(http_status_error(status, "x")) is expected


# -- each transport's own failure shapes ---------------------------------------------
def test_xmlrpc_maps_faults_and_http_errors(monkeypatch):
    t = XmlRpcTransport(settings(transport="xmlrpc"))
    t.uid = 2
    answers = iter([
        xmlrpc.client.Fault(3, "Access Denied"),
        xmlrpc.client.Fault(1, "Traceback...\nValueError: Invalid field 'nope' on model 'res.partner'"),
        xmlrpc.client.ProtocolError("odoo.invalid/xmlrpc/2/object", 503, "Service Unavailable", {}),
        ConnectionResetError(104, "reset"),
    ])

    class Proxy:
        def __getattr__(self, name):
            def call(*a):
                raise next(answers)
            return call

    monkeypatch.setitem(t._proxies, "object", Proxy())
    for expected in (E.AuthenticationError, E.InvalidFieldError, E.ServerUnavailable,
                     E.ConnectionFailure):
        with pytest.raises(expected):
            t._execute_kw("res.partner", "read", [[1]], {})


def test_jsonrpc_maps_error_payloads():
    import odoorpc

    t = JsonRpcTransport(settings(transport="jsonrpc"))
    payload = {"code": 200, "message": "Odoo Server Error",
               "data": {"name": "odoo.exceptions.AccessError", "message": "You are not allowed",
                        "debug": "Traceback ..."}}
    with pytest.raises(E.AccessError, match="You are not allowed"):
        t._guard("x", lambda: (_ for _ in ()).throw(odoorpc.error.RPCError("Odoo Server Error", payload)))
    with pytest.raises(E.ServerUnavailable):
        t._guard("x", lambda: (_ for _ in ()).throw(
            urllib.error.HTTPError("u", 502, "Bad Gateway", {}, None)))
    with pytest.raises(E.ConnectionFailure):
        t._guard("x", lambda: (_ for _ in ()).throw(urllib.error.URLError(ConnectionRefusedError())))


class FakeResponse:
    def __init__(self, status, body):
        self.status_code = status
        self._body = body
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self):
        if isinstance(self._body, str):
            raise ValueError("not json")
        return self._body


@pytest.mark.parametrize("status, body, expected", [
    (401, {"name": "werkzeug.exceptions.Unauthorized", "message": "Invalid apikey"}, E.AuthenticationError),
    (403, {"name": "odoo.exceptions.AccessError", "message": "not allowed"}, E.AccessError),
    (404, {"name": "werkzeug.exceptions.NotFound", "message": "the model 'x.y' does not exist"},
     E.MissingModelError),
    (422, {"name": "odoo.exceptions.ValidationError", "message": "Contacts require a name"}, E.UserError),
    (500, {"name": "psycopg2.errors.SerializationFailure", "message": "could not serialize access"},
     E.ConcurrencyFailure),
    (502, "<html>Bad Gateway</html>", E.ServerUnavailable),
    (504, "<html>Gateway Timeout</html>", E.ServerUnavailable),
])
def test_json2_maps_http_errors(monkeypatch, status, body, expected):
    t = Json2Transport(settings(transport="json2"))
    monkeypatch.setattr(t._session, "post", lambda *a, **k: FakeResponse(status, body))
    with pytest.raises(expected):
        t._execute_kw("res.partner", "search_read", [], {"domain": []})


def test_json2_sends_named_arguments_only(monkeypatch):
    t = Json2Transport(settings(transport="json2"))
    sent = {}

    def post(url, data, timeout, **kw):  # also allow_redirects=False
        sent.update(url=url, body=json.loads(data))
        return FakeResponse(200, [{"id": 1}])

    monkeypatch.setattr(t._session, "post", post)
    t._execute_kw("res.partner", "read", [[1, 2], ["name"]], {"context": {"lang": "en_US"}})
    assert sent["url"].endswith("/json/2/res.partner/read")
    assert sent["body"] == {"ids": [1, 2], "fields": ["name"], "context": {"lang": "en_US"}}
    assert t._session.headers["Authorization"] == "bearer " + "k" * 40
    assert t._session.headers["X-Odoo-Database"] == "db"


def test_settings_report_every_problem_and_hide_secrets():
    s = ConnectionSettings(url="ftp://x", db="", login="", password="", transport="soap", timeout=0,
                           page_size=0)
    with pytest.raises(E.ConfigError) as err:
        s.validate()
    assert len(err.value.problems) == 7
    shown = settings()
    assert "s3cret-pw" not in repr(shown) and "s3cret-pw" not in str(shown.public_dict())
    assert "k" * 40 not in repr(shown)
    assert "s3cret-pw" not in shown.describe()
