"""A tiny HTTP server on 127.0.0.1 that answers from a vcrpy cassette.

vcrpy replays inside the client process, by patching the HTTP libraries, so a
request never reaches a socket; the fault proxy needs a real server to sit in
front of.  This one serves a recorded cassette (``cassettes/odoo*/...json.xz``):

* a request matches a recorded interaction with the same method, the same
  path (and query; never host or port: recordings say ``127.0.0.1:80NN``, the
  replay server listens elsewhere) and a body that means the same, by the rule
  of ``cassette_store.body_matcher`` (decoded XML-RPC or JSON, without the
  JSON-RPC ``id`` that odoorpc draws at random);
* identical requests get the matching interactions in recorded order and,
  once those are used up, the last one again, so a retried request (whose
  first answer was lost on the way back) still gets an answer;
* an unmatched request gets HTTP 500 and is listed in ``misses``, which tests
  assert is empty (a 500 is a fatal ProtocolError for every transport, so a
  miss also fails the pull loudly).

Every answer says ``Connection: close`` (as the recording Odoo servers did).
"""
from __future__ import annotations

import collections
import functools
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from cassette_store import XzJsonPersister, same_meaning
from loopback import LoopbackServer

_SKIP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


def target_of(uri: str) -> str:
    parts = urlsplit(uri)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class Interaction:
    method: str
    target: str
    body: bytes
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    response: bytes

    def matches(self, method: str, target: str, body: bytes) -> bool:
        return method == self.method and target == self.target and same_meaning(body, self.body) is None


@functools.lru_cache(maxsize=8)
def load_cassette(path: str | Path) -> tuple[Interaction, ...]:
    """The interactions of a cassette, read as the suite's vcrpy persister reads them."""
    requests, responses = XzJsonPersister.load_cassette(path)[:2]
    out = []
    for req, resp in zip(requests, responses):
        body = req.body or b""
        if isinstance(body, str):
            body = body.encode()
        payload = resp.get("body", {}).get("string") or b""
        if isinstance(payload, str):
            payload = payload.encode()
        headers = tuple((name, value) for name, values in (resp.get("headers") or {}).items()
                        for value in (values if isinstance(values, list) else [values])
                        if name.lower() not in _SKIP_HEADERS)
        out.append(Interaction(req.method.upper(), target_of(req.uri), body,
                               int(resp["status"]["code"]), resp["status"].get("message") or "",
                               headers, payload))
    return tuple(out)


class ReplayServer(LoopbackServer):
    """Serve one cassette on ``127.0.0.1:<ephemeral port>``; a context manager."""

    def __init__(self, cassette: str | Path | tuple[Interaction, ...], port: int = 0):
        self.interactions = cassette if isinstance(cassette, tuple) else load_cassette(str(cassette))
        self._lock = threading.Lock()
        self._cursor: dict[tuple[int, ...], int] = {}
        #: Requests answered from the cassette, and unmatched ones as (method, target, body head).
        self.served = 0
        self.repeats = 0
        #: Times each recorded interaction was served, by index: what the "server" executed.
        self.hits: collections.Counter[int] = collections.Counter()
        self.misses: list[tuple[str, str, bytes]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True


    def rewind(self) -> None:
        """Start every sequence of identical requests from its first recording again."""
        with self._lock:
            self._cursor.clear()
            self.hits.clear()

    def lookup(self, method: str, target: str, body: bytes) -> Interaction | None:
        group = tuple(i for i, it in enumerate(self.interactions) if it.matches(method, target, body))
        with self._lock:
            if not group:
                self.misses.append((method, target, body[:300]))
                return None
            n = self._cursor.get(group, 0)
            self._cursor[group] = n + 1
            self.served += 1
            if n >= len(group):
                self.repeats += 1
            index = group[min(n, len(group) - 1)]
            self.hits[index] += 1
            return self.interactions[index]

    def _handler_class(self) -> type:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # an idle client cannot hold stop() for longer

            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return body
                        body += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _replay(self):
                body = self._read_body()
                found = replay.lookup(self.command, self.path, body)
                if found is None:
                    status, reason, headers = 500, "No Recorded Interaction", [("Content-Type", "text/plain")]
                    payload = f"replay_server: no recorded {self.command} {self.path} with this body".encode()
                else:
                    status, reason, headers, payload = found.status, found.reason, found.headers, found.response
                self.send_response_only(status, reason)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _replay

        return Handler
