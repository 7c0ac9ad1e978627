"""Pull benchmark: ClientCare vs. the raw hand-written loop, odoorpc and the naive script.

Against a live Odoo named by ODOO_URL, ODOO_DB, ODOO_USER, ODOO_PASSWORD (and
ODOO_API_KEY for JSON-2), in one run, alternating contenders, REPEAT times each;
prints medians, records/s and ClientCare / raw ratios, and what ``auto`` picks.

    python benchmarks/pull_bench.py --repeat 5 --page-size 2000

The naive per-record ``read`` loop is sampled (``--naive-sample`` records) and
extrapolated to the full count; the output says so.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import xmlrpc.client

from clientcare.connector.client import OdooClient
from clientcare.connector.pull import PullOptions, Puller
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.schema import TABLES
from clientcare.connector.transports import open_transport

SPEC = TABLES["moves"]


def env_settings(transport: str, page_size: int) -> ConnectionSettings:
    return ConnectionSettings(url=os.environ["ODOO_URL"], db=os.environ["ODOO_DB"],
                              login=os.environ["ODOO_USER"], password=os.environ["ODOO_PASSWORD"],
                              api_key=os.environ.get("ODOO_API_KEY", ""), transport=transport,
                              page_size=page_size, timeout=300)


def clientcare_pull(transport: str, page_size: int) -> int:
    client = OdooClient(env_settings(transport, page_size))
    snap = Puller(client, PullOptions(tables=("moves",))).pull()
    return len(snap.tables["moves"])


def _fields(page_size: int) -> list[str]:
    client = OdooClient(env_settings("xmlrpc", page_size))
    client.load_fields([SPEC.model])
    return client.profile.field_list(SPEC)


def raw_loop(transport: str, page_size: int, fields: list[str]) -> int:
    """The practical limit: keyset pages of search_read with explicit fields, no typing."""
    url, db, user = os.environ["ODOO_URL"], os.environ["ODOO_DB"], os.environ["ODOO_USER"]
    pw, key = os.environ["ODOO_PASSWORD"], os.environ.get("ODOO_API_KEY", "")
    domain = list(SPEC.domain)
    ctx = {"active_test": False}
    n, last = 0, 0
    if transport == "xmlrpc":
        uid = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").authenticate(db, user, pw, {})
        obj = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)
        call = lambda d: obj.execute_kw(db, uid, pw, SPEC.model, "search_read", [],  # noqa: E731
                                        {"domain": d, "fields": fields, "limit": page_size,
                                         "order": "id asc", "context": ctx})
    elif transport == "json2":
        import requests
        s = requests.Session()
        s.headers.update({"Authorization": f"bearer {key}", "X-Odoo-Database": db,
                          "Content-Type": "application/json"})
        call = lambda d: s.post(f"{url}/json/2/{SPEC.model}/search_read", data=json.dumps(  # noqa: E731
            {"domain": d, "fields": fields, "limit": page_size, "order": "id asc",
             "context": ctx})).json()
    else:  # plain JSON-RPC with urllib, no library
        def call(d, _uid=[None]):
            def rpc(service, method, *args):
                body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {
                    "service": service, "method": method, "args": list(args)}}).encode()
                req = urllib.request.Request(f"{url}/jsonrpc", body, {"Content-Type": "application/json"})
                return json.load(urllib.request.urlopen(req))["result"]
            if _uid[0] is None:
                _uid[0] = rpc("common", "authenticate", db, user, pw, {})
            return rpc("object", "execute_kw", db, _uid[0], pw, SPEC.model, "search_read", [],
                       {"domain": d, "fields": fields, "limit": page_size, "order": "id asc",
                        "context": ctx})
    while True:
        page = call(domain + [("id", ">", last)])
        n += len(page)
        if len(page) < page_size:
            return n
        last = page[-1]["id"]


def odoorpc_loop(page_size: int, fields: list[str]) -> int:
    import odoorpc
    from urllib.parse import urlsplit
    parts = urlsplit(os.environ["ODOO_URL"])
    odoo = odoorpc.ODOO(parts.hostname, port=parts.port or 80, timeout=300)
    odoo.login(os.environ["ODOO_DB"], os.environ["ODOO_USER"], os.environ["ODOO_PASSWORD"])
    n, last = 0, 0
    while True:
        page = odoo.execute_kw(SPEC.model, "search_read", [list(SPEC.domain) + [("id", ">", last)]],
                               {"fields": fields, "limit": page_size, "order": "id asc",
                                "context": {"active_test": False}})
        n += len(page)
        if len(page) < page_size:
            return n
        last = page[-1]["id"]


def naive_loop(sample: int, fields: list[str]) -> tuple[int, float]:
    """What weak scripts do: search all ids, then one read per record (sampled)."""
    url, db, user, pw = (os.environ[k] for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"))
    uid = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").authenticate(db, user, pw, {})
    obj = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)
    ids = obj.execute_kw(db, uid, pw, SPEC.model, "search", [list(SPEC.domain)],
                         {"context": {"active_test": False}})
    t0 = time.perf_counter()
    for i in ids[:sample]:
        obj.execute_kw(db, uid, pw, SPEC.model, "read", [[i]], {"fields": fields})
    per_record = (time.perf_counter() - t0) / max(1, min(sample, len(ids)))
    return len(ids), per_record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--page-size", type=int, default=2000)
    ap.add_argument("--naive-sample", type=int, default=200)
    ap.add_argument("--transports", default="xmlrpc,jsonrpc,json2")
    args = ap.parse_args(argv)
    transports = [t for t in args.transports.split(",") if t != "json2" or os.environ.get("ODOO_API_KEY")]
    fields = _fields(args.page_size)
    version = open_transport(env_settings("xmlrpc", args.page_size)).version()["server_version"]
    contenders = {}
    for t in transports:
        contenders[f"clientcare/{t}"] = (lambda t=t: clientcare_pull(t, args.page_size))
        contenders[f"raw/{t}"] = (lambda t=t: raw_loop(t, args.page_size, fields))
    contenders["odoorpc/jsonrpc"] = lambda: odoorpc_loop(args.page_size, fields)
    times = {name: [] for name in contenders}
    counts = {}
    for _ in range(args.repeat):  # alternate contenders inside each repetition
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            counts[name] = fn()
            times[name].append(time.perf_counter() - t0)
    auto = open_transport(env_settings("auto", args.page_size)).name
    total, per_record = naive_loop(args.naive_sample, fields)
    print(f"Odoo {version} at {os.environ['ODOO_URL']} db {os.environ['ODOO_DB']}: "
          f"{SPEC.model} {counts.get('clientcare/xmlrpc')} customer invoices/credit notes, "
          f"{len(fields)} fields, page size {args.page_size}, {args.repeat} repetitions (medians)")
    print(f"{'contender':22} {'median s':>9} {'records/s':>10} {'vs raw':>7}")
    for name, ts in times.items():
        med = statistics.median(ts)
        rate = counts[name] / med if med else float("nan")
        ratio = ""
        if name.startswith("clientcare/"):
            raw = statistics.median(times[name.replace("clientcare/", "raw/")])
            ratio = f"{raw / med:6.2f}x"
        print(f"{name:22} {med:9.3f} {rate:10.0f} {ratio:>7}")
    print(f"{'naive/xmlrpc (sampled)':22} {per_record * total:9.1f} {1 / per_record:10.0f}   "
          f"(extrapolated from {args.naive_sample} one-record reads to {total} records)")
    xml = statistics.median(times["raw/xmlrpc"]) if "raw/xmlrpc" in times else None
    if f"clientcare/{auto}" not in times:
        print(f"auto picked {auto}: not measured (not among --transports, or no ODOO_API_KEY for json2)")
    elif xml:
        print(f"auto picked {auto}: {xml / statistics.median(times[f'clientcare/{auto}']):.2f}x raw XML-RPC")
    return 0


if __name__ == "__main__":
    sys.exit(main())
