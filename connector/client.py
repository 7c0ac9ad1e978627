"""The connected, authenticated session on one database that the pull, the write-back and
``check`` share: JSON-safe calls with retries and call counts, keyset pages, chunked id look-ups,
the cached ``fields_get`` and Odoo's domain algebra."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Iterable

import pandas as pd

from . import field_cache, logins
from .rows import Rows
from .schema import ServerProfile, to_frame
from .settings import ConnectionSettings
from .state import StateStore
from .transports import Transport, open_transport

log = logging.getLogger(__name__)

ODOO_DT = "%Y-%m-%d %H:%M:%S"
#: What ClientCare reads of a field: its type (``ServerProfile.has``/``ftype``, the frames' dtypes),
#: and its allowed values only on the models where a choice depends on them (account.move's
#: ``payment_state`` has "blocked" from Odoo 18): every field's labels and selections (res.users'
#: time zones and languages alone ~180 kB) were most of a full pull's traffic.
FIELD_ATTRIBUTES = ["type"]
FIELD_ATTRIBUTES_OF = {"account.move": ["type", "selection"]}
#: Rows typed together by :meth:`OdooClient.search_read_frame` (measured: typing 2,000-row pages
#: one by one costs a third more than 20,000 rows at once).
TYPED_BATCH = 20_000


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def normalize(domain: list | tuple) -> list:
    """Explicit prefix form of a domain (Odoo's own algorithm: implicit ANDs made explicit)."""
    result: list = []
    expected = 1
    for token in domain:
        if expected == 0:
            result.insert(0, "&")
            expected = 1
        if token in ("&", "|"):
            expected += 1
        elif token != "!":
            expected -= 1
        result.append(token)
    return result


def domain_and(*domains) -> list:
    parts = [normalize(d) for d in domains if d]
    return ["&"] * (len(parts) - 1) + [x for p in parts for x in p]


def domain_or(*domains) -> list:
    """OR of leaf-only domains; an empty operand means "everything" and wins."""
    if any(not d for d in domains):
        return []
    parts = [normalize(d) for d in domains]
    return ["|"] * (len(parts) - 1) + [x for p in parts for x in p]



class OdooClient:
    """A connected, authenticated session on one database, with its server profile."""

    def __init__(self, settings: ConnectionSettings, state: StateStore | None = None,
                 transport: Transport | None = None):
        self.settings = settings.validate()
        self.state = state
        self.scope = f"{settings.url}|{settings.db}"
        self.transport = transport or open_transport(settings, **self._remembered_login())
        self.profile = ServerProfile(self.transport.version())
        self._company_ids: list[int] | None = None
        #: Called as ``progress(model, records_so_far)`` after each page (the CLI shows it on a terminal).
        self.progress = None

    def _remembered_login(self) -> dict:
        """The last run's login from the state file, and the way to remember a new one: a
        JSON-RPC or XML-RPC run that knows its user id needs no login (no password hash)."""
        if self.state is None:
            return {}
        login = self.settings.login
        known = logins.load(self.state, self.scope, login)

        def signed_in(uid: int, transport: str) -> None:
            if (uid, transport) != known:
                logins.save(self.state, self.scope, login, uid, transport)
        return {"known": known, "signed_in": signed_in}

    # -- context ----------------------------------------------------------------
    @property
    def company_ids(self) -> list[int]:
        """Every company the user may access: pulls see all of them (multi-company)."""
        if self._company_ids is None:
            rows = self.transport.execute_kw("res.users", "read", [[self.transport.uid]],
                                             {"fields": ["company_ids", "company_id"]})
            ids = rows[0]["company_ids"] if rows else []
            self._company_ids = sorted(ids) or ([rows[0]["company_id"][0]] if rows else [])
        return self._company_ids

    def context(self, **extra) -> dict:
        ctx = {"allowed_company_ids": self.company_ids, "active_test": False, "lang": "en_US"}
        ctx.update(extra)
        return ctx

    def call(self, model: str, method: str, args: list | tuple = (), kwargs: dict | None = None, **kw):
        kwargs = dict(kwargs or {})
        kwargs.setdefault("context", self.context())
        return self.transport.execute_kw(model, method, args, kwargs, **kw)

    # -- metadata ---------------------------------------------------------------
    def load_fields(self, models: Iterable[str], refresh: bool = False) -> None:
        """``fields_get`` once per model; cached per server version between runs."""
        for model in dict.fromkeys(models):
            if model in self.profile.fields and not refresh:
                continue
            cached = None
            if self.state is not None and not refresh:
                cached = field_cache.load(self.state, self.scope, self.profile.version, model)
            if cached is None:
                attributes = FIELD_ATTRIBUTES_OF.get(model, FIELD_ATTRIBUTES)
                cached = self.call(model, "fields_get", [], {"attributes": attributes})
                if self.state is not None:
                    field_cache.save(self.state, self.scope, self.profile.version, model, cached,
                                     utcnow().isoformat())
            self.profile.fields[model] = cached

    # -- reading ----------------------------------------------------------------
    def search_read_all(self, model: str, domain: list, fields: list[str], page_size: int | None = None,
                        most: int | None = None) -> list[dict]:
        """All matching records, keyset-paged by id, with an explicit field list; ``most``: the
        domain cannot match more (a list of ids), so a full page needs no follow-up call."""
        if not fields:
            raise ValueError("an explicit field list is required")
        page_size = page_size or self.settings.page_size
        out: list[dict] = []
        last_id = 0
        while True:
            page = self._page(model, domain, fields, page_size, last_id)
            out.extend(page)
            if self.progress is not None:
                self.progress(model, len(out))
            if len(page) < page_size or (most is not None and len(out) >= most):
                return out
            last_id = page[-1]["id"]

    def _page(self, model: str, domain: list, fields: list[str], size: int, last_id: int,
              rows: bool = False) -> list[dict] | Rows:
        """One keyset page: the next ``size`` records after ``last_id``, by id (``rows``: as
        columns, decoded without a dict per record where the transport can)."""
        kwargs = {"domain": domain_and(domain, [("id", ">", last_id)]),
                  "fields": fields, "limit": size, "order": "id asc"}
        if not rows:
            return self.call(model, "search_read", [], kwargs)
        return Rows.of(self.call(model, "search_read", [], kwargs, rows=fields), fields)

    def pages(self, model: str, domain: list, fields: list[str]):
        """The keyset pages of ``search_read`` as :class:`Rows`, page n+1 already on the wire
        while the caller converts page n (one request in flight at a time; none after a short
        page)."""
        size = self.settings.page_size
        pool = ThreadPoolExecutor(1, thread_name_prefix="clientcare-page")
        try:
            pending = pool.submit(self._page, model, domain, fields, size, 0, True)
            while True:
                page = pending.result()
                more = len(page) >= size
                if more:
                    pending = pool.submit(self._page, model, domain, fields, size, page.last_id, True)
                yield page
                if not more:
                    break
        except (Exception, GeneratorExit):
            pool.shutdown(wait=True)
            raise
        except BaseException:  # an interrupt (Ctrl-C, SIGTERM): the page on the wire is not waited for
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def search_read_frame(self, model: str, domain: list, fields: list[str], types: dict[str, str]
                          ) -> pd.DataFrame:
        """All matching records as a typed frame, typed as the pages arrive, a batch of pages
        (``TYPED_BATCH`` rows) at a time: the raw values of one batch are kept, never the whole
        table's, and typing's fixed cost per column is paid once per batch, not per page."""
        chunks: list[pd.DataFrame] = []
        batch: list[Rows] = []
        count = 0
        for page in self.pages(model, domain, fields):
            batch.append(page)
            count += len(page)
            if sum(map(len, batch)) >= TYPED_BATCH:
                chunks.append(to_frame(Rows.concat(batch), types))
                batch = []
            if self.progress is not None:
                self.progress(model, count)
        if batch or not chunks:
            chunks.append(to_frame(Rows.concat(batch), types))
        return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)

    def search_read_in(self, model: str, field: str, ids: Iterable[int], fields: list[str],
                       domain: list | tuple = ()) -> list[dict]:
        """Records whose ``field`` is one of ``ids`` (and match ``domain``), the ids sent in
        chunks of ``page_size``: no request grows with the table (a list of ids inside a paged
        domain would be sent again with every page)."""
        ids = list(dict.fromkeys(int(i) for i in ids))
        size = self.settings.page_size
        out: list[dict] = []
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            out.extend(self.search_read_all(model, [(field, "in", chunk), *domain], fields,
                                            most=len(chunk) if field == "id" else None))
        return out

    def read_ids(self, model: str, ids: Iterable[int], fields: list[str]) -> list[dict]:
        """``read`` in chunks of ``page_size`` ids (never one call per record)."""
        ids = sorted(set(int(i) for i in ids))
        out: list[dict] = []
        size = self.settings.page_size
        for start in range(0, len(ids), size):
            out.extend(self.call(model, "read", [ids[start:start + size]], {"fields": fields}))
        return out

    def commercial_partners_named(self, text: str, limit: int = 1) -> list[int]:
        """Ids of up to ``limit`` commercial partners (companies, and contacts of no company;
        archived ones too) whose name holds ``text``, case-insensitively: one small request
        that tells a mistyped ``--client`` before a whole pull.  Odoo's ``ilike`` takes ``%``
        and ``_`` as wildcards; they are escaped here, so they mean themselves (as they do in
        the snapshot's own name match)."""
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        domain = domain_and(["|", ("is_company", "=", True), ("parent_id", "=", False)],
                            [("name", "ilike", pattern)])
        return self.call("res.partner", "search", [], {"domain": domain, "limit": limit})

    def search_ids(self, model: str, domain: list) -> list[int]:
        return self.call(model, "search", [], {"domain": domain, "order": "id asc"})
