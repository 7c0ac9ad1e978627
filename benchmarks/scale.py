"""Every figure of the scale goals, beside its goal, in one run (each section in a fresh process).

    python benchmarks/scale.py [--invoices 1000000] [--clients 100000] [--tasks 200000] [--only SECTION,...]

Offline sections (generated data, never saved): start-up, rules + routing, the plan of a
no-change sync, the HTML/text/JSON reports, rows → DataFrame through the pull.  With
``ODOO_URL``/``ODOO_DB``/``ODOO_USER``/``ODOO_PASSWORD`` (+ ``ODOO_API_KEY``) set, the pull
contenders per transport (``pull_bench.py``); with ``CLIENTCARE_*`` set and ``--live-sync STATE``
given, a first sync (dry run), first apply, no-change sync and an HTML audit on that database
(it writes activities: only on a copy of your own).  CPU seconds are the process's own; the
machine is shared, so wall times are noisy.
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
SECTIONS = ("startup", "rules", "plan", "reports", "frames", "pull", "live")


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
    return {"rules + routing (incl. views)": (f"{wall:.1f} s wall, {cpu:.1f} s CPU, {len(result.findings):,} "
                                              f"findings, peak {max_rss_mib() / 1024:.2f} GiB",
                                              "< 5 s wall, < 2 GiB")}


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
    first_run = WriteBack(client, state, "run1", max_creations=10**9, as_of=as_of)
    created = first_run.plan(result.findings).of("create")
    for n, it in enumerate(created, 1):  # as if applied: in Odoo and in the ledger
        it.odoo_id = n
    first_run._ledger(created, "open")
    client.activities = [{"id": it.odoo_id, "res_model": it.res_model, "res_id": it.res_id,
                          "user_id": it.vals["user_id"], "date_deadline": it.vals["date_deadline"],
                          "summary": it.vals["summary"], "note": it.vals["note"],
                          "activity_type_id": it.vals.get("activity_type_id")} for it in created]
    plan, wall, cpu, _ = timed(lambda: WriteBack(client, state, "run2", as_of=as_of).plan(result.findings))
    changes = len(plan.items) - len(plan.of("leave"))
    return {"plan, no-change sync": (f"{wall:.2f} s wall, {cpu:.2f} s CPU, {len(client.activities):,} open "
                                     f"activities, {changes} change(s)", "< 1 s")}


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
    goals = {"html": "< 5 s, file < 20 MB", "text": "< 2 s", "json": "< 5 s, streamed"}
    out = {}
    for fmt in ("html", "text", "json"):
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


# -- rows -> DataFrame through the pull ------------------------------------------------
class InvoicePages:
    """A transport serving ``n`` customer invoices page by page as Odoo's ``search_read`` does,
    each page built when asked (so only what the pull keeps stays in memory)."""

    def __init__(self, n: int):
        self.n, self.served_cpu, self.calls = n, 0.0, {}
        self.name, self.uid = "generated", 2

    def version(self):
        return {"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0]}

    def execute_kw(self, model, method, args=(), kwargs=None, **kw):
        c0 = time.process_time()
        try:
            return self._answer(model, method, args, kwargs or {})
        finally:
            self.served_cpu += time.process_time() - c0

    def _answer(self, model, method, args, kwargs):
        if method == "fields_get":
            sys.path.insert(0, str(HERE.parent / "tests" / "connector"))
            from test_pull_scale import MOVE_TYPES  # the invoice fields and their Odoo types
            return {f: {"type": t, "selection": [["blocked", "Blocked"]] if f == "payment_state" else []}
                    for f, t in MOVE_TYPES.items()}
        if model == "res.users":
            return [{"id": 2, "company_ids": [1], "company_id": [1, "Co"]}]
        if model != "account.move":
            return []  # payment look-ups: no receivable lines
        last = next(t[2] for t in kwargs["domain"] if isinstance(t, (list, tuple)) and t[:2] == ("id", ">"))
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


def section_frames(args) -> dict:
    from clientcare.connector.client import OdooClient
    from clientcare.connector.pull import PullOptions, Puller
    from clientcare.connector.settings import ConnectionSettings

    import pandas  # noqa: F401  (imported before timing, as in any pull)
    transport = InvoicePages(args.invoices)
    settings = ConnectionSettings(url="http://generated", db="bench", login="bench", password="x",
                                  page_size=2000)
    client = OdooClient(settings, None, transport)
    snap, wall, cpu, grew = timed(lambda: Puller(client, PullOptions(tables=("moves",))).pull())
    ours = cpu - transport.served_cpu
    return {f"rows → DataFrame, {len(snap.tables['moves']):,} invoice rows": (
        f"{ours:.1f} s CPU (+{transport.served_cpu:.1f} s making the rows), {wall:.1f} s wall, "
        f"+{grew:,.0f} MiB peak", "< 3 s, pages converted as they arrive")}


def section_startup(args) -> dict:
    runs = []
    exe = Path(sys.executable).with_name("clientcare")
    for _ in range(6):
        t0 = time.perf_counter()
        subprocess.run([str(exe), "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    runs = sorted(runs[1:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"`clientcare --help`": (f"{runs[len(runs) // 2]:.2f} s (median of 5), {peak:.0f} MiB", "< 0.2 s")}


def section_pull(args) -> dict:
    if not os.environ.get("ODOO_URL"):
        return {"pull vs raw loop, per transport": ("not measured: no ODOO_URL (live server)", "≥ 1.0×")}
    out = subprocess.run([sys.executable, str(HERE / "pull_bench.py"), "--repeat", str(args.repeat)],
                         check=True, capture_output=True, text=True).stdout
    print(out, file=sys.stderr)
    ratios = [line.split()[0] + " " + line.split()[-1] for line in out.splitlines() if line.startswith("clientcare/")]
    auto = [line for line in out.splitlines() if line.startswith("auto picked")]
    return {"pull vs raw loop, same transport": (", ".join(ratios), "≥ 1.0× each"),
            "`auto` vs raw XML-RPC": (auto[0] if auto else "?", "≥ 2×")}


def section_live(args) -> dict:
    if not (args.live_sync and os.environ.get("CLIENTCARE_URL")):
        return {"live sync": ("not measured: give --live-sync STATE with CLIENTCARE_* set", "no-change < 2 s")}
    exe = str(Path(sys.executable).with_name("clientcare"))
    out = {}
    for label, cmd in (("first sync (dry run)", ["sync", "--dry-run", "--json"]),
                       ("first apply", ["sync", "--json"]), ("no-change sync", ["sync", "--json"])):
        t0 = time.perf_counter()
        done = subprocess.run([exe, *cmd, "--state", args.live_sync], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        summary = json.loads(done.stdout or "{}")
        out[f"live {label}"] = (f"{wall:.1f} s, {summary.get('rpc_calls', '?')} calls, exit {done.returncode}",
                                "< 2 s" if label == "no-change sync" else "")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([exe, "audit", "--format", "html", "-o", f"{tmp}/a.html", "--state", args.live_sync],
                       capture_output=True, check=True)
        size = Path(f"{tmp}/a.html").stat().st_size
    out["live HTML audit"] = (f"{time.perf_counter() - t0:.1f} s, {size / 1e6:.1f} MB", "")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3, help="pull benchmark repetitions")
    ap.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    ap.add_argument("--live-sync", metavar="STATE", help="state file for the live sync figures")
    ap.add_argument("--section", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.section:  # a child: one section, its figures as JSON on the last line
        print(json.dumps(globals()[f"section_{args.section}"](args)))
        return
    print(f"{'step':44} {'measured':70} goal")
    for name in args.only.split(","):
        child = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--section", name],
                               capture_output=True, text=True)
        if child.returncode:
            print(f"{name:44} FAILED: {child.stderr.strip().splitlines()[-1:]}")
            continue
        for step, (figure, goal) in json.loads(child.stdout.strip().splitlines()[-1]).items():
            print(f"{step:44} {figure:70} {goal}", flush=True)
    print(f"load average after the run: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores, shared)")


if __name__ == "__main__":
    main()
