"""Audit output: a terminal table grouped by client, CSV, JSON, and one self-contained HTML file.

Findings come with what was *not* raised and why (``NotRaised``): every overdue invoice and
late task Odoo shows is accounted for.  CSV holds the findings only (one row each); the
"not raised" list is in the text, JSON and HTML outputs.  The charts are computed from the
same frames the rules use, for the audited clients only, so they agree with the findings.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date

import pandas as pd

from clientcare.connector.facts import severity_rank
from clientcare.connector.snapshot import Snapshot
from clientcare.jobs.charts import BAND_COLORS, PALETTE, bar_chart
from clientcare.jobs.writeback import esc, evidence_table
from clientcare.rules import frames as F

AGE_BUCKETS = [(1, 15, "1–15 days"), (16, 30, "16–30 days"), (31, 60, "31–60 days"),
               (61, 90, "61–90 days"), (91, 10**6, "over 90 days")]
#: Lines of the "Not raised, because" section in text output (JSON lists them all).
NOT_RAISED_SHOWN = 50


def user_names(snapshot: Snapshot) -> dict[int, str]:
    users = snapshot.tables.get("users")
    if users is None:
        return {}
    return dict(zip(users["id"].astype(int), users["name"].astype(str)))


def findings_frame(findings: list, snapshot: Snapshot, as_of: date) -> pd.DataFrame:
    """One row per finding with the client's and the owner's names, sorted for reading; ``due``
    is the deadline sync would give the activity on ``as_of``, ``since`` the rule's own date
    when that is earlier (the situation is older than the activity)."""
    names = user_names(snapshot)
    clients = dict(zip(snapshot.partners["id"].astype(int), snapshot.partners["name"].astype(str)))
    rows = []
    for f in findings:
        action = getattr(f, "action", None)
        activity = action is not None and action.kind == "activity"
        client_id = getattr(f, "client_id", None)
        owner = getattr(f, "responsible_user_id", None)
        rows.append({
            "client_id": client_id, "client": clients.get(int(client_id), "") if client_id else "",
            "severity": f.severity, "rule": f.rule, "summary": f.summary,
            "owner_id": owner, "owner": names.get(int(owner), f"user {owner}") if owner else "",
            "subject": f"{f.subject_model},{f.subject_id}", "subject_name": getattr(f, "subject_name", ""),
            "level": getattr(f, "level", None), "key": f.key,
            "action": (getattr(action, "kind", None) if action else None) or "",
            "activity_type": (getattr(action, "activity_type", None) if action else None) or "",
            "due": action.due_on(as_of) if activity else "",
            "since": action.due_date if activity and action.due_date and action.due_date < as_of else "",
        })
    frame = pd.DataFrame(rows, columns=["client_id", "client", "severity", "rule", "summary", "owner_id",
                                        "owner", "subject", "subject_name", "level", "key", "action",
                                        "activity_type", "due", "since"])
    frame["_sev"] = frame["severity"].map(severity_rank)
    return (frame.sort_values(["client", "_sev", "rule", "key"], kind="stable")
            .drop(columns="_sev").reset_index(drop=True))


def not_raised_frame(not_raised: list, snapshot: Snapshot) -> pd.DataFrame:
    """One row per record left without a finding: rule, record (with its name), client, reason."""
    frame = pd.DataFrame([n.to_dict() for n in not_raised], columns=["rule", "model", "res_id", "client_id", "reason"])
    ids = frame["res_id"].astype("int64")
    is_inv, is_task = frame["model"] == "account.move", frame["model"] == "project.task"
    names = pd.Series("", index=frame.index, dtype=object)
    if is_inv.any():
        names[is_inv] = F.invoice_names(snapshot, ids[is_inv]).astype(str)
    if is_task.any():
        names[is_task] = F.task_names(snapshot, ids[is_task]).astype(str)
    frame["record"] = names.where(names != "", frame["model"] + "," + ids.astype(str))
    frame["client"] = F.names(snapshot.partners, frame["client_id"].astype("Int64")).fillna("").astype(str)
    return frame.sort_values(["client", "rule", "record"], kind="stable").reset_index(drop=True)


def render_text(frame: pd.DataFrame, not_raised: pd.DataFrame | None = None) -> str:
    out = ["No findings."] if frame.empty else []
    for client, group in frame.groupby(frame["client"].replace("", "(no client)"), sort=True):
        out.append(client)
        for _, r in group.iterrows():
            out.append(f"  {r['severity']:<8} {r['rule']:<16} {r['summary']}  [{r['owner'] or '-'}]")
    if not frame.empty:
        counts = frame.groupby(["rule", "severity"]).size()
        out.append("")
        out.append(f"{len(frame)} finding(s): " + ", ".join(f"{rule} {sev} {n}" for (rule, sev), n in counts.items()))
    if not_raised is not None and len(not_raised):
        out += ["", f"Not raised, because ({len(not_raised)}):"]
        for r in not_raised.head(NOT_RAISED_SHOWN).itertuples():
            out.append(f"  {r.rule:<16} {r.record} ({r.client or 'no client'}): {r.reason}")
        if len(not_raised) > NOT_RAISED_SHOWN:
            out.append(f"  ... and {len(not_raised) - NOT_RAISED_SHOWN} more: see --format json")
    return "\n".join(out) + "\n"


#: A text cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """A text cell a spreadsheet would run as a formula, prefixed with a single quote (OWASP's
    advice); other values as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(frame: pd.DataFrame) -> str:
    """Findings as CSV: ids as integers, and no cell a spreadsheet would run as a formula
    (a client named ``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``)."""
    out = frame.copy()
    for col in out.columns:
        if col.endswith("_id"):
            numbers = pd.to_numeric(out[col], errors="coerce")
            if numbers.notna().sum() == out[col].notna().sum() and (numbers.dropna() % 1 == 0).all():
                out[col] = numbers.astype("Int64")
                continue
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].astype(object).map(neutralise_cell)
    buf = io.StringIO()
    # RFC 4180 line ends: a cell holding a carriage return is then quoted too (with "\n" as the
    # line end, Python's writer leaves a lone CR bare and a reader splits the row there)
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(out.columns)
    for row in out.itertuples(index=False):
        writer.writerow(["" if _missing(v) else v for v in row])
    return buf.getvalue()


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def render_json(findings: list, meta: dict, not_raised: list = (), not_judged: list = ()) -> str:
    return json.dumps({"meta": meta, "findings": [_finding_dict(f) for f in findings],
                       "not_raised": [n.to_dict() for n in not_raised],
                       "not_judged": [n.to_dict() for n in not_judged]}, indent=2, default=str)


def _finding_dict(f) -> dict:
    if hasattr(f, "to_dict"):
        return f.to_dict()
    return {k: getattr(f, k, None) for k in ("key", "rule", "subject_model", "subject_id", "summary",
                                               "severity", "evidence", "responsible_user_id")}


# -- HTML -------------------------------------------------------------------------
def overdue_by_age(snapshot: Snapshot, as_of: date, client_ids: set[int] | None = None) -> list[tuple[str, float]]:
    """Overdue receivables still owed after open credit notes, in
    company currency, by how late they are."""
    inv = F.overdue_invoices(snapshot, as_of)
    if client_ids is not None:
        inv = inv.loc[inv["client_id"].isin(client_ids)]
    days, amount = inv["days_overdue"], inv["net_company"]
    return [(label, float(amount[(days >= lo) & (days <= hi)].sum())) for lo, hi, label in AGE_BUCKETS]


def late_tasks_by_project(snapshot: Snapshot, as_of: date, client_ids: set[int] | None = None,
                          not_raised: list = ()) -> list[tuple[str, int]]:
    """Open late tasks per project, less those not raised (as in the findings: a project's
    tasks count for the project's client, a private task for its own client)."""
    if "tasks" not in snapshot.tables:  # no project module
        return []
    late = F.late_tasks(snapshot, as_of)
    left_out = [n.res_id for n in not_raised if n.model == "project.task"]
    late = late.loc[late["is_open"] & ~late["id"].isin(left_out)]
    if client_ids is not None:
        project_client = F.lookup(F.project_clients(snapshot).set_index("id")["client_id"], late["project_id"])
        client = late["client_id"].where(late["project_id"].isna(), project_client)
        late = late.loc[client.isin(client_ids).to_numpy(dtype=bool)]
    counts = late.groupby(late["project_id_name"].astype(object).fillna("(no project)")).size()
    counts = counts.sort_values(ascending=False)
    return [(str(k), int(v)) for k, v in counts.items()]


def rule_chart(chart, findings: list, frame: pd.DataFrame) -> str:
    """Draw a chart a rule declared (:class:`~clientcare.rules.spec.ReportChart`) from its findings."""
    mine = [f for f in findings if chart.level is None or f.level == chart.level]
    if chart.value is None:
        keys = {f.key for f in mine}
        rows = frame.loc[frame["key"].isin(keys)]
        counts = rows.groupby(rows["owner"].replace("", "(nobody)")).size().sort_values(ascending=False)
        return bar_chart(chart.title, [str(k) for k in counts.index], [int(v) for v in counts],
                         colors=[PALETTE[5]], noun=chart.noun)
    bars = sorted(((f.subject_name or str(f.subject_id), float(f.data[chart.value]),
                    str(f.data.get(chart.band)) if chart.band else "")
                   for f in mine if (f.data or {}).get(chart.value) is not None), key=lambda b: b[1])
    missing = len(mine) - len(bars)
    title = chart.title + (f"; {missing} {chart.missing}" if missing and chart.missing else "")
    colors = [BAND_COLORS.get(b, PALETTE[5]) for _, _, b in bars] if chart.band else [PALETTE[5]]
    return bar_chart(title, [b[0] for b in bars], [b[1] for b in bars], colors=colors or None,
                     scale_max=chart.scale_max, noun=chart.noun)


CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:13px} .charts{display:flex;flex-wrap:wrap;gap:18px}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:10px;background:#fafafa}
.chart-title{font-size:14px;font-weight:600} .chart-label,.chart-value{font-size:12px;fill:#333}
.chart-empty{font-size:12px;fill:#999}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px} th,td{border:1px solid #ddd;padding:3px 7px;text-align:left}
th{background:#f0f0f0} .sev{font-weight:600;border-radius:3px;padding:1px 6px;color:#fff}
.sev-critical{background:#b71c1c}.sev-high{background:#e65100}.sev-medium{background:#f9a825;color:#222}
.sev-low{background:#1565c0}.sev-info{background:#607d8b} details{margin:4px 0 10px}
"""


def render_html(findings: list, snapshot: Snapshot, as_of: date, meta: dict, not_raised: list = (),
                client_ids: set[int] | None = None, rule_charts: dict[str, tuple] | None = None,
                health_html: str = "") -> str:
    """The audit as one HTML page; ``rule_charts``: rule name -> the charts it declares;
    ``health_html``: the client health section (:func:`clientcare.jobs.history.health_section`)."""
    frame = findings_frame(findings, snapshot, as_of)
    by_key = {f.key: f for f in findings}
    ages = overdue_by_age(snapshot, as_of, client_ids)
    charts = [
        bar_chart("Overdue receivables by age, after open credit notes (company currency)", [a for a, _ in ages],
                  [v for _, v in ages], colors=PALETTE[:5]),
        bar_chart("Late tasks by project", *_unzip(late_tasks_by_project(snapshot, as_of, client_ids, not_raised)),
                  colors=[PALETTE[3]]),
    ]
    for rule, declared in sorted((rule_charts or {}).items()):
        charts += [rule_chart(c, [f for f in findings if f.rule == rule], frame) for c in declared]
    counts = frame.groupby("rule").size().to_dict()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ClientCare audit — {esc(meta.get('db', ''))}</title><style>{CSS}</style></head><body>",
        f"<h1>ClientCare audit of {esc(meta.get('db', ''))}</h1>",
        f"<p class='meta'>Odoo {esc(meta.get('server_version', '?'))} at {esc(meta.get('url', ''))}; "
        f"data pulled {esc(meta.get('pulled_at', '?'))}; evaluated as of {as_of:%Y-%m-%d}; "
        f"{len(frame)} finding(s): " + ", ".join(f"{esc(k)} {v}" for k, v in sorted(counts.items())) + "</p>",
        "<div class='charts'>" + "".join(f"<div class='card'>{c}</div>" for c in charts) + "</div>",
        *([health_html] if health_html else []),
        "<h2>Clients</h2>",
    ]
    for client, group in frame.groupby(frame["client"].replace("", "(no client)"), sort=True):
        parts.append(f"<h3>{esc(client)}</h3><table><thead><tr><th>severity</th><th>rule</th>"
                     "<th>summary</th><th>owner</th><th>action</th><th>due</th><th>since</th></tr></thead><tbody>")
        for _, r in group.iterrows():
            parts.append(f"<tr><td><span class='sev sev-{esc(r['severity'])}'>{esc(r['severity'])}</span></td>"
                         f"<td>{esc(r['rule'])}</td><td>{esc(r['summary'])}</td><td>{esc(r['owner'])}</td>"
                         f"<td>{esc(r['activity_type'] or r['action'] or '')}</td><td>{esc(r['due'])}</td><td>{esc(r['since'])}</td></tr>")
        parts.append("</tbody></table>")
        for _, r in group.iterrows():
            f = by_key.get(r["key"])
            evidence = list(getattr(f, "evidence", None) or [])
            if evidence:
                parts.append(f"<details><summary>Evidence: {esc(r['summary'])}</summary>"
                             f"{evidence_table(evidence, getattr(f, 'evidence_columns', None))}</details>")
    if len(not_raised):
        nr = not_raised_frame(list(not_raised), snapshot)
        parts.append(f"<h2>Not raised, because ({len(nr)})</h2><table><thead><tr><th>client</th><th>rule</th>"
                     "<th>record</th><th>reason</th></tr></thead><tbody>")
        parts += [f"<tr><td>{esc(r.client)}</td><td>{esc(r.rule)}</td><td>{esc(r.record)}</td>"
                  f"<td>{esc(r.reason)}</td></tr>" for r in nr.itertuples()]
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _unzip(pairs):
    return [p[0] for p in pairs], [p[1] for p in pairs]


__all__ = ["findings_frame", "not_raised_frame", "render_csv", "render_html", "render_json", "render_text"]
