"""Check (not a test): every audit format at scale is byte-identical between two installs.

    PYTHON benchmarks/report_identity.py [--invoices 1000000 --clients 100000 --tasks 200000]
        [--langs en,fr] [--formats text,csv,json,html] [--table] [--dump DIR] > hashes.json

Runs the rules over the generated snapshot of ``rules_bench.py`` and renders each format as
``clientcare audit`` does (the write-back's ramp, a server to link to), printing the SHA-256,
length and CPU seconds of each output as JSON.  Run it with one install's Python (main's
``/work/venv/bin/python``) and another's, then compare the files; ``--table`` hands the reports
a ``FindingTable`` instead of a list (the same bytes are expected).  Outputs are not kept unless
``--dump`` names a directory.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--langs", default="en,fr")
    ap.add_argument("--formats", default="text,csv,json,html")
    ap.add_argument("--table", action="store_true", help="hand the reports a FindingTable")
    ap.add_argument("--dump", help="also write each output under this directory")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import rules_bench
    from clientcare.jobs import report
    from clientcare.rules import load_rules, run_rules

    snap = rules_bench.generate(args.invoices, args.clients, args.tasks)
    registry = load_rules()
    result = run_rules(snap, rules_bench.AS_OF, {"follow_up": {"fix_projects": list(range(1, 200))}},
                       {"default_user_id": 2}, registry=registry)
    findings, not_raised, day = result.findings, result.not_raised, rules_bench.AS_OF
    if args.table:
        from clientcare.rules.finding_table import findings_of
        findings = findings_of(findings)
    meta = dict(snap.meta, as_of=day.isoformat())
    ramp = {"cap": 10, "working_time": result.working_time}
    charts = {name: rule.charts for name, rule in registry.rules.items() if rule.charts}
    out = {"findings": len(findings), "not_raised": len(not_raised)}
    for lang in args.langs.split(","):
        lang = None if lang == "en" else lang
        for fmt in args.formats.split(","):
            if lang and fmt in ("csv", "json"):
                continue
            t0 = time.process_time()
            if fmt == "html":
                text = report.render_html(findings, snap, day, meta, not_raised, None, charts, "", **ramp, lang=lang,
                                          server="http://odoo.example")
            elif fmt == "json":
                text = "".join(report.json_chunks(findings, meta, not_raised, result.not_judged,
                                                  report.people_dicts(findings, snap, day, **ramp)))
            elif fmt == "csv":
                text = report.render_csv(report.findings_frame(findings, snap, day, **ramp))
            else:
                text = report.render_text(report.findings_frame(findings, snap, day, **ramp),
                                          report.not_raised_frame(not_raised, snap), day, lang)
            name = f"{fmt}-{lang or 'en'}"
            out[name] = [hashlib.sha256(text.encode()).hexdigest(), len(text), round(time.process_time() - t0, 1)]
            if args.dump:
                Path(args.dump, name).write_text(text, encoding="utf-8")
            print(name, out[name], file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
