"""Audit output: a terminal table grouped by client, CSV, JSON, and one self-contained HTML file."""
from __future__ import annotations

import csv
import io
import json
from datetime import date

import pandas as pd

from clientcare.connector.snapshot import Snapshot
from clientcare.jobs.charts import PALETTE, bar_chart
from clientcare.jobs.writeback import esc, evidence_table

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
AGE_BUCKETS = [(1, 15, "1–15 days"), (16, 30, "16–30 days"), (31, 60, "31–60 days"),
               (61, 90, "61–90 days"), (91, 10**6, "over 90 days")]
NOT_DUE = ("paid", "in_payment", "reversed", "blocked")


def user_names(snapshot: Snapshot) -> dict[int, str]:
    users = snapshot.tables.get("users")
    if users is None:
        return {}
    return dict(zip(users["id"].astype(int), users["name"].astype(str)))


def findings_frame(findings: list, snapshot: Snapshot) -> pd.DataFrame:
    """One row per finding with the client's and the owner's names, sorted for reading."""
    names = user_names(snapshot)
    clients = dict(zip(snapshot.partners["id"].astype(int), snapshot.partners["name"].astype(str)))
    rows = []
    for f in findings:
        action = getattr(f, "action", None)
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
            "due": (getattr(action, "due_date", None) if action else None) or "",
        })
    frame = pd.DataFrame(rows, columns=["client_id", "client", "severity", "rule", "summary", "owner_id",
                                        "owner", "subject", "subject_name", "level", "key", "action",
                                        "activity_type", "due"])
    frame["_sev"] = frame["severity"].map(SEVERITY_ORDER).fillna(9)
    return (frame.sort_values(["client", "_sev", "rule", "key"], kind="stable")
            .drop(columns="_sev").reset_index(drop=True))


def render_text(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "No findings.\n"
    out = []
    for client, group in frame.groupby(frame["client"].replace("", "(no client)"), sort=True):
        out.append(client)
        for _, r in group.iterrows():
            out.append(f"  {r['severity']:<8} {r['rule']:<16} {r['summary']}  [{r['owner'] or '-'}]")
    counts = frame.groupby(["rule", "severity"]).size()
    out.append("")
    out.append(f"{len(frame)} finding(s): " + ", ".join(f"{rule} {sev} {n}" for (rule, sev), n in counts.items()))
    return "\n".join(out) + "\n"


def render_csv(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue()


def render_json(findings: list, meta: dict) -> str:
    return json.dumps({"meta": meta, "findings": [_finding_dict(f) for f in findings]},
                      indent=2, default=str)


def _finding_dict(f) -> dict:
    if hasattr(f, "to_dict"):
        return f.to_dict()
    return {k: getattr(f, k, None) for k in ("key", "rule", "subject_model", "subject_id", "summary",
                                               "severity", "evidence", "responsible_user_id")}


# -- HTML -------------------------------------------------------------------------
def overdue_by_age(snapshot: Snapshot, as_of: date) -> list[tuple[str, float]]:
    """Open receivables past due, in company currency, by how late they are."""
    inv = snapshot.invoices
    due = inv.loc[~inv["payment_state"].isin(NOT_DUE) & inv["invoice_date_due"].notna()]
    days = (pd.Timestamp(as_of) - due["invoice_date_due"]).dt.days
    amount = due["amount_residual_signed"]
    return [(label, float(amount[(days >= lo) & (days <= hi)].sum())) for lo, hi, label in AGE_BUCKETS]


def late_tasks_by_project(snapshot: Snapshot, as_of: date) -> list[tuple[str, int]]:
    t = snapshot.tasks
    late = t.loc[t["is_open"] & (t["deadline_date"] < pd.Timestamp(as_of))]
    counts = late.groupby(late["project_id_name"].fillna("(no project)")).size().sort_values(ascending=False)
    return [(str(k), int(v)) for k, v in counts.items()]


def fit_scores(findings: list) -> list[tuple[str, float]]:
    out = []
    for f in findings:
        score = (getattr(f, "data", None) or {}).get("score")
        if f.rule == "fit_checklist" and score is not None:
            out.append((getattr(f, "subject_name", "") or str(f.subject_id), float(score)))
    return sorted(out, key=lambda p: p[1])


def follow_ups_by_owner(frame: pd.DataFrame) -> list[tuple[str, int]]:
    fu = frame.loc[frame["rule"] == "follow_up"]
    counts = fu.groupby(fu["owner"].replace("", "(nobody)")).size().sort_values(ascending=False)
    return [(str(k), int(v)) for k, v in counts.items()]


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


def render_html(findings: list, snapshot: Snapshot, as_of: date, meta: dict) -> str:
    frame = findings_frame(findings, snapshot)
    by_key = {f.key: f for f in findings}
    ages = overdue_by_age(snapshot, as_of)
    charts = [
        bar_chart("Overdue receivables by age (company currency)", [a for a, _ in ages],
                  [v for _, v in ages], colors=PALETTE[:5]),
        bar_chart("Fit score by client (0–100)", *_unzip(fit_scores(findings)),
                  colors=[PALETTE[0]]),
        bar_chart("Late tasks by project", *_unzip(late_tasks_by_project(snapshot, as_of)),
                  colors=[PALETTE[3]]),
        bar_chart("Follow-ups due per owner", *_unzip(follow_ups_by_owner(frame)), colors=[PALETTE[5]]),
    ]
    counts = frame.groupby("rule").size().to_dict()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ClientCare audit — {esc(meta.get('db', ''))}</title><style>{CSS}</style></head><body>",
        f"<h1>ClientCare audit of {esc(meta.get('db', ''))}</h1>",
        f"<p class='meta'>Odoo {esc(meta.get('server_version', '?'))} at {esc(meta.get('url', ''))}; "
        f"data pulled {esc(meta.get('pulled_at', '?'))}; evaluated as of {as_of:%Y-%m-%d}; "
        f"{len(frame)} finding(s): " + ", ".join(f"{esc(k)} {v}" for k, v in sorted(counts.items())) + "</p>",
        "<div class='charts'>" + "".join(f"<div class='card'>{c}</div>" for c in charts) + "</div>",
        "<h2>Clients</h2>",
    ]
    for client, group in frame.groupby(frame["client"].replace("", "(no client)"), sort=True):
        parts.append(f"<h3>{esc(client)}</h3><table><thead><tr><th>severity</th><th>rule</th>"
                     "<th>summary</th><th>owner</th><th>action</th><th>due</th></tr></thead><tbody>")
        for _, r in group.iterrows():
            parts.append(f"<tr><td><span class='sev sev-{esc(r['severity'])}'>{esc(r['severity'])}</span></td>"
                         f"<td>{esc(r['rule'])}</td><td>{esc(r['summary'])}</td><td>{esc(r['owner'])}</td>"
                         f"<td>{esc(r['activity_type'] or r['action'] or '')}</td><td>{esc(r['due'])}</td></tr>")
        parts.append("</tbody></table>")
        for _, r in group.iterrows():
            f = by_key.get(r["key"])
            evidence = list(getattr(f, "evidence", None) or [])
            if evidence:
                parts.append(f"<details><summary>Evidence: {esc(r['summary'])}</summary>"
                             f"{evidence_table(evidence, getattr(f, 'evidence_columns', None))}</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _unzip(pairs):
    return [p[0] for p in pairs], [p[1] for p in pairs]


__all__ = ["findings_frame", "render_csv", "render_html", "render_json", "render_text"]
