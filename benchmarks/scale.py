"""Every row of the scale goals (issue 24's table), beside its goal, each section run ``--repeat``
times (default 2) in a fresh process, every run's figure shown with the load average at its start.

    python benchmarks/scale.py [--invoices 1000000] [--clients 100000] [--tasks 200000]
                               [--only SECTION,...] [--repeat 2] [--live-sync]

Offline sections (generated data, never saved): rules + routing (wall, CPU, peak memory), the
plan of a no-change sync, the JSON, text and HTML reports, rows → frames (a million invoice rows
served as JSON-2 pages by a local server in another process: this process's CPU is the decoding,
the typing and the frames).  With ``ODOO_URL``/``ODOO_DB``/``ODOO_USER``/``ODOO_PASSWORD``
(+ ``ODOO_API_KEY``) set, the pull against a raw loop per transport (``pull_bench.py``, ≥ 3 pages:
``--page-size``); with ``--live-sync``, the no-change syncs of ``live_sync.py`` (json2, jsonrpc;
it writes activities: only on a copy of your own, reset before and after).  CPU seconds are the
process's own; the machine may be shared, so wall times move with its load.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECTIONS = ("rules", "plan", "reports", "frames", "pull", "live")


class Peak:
    """Peak growth of the resident set while a block runs (sampled every 5 ms), in MiB."""

    def __enter__(self):
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        self.grew = self.peak - self.base


def _rss() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(fn):
    """(result, wall s, CPU s, peak RSS growth MiB) of ``fn()``."""
    gc.collect()
    with Peak() as peak:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return out, wall, cpu, peak.grew


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- generated data ---------------------------------------------------------------
def rules_result(args):
    sys.path.insert(0, str(HERE))
    import rules_bench
    from clientcare.rules import load_rules, run_rules

    snap = rules_bench.generate(args.invoices, args.clients, args.tasks)
    registry = load_rules()
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    for view in ("contacts", "invoices", "clients", "tasks"):  # the snapshot's shared views
        getattr(snap, view)
    result = run_rules(snap, rules_bench.AS_OF, {"follow_up": {"fix_projects": list(range(1, 200))}},
                       {"default_user_id": 2}, registry=registry)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert not result.errors, result.errors
    return snap, rules_bench.AS_OF, registry, result, wall, cpu


def section_rules(args) -> dict:
    _, _, _, result, wall, cpu = rules_result(args)
    return {f"rules + routing, {args.invoices:,} invoices / {args.clients:,} clients": (
        f"{wall:.1f} s wall, {cpu:.1f} s CPU, {len(result.findings):,} findings, "
        f"peak {max_rss_mib() / 1024:.2f} GiB (generation included)", "< 2 s wall, < 1.5 GiB")}


class PlanClient:
    """The few client calls a write-back plan makes, answered from memory (the server's time
    is not ClientCare's): open ClientCare activities as Odoo would return them."""

    scope = "bench|db"

    def __init__(self):
        from types import SimpleNamespace
        self.activities: list[dict] = []
        self.profile = SimpleNamespace(major=19, has=lambda model, field: field == "active")

    def load_fields(self, models):
        pass

    def context(self, **extra):
        return dict(extra)

    def call(self, model, method, args=(), kwargs=None, **kw):
        assert method == "check_object_reference", method
        return [model, 1 + sum(map(ord, args[1])) % 50]

    def search_read_all(self, model, domain, fields, **kw):
        return [{k: a[k] for k in ("id", *fields)} for a in self.activities] if model == "mail.activity" else []


def section_plan(args) -> dict:
    from clientcare.jobs.run_session import open_store
    from clientcare.jobs.writeback import WriteBack

    _, as_of, _, result, _, _ = rules_result(args)
    client = PlanClient()
    tmp = tempfile.TemporaryDirectory()
    state = open_store(Path(tmp.name) / "state.sqlite3")
    # no ramp (0): every finding's activity is created, so the measured run changes nothing
    first_run = WriteBack(client, state, "run1", max_creations=10**9, as_of=as_of, max_new_per_person_per_day=0)
    created = first_run.plan(result.findings).of("create")
    for n, it in enumerate(created, 1):  # as if applied: in Odoo and in the ledger
        it.odoo_id = n
    first_run._ledger(created, "open")
    client.activities = [{"id": it.odoo_id, "res_model": it.res_model, "res_id": it.res_id,
                          "user_id": it.vals["user_id"], "date_deadline": it.vals["date_deadline"],
                          "summary": it.vals["summary"], "note": it.vals["note"],
                          "activity_type_id": it.vals.get("activity_type_id")} for it in created]
    plan, wall, cpu, _ = timed(lambda: WriteBack(client, state, "run2", as_of=as_of,
                                                 max_new_per_person_per_day=0).plan(result.findings))
    changes = len(plan.items) - len(plan.of("leave"))
    return {"plan, no-change sync": (f"{wall:.2f} s wall, {cpu:.2f} s CPU, {len(client.activities):,} open "
                                     f"activities, {changes} change(s)", "< 0.3 s")}


def render(fmt: str, result, snap, as_of, registry):
    """The audit in one format, as ``clientcare audit`` renders it (JSON: its pieces)."""
    from clientcare.jobs import report

    meta = dict(snap.meta, as_of=as_of.isoformat())
    if fmt == "html":
        charts = {name: rule.charts for name, rule in registry.rules.items() if rule.charts}
        return report.render_html(result.findings, snap, as_of, meta, result.not_raised, None, charts)
    if fmt == "json":
        return report.json_chunks(result.findings, meta, result.not_raised, result.not_judged)
    return report.render_text(report.findings_frame(result.findings, snap, as_of),
                              report.not_raised_frame(result.not_raised, snap), as_of)


def section_reports(args) -> dict:
    snap, as_of, registry, result, _, _ = rules_result(args)
    goals = {"html": "< 2 s", "text": "< 1 s", "json": "< 2 s"}
    out = {}
    for fmt in ("json", "text", "html"):
        with tempfile.TemporaryDirectory() as tmp:
            def write(path=Path(tmp) / f"audit.{fmt}"):  # as `audit -o FILE` writes it
                text = render(fmt, result, snap, as_of, registry)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.writelines([text] if isinstance(text, str) else text)
                return path.stat().st_size
            size, wall, cpu, grew = timed(write)
        out[f"{fmt} report, {len(result.findings):,} findings"] = (
            f"{wall:.1f} s wall, {cpu:.1f} s CPU, {size / 1e6:.1f} MB, +{grew:,.0f} MiB peak", goals[fmt])
    return out


# -- rows -> frames through the pull, decoding included -----------------------------------
class InvoicePages:
    """Answers as Odoo's would to a pull of ``n`` customer invoices: ``search_read`` pages of
    ``account.move`` built when asked (nothing else is found)."""

    def __init__(self, n: int):
        self.n = n

    def answer(self, model: str, method: str, kwargs: dict):
        if method == "fields_get":
            sys.path.insert(0, str(HERE.parent / "tests" / "connector"))
            from test_pull_scale import MOVE_TYPES  # the invoice fields and their Odoo types
            return {f: {"type": t, "selection": [["blocked", "Blocked"]] if f == "payment_state" else []}
                    for f, t in MOVE_TYPES.items()} if model == "account.move" else {}
        if method == "context_get":
            return {"uid": 2, "lang": "en_US", "tz": "UTC"}
        if model == "res.users":
            return [{"id": 2, "company_ids": [1], "company_id": [1, "Co"]}]
        if model != "account.move" or method != "search_read":
            return []  # payment look-ups: no receivable lines
        last = next(t[2] for t in kwargs["domain"] if isinstance(t, list) and t[:2] == ["id", ">"])
        ids = range(last + 1, min(self.n, last + kwargs["limit"]) + 1)
        return [{"id": i, "name": f"INV/2026/{i:07d}", "move_type": "out_invoice", "state": "posted",
                 "partner_id": [i % 100_000 + 10, f"Client {i % 100_000 + 10}"],
                 "commercial_partner_id": [i % 100_000 + 10, f"Client {i % 100_000 + 10}"],
                 "invoice_user_id": [i % 60 + 2, f"User {i % 60 + 2}"] if i % 5 else False,
                 "invoice_date": f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                 "invoice_date_due": f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                 "amount_total": 100.0 + i % 977, "amount_residual": float(i % 3) * 10,
                 "amount_total_signed": 100.0 + i % 977, "amount_residual_signed": float(i % 3) * 10,
                 "currency_id": [1, "USD"], "company_id": [1, "YourCompany"], "company_currency_id": [1, "USD"],
                 "payment_state": ("not_paid", "partial", "paid")[i % 3] if i % 7 else "paid",
                 "invoice_origin": False, "create_date": "2026-01-05 10:11:12",
                 "write_date": "2026-02-06 11:12:13"} for i in ids]


def serve_json2(n: int) -> None:
    """A local JSON-2 server of ``n`` invoices (the child process of :func:`section_frames`):
    prints its port, then serves until stdin closes.  Its CPU is not the pull's."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    pages = InvoicePages(n)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept alive, as Odoo's

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if self.path == "/web/webclient/version_info":
                answer = {"jsonrpc": "2.0", "id": None, "result": {
                    "server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0]}}
            else:
                _, _, _, model, method = self.path.split("/", 4)
                answer = pages.answer(model, method, body)
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()


def section_frames(args) -> dict:
    from clientcare.connector.client import OdooClient
    from clientcare.connector.pull import PullOptions, Puller
    from clientcare.connector.settings import ConnectionSettings

    import pandas  # noqa: F401  (imported before timing, as in any pull)
    server = subprocess.Popen([sys.executable, __file__, "--serve-json2", str(args.invoices)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        settings = ConnectionSettings(url=f"http://127.0.0.1:{port}", db="bench", login="bench",
                                      api_key="0" * 40, transport="json2", page_size=2000, timeout=300)
        snap, wall, cpu, grew = timed(lambda: Puller(OdooClient(settings), PullOptions(tables=("moves",))).pull())
    finally:
        server.stdin.close()
        server.wait()
    return {f"rows → frames, {len(snap.tables['moves']):,} invoice rows over JSON-2": (
        f"{cpu:.1f} s CPU (decoding included), {wall:.1f} s wall, +{grew:,.0f} MiB peak",
        "< 2 s including decoding")}


def section_pull(args) -> dict:
    if not os.environ.get("ODOO_URL"):
        return {"pull vs raw loop, per transport": ("not measured: no ODOO_URL (live server)", "≥ 1.0× each")}
    out = subprocess.run([sys.executable, str(HERE / "pull_bench.py"), "--repeat", str(args.pull_repeat),
                          "--page-size", str(args.page_size)], check=True, capture_output=True, text=True).stdout
    print(out, file=sys.stderr)
    ratios = [line.split()[0].removeprefix("clientcare/") + " " + line.split()[-1]
              for line in out.splitlines() if line.startswith("clientcare/")]
    return {f"pull vs raw loop, same transport ({args.page_size} a page)": (", ".join(ratios), "≥ 1.0× each")}


def section_live(args) -> dict:
    if not args.live_sync:
        return {"live no-change sync": ("not measured: give --live-sync (it writes: a copy of your own)",
                                        "< 1.0 s json2, < 1.5 s jsonrpc")}
    command = [sys.executable, str(HERE / "live_sync.py"), "--json", "--transports", "json2,jsonrpc"]
    if args.odoo_log:
        command += ["--odoo-log", args.odoo_log]
    runs = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    goals = {"json2": "< 1.0 s", "jsonrpc": "< 1.5 s"}
    out = {}
    for transport, rows in runs.items():
        quiet = [r for r in rows if r["run"].startswith("no-change")]
        server = [f"{r['server_s']:.2f}" for r in quiet if "server_s" in r]
        out[f"live no-change sync, {transport}"] = (
            "wall " + ", ".join(f"{r['wall_s']:.2f}" for r in quiet) + " s; CPU "
            + ", ".join(f"{r['cpu_s']:.2f}" for r in quiet) + " s" + (f"; server {', '.join(server)} s" if server else ""),
            goals[transport])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each section, each a fresh process (default 2)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated: " + ", ".join(SECTIONS))
    ap.add_argument("--pull-repeat", type=int, default=3, help="pull_bench.py's repetitions per run")
    ap.add_argument("--page-size", type=int, default=2000, help="the pull section's page size (≥ 3 pages)")
    ap.add_argument("--live-sync", action="store_true", help="run live_sync.py (writes to CLIENTCARE_*'s Odoo)")
    ap.add_argument("--odoo-log", help="the live server's log file, for live_sync.py's server share")
    ap.add_argument("--section", help=argparse.SUPPRESS)
    ap.add_argument("--serve-json2", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_json2 is not None:
        serve_json2(args.serve_json2)
        return
    if args.section:  # a child: one section, its figures as JSON on the last line
        print(json.dumps(globals()[f"section_{args.section}"](args)))
        return
    print(f"{'figure':52} {'goal':32} {'run':3} {'load 1/5/15':16} measured")
    for name in args.only.split(","):
        if name not in SECTIONS:
            sys.exit(f"no section {name!r} (sections: {', '.join(SECTIONS)})")
        runs: dict[str, list] = {}
        goals: dict[str, str] = {}
        for n in range(1, args.repeat + 1):
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            child = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--section", name],
                                   capture_output=True, text=True)
            if child.returncode:
                runs.setdefault(name, []).append((n, load, "FAILED: " + " ".join(child.stderr.strip().splitlines()[-1:])))
                goals.setdefault(name, "")
                continue
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            for step, (figure, goal) in figures.items():
                runs.setdefault(step, []).append((n, load, figure))
                goals[step] = goal
            if all(figure.startswith("not measured") for figure, _ in figures.values()):
                break  # nothing to repeat
        for step, rows in runs.items():
            for i, (n, load, figure) in enumerate(rows):
                print(f"{step if i == 0 else '':52} {goals[step] if i == 0 else '':32} {n:3d} {load:16} {figure}",
                      flush=True)
    print(f"load average after the run: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
