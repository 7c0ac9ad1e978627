"""Transport answers no recording can hold (issue 23): a server that trickles its answer, a
redirect to https, error bodies of unexpected shapes.  Each runs against a tiny HTTP server on
127.0.0.1 (an ephemeral port, stopped at the end of the test) on every transport, and ends in
one error of the tree (:mod:`clientcare.connector.errors`) with its documented exit code,
never an internal error."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clientcare.connector import errors as E
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.transports import TRANSPORT_CLASSES
from clientcare.jobs.exit_codes import EXIT_ODOO_REFUSED, EXIT_RETRY_LATER, EXIT_USAGE, exit_code_for

TRANSPORTS = ["xmlrpc", "jsonrpc", "json2"]

VERSION = {"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0, ""],
           "protocol_version": 1}


def _xml_version() -> bytes:
    import xmlrpc.client
    return xmlrpc.client.dumps((VERSION,), methodresponse=True, allow_none=True).encode()


class _Server:
    """``answer(handler)`` → (status, headers, body) for every POST; ``trickle``: the body is
    sent one byte per ``trickle`` seconds, and how many bytes went out is counted."""

    def __init__(self, answer, trickle: float | None = None):
        outer = self
        self.answer, self.trickle, self.sent, self.paths = answer, trickle, 0, []
        self.stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.paths.append(self.path)
                status, headers, body = outer.answer(self)
                self.send_response(status)
                for k, v in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                if outer.trickle is None:
                    self.wfile.write(body)
                    return
                for i in range(len(body)):  # bounded: the body's length, or until the client left
                    if outer.stop.wait(outer.trickle):
                        return
                    try:
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                    except OSError:
                        return
                    outer.sent += 1

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _settings(url: str, transport: str, timeout: float = 5.0) -> ConnectionSettings:
    return ConnectionSettings(url=url, db="db", login="bot", password="pw-not-shown-9", api_key="k" * 40,
                              transport=transport, timeout=timeout, retry_attempts=1).validate()


def _version_body(transport: str) -> tuple[str, bytes]:
    if transport == "xmlrpc":
        return "text/xml", _xml_version()
    return "application/json", json.dumps({"jsonrpc": "2.0", "id": 1, "result": VERSION}).encode()


# -- the deadline ------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_timeout_is_a_deadline_for_the_whole_answer_not_each_read(transport):
    """One byte every 0.05 s is far within a 0.5 s read timeout, so a per-read timeout never
    fires and the whole (~4 s) answer would be read; the deadline cuts it after ~10 bytes.  The
    assertion counts bytes the server sent, not seconds."""
    ctype, body = _version_body(transport)
    body = body + b" " * max(0, 80 - len(body)) if transport != "xmlrpc" else body
    server = _Server(lambda h: (200, {"Content-Type": ctype}, body), trickle=0.05)
    try:
        with pytest.raises(E.TimeoutFailure, match="no full answer within 0.5 s"):
            TRANSPORT_CLASSES[transport](_settings(server.url, transport, timeout=0.5)).version()
        assert len(body) >= 80 and server.sent < len(body) // 2, (server.sent, len(body))
        assert exit_code_for(E.TimeoutFailure("x")) == EXIT_RETRY_LATER
    finally:
        server.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_fast_answer_on_a_kept_alive_connection_is_not_cut_later(transport):
    """The deadline's timer is cancelled with the request: many quick requests in a row on a
    kept-alive connection all succeed (a late timer would shut the reused socket)."""
    ctype, body = _version_body(transport)
    server = _Server(lambda h: (200, {"Content-Type": ctype}, body))
    try:
        tr = TRANSPORT_CLASSES[transport](_settings(server.url, transport, timeout=0.2))
        for _ in range(5):
            tr._server_version = None
            assert tr.version()["server_version"] == "19.0"
        assert tr.call_count == 5
    finally:
        server.close()


# -- redirects ---------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 308])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_http_to_https_redirect_says_the_url_should_use_https(transport, status):
    server = _Server(lambda h: (status, {"Location": f"https://odoo.example.com{h.path}"}, b""))
    try:
        with pytest.raises(E.NotOdooError) as info:
            TRANSPORT_CLASSES[transport](_settings(server.url, transport)).version()
        text = str(info.value)
        assert f"HTTP {status}" in text and "should use https" in text and "\n" not in text, text
        assert "TLS" not in text and "TLS" not in info.value.hint
        assert info.value.hint.startswith("set url to https://odoo.example.com")
        assert exit_code_for(info.value) == EXIT_USAGE
        assert len(server.paths) == 1  # not followed
    finally:
        server.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_redirect_elsewhere_is_named_not_followed(transport):
    server = _Server(lambda h: (302, {"Location": "/web/login"}, b""))
    try:
        with pytest.raises(E.NotOdooError, match="redirects to http://127.0.0.1:[0-9]+/web/login"):
            TRANSPORT_CLASSES[transport](_settings(server.url, transport)).version()
        assert len(server.paths) == 1
    finally:
        server.close()


# -- error bodies of unexpected shapes ---------------------------------------------------
HTML_502 = b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"

#: name → (status, content type, body), and the error class and exit code expected on
#: JSON-RPC and JSON-2 (XML-RPC below).
SHAPES = {
    "html-502": (502, "text/html", HTML_502, E.ServerUnavailable, EXIT_RETRY_LATER),
    "html-500": (500, "text/html", b"<html>\n<body>Internal\nServer Error</body></html>", E.ProtocolError,
                 EXIT_ODOO_REFUSED),
    "not-json-200": (200, "text/plain", b"hello", E.NotOdooError, EXIT_USAGE),
    "json-list": (200, "application/json", b"[1, 2, 3]", E.NotOdooError, EXIT_USAGE),
    "json-no-result-no-error": (200, "application/json", b'{"jsonrpc": "2.0", "id": 1}', E.NotOdooError,
                                EXIT_USAGE),
}

#: JSON-RPC error objects (HTTP 200) and JSON-2 error bodies (HTTP 500) of odd shapes: each is a
#: server error of the tree, with a one-line message.
ERROR_SHAPES = {
    "error-without-data": {"code": 200, "message": "Odoo Server Error"},
    "error-data-null": {"code": 200, "message": "Odoo Server Error", "data": None},
    "error-data-a-string": {"code": 200, "message": "oops", "data": "not an object"},
    "error-message-a-list": {"code": 200, "message": ["a", "b"], "data": {"name": 5, "debug": {"x": 1}}},
    "error-empty": {},
}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("transport", ["jsonrpc", "json2"])
def test_unexpected_bodies_map_to_the_error_tree(transport, shape):
    status, ctype, body, expected, code = SHAPES[shape]
    server = _Server(lambda h: (status, {"Content-Type": ctype}, body))
    try:
        with pytest.raises(E.ClientCareError) as info:
            TRANSPORT_CLASSES[transport](_settings(server.url, transport)).version()
        assert isinstance(info.value, expected), (type(info.value), info.value)
        assert exit_code_for(info.value) == code
        assert "\n" not in str(info.value), str(info.value)
    finally:
        server.close()


@pytest.mark.parametrize("shape", list(ERROR_SHAPES))
@pytest.mark.parametrize("transport", ["jsonrpc", "json2"])
def test_error_bodies_of_odd_shapes_are_server_errors(transport, shape):
    """The version answers as Odoo's does; the call after it answers an error of an odd shape
    (JSON-RPC: HTTP 200 with an ``error`` object; JSON-2: HTTP 500 with a JSON body)."""
    error = ERROR_SHAPES[shape]

    def answer(h):
        if h.path == "/web/webclient/version_info":
            return 200, {"Content-Type": "application/json"}, json.dumps({"jsonrpc": "2.0", "id": 1,
                                                                         "result": VERSION}).encode()
        if transport == "jsonrpc":
            return 200, {"Content-Type": "application/json"}, json.dumps({"jsonrpc": "2.0", "id": 1,
                                                                         "error": error}).encode()
        return 500, {"Content-Type": "application/json"}, json.dumps(error).encode()

    server = _Server(answer)
    try:
        tr = TRANSPORT_CLASSES[transport](_settings(server.url, transport))
        if transport == "jsonrpc":
            tr._connect()  # odoorpc's own version request
        tr.uid = 2  # logged in (the login's own answers are odoorpc's and Odoo's)
        with pytest.raises(E.ClientCareError) as info:
            tr.execute_kw("res.partner", "search", [[]])
        assert isinstance(info.value, E.FatalError), (type(info.value), info.value)
        assert "\n" not in str(info.value) and str(info.value).strip(), str(info.value)
        assert exit_code_for(info.value) == EXIT_ODOO_REFUSED
    finally:
        server.close()


@pytest.mark.parametrize("body", [b"<html>\n<body>Bad Gateway</body></html>", b"not xml at all"])
@pytest.mark.parametrize("status", [200, 500, 502])
def test_xmlrpc_unexpected_bodies_map_to_the_error_tree(status, body):
    server = _Server(lambda h: (status, {"Content-Type": "text/html"}, body))
    try:
        with pytest.raises(E.ClientCareError) as info:
            TRANSPORT_CLASSES["xmlrpc"](_settings(server.url, "xmlrpc")).version()
        expected = {200: E.NotOdooError, 500: E.ProtocolError, 502: E.ServerUnavailable}[status]
        assert isinstance(info.value, expected), (type(info.value), info.value)
        assert "\n" not in str(info.value)
    finally:
        server.close()


def test_loopback_server_only():
    """The servers above listen on loopback only."""
    server = _Server(lambda h: (200, {}, b""))
    try:
        assert server.httpd.server_address[0] == "127.0.0.1"
        assert server.httpd.socket.family == socket.AF_INET
    finally:
        server.close()
