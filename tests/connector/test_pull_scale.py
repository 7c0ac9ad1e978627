"""No request grows with the table: id lists go in chunks of ``page_size``.

A generated invoice table is served by a counting transport (a unit-test double: no cassette
holds thousands of invoices) and pulled in full, then incrementally after every open invoice
was paid; the largest request body of a 3,000-invoice pull must be no larger than that of a
600-invoice pull.  The request shapes themselves are proven on real Odoo by the cassette tests
(for data that fits one chunk they are byte-identical to what those cassettes hold).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from clientcare.connector import cursors
from clientcare.connector.client import OdooClient
from clientcare.connector.pull import PullOptions, Puller
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.transports import Transport
from clientcare.jobs.run_session import open_store

PAGE = 100
FIRST_ID = 100_000  # ids of one width, so body sizes compare across table sizes
NOW = datetime(2026, 11, 20, 8, 0, 0)
MOVE_TYPES = {"name": "char", "move_type": "selection", "state": "selection", "partner_id": "many2one",
              "commercial_partner_id": "many2one", "invoice_user_id": "many2one", "invoice_date": "date",
              "invoice_date_due": "date", "amount_total": "monetary", "amount_residual": "monetary",
              "amount_total_signed": "monetary", "amount_residual_signed": "monetary",
              "currency_id": "many2one", "company_id": "many2one", "company_currency_id": "many2one",
              "payment_state": "selection", "invoice_origin": "char", "create_date": "datetime",
              "write_date": "datetime"}


def matches(record: dict, domain: list) -> bool:
    """Evaluate a prefix-form Odoo domain on a flat record (dotted names are stored flat, a
    many2one compares by its id)."""
    ops = {"in": lambda a, b: a in b, "=": lambda a, b: a == b, ">": lambda a, b: a > b,
           ">=": lambda a, b: a >= b}
    stack = []
    for token in reversed(domain):
        if token in ("&", "|"):
            a, b = stack.pop(), stack.pop()
            stack.append(a and b if token == "&" else a or b)
        else:
            name, op, value = token
            have = record[name]
            stack.append(ops[op](have[0] if isinstance(have, list) else have, value))
    return all(stack)


class GeneratedOdoo(Transport):
    """Serves ``n`` customer invoices (a third of them open) and their receivable lines,
    recording the size of every request body."""

    name = "counting"

    def __init__(self, settings: ConnectionSettings, n: int):
        super().__init__(settings)
        self.bodies: list[tuple[int, str]] = []
        stamp = (NOW - timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
        self.moves = []
        for i in range(n):
            paid = i % 3 != 0
            self.moves.append({
                "id": FIRST_ID + i, "name": f"INV/{i:05d}", "move_type": "out_invoice", "state": "posted",
                "partner_id": [7, "Client"], "commercial_partner_id": [7, "Client"], "invoice_user_id": False,
                "invoice_date": "2026-09-01", "invoice_date_due": "2026-10-01", "amount_total": 100.0,
                "amount_residual": 0.0 if paid else 100.0, "amount_total_signed": 100.0,
                "amount_residual_signed": 0.0 if paid else 100.0, "currency_id": [1, "EUR"],
                "company_id": [1, "Co"], "company_currency_id": [1, "EUR"],
                "payment_state": "paid" if paid else "not_paid", "invoice_origin": False,
                "create_date": stamp, "write_date": stamp})

    def pay_everything_silently(self) -> None:
        """Payment registered without touching ``write_date`` (seen live on some versions)."""
        for m in self.moves:
            m.update(payment_state="paid", amount_residual=0.0, amount_residual_signed=0.0)

    def _version(self) -> dict:
        return {"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0]}

    def _authenticate(self) -> int:
        return 2

    def _execute_kw(self, model, method, args, kwargs):
        self.bodies.append((len(json.dumps([model, method, args, kwargs], default=str)), f"{model}.{method}"))
        if method == "fields_get":
            return {name: {"type": t} for name, t in MOVE_TYPES.items()}
        if model == "res.users":
            return [{"id": 2, "company_ids": [1], "company_id": [1, "Co"]}]
        if model == "account.move":
            rows = [m for m in self.moves if matches(m, kwargs["domain"])]
        elif model == "account.move.line":
            lines = [{"id": m["id"], "move_id": [m["id"], m["name"]], "account_id.account_type":
                      "asset_receivable", "matched_debit_ids": [], "matched_credit_ids": [m["id"]]}
                     for m in self.moves if m["payment_state"] == "paid"]
            rows = [r for r in lines if matches(r, kwargs["domain"])]
        elif model == "account.partial.reconcile":
            return [{"id": i, "max_date": "2026-10-05"} for i in args[0]]
        else:
            raise AssertionError(f"unexpected call {model}.{method}")
        fields = kwargs["fields"]
        return [{"id": r["id"], **{f: r[f] for f in fields}} for r in rows][:kwargs.get("limit")]


def largest_requests(n: int, tmp_path) -> dict[str, int]:
    """Largest request body per call, over a full pull and an incremental one."""
    settings = ConnectionSettings(url="http://generated", db=f"gen{n}", login="admin", password="x",
                                  page_size=PAGE)
    transport = GeneratedOdoo(settings, n)
    state = open_store(tmp_path / f"state{n}.sqlite3")
    client = OdooClient(settings, state, transport)
    options = PullOptions(tables=("moves",))
    first = Puller(client, options).pull(now=NOW)
    cursors.save(state, client.scope, first.cursors)
    assert len(first.tables["moves"]) == n
    transport.pay_everything_silently()
    second = Puller(client, options).pull(previous=first, now=NOW + timedelta(hours=1))
    assert (second.tables["moves"]["payment_state"] == "paid").all()  # the silent payments were seen
    assert len(second.tables["payments"]) == n
    largest: dict[str, int] = {}
    for size, label in transport.bodies:
        largest[label] = max(size, largest.get(label, 0))
    return largest


def test_no_request_body_grows_with_the_number_of_invoices(tmp_path):
    small, large = largest_requests(600, tmp_path), largest_requests(3000, tmp_path)
    assert small.keys() == large.keys()
    grown = {label: (small[label], large[label]) for label in small if large[label] > small[label]}
    assert not grown, f"request bodies grew with the table (600 → 3,000 invoices): {grown}"
    # and a chunk is a real bound: about page_size ids of seven characters, plus the call itself
    assert max(large.values()) < PAGE * 10 + 2000, large
