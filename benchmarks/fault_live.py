"""Live fault injection: full pulls from a real Odoo through the fault proxy, each checked
against a fault-free pull made right after it.

Against the live Odoo named by ODOO_URL, ODOO_DB, ODOO_USER, ODOO_PASSWORD (and
ODOO_API_KEY for JSON-2).  Read-only: it only pulls.  Not run in CI (the
offline equivalent is tests/test_fault_injection.py).

    python benchmarks/fault_live.py --runs 10 --rate 0.2 --seed 1

Each run: a fault proxy (tests/faultproxy.py) in front of ODOO_URL faults
``--rate`` of the requests (seeded per run), ClientCare pulls through it with
``--attempts`` retries and ``--timeout``; then a direct pull; the snapshots'
tables must be equal.  Transports rotate (``--transports``).  Prints one line
per run and the totals: runs, runs that failed, mismatches, faults injected by
kind, ClientCare retries.  ``--json`` prints the totals as JSON too.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

import pandas as pd

from clientcare.connector.client import OdooClient
from clientcare.connector.pull import PullOptions, Puller
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector import errors as E
from clientcare.connector.client import utcnow
from clientcare.connector.schema import TABLES
from clientcare.connector.transports import server_major

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from faultproxy import KINDS, FaultProxy  # noqa: E402


def env_settings(transport: str, timeout: float, attempts: int) -> ConnectionSettings:
    missing = [v for v in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD") if not os.environ.get(v)]
    if missing:
        sys.exit(f"set {', '.join(missing)} (and ODOO_API_KEY for json2)")
    return ConnectionSettings(url=os.environ["ODOO_URL"], db=os.environ["ODOO_DB"],
                              login=os.environ["ODOO_USER"], password=os.environ["ODOO_PASSWORD"],
                              api_key=os.environ.get("ODOO_API_KEY", ""), transport=transport,
                              timeout=timeout, retry_attempts=attempts)


def pull(settings: ConnectionSettings, options: PullOptions, now):
    client = OdooClient(settings)
    try:
        return client, Puller(client, options).pull(now=now)
    finally:
        client.transport.close()


def differences(expected, got) -> list[str]:
    out = []
    if sorted(expected.tables) != sorted(got.tables):
        out.append(f"tables {sorted(expected.tables)} != {sorted(got.tables)}")
    for name in sorted(set(expected.tables) & set(got.tables)):
        try:
            pd.testing.assert_frame_equal(got.tables[name], expected.tables[name], obj=name)
        except AssertionError as exc:
            out.append(str(exc).splitlines()[0])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1, help="run i uses seed SEED+i")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"fault kinds (default: all of {','.join(KINDS)})")
    ap.add_argument("--transports", default="auto-all",
                    help="comma-separated transports to rotate through (default: every one the server has)")
    ap.add_argument("--timeout", type=float, default=5.0, help="client timeout; a stall lasts longer")
    ap.add_argument("--attempts", type=int, default=8)
    ap.add_argument("--tables", default="", help="comma-separated tables (default: all)")
    ap.add_argument("--json", action="store_true", help="also print the totals as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every retry")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")

    probe = OdooClient(env_settings("xmlrpc", args.timeout, args.attempts))
    major = server_major(probe.transport.version())
    if args.transports == "auto-all":
        transports = ["xmlrpc", "jsonrpc"] + (["json2"] if major >= 19 and os.environ.get("ODOO_API_KEY") else [])
    else:
        transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    options = PullOptions(tables=tuple(t.strip() for t in args.tables.split(",") if t.strip()) or tuple(TABLES))
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    print(f"Odoo {probe.profile.version} at {os.environ['ODOO_URL']} db {os.environ['ODOO_DB']}: "
          f"{args.runs} runs, {args.rate:.0%} faults ({','.join(kinds)}), timeout {args.timeout}s, "
          f"{args.attempts} attempts, transports {','.join(transports)}", flush=True)

    totals = collections.Counter()
    injected = collections.Counter()
    failures: list[str] = []
    started = time.monotonic()
    for i in range(args.runs):
        transport = transports[i % len(transports)]
        settings = env_settings(transport, args.timeout, args.attempts)
        now = utcnow()
        t0 = time.monotonic()
        with FaultProxy(settings.url, rate=args.rate, seed=args.seed + i, kinds=kinds,
                        stall_seconds=args.timeout + 2) as proxy:
            try:
                client, faulted = pull(dataclasses.replace(settings, url=proxy.url), options, now)
                error = None
            except E.ClientCareError as exc:
                client, faulted, error = None, None, exc
        seconds = time.monotonic() - t0
        injected.update(proxy.injected)
        totals["runs"] += 1
        totals["requests"] += proxy.requests
        faults = " ".join(f"{k}={n}" for k, n in sorted(proxy.injected.items())) or "none"
        if error is not None:
            totals["failed"] += 1
            last = proxy.events[-1].fault if proxy.events else None
            failures.append(f"run {i} ({transport}): {type(error).__name__}: {error} [last request: {last}]")
            print(f"run {i:3} {transport:8} FAILED {type(error).__name__} after {proxy.requests} requests, "
                  f"faults {faults} ({seconds:.1f}s): {error}", flush=True)
            continue
        retries = client.transport.retries
        totals["retries"] += retries
        _, reference = pull(settings, options, now)
        diff = differences(reference, faulted)
        if diff:
            totals["mismatches"] += 1
            failures.append(f"run {i} ({transport}): mismatch: {'; '.join(diff)[:300]}")
        rows = sum(len(f) for f in faulted.tables.values())
        print(f"run {i:3} {transport:8} {'MISMATCH' if diff else 'same'} {rows} rows, "
              f"{proxy.requests} requests, faults {faults}, retries {retries} ({seconds:.1f}s)", flush=True)

    summary = {
        "server": f"Odoo {probe.profile.version}", "runs": totals["runs"], "failed": totals["failed"],
        "mismatches": totals["mismatches"], "requests": totals["requests"],
        "faults_injected": sum(injected.values()), "faults_by_kind": dict(sorted(injected.items())),
        "retries": totals["retries"], "seconds": round(time.monotonic() - started, 1),
        "rate": args.rate, "seed": args.seed, "timeout": args.timeout, "attempts": args.attempts,
        "transports": transports,
    }
    print(f"\nruns {summary['runs']}, failed {summary['failed']}, mismatches {summary['mismatches']}, "
          f"requests {summary['requests']}, faults injected {summary['faults_injected']} "
          f"({', '.join(f'{k} {n}' for k, n in summary['faults_by_kind'].items())}), "
          f"ClientCare retries {summary['retries']}, {summary['seconds']}s")
    for line in failures:
        print("  " + line)
    if args.json:
        print(json.dumps(summary))
    return 1 if totals["failed"] or totals["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
