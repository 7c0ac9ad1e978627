"""A first sync and three no-change syncs on a live, populated Odoo, per transport, each timed as
a whole process, with the server's share read from the Odoo log.

    flock /work/odoo/record.lock sh -c '/work/odoo/reset.sh 19big &&
        python benchmarks/live_sync.py --odoo-log /work/odoo/log19big.txt; /work/odoo/reset.sh 19big'

It writes activities (the first sync of each transport applies its plan): only on a copy of
your own, reset before and after.  The database is named by ``CLIENTCARE_URL``, ``CLIENTCARE_DB``,
``CLIENTCARE_LOGIN`` with ``CLIENTCARE_API_KEY`` (json2) and ``CLIENTCARE_PASSWORD`` (jsonrpc,
xmlrpc; the key when no password is given), else by the test servers' ``ODOO_URL``, ``ODOO_DB``,
``ODOO_BOT_USER``, ``ODOO_BOT_API_KEY``, ``ODOO_BOT_PASSWORD`` (``source /work/odoo/env19big.sh``).

Each transport starts from a fresh state file: ``sync`` (the first, applied), then ``--no-change``
more.  Per run: the process's wall and CPU seconds (``clientcare sync --json`` in a fresh
process, as cron runs it), its RPC calls (the run summary), and from the Odoo log (``--odoo-log``,
werkzeug's request lines, which end with the request's query count, SQL seconds and other
seconds on Odoo 16+) the requests of that transport's endpoints logged during the run, their
server seconds (SQL + the rest) and queries.  Requests of other clients on the same endpoints in
the same seconds count too (the log does not tell clients apart): a run whose log holds more
requests than it sent says so.  The load
average at the start of each run is printed beside it (the machine may be shared).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The URL paths each transport's requests use (auto's probe is XML-RPC's ``common.version``).
ENDPOINTS = {"json2": ("/json/2/", "/web/webclient/version_info"),
             "jsonrpc": ("/jsonrpc", "/web/webclient/version_info"),
             "xmlrpc": ("/xmlrpc/2/",)}
#: werkzeug's request line as Odoo 16+ logs it: "POST /path HTTP/1.1" status size queries sql_s other_s
REQUEST = re.compile(r'werkzeug: \S+ - - \[[^\]]*\] "(\w+) (\S+) [^"]*" (\d{3}) \S+ (\d+) ([\d.]+) ([\d.]+)')
GOALS = {"json2": 1.0, "jsonrpc": 1.5}


def connection_env(transport: str) -> dict[str, str]:
    """The environment of one ``clientcare`` run on ``transport``: the profile from
    ``CLIENTCARE_*``, else the test server's bot, and nothing else of ClientCare's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTCARE_")}
    get = os.environ.get
    env.update(CLIENTCARE_URL=get("CLIENTCARE_URL") or get("ODOO_URL", ""),
               CLIENTCARE_DB=get("CLIENTCARE_DB") or get("ODOO_DB", ""),
               CLIENTCARE_LOGIN=get("CLIENTCARE_LOGIN") or get("ODOO_BOT_USER", ""),
               CLIENTCARE_TRANSPORT=transport, CLIENTCARE_CONFIG=os.devnull)
    key = get("CLIENTCARE_API_KEY") or get("ODOO_BOT_API_KEY", "")
    password = get("CLIENTCARE_PASSWORD") or get("ODOO_BOT_PASSWORD", "")
    if transport == "json2":
        env["CLIENTCARE_API_KEY"] = key
    else:
        env["CLIENTCARE_PASSWORD"] = password or key
    missing = [k for k in ("CLIENTCARE_URL", "CLIENTCARE_DB", "CLIENTCARE_LOGIN") if not env[k]]
    if missing:
        sys.exit(f"no {', '.join(missing)} (nor the ODOO_* of the test servers) in the environment")
    return env


def server_share(log: Path | None, offset: int, transport: str) -> dict:
    """Requests of ``transport``'s endpoints the Odoo log gained after ``offset``: count, server
    seconds (SQL + the rest), SQL seconds, queries."""
    if log is None:
        return {}
    with open(log, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", "replace")
    out = {"requests": 0, "server_s": 0.0, "sql_s": 0.0, "queries": 0}
    for method, path, _status, queries, sql_s, other_s in REQUEST.findall(text):
        if path.startswith(ENDPOINTS[transport]):
            out["requests"] += 1
            out["queries"] += int(queries)
            out["sql_s"] += float(sql_s)
            out["server_s"] += float(sql_s) + float(other_s)
    return out


def one_sync(exe: str, state: Path, env: dict, log: Path | None, transport: str) -> dict:
    """One ``clientcare sync --json`` as a fresh process: wall and CPU seconds, its summary, and
    its share of the Odoo log."""
    offset = log.stat().st_size if log is not None else 0
    load = os.getloadavg()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        pid = os.posix_spawn(exe, [exe, "sync", "--json", "--state", str(state)], env, file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
        time.sleep(0.2)  # the last request's log line is written as its answer is sent
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    try:
        summary = json.loads(stdout)
    except ValueError:
        sys.exit(f"sync printed no summary (exit {os.waitstatus_to_exitcode(status)}): {stderr.strip()[-800:]}")
    calls = summary.get("rpc_calls") or 0
    if transport == "jsonrpc":  # odoorpc's own requests: the version as it connects, context_get after a login
        calls_http = calls + 1 + (summary.get("rpc_by_method") or {}).get("common.authenticate", 0)
    else:
        calls_http = calls
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "exit": os.waitstatus_to_exitcode(status),
            "calls": calls, "http_requests": calls_http, "duration_s": summary.get("duration_s"),
            "applied": summary.get("applied") or {}, "load": load, **server_share(log, offset, transport)}


def measure(transport: str, no_change: int, log: Path | None) -> list[dict]:
    exe = str(Path(sys.executable).with_name("clientcare"))
    env = connection_env(transport)
    with tempfile.TemporaryDirectory(prefix=f"clientcare-live-{transport}-") as tmp:
        state = Path(tmp) / "state.sqlite3"
        runs = [dict(one_sync(exe, state, env, log, transport), run="first sync (applied)")]
        for n in range(1, no_change + 1):
            runs.append(dict(one_sync(exe, state, env, log, transport), run=f"no-change sync {n}"))
    return runs


def print_table(results: dict[str, list[dict]]) -> None:
    print(f"{'transport':9} {'run':21} {'wall s':>6} {'CPU s':>6} {'server s':>8} {'SQL s':>6} {'queries':>7} "
          f"{'requests':>8} {'calls':>5} {'exit':>4}  {'load 1/5/15 min':16} goal")
    for transport, runs in results.items():
        for r in runs:
            server = (f"{r['server_s']:8.3f} {r['sql_s']:6.3f} {r['queries']:7d} {r['requests']:8d}"
                      if "server_s" in r else f"{'-':>8} {'-':>6} {'-':>7} {'-':>8}")
            goal = f"log holds {r['requests'] - r['http_requests']} other client(s)' requests; " \
                if r.get("requests", 0) > r["http_requests"] else ""
            if r["run"].startswith("no-change") and transport in GOALS:
                goal += f"< {GOALS[transport]} s wall: {'met' if r['wall_s'] < GOALS[transport] else 'missed'}"
            elif r["applied"]:
                goal += "applied: " + ", ".join(f"{k} {v}" for k, v in sorted(r["applied"].items()))
            print(f"{transport:9} {r['run']:21} {r['wall_s']:6.2f} {r['cpu_s']:6.2f} {server} {r['calls']!s:>5} "
                  f"{r['exit']:4d}  {' '.join(f'{x:.2f}' for x in r['load']):16} {goal}", flush=True)
    print("server s: the logged requests' time in Odoo (SQL + the rest); wall - server: the client's share "
          "and the network's, roughly (one page is prefetched while the last is typed)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transports", default="json2,jsonrpc", help="comma-separated (json2, jsonrpc, xmlrpc, auto)")
    ap.add_argument("--no-change", type=int, default=3, help="no-change syncs after the first (default 3)")
    ap.add_argument("--odoo-log", type=Path, help="the server's log file (its werkzeug request lines)")
    ap.add_argument("--json", action="store_true", help="print the runs as JSON, not a table")
    args = ap.parse_args(argv)
    if args.odoo_log is not None and not args.odoo_log.is_file():
        sys.exit(f"no Odoo log at {args.odoo_log}")
    ENDPOINTS["auto"] = tuple({p for v in ENDPOINTS.values() for p in v})
    results = {t: measure(t, args.no_change, args.odoo_log) for t in args.transports.split(",")}
    if args.json:
        print(json.dumps(results))
    else:
        print_table(results)
    return 0 if all(r["exit"] == 0 for runs in results.values() for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
