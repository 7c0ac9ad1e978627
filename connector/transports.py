"""Transports: one small interface over XML-RPC, JSON-RPC (odoorpc) and JSON-2.

Everything above this module speaks only ``version()``, ``authenticate()`` and
``execute_kw(model, method, args, kwargs)``.  Each transport maps its own
failure shapes into :mod:`clientcare.connector.errors`; the base class adds the
bounded, logged retries of retriable errors and counts every round-trip, which
is how tests and benchmarks check the RPC budget.
"""
from __future__ import annotations

import functools
import http.client
import json
import logging
import random
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.parsers.expat
import xmlrpc.client
from typing import Any, Sequence
from urllib.parse import urljoin, urlsplit

import tenacity

from . import errors as E
from .rows import Rows, json_rows
from .settings import ConnectionSettings

log = logging.getLogger(__name__)

#: Positional parameter names of the ORM methods ClientCare calls, so that one
#: ``execute_kw`` call shape works on JSON-2, which only takes named arguments.
#: ``ids`` is JSON-2's own name for the records a method runs on.
POSITIONAL_NAMES = {
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search": ("domain", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "read": ("ids", "fields"),
    "write": ("ids", "vals"),
    "create": ("vals_list",),
    "unlink": ("ids",),
    "fields_get": ("allfields", "attributes"),
    "read_group": ("domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"),
    "formatted_read_group": ("domain", "groupby", "aggregates", "having", "offset", "limit", "order"),
    "check_access_rights": ("operation", "raise_exception"),
    "has_access": ("ids", "operation"),
    "check_access": ("ids", "operation"),
    "context_get": (),
    "check_object_reference": ("module", "xml_id"),
    "message_post": ("ids",),
    "action_feedback": ("ids", "feedback", "attachment_ids"),
    "action_create_payments": ("ids",),
    "action_post": ("ids",),
    "copy": ("ids", "default"),
}


#: URLs whose disabled TLS verification was already announced in this process.
INSECURE_WARNED: set[str] = set()


def ssl_context(settings: ConnectionSettings) -> ssl.SSLContext | None:
    """Certificate verification on unless explicitly disabled; extra CA bundle if given."""
    if urlsplit(settings.url).scheme != "https":
        return None
    if not settings.verify_tls:
        if settings.url not in INSECURE_WARNED:  # once per process (the CLI says it at start-up)
            INSECURE_WARNED.add(settings.url)
            log.warning("TLS certificate verification is DISABLED for %s: anyone on the path "
                        "can read the credentials", settings.url)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=settings.ca_bundle)


def network_error(exc: BaseException, where: str) -> E.ClientCareError:
    """Map a client-side network failure, whatever library raised it."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    # requests is loaded by JSON-2 only: without it, no exception can be one of its
    rq = getattr(sys.modules.get("requests"), "exceptions", None)
    if isinstance(exc, (ssl.SSLError, *((rq.SSLError,) if rq else ()))):
        return E.ProtocolError(f"{where}: TLS failure ({exc}); use --ca-bundle for a private CA",
                               hint="the server certificate could not be verified")
    if rq and isinstance(exc, rq.ChunkedEncodingError):
        return E.ConnectionFailure(f"{where}: the answer was cut off ({exc})")
    if isinstance(exc, (socket.timeout, TimeoutError, *((rq.Timeout,) if rq else ()))):
        return E.TimeoutFailure(f"{where}: timed out")
    if isinstance(exc, socket.gaierror):
        return E.ConnectionFailure(f"{where}: host name not found ({exc})")
    if isinstance(exc, (ConnectionError, http.client.HTTPException, OSError,
                        *((rq.ConnectionError,) if rq else ()))):
        return E.ConnectionFailure(f"{where}: connection failed ({type(exc).__name__}: {exc})")
    return E.ProtocolError(f"{where}: {type(exc).__name__}: {exc}")


def redirect_error(status: int, where: str, url: str, location: str | None) -> E.ClientCareError:
    """A redirect instead of an answer: never followed (a POST would be re-sent as a GET, the
    credentials to another address), said as what to put in ``url``.  The usual one, http to
    https, is named as such: the failure is the URL's scheme, not TLS."""
    target = urljoin(url + "/", location or "")[:200] if location else ""
    parts = urlsplit(target)
    if urlsplit(url).scheme == "http" and parts.scheme == "https":
        return E.NotOdooError(f"{where}: HTTP {status}: the server redirects to https ({target}): the URL "
                              f"should use https", hint=f"set url to https://{parts.netloc}; "
                                                        f"`clientcare check` tests it")
    return E.NotOdooError(f"{where}: HTTP {status}: the server redirects to {target or 'another address'}",
                          hint=f"set url to the address Odoo answers at without a redirect; {E.NOT_ODOO_HINT}")


def http_status_error(status: int, where: str, body: str = "", url: str = "",
                      location: str | None = None) -> E.ClientCareError:
    """An HTTP error that did not carry an Odoo error body (``location``: a redirect's)."""
    if 300 <= status < 400:
        return redirect_error(status, where, url, location)
    if status in (502, 503, 504):
        return E.ServerUnavailable(f"{where}: HTTP {status} from the server")
    if status == 404:
        return E.NotOdooError(f"{where}: HTTP 404: not Odoo's API at this URL")
    if status in (401, 403):
        return E.AuthenticationError(f"{where}: HTTP {status} {_one_line(body)}".strip())
    return E.ProtocolError(f"{where}: HTTP {status} {_one_line(body)}".strip())


def _one_line(body: str, most: int = 200) -> str:
    """The start of a body quoted in an error line: an HTML page is several lines."""
    return " ".join(str(body or "")[:most].split())


class Transport:
    """Base: retries, call counting and logging around one raw call per request."""

    name = "base"
    #: Whether a user id known from an earlier run may be sent without logging in: each call of
    #: the password transports carries the user id and the secret, which Odoo checks (and caches
    #: per server process), so the login's only use is to learn the id, at the cost of a
    #: 600,000-round password hash.  JSON-2 has no login: its key says who the user is.
    resumable = False

    def __init__(self, settings: ConnectionSettings):
        self.settings = settings
        self.uid: int | None = None
        #: True while the user id comes from an earlier run and no call has confirmed it yet.
        self.resumed = False
        #: Called as ``signed_in(uid, transport name)`` after each login of a resumable transport
        #: (the client keeps it in the state file, see :func:`open_transport`).
        self.signed_in = None
        #: Round-trips made, by ``model.method`` (plus ``common.*``); tests assert on it.
        self.calls: dict[str, int] = {}
        self.retries = 0
        self._server_version: dict | None = None

    # -- public -------------------------------------------------------------
    @property
    def call_count(self) -> int:
        return sum(self.calls.values())

    def version(self) -> dict:
        """Server version info (``server_version_info`` is ``[major, minor, ...]``)."""
        if self._server_version is None:
            info = self._retrying("common.version", self._version)
            if not isinstance(info, dict):  # an answer of the right protocol, but not Odoo's
                raise E.NotOdooError(f"{self._where('common.version')}: the answer is not Odoo's "
                                     f"(version info {type(info).__name__}, not a table)")
            self._server_version = info
        return self._server_version

    def authenticate(self) -> int:
        """Log in; raise :class:`AuthenticationError` naming URL, db and login on refusal."""
        uid = self._retrying("common.authenticate", self._authenticate)
        if not uid:
            raise E.AuthenticationError(
                f"Odoo refused the credentials for {self.settings.describe()}")
        if type(uid) is not int:
            raise E.NotOdooError(f"{self._where('common.authenticate')}: the answer is not Odoo's "
                                 f"(user id {type(uid).__name__}, not an integer)")
        self.uid = uid
        self.resumed = False
        if self.resumable and self.signed_in is not None:
            self.signed_in(uid, self.name)
        return self.uid

    def resume(self, uid: int) -> None:
        """Act as ``uid`` without logging in (``resumable`` transports): the first call checks
        it, and a refused one logs in and is sent again (:meth:`execute_kw`)."""
        self.uid, self.resumed = uid, True

    def execute_kw(self, model: str, method: str, args: list | tuple = (), kwargs: dict | None = None,
                   *, retry: bool = True, rows: Sequence[str] | None = None) -> Any:
        """Call ``model.method(*args, **kwargs)`` on the server.

        ``retry=False`` is for calls that must not be repeated blindly (a
        create whose answer was lost); the write-back decides those itself.
        ``rows``: the answer is a list of records, returned as :class:`~.rows.Rows` of these
        fields, decoded straight into columns where the wire format allows it (JSON).
        """
        if self.uid is None:
            self.authenticate()
        if rows is None:
            fn = lambda: self._execute_kw(model, method, list(args), dict(kwargs or {}))  # noqa: E731
        else:
            fn = lambda: self._execute_rows(model, method, list(args), dict(kwargs or {}), rows)  # noqa: E731
        send = (lambda: self._counted(f"{model}.{method}", fn)) if not retry else \
            (lambda: self._retrying(f"{model}.{method}", fn))
        if not self.resumed:
            return send()
        try:
            result = send()
        except E.AuthenticationError:  # the remembered user id or the secret is no longer good
            log.info("%s: the user id of the last run was refused; logging in", self.settings.describe())
            self.authenticate()
            return send()
        self.resumed = False
        return result

    def close(self) -> None:
        pass

    # -- subclass hooks -----------------------------------------------------
    def _version(self) -> dict:
        raise NotImplementedError

    def _authenticate(self) -> int | bool:
        raise NotImplementedError

    def _execute_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        raise NotImplementedError

    def _execute_rows(self, model: str, method: str, args: list, kwargs: dict, names: Sequence[str]) -> Rows:
        """A list of records as :class:`~.rows.Rows`; a transport that can decode its answer
        straight into columns overrides this."""
        return Rows.of(self._execute_kw(model, method, args, kwargs), names)

    # -- machinery ----------------------------------------------------------
    def _counted(self, label: str, fn):
        """One round-trip, counted, within its :class:`RequestDeadline`."""
        self.calls[label] = self.calls.get(label, 0) + 1
        with RequestDeadline(self.settings.timeout) as deadline:
            try:
                return fn()
            except E.ClientCareError:
                if deadline.expired:  # the cut-off answer failed somehow: the deadline is the cause
                    raise E.TimeoutFailure(f"{self._where(label)}: no full answer within "
                                           f"{self.settings.timeout:g} s (timeout)") from None
                raise

    def _retrying(self, label: str, fn):
        s = self.settings

        def before_sleep(state: tenacity.RetryCallState):
            self.retries += 1
            exc = state.outcome.exception()
            log.warning("retrying %s after %s (attempt %d of %d): %s", label,
                        type(exc).__name__, state.attempt_number, s.retry_attempts, exc)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(s.retry_attempts),
            wait=tenacity.wait_exponential_jitter(multiplier=s.retry_initial_wait, max=s.retry_max_wait),
            retry=tenacity.retry_if_exception_type(E.RetriableError),
            before_sleep=before_sleep,
            reraise=True,
            sleep=_sleep,
        )
        return retrying(self._counted, label, fn)

    def _where(self, what: str) -> str:
        return f"{what} on {self.settings.url}"


def _sleep(seconds: float) -> None:
    """Indirection so tests can make backoff instant."""
    time.sleep(seconds)


# =============================================================================
class RequestDeadline:
    """``timeout`` as a deadline for a whole request (connect, send, the full answer): each
    library's own timeout bounds every socket operation, so a server trickling one byte a
    second within it could hold a run (and its lock) for ever.  The sockets a request uses
    register here (:func:`_watched` connection classes, per thread: the pull's prefetch thread
    has its own); when the deadline passes a timer shuts them down, the library's read fails,
    and :meth:`Transport._counted` reports a :class:`~.errors.TimeoutFailure`."""

    _local = threading.local()

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._outer = getattr(self._local, "current", None)
        self._local.current = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        self._local.current = self._outer

    @classmethod
    def watch(cls, sock) -> None:
        """Put ``sock`` under the current thread's deadline, if a request is under way."""
        current = getattr(cls._local, "current", None)
        if current is None or sock is None:
            return
        with current._lock:
            current._sockets.append(sock)
            if not current.expired:
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


def _watched(conn):
    """``conn`` (an ``http.client`` or ``urllib3`` connection, as the library made it) whose
    socket is put under the request's :class:`RequestDeadline` when it connects and whenever an
    answer is awaited on it (a kept-alive connection serves several requests).  Its methods are
    wrapped on the instance, not by a subclass: the class stays the library's own (or a test
    recorder's stand-in, whose attribute setting is bypassed so its real connection is not
    touched)."""
    if getattr(conn, "_clientcare_watched", False):
        return conn
    connect, getresponse = conn.connect, conn.getresponse

    def watched_connect(*args, **kwargs):
        result = connect(*args, **kwargs)
        RequestDeadline.watch(getattr(conn, "sock", None))
        return result

    def watched_getresponse(*args, **kwargs):
        RequestDeadline.watch(getattr(conn, "sock", None))
        return getresponse(*args, **kwargs)

    for name, value in (("connect", watched_connect), ("getresponse", watched_getresponse),
                        ("_clientcare_watched", True)):
        object.__setattr__(conn, name, value)
    return conn


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(lambda *a, **kw: _watched(http.client.HTTPConnection(*a, **kw)), req)


class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext):
        super().__init__(context=context)
        self._watched_context = context

    def https_open(self, req):
        return self.do_open(lambda *a, **kw: _watched(http.client.HTTPSConnection(*a, **kw)), req,
                            context=self._watched_context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect (a POST re-sent as a GET): it is an error instead
    (:func:`redirect_error`)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _text(value) -> str:
    """A field of an error body as text, whatever its JSON type (null, a list...)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)[:500]


@functools.cache
def _watched_adapter_class():
    """``requests``' adapter class whose pooled connections are :func:`_watched` (made here:
    requests and urllib3 are loaded by JSON-2 only, a run over another transport needs neither)."""
    import requests.adapters
    import urllib3

    class WatchedHTTPPool(urllib3.HTTPConnectionPool):
        def _new_conn(self):
            return _watched(super()._new_conn())

    class WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
        def _new_conn(self):
            return _watched(super()._new_conn())

    class WatchedAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}

    return WatchedAdapter


# =============================================================================
class _XmlRpcTimeoutMixin:
    """Socket timeout, no silent re-send, and a cut-off answer counted as a network failure.

    ``xmlrpc.client`` re-sends a request once by itself after a reset, even when
    the server already ran it; ClientCare decides retries itself (and never
    blindly for creates), so requests are sent exactly once here.
    """

    timeout: float

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return _watched(conn)

    def request(self, host, handler, request_body, verbose=False):
        return self.single_request(host, handler, request_body, verbose)

    def parse_response(self, response):
        try:
            return super().parse_response(response)
        except (xml.parsers.expat.ExpatError, xmlrpc.client.ResponseError):
            if getattr(response, "length", None):  # announced bytes never came
                raise http.client.IncompleteRead(b"", response.length) from None
            raise


class _TimeoutTransport(_XmlRpcTimeoutMixin, xmlrpc.client.Transport):
    def __init__(self, timeout: float, **kw):
        super().__init__(**kw)
        self.timeout = timeout


class _TimeoutSafeTransport(_XmlRpcTimeoutMixin, xmlrpc.client.SafeTransport):
    def __init__(self, timeout: float, **kw):
        super().__init__(**kw)
        self.timeout = timeout


def _plain(value):
    """``value`` with every text a plain ``str``: ``xmlrpc.client`` marshals by exact type, and a
    text may be a ``str`` subclass (a message, :class:`clientcare.rules.i18n.Msg`)."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


class XmlRpcTransport(Transport):
    """Stdlib ``xmlrpc.client`` on ``/xmlrpc/2/common`` and ``/xmlrpc/2/object``."""

    name = "xmlrpc"
    resumable = True

    def __init__(self, settings: ConnectionSettings):
        super().__init__(settings)
        ctx = ssl_context(settings)
        self._proxies = {}
        for service in ("common", "object"):
            if ctx is not None:
                tr = _TimeoutSafeTransport(settings.timeout, context=ctx)
            else:
                tr = _TimeoutTransport(settings.timeout)
            self._proxies[service] = xmlrpc.client.ServerProxy(
                f"{settings.url}/xmlrpc/2/{service}", transport=tr, allow_none=True)

    def _call(self, service: str, method: str, *args):
        where = self._where(f"{service}.{method}" if service == "common" else args[3] + "." + args[4])
        try:
            return getattr(self._proxies[service], method)(*_plain(args))
        except xmlrpc.client.Fault as f:
            raise E.classify_server_error(
                f.faultString, fault_code=f.faultCode, details=f.faultString, where=where) from None
        except xmlrpc.client.ProtocolError as p:
            location = p.headers.get("Location") if p.headers is not None else None
            raise http_status_error(p.errcode, where, p.errmsg, self.settings.url, location) from None
        except xmlrpc.client.ResponseError as r:
            raise E.NotOdooError(f"{where}: the answer is not Odoo's XML-RPC ({r})") from None
        except xml.parsers.expat.ExpatError:  # a whole answer that is not XML: a web page
            raise E.NotOdooError(f"{where}: the answer is not Odoo's XML-RPC (not XML)") from None
        except Exception as exc:  # network family
            if isinstance(exc, E.ClientCareError):
                raise
            raise network_error(exc, where) from None

    def _version(self) -> dict:
        return self._call("common", "version")

    def _authenticate(self):
        s = self.settings
        return self._call("common", "authenticate", s.db, s.login, s.secret, {})

    def _execute_kw(self, model, method, args, kwargs):
        s = self.settings
        return self._call("object", "execute_kw", s.db, self.uid, s.secret, model, method, args, kwargs)

    def close(self):
        for proxy in self._proxies.values():
            proxy("close")()


# =============================================================================
class JsonRpcTransport(Transport):
    """JSON-RPC through odoorpc, using only its ``execute_kw`` (never ``browse``:
    its record proxies fail to marshal Odoo 19 frozendicts)."""

    name = "jsonrpc"
    resumable = True

    def __init__(self, settings: ConnectionSettings):
        super().__init__(settings)
        import odoorpc  # imported here: an optional cost only when this transport is used

        self._odoorpc = odoorpc
        parts = urlsplit(settings.url)
        if parts.path not in ("", "/"):
            raise E.ConfigError(f"url: the jsonrpc transport (odoorpc) cannot use a URL with a path "
                                f"({settings.url}); use xmlrpc or json2")
        handlers = [urllib.request.HTTPCookieProcessor(), _WatchedHTTPHandler(), _NoRedirect()]
        ctx = ssl_context(settings)
        if ctx is not None:
            handlers.append(_WatchedHTTPSHandler(context=ctx))
        self._opener = urllib.request.build_opener(*handlers)
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._protocol = "jsonrpc+ssl" if parts.scheme == "https" else "jsonrpc"
        self._odoo = None

    def _guard(self, where: str, fn):
        rpc_error = self._odoorpc.error.RPCError
        try:
            return fn()
        except rpc_error as exc:
            info = exc.info if isinstance(exc.info, dict) else {}
            data = info.get("data") if isinstance(info.get("data"), dict) else {}
            if not info:  # odoorpc's own "Wrong login ID or password"
                raise E.AuthenticationError(f"{where}: {exc}") from None
            raise E.classify_server_error(
                _text(data.get("message")) or _text(info.get("message")) or str(exc),
                exception_name=_text(data.get("name")), details=_text(data.get("debug")) or None, where=where,
            ) from None
        except urllib.error.HTTPError as exc:
            raise http_status_error(exc.code, where, url=self.settings.url,
                                    location=exc.headers.get("Location") if exc.headers else None) from None
        except (json.JSONDecodeError, ValueError):
            raise E.NotOdooError(f"{where}: the answer is not Odoo's JSON-RPC (not JSON)") from None
        except (AttributeError, KeyError, TypeError, IndexError) as exc:
            # JSON, but not JSON-RPC's shape (a list, no "result" nor "error"): odoorpc indexes it
            raise E.NotOdooError(f"{where}: the answer is not Odoo's JSON-RPC (JSON without its "
                                 f"result or error: {type(exc).__name__})") from None
        except E.ClientCareError:
            raise
        except Exception as exc:
            raise network_error(exc, where) from None

    def _connect(self):
        if self._odoo is None:
            def make():
                return self._odoorpc.ODOO(self._host, protocol=self._protocol, port=self._port,
                                          timeout=self.settings.timeout, opener=self._opener)
            self._odoo = self._guard(self._where("common.version"), make)
        return self._odoo

    def _version(self) -> dict:
        self._connect()
        where = self._where("common.version")
        info = self._json(where, {"service": "common", "method": "version", "args": []})
        if not isinstance(info, dict):
            raise E.NotOdooError(f"{where}: the answer is not Odoo's JSON-RPC (no version info)")
        return info

    def _json(self, where: str, params: dict, rows: Sequence[str] | None = None):
        """One ``/jsonrpc`` round-trip on odoorpc's connection, its answer read here rather than
        by odoorpc (which indexes ``error.data.message`` and ``result`` blindly): an error object
        of any shape is a server error of the tree, JSON of another shape is not Odoo.
        ``rows``: a list of records decoded straight into :class:`~.rows.Rows` of these fields."""
        if rows is None:
            data = self._guard(where, lambda: self._odoo._connector.proxy_json("/jsonrpc", params))
        else:
            body = self._guard(where, lambda: self._post_json(params))
            found = json_rows(body, rows, envelope=True)
            if found is not None:
                return found
            data = self._guard(where, lambda: json.loads(body.decode("utf-8")))
        if isinstance(data, dict) and "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {"message": _text(data["error"])}
            detail = error.get("data") if isinstance(error.get("data"), dict) else {}
            raise E.classify_server_error(
                _text(detail.get("message")) or _text(error.get("message")) or "server error",
                exception_name=_text(detail.get("name")), details=_text(detail.get("debug")) or None,
                where=where)
        if not isinstance(data, dict):
            raise E.NotOdooError(f"{where}: the answer is not Odoo's JSON-RPC (JSON, not an object)")
        result = data.get("result")  # Odoo leaves "result" out when a method returns None
        return result if rows is None else Rows.of(result, rows)

    def _post_json(self, params: dict) -> bytes:
        """The request odoorpc's ``proxy_json`` sends (same opener, cookies and timeout), its
        answer kept as bytes for :func:`~.rows.json_rows`."""
        proxy = self._odoo._connector.proxy_json
        data = {"jsonrpc": "2.0", "method": "call", "params": params, "id": random.randint(0, 1000000000)}
        request = urllib.request.Request(url=proxy._get_full_url("jsonrpc"), data=json.dumps(data).encode("utf-8"))
        request.add_header("Content-Type", "application/json")
        with proxy._opener.open(request, timeout=proxy._timeout) as response:
            return response.read()

    def resume(self, uid: int) -> None:
        self._connect()  # odoorpc's connection, which the calls use
        super().resume(uid)

    def _authenticate(self):
        s = self.settings
        odoo = self._connect()
        try:
            self._guard(self._where("common.login"), lambda: odoo.login(s.db, s.login, s.secret))
        except E.AuthenticationError:
            return False
        return odoo.env.uid

    def _execute_kw(self, model, method, args, kwargs, rows=None):
        s = self.settings  # the body odoorpc's execute_kw sends, answered by :meth:`_json`
        return self._json(self._where(f"{model}.{method}"), {
            "service": "object", "method": "execute_kw",
            "args": [s.db, self.uid, s.secret, model, method, args, kwargs]}, rows)

    def _execute_rows(self, model, method, args, kwargs, names):
        return self._execute_kw(model, method, args, kwargs, names)


# =============================================================================
class Json2Transport(Transport):
    """Odoo 19's JSON-2: ``POST /json/2/<model>/<method>`` with a bearer API key."""

    name = "json2"

    def __init__(self, settings: ConnectionSettings):
        super().__init__(settings)
        key = settings.api_key.reveal()
        try:
            key.encode("latin-1")
        except UnicodeEncodeError:
            raise E.ConfigError("api_key: holds characters an HTTP header cannot carry (an Odoo API "
                                "key is 40 hexadecimal characters): check it was copied whole") from None
        import requests

        self._requests = requests
        self._session = requests.Session()
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, _watched_adapter_class()())
        self._session.headers.update({
            "Authorization": f"bearer {settings.api_key.reveal()}",
            "X-Odoo-Database": settings.db,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "clientcare",
        })
        if settings.url.startswith("https"):
            self._session.verify = settings.requests_verify

    def _post(self, path: str, payload: dict, where: str, rows: Sequence[str] | None = None):
        try:
            resp = self._session.post(f"{self.settings.url}{path}", data=json.dumps(payload),
                                      timeout=self.settings.timeout, allow_redirects=False)
        except self._requests.RequestException as exc:
            raise network_error(exc, where) from None
        if 300 <= resp.status_code < 400:
            raise http_status_error(resp.status_code, where, url=self.settings.url,
                                    location=resp.headers.get("Location"))
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                raise http_status_error(resp.status_code, where, resp.text) from None
            if resp.status_code in (502, 503, 504) or not isinstance(body, dict):
                raise http_status_error(resp.status_code, where, resp.text)
            # an error body of any shape: fields may be missing, null or not text
            raise E.classify_server_error(
                _text(body.get("message")) or f"HTTP {resp.status_code}", exception_name=_text(body.get("name")),
                http_status=resp.status_code, details=_text(body.get("debug")) or None, where=where)
        if rows is not None:
            found = json_rows(resp.content, rows)
            if found is not None:
                return found
        try:
            body = resp.json()
        except ValueError:
            raise E.NotOdooError(f"{where}: the answer is not Odoo's JSON-2 (not JSON, HTTP "
                                 f"{resp.status_code})") from None
        return body if rows is None else Rows.of(body, rows)

    def _version(self) -> dict:
        where = self._where("common.version")
        body = self._post("/web/webclient/version_info",
                          {"jsonrpc": "2.0", "method": "call", "params": {}}, where)
        if not isinstance(body, dict) or "result" not in body:
            raise E.NotOdooError(f"{where}: the answer is not Odoo's (no version info)")
        return body["result"]

    def _authenticate(self):
        try:
            ctx = self._execute_kw("res.users", "context_get", [], {})
        except E.AuthenticationError:
            return False
        if not isinstance(ctx, dict):
            raise E.NotOdooError(f"{self._where('res.users.context_get')}: the answer is not Odoo's "
                                 f"JSON-2 (no user context)")
        return ctx.get("uid")

    def _execute_kw(self, model, method, args, kwargs, rows=None):
        payload = dict(kwargs)
        if args:
            # a method not in the table is taken as a record method: ``ids`` first
            names = POSITIONAL_NAMES.get(method, ("ids",))
            if len(args) > len(names):
                raise E.ConfigError(f"json2 takes named arguments only: pass {model}.{method}'s "
                                    f"arguments after the first as keyword arguments")
            payload.update(zip(names, args))
        return self._post(f"/json/2/{model}/{method}", payload, self._where(f"{model}.{method}"), rows)

    def _execute_rows(self, model, method, args, kwargs, names):
        return self._execute_kw(model, method, args, kwargs, names)

    def close(self):
        self._session.close()


TRANSPORT_CLASSES = {cls.name: cls for cls in (XmlRpcTransport, JsonRpcTransport, Json2Transport)}

#: Measured on a live Odoo 19 (see the connector issue): JSON-2 > JSON-RPC > XML-RPC.
AUTO_PREFERENCE = ("json2", "jsonrpc", "xmlrpc")


def open_transport(settings: ConnectionSettings, known: tuple[int, str] | None = None,
                   signed_in=None) -> Transport:
    """Open and authenticate the configured transport; ``auto`` picks the fastest that works.

    ``auto`` asks the version once, then tries JSON-2 (Odoo 19+ with an API
    key), JSON-RPC, then XML-RPC; a refused credential on one is not retried on
    the others, since the same secret would be refused again.

    ``known``: the user id and transport of the last run's login (same database and login):
    that transport, if resumable, sends it without logging in.  ``signed_in(uid, name)`` is
    called after each login of a resumable transport, to remember it.
    """
    settings.validate()

    def sign_in(transport: Transport) -> None:
        transport.signed_in = signed_in
        if known is not None and transport.resumable and known[1] == transport.name:
            transport.resume(known[0])
        else:
            transport.authenticate()

    if settings.transport != "auto":
        transport = TRANSPORT_CLASSES[settings.transport](settings)
        transport.version()
        sign_in(transport)
        return transport
    probe = XmlRpcTransport(settings)
    info = probe.version()
    major = server_major(info)
    candidates = [n for n in AUTO_PREFERENCE
                  if n != "json2" or (major >= 19 and settings.api_key)]
    last: Exception | None = None
    for name in candidates:
        transport = TRANSPORT_CLASSES[name](settings)
        transport._server_version = info
        transport.calls = dict(probe.calls)
        try:
            sign_in(transport)
        except E.AuthenticationError as exc:
            if name == "json2":  # the key may be scoped or expired: the password may still work
                last = exc
                continue
            raise
        except E.ProtocolError as exc:
            last = exc
            continue
        log.info("auto transport: picked %s for Odoo %s", name, info.get("server_version"))
        return transport
    raise last or E.ProtocolError(f"no transport could reach {settings.url}")


def server_major(info: dict) -> int:
    """Major version from ``version()`` (``saas~18.2`` counts as 18)."""
    vi = info.get("server_version_info") or []
    if isinstance(vi, (list, tuple)) and vi and isinstance(vi[0], int):
        return vi[0]
    text = str(info.get("server_version", "0")).replace("saas~", "")
    try:
        return int(text.split(".")[0])
    except ValueError:
        return 0
