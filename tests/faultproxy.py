"""A loopback HTTP proxy that injects network faults, for reliability tests.

It sits between ClientCare and an upstream HTTP server (a live Odoo, or the
cassette replay server of :mod:`replay_server`) and, for each request, draws
from a seeded RNG whether to fault it and how:

``reset``     close the client socket without an answer, with an RST (SO_LINGER 0)
``drop``      close the client socket without an answer, with an orderly FIN
``lost``      forward the request (the server does the work), then reset the client
              socket without an answer: the answer is lost on the way back
``http_502``  answer ``502 Bad Gateway`` (likewise ``http_503``, ``http_504``)
``stall``     read the request, then say nothing for ``stall_seconds`` (longer than
              the client's timeout; ends early once the client gives up) and close
``truncate``  forward the request, then send the headers (with the real
              ``Content-Length``) and only half of the body, and close

Everything else is forwarded on a fresh upstream connection.  Every answer
carries ``Connection: close``, which every HTTP/1.1 client (xmlrpc.client's
keep-alive transport, urllib for odoorpc, requests for JSON-2) honours by
reconnecting for its next request, so the proxy never has to track keep-alive.

Stdlib only; listens on 127.0.0.1 only; ``with FaultProxy(...) as proxy:``
starts it and stops it (joining every handler thread).  ``proxy.injected``
counts the faults by kind; ``proxy.events`` lists every request and its fate.

    python tests/faultproxy.py http://127.0.0.1:8019 --rate 0.2 --seed 1

runs it standalone (prints the URL, Ctrl-C prints the counts).
"""
from __future__ import annotations

import collections
import http.client
import random
import select
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Mapping
from urllib.parse import urlsplit

from loopback import LoopbackServer

KINDS = ("reset", "drop", "lost", "http_502", "http_503", "http_504", "stall", "truncate")

#: Headers that describe one connection, not the message: never forwarded as they are.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "trailers",
              "transfer-encoding", "upgrade", "content-length"}

_REASONS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_MAX_HEAD = 256 * 1024


@dataclass
class Event:
    """One request the proxy saw: its number, what it was, and what was done to it."""

    index: int
    method: str
    path: str
    fault: str | None      # one of KINDS, or None when forwarded untouched
    upstream_status: int | None = None


class _Closed(Exception):
    """The client closed its connection before sending a whole request."""


class _Reader:
    """Buffered reads of one HTTP request from a raw socket (no makefile: the socket
    must stay closable with an RST)."""

    def __init__(self, sock: socket.socket, stop: threading.Event):
        self.sock = sock
        self.stop = stop
        self.buf = b""

    def _fill(self) -> None:
        while not select.select([self.sock], [], [], 0.05)[0]:
            if self.stop.is_set():
                raise _Closed()  # the proxy is stopping: give up on an idle client
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed()
        self.buf += chunk

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if len(self.buf) > _MAX_HEAD:
                raise _Closed()
            self._fill()
        head, self.buf = self.buf.split(marker, 1)
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def request(self):
        head = self.until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers.append((name.strip(), value.strip()))
        lower = {k.lower(): v for k, v in headers}
        if lower.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in lower.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self.until(b"\r\n").split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.until(b"\r\n")  # (no trailers from our clients)
                    break
                body += self.exactly(size)
                self.exactly(2)
        else:
            body = self.exactly(int(lower.get("content-length") or 0))
        return method, target, headers, body


def _response_bytes(status: int, reason: str, headers: Iterable[tuple[str, str]], body: bytes,
                    content_length: int | None = None) -> tuple[bytes, bytes]:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in HOP_BY_HOP]
    lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN: the peer sees ECONNRESET."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = True  # server_close() joins the handler threads


class FaultProxy(LoopbackServer):
    """A fault-injecting HTTP proxy on ``127.0.0.1`` in front of ``upstream``.

    ``rate`` is the probability that a request is faulted; ``kinds`` picks the
    fault kinds (a sequence, equally likely, or a mapping of weights);
    ``schedule`` forces the fate of given request numbers (0-based; a kind or
    ``None`` for "forward untouched"), whatever the RNG says.  The RNG draws
    the same numbers for every request, scheduled or not, so a given seed
    faults the same requests whatever the schedule does elsewhere.
    """

    def __init__(self, upstream: str | tuple[str, int], *, rate: float = 0.2, seed: int | str | None = 0,
                 kinds: Iterable[str] | Mapping[str, float] = KINDS, stall_seconds: float = 5.0,
                 schedule: Mapping[int, str | None] | None = None, upstream_timeout: float = 120.0,
                 port: int = 0):
        if isinstance(upstream, str):
            parts = urlsplit(upstream)
            if parts.scheme != "http":
                raise ValueError("the fault proxy forwards plain http only")
            upstream = (parts.hostname, parts.port or 80)
        self.upstream = upstream
        self.rate = rate
        weights = dict(kinds) if isinstance(kinds, Mapping) else {k: 1.0 for k in kinds}
        unknown = set(weights) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.kinds = weights
        self.stall_seconds = stall_seconds
        self.schedule = dict(schedule or {})
        self.upstream_timeout = upstream_timeout
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: Faults injected, by kind.
        self.injected: collections.Counter[str] = collections.Counter()
        self.requests = 0
        self.forwarded = 0
        #: Requests the upstream could not answer (answered 502 by the proxy, not counted as injected).
        self.upstream_errors = 0
        self.events: list[Event] = []
        self._server = _Server(("127.0.0.1", port), self._handler_class())

    # -- lifecycle ----------------------------------------------------------------
    def _before_stop(self) -> None:
        self._stop.set()

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())

    def summary(self) -> dict:
        return {"requests": self.requests, "forwarded": self.forwarded,
                "injected": dict(sorted(self.injected.items())), "total_injected": self.total_injected,
                "upstream_errors": self.upstream_errors}

    # -- decisions ----------------------------------------------------------------
    def _decide(self, method: str, path: str) -> Event:
        with self._lock:
            index = self.requests
            self.requests += 1
            draw = self._rng.random()
            names = list(self.kinds)
            pick = self._rng.choices(names, weights=[self.kinds[n] for n in names])[0] if names else None
            fault = pick if draw < self.rate else None
            if index in self.schedule:
                fault = self.schedule[index]
            if fault is not None:
                self.injected[fault] += 1
            event = Event(index, method, path, fault)
            self.events.append(event)
            return event

    # -- one connection -----------------------------------------------------------
    def _handler_class(self) -> type:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                proxy._handle(self.request)

        return Handler

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(max(self.upstream_timeout, self.stall_seconds) + 30)
        try:
            method, target, headers, body = _Reader(sock, self._stop).request()
        except (_Closed, OSError, ValueError):
            return
        event = self._decide(method, target)
        try:
            self._answer(sock, event, method, target, headers, body)
        except OSError:
            pass  # the client went away first: nothing to tell it

    def _answer(self, sock, event: Event, method, target, headers, body) -> None:
        fault = event.fault
        if fault == "reset":
            _reset(sock)
            return
        if fault == "drop":
            sock.close()
            return
        if fault in ("http_502", "http_503", "http_504"):
            status = int(fault[-3:])
            page = f"<html><body><h1>{status} {_REASONS[status]}</h1>injected by faultproxy</body></html>"
            head, payload = _response_bytes(status, _REASONS[status], [("Content-Type", "text/html")],
                                            page.encode())
            sock.sendall(head + payload)
            return
        if fault == "stall":
            self._stall(sock)
            sock.close()
            return
        answer = self._forward(event, method, target, headers, body)
        if answer is None:
            head, payload = _response_bytes(502, "Bad Gateway", [("Content-Type", "text/plain")],
                                            b"faultproxy: the upstream server did not answer")
            sock.sendall(head + payload)
            return
        status, reason, out_headers, payload = answer
        if fault == "lost":
            _reset(sock)
            return
        if fault == "truncate":
            head, _ = _response_bytes(status, reason, out_headers, payload)
            sock.sendall(head + payload[:len(payload) // 2])
            sock.close()
            return
        head, payload = _response_bytes(status, reason, out_headers, payload)
        sock.sendall(head + payload)

    def _stall(self, sock: socket.socket) -> None:
        """Say nothing until ``stall_seconds`` pass, the client hangs up, or the proxy stops."""
        deadline = time.monotonic() + self.stall_seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([sock], [], [], min(left, 0.05))
            if readable:
                try:
                    if not sock.recv(65536):
                        return  # the client timed out and closed
                except OSError:
                    return

    def _forward(self, event: Event, method, target, headers, body):
        host, port = self.upstream
        out = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "host"]
        out.append(("Host", f"{host}:{port}"))
        out.append(("Connection", "close"))
        if body or method in ("POST", "PUT", "PATCH"):
            out.append(("Content-Length", str(len(body))))
        conn = http.client.HTTPConnection(host, port, timeout=self.upstream_timeout)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in out:
                conn.putheader(k, v)
            conn.endheaders(body or None)
            resp = conn.getresponse()
            payload = resp.read()
            answer = resp.status, resp.reason, resp.getheaders(), payload
        except (OSError, http.client.HTTPException):
            with self._lock:
                self.upstream_errors += 1
            return None
        finally:
            conn.close()
        with self._lock:
            self.forwarded += 1
        event.upstream_status = answer[0]
        return answer


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", help="upstream base URL, e.g. http://127.0.0.1:8019")
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with FaultProxy(args.upstream, rate=args.rate, seed=args.seed, kinds=args.kinds.split(","),
                    stall_seconds=args.stall_seconds, port=args.port) as proxy:
        print(f"fault proxy on {proxy.url} -> {args.upstream} (rate {args.rate}, seed {args.seed})",
              flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    print(proxy.summary())


if __name__ == "__main__":  # pragma: no cover
    main()
