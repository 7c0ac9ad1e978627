"""Audit output: a terminal table grouped by client, CSV, JSON, and one self-contained HTML file.

Findings come with what was *not* raised and why (``NotRaised``): every overdue invoice and
late task Odoo shows is accounted for.  CSV holds the findings only (one row each); the
"not raised" list is in the text, JSON and HTML outputs.  Every chart is declared by a rule
(:class:`~clientcare.rules.spec.ReportChart`): the situations the rules judge first, computed
from the frames the rules use for the audited clients only, then charts of the findings.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date

import pandas as pd

from clientcare.connector.facts import marker_key, severity_rank
from clientcare.connector.snapshot import Snapshot
from clientcare.jobs import health_history
from clientcare.jobs.charts import BAND_COLORS, TONES, bar_chart, score_line
from clientcare.jobs.ramp import DEFAULT_PER_DAY, Creation, Ramp, deadline, ramp
from clientcare.jobs.writeback import esc, esc_name, evidence_table
from clientcare.rules import frames as F
from clientcare.rules.bidi import isolate
from clientcare.rules.working_time import WorkingTime

#: Lines of the "Not raised, because" section in text output (JSON lists them all).
NOT_RAISED_SHOWN = 50


def user_names(snapshot: Snapshot) -> dict[int, str]:
    users = snapshot.tables.get("users")
    if users is None:
        return {}
    return dict(zip(users["id"].astype(int), users["name"].astype(str)))


def audit_ramp(findings: list, as_of: date, cap: int = DEFAULT_PER_DAY,
               working_time: WorkingTime | None = None) -> Ramp:
    """The write-back's ramp (:func:`clientcare.jobs.ramp.ramp`) over the findings' activities,
    as a first sync would make it: no ledger, so nothing received yet today."""
    return ramp([Creation(marker_key(f.key), _owner(f), f.severity, f.action.due_date) for f in findings
                 if getattr(f, "action", None) is not None and f.action.kind == "activity"],
                cap, as_of, working_time or WorkingTime.weekdays())


def _owner(f) -> int | None:
    owner = getattr(f, "responsible_user_id", None)
    return int(owner) if owner else None


def findings_frame(findings: list, snapshot: Snapshot, as_of: date, cap: int = DEFAULT_PER_DAY,
                   working_time: WorkingTime | None = None) -> pd.DataFrame:
    """One row per finding with the client's and the owner's names, sorted for reading;
    ``ramp_day`` is the day sync would create its activity (:func:`audit_ramp`, ``cap`` a day
    per person), ``due`` the deadline it would get then (a working day of its owner), ``since``
    the rule's own date when that is earlier (the situation is older than the activity)."""
    names = user_names(snapshot)
    working_time = working_time or WorkingTime.weekdays()
    days = audit_ramp(findings, as_of, cap, working_time).days
    clients = dict(zip(snapshot.partners["id"].astype(int), snapshot.partners["name"].astype(str)))
    actions = [getattr(f, "action", None) for f in findings]
    activity = [a is not None and a.kind == "activity" for a in actions]
    client_ids = [getattr(f, "client_id", None) for f in findings]
    owners = [getattr(f, "responsible_user_id", None) for f in findings]
    ramp_days = [days[marker_key(f.key)] if act else "" for f, act in zip(findings, activity)]
    frame = pd.DataFrame({  # column by column: no dict per finding
        "client_id": client_ids, "client": [clients.get(int(c), "") if c else "" for c in client_ids],
        "severity": [f.severity for f in findings], "rule": [f.rule for f in findings],
        "summary": [f.summary for f in findings], "owner_id": owners,
        "owner": [names.get(int(o), f"user {o}") if o else "" for o in owners],
        "subject": [f"{f.subject_model},{f.subject_id}" for f in findings],
        "subject_name": [getattr(f, "subject_name", "") for f in findings],
        "level": [getattr(f, "level", None) for f in findings], "key": [f.key for f in findings],
        "action": [(getattr(a, "kind", None) if a else None) or "" for a in actions],
        "activity_type": [(getattr(a, "activity_type", None) if a else None) or "" for a in actions],
        "ramp_day": ramp_days,
        "due": [deadline(a, day, working_time.for_user(int(o) if o else None)) if act else ""
                for a, act, day, o in zip(actions, activity, ramp_days, owners)],
        "since": [a.due_date if act and a.due_date and a.due_date < as_of else ""
                  for a, act in zip(actions, activity)],
    })
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


def client_groups(frame: pd.DataFrame) -> list[tuple[str, list[int]]]:
    """Row positions per client as the reports show it ("(no client)" for none), clients sorted
    by that name, rows in frame order: one pass over a column, not a frame per client."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(frame["client"].tolist()):
        groups.setdefault(name or "(no client)", []).append(i)
    return sorted(groups.items())


NOBODY = "(nobody)"


def person_groups(frame: pd.DataFrame, as_of: date) -> list[tuple[str, list[int], str]]:
    """Row positions per owner ("(nobody)" last), each with a line of what the ramp gives them:
    new activities today and queued (until when).  Rows in the order sync creates them (the
    day, then most severe, oldest, key), then the findings without an activity."""
    day, sev, due, key = (frame[c].tolist() for c in ("ramp_day", "severity", "due", "key"))
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(frame["owner"].tolist()):
        groups.setdefault(name or NOBODY, []).append(i)
    out = []
    for name in sorted(groups, key=lambda n: (n == NOBODY, n)):
        rows = sorted(groups[name], key=lambda i: (day[i] == "", day[i] or as_of, severity_rank(sev[i]),
                                                   due[i] or as_of, key[i]))
        today = sum(1 for i in rows if day[i] == as_of)
        later = [day[i] for i in rows if day[i] != "" and day[i] > as_of]
        figures = (f"{today} new activit{'y' if today == 1 else 'ies'} today" if today or not later else "none today") \
            + (f", {len(later)} queued until {max(later):%Y-%m-%d}" if later else "")
        out.append((name, rows, figures))
    return out


def render_text(frame: pd.DataFrame, not_raised: pd.DataFrame | None, as_of: date) -> str:
    """The findings per person (their owner), with what the ramp gives each on ``as_of``;
    names isolated (:func:`~clientcare.rules.bidi.isolate`), as in the summaries."""
    out = ["No findings."] if frame.empty else []
    sev, rule, summary, client, action, day, due = (frame[c].tolist() for c in (
        "severity", "rule", "summary", "client", "action", "ramp_day", "due"))

    def when(i: int) -> str:
        if action[i] != "activity":
            return f"({action[i]})" if action[i] else "(reported only)"
        return f"(due {due[i]:%Y-%m-%d})" if day[i] == as_of else \
            f"(queued: created {day[i]:%Y-%m-%d}, due {due[i]:%Y-%m-%d})"
    for name, rows, figures in person_groups(frame, as_of):
        out.append(f"{isolate(name)}: {figures}")
        out += [f"  {sev[i]:<8} {rule[i]:<16} {isolate(client[i]) if client[i] else '(no client)'}: {summary[i]}  "
                f"{when(i)}" for i in rows]
    if not frame.empty:
        counts = frame.groupby(["rule", "severity"]).size()
        out.append("")
        out.append(f"{len(frame)} finding(s): " + ", ".join(f"{rule} {sev} {n}" for (rule, sev), n in counts.items()))
    if not_raised is not None and len(not_raised):
        out += ["", f"Not raised, because ({len(not_raised)}):"]
        for r in not_raised.head(NOT_RAISED_SHOWN).itertuples():
            out.append(f"  {r.rule:<16} {isolate(r.record)} ({isolate(r.client) if r.client else 'no client'}): "
                       f"{r.reason}")
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


def render_json(findings: list, meta: dict, not_raised: list = (), not_judged: list = (), people: list = ()) -> str:
    return "".join(json_chunks(findings, meta, not_raised, not_judged, people))


def people_dicts(findings: list, snapshot: Snapshot, as_of: date, cap: int = DEFAULT_PER_DAY,
                 working_time: WorkingTime | None = None) -> list[dict]:
    """Per person, what the ramp gives them (:func:`audit_ramp`), with their name."""
    names = user_names(snapshot)
    people = audit_ramp(findings, as_of, cap, working_time).people.values()
    return [dict(p.to_dict(), name=names.get(p.owner, f"user {p.owner}") if p.owner else NOBODY)
            for p in sorted(people, key=lambda p: (p.owner is None, p.owner or 0))]


def json_chunks(findings: list, meta: dict, not_raised: list = (), not_judged: list = (), people: list = ()):
    """The JSON audit piece by piece, one finding per line, so a large audit is written as it is
    encoded instead of becoming one string (and ``json.dumps`` without indent is the fast one);
    ``people``: :func:`people_dicts`."""
    yield '{"meta": ' + json.dumps(meta, default=str) + ',\n"findings": ['
    sep = "\n"
    for f in findings:
        yield sep + json.dumps(_finding_dict(f), default=str)
        sep = ",\n"
    for name, items in (("not_raised", not_raised), ("not_judged", not_judged), ("people", people)):
        yield f'\n], "{name}": ['
        sep = "\n"
        for n in items:
            yield sep + json.dumps(n if isinstance(n, dict) else n.to_dict(), default=str)
            sep = ",\n"
    yield "\n]}\n"


def _finding_dict(f) -> dict:
    if hasattr(f, "to_dict"):
        return f.to_dict()
    return {k: getattr(f, k, None) for k in ("key", "rule", "subject_model", "subject_id", "summary",
                                               "severity", "evidence", "responsible_user_id")}


# -- HTML -------------------------------------------------------------------------
def situation_chart(chart, snapshot: Snapshot, as_of: date, client_ids: set[int] | None, not_raised: list) -> str:
    """Draw a chart a rule declared with ``bars`` (:class:`~clientcare.rules.spec.ReportChart`):
    the situation it judges, for the audited clients, less what it did not raise."""
    bars = chart.bars(snapshot, as_of, client_ids, not_raised)
    return bar_chart(chart.title, [b[0] for b in bars], [b[1] for b in bars], colors=TONES[chart.tone],
                     noun=chart.noun)


def rule_chart(chart, findings: list, frame: pd.DataFrame) -> str:
    """Draw a chart a rule declared (:class:`~clientcare.rules.spec.ReportChart`) from its findings."""
    mine = [f for f in findings if chart.level is None or f.level == chart.level]
    if chart.value is None:
        keys = {f.key for f in mine}
        rows = frame.loc[frame["key"].isin(keys)]
        counts = rows.groupby(rows["owner"].replace("", "(nobody)")).size().sort_values(ascending=False)
        return bar_chart(chart.title, [str(k) for k in counts.index], [int(v) for v in counts],
                         colors=TONES[chart.tone], noun=chart.noun)
    bars = sorted(((f.subject_name or str(f.subject_id), float(f.data[chart.value]),
                    str(f.data.get(chart.band)) if chart.band else "")
                   for f in mine if (f.data or {}).get(chart.value) is not None), key=lambda b: b[1])
    missing = len(mine) - len(bars)
    title = chart.title + (f"; {missing} {chart.missing}" if missing and chart.missing else "")
    tone = TONES[chart.tone]
    colors = [BAND_COLORS.get(b, tone[0]) for _, _, b in bars] if chart.band else tone
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


#: Findings shown in full (with their evidence) in the HTML report's client section, whole
#: clients in name order; the rest is counted and left to the CSV/JSON (a file a browser opens).
HTML_FINDINGS_SHOWN = 2000
#: Rows of the HTML report's "Top actions" and "Not raised, because" sections.
TOP_ACTIONS_SHOWN = 25
HTML_NOT_RAISED_SHOWN = 500
#: Score lines of the HTML report's "Client health" section (the clients whose health fell first).
HEALTH_TRENDS_SHOWN = 60


def render_html(findings: list, snapshot: Snapshot, as_of: date, meta: dict, not_raised: list = (),
                client_ids: set[int] | None = None, rule_charts: dict[str, tuple] | None = None,
                health_html: str = "", cap: int = DEFAULT_PER_DAY, working_time: WorkingTime | None = None) -> str:
    """The audit as one HTML page; ``rule_charts``: rule name -> the charts it declares;
    ``health_html``: the client health section (:func:`health_section`); ``cap`` and
    ``working_time``: the ramp (:func:`findings_frame`).
    Summary, top actions and client health first; long sections are capped and say how many
    more the CSV/JSON hold."""
    frame = findings_frame(findings, snapshot, as_of, cap, working_time)
    by_key = {f.key: f for f in findings}
    declared = [(rule, c) for rule, cs in sorted((rule_charts or {}).items()) for c in cs]
    charts = [situation_chart(c, snapshot, as_of, client_ids, [n for n in not_raised if n.rule == rule])
              for rule, c in declared if c.bars is not None]
    charts += [rule_chart(c, [f for f in findings if f.rule == rule], frame) for rule, c in declared if c.bars is None]
    counts = frame.groupby("rule").size().to_dict()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ClientCare audit — {esc(meta.get('db', ''))}</title><style>{CSS}</style></head><body>",
        f"<h1>ClientCare audit of {esc(meta.get('db', ''))}</h1>",
        f"<p class='meta'>Odoo {esc(meta.get('server_version', '?'))} at {esc(meta.get('url', ''))}; "
        f"data pulled {esc(meta.get('pulled_at', '?'))}; evaluated as of {as_of:%Y-%m-%d}; "
        f"{len(frame)} finding(s): " + ", ".join(f"{esc(k)} {v}" for k, v in sorted(counts.items())) + "</p>",
        *_summary_html(frame, as_of),
        *([health_html] if health_html else []),
        "<div class='charts'>" + "".join(f"<div class='card'>{c}</div>" for c in charts) + "</div>",
        "<h2>Clients</h2>",
    ]
    cols = {c: frame[c].tolist() for c in ("severity", "rule", "summary", "owner", "activity_type", "action",
                                           "due", "since", "key", "ramp_day")}
    cols["due"] = _due_cells(cols, as_of)
    shown = 0
    groups = client_groups(frame)
    for n, (client, rows) in enumerate(groups):
        if shown and shown + len(rows) > HTML_FINDINGS_SHOWN:
            rest = groups[n:]
            parts.append(f"<p>{sum(len(r) for _, r in rest)} more finding(s) ({len(rest)} client(s)): "
                         f"see the CSV/JSON</p>")
            break
        shown += len(rows)
        parts.append(f"<h3>{esc_name(client)}</h3><table><thead><tr><th>severity</th><th>rule</th>"
                     "<th>summary</th><th>owner</th><th>action</th><th>due</th><th>since</th></tr></thead><tbody>")
        parts += [_finding_row(cols, i) for i in rows]
        parts.append("</tbody></table>")
        for i in rows:
            f = by_key.get(cols["key"][i])
            evidence = list(getattr(f, "evidence", None) or [])
            if evidence:
                parts.append(f"<details><summary>Evidence: {esc(cols['summary'][i])}</summary>"
                             f"{evidence_table(evidence, getattr(f, 'evidence_columns', None))}</details>")
    if len(not_raised):
        nr = not_raised_frame(list(not_raised), snapshot)
        parts.append(f"<h2>Not raised, because ({len(nr)})</h2><table><thead><tr><th>client</th><th>rule</th>"
                     "<th>record</th><th>reason</th></tr></thead><tbody>")
        parts += [f"<tr><td>{esc_name(r.client)}</td><td>{esc(r.rule)}</td><td>{esc_name(r.record)}</td>"
                  f"<td>{esc(r.reason)}</td></tr>" for r in nr.head(HTML_NOT_RAISED_SHOWN).itertuples()]
        parts.append("</tbody></table>")
        if len(nr) > HTML_NOT_RAISED_SHOWN:
            parts.append(f"<p>{len(nr) - HTML_NOT_RAISED_SHOWN} more: see the JSON</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def health_section(history: pd.DataFrame | None, findings, as_of: date, cap: int = HEALTH_TRENDS_SHOWN) -> str:
    """The report's "Client health" section: the clients whose health fell since the last
    stored run, then one small line per client (oldest stored stretch to today); "" without
    a history."""
    if history is None or not len(history):
        return ""
    down = health_history.fell(history, findings)
    now = health_history.checklists(findings)
    parts = ["<h2>Client health</h2>", f"<p class='meta'>{len(down)} client(s) whose health fell since the last "
             f"stored run; fit score over the stored history ({history['since'].min()} to {as_of:%Y-%m-%d})</p>"]
    if down:
        parts.append("<table><thead><tr><th>client</th><th>was</th><th>now</th></tr></thead><tbody>")
        parts += [f"<tr><td>{esc_name(d['name'])}</td><td>{d['was']} ({esc(d['was_band'])}) since {esc(d['since'])}</td>"
                  f"<td><b>{d['score']}</b> ({esc(d['band'])})</td></tr>" for d in down]
        parts.append("</tbody></table>")
    first = [d["client_id"] for d in down]
    rest = sorted((c for c in now if c not in set(first) and now[c][1] is not None), key=lambda c: (now[c][1], c))
    stored = set(history["client_id"].tolist())
    drawable = [c for c in first + rest if c in stored]
    shown = drawable[:cap]
    parts.append("<table><thead><tr><th>client</th><th>trend</th><th>now</th></tr></thead><tbody>")
    for cid in shown:
        name, score, band, _ = now[cid]
        parts.append(f"<tr><td>{esc_name(name)}</td><td>{_trend_line(health_history.trend(history, cid), score, as_of)}"
                     f"</td><td><span style='color:{BAND_COLORS.get(band, '#607d8b')}'>"
                     f"{health_history.score_text(score)} {esc(band)}</span></td></tr>")
    parts.append("</tbody></table>")
    more = len(drawable) - len(shown)
    if more > 0:
        parts.append(f"<p class='meta'>... and {more} more (`clientcare history CLIENT` shows any client)</p>")
    return "\n".join(parts)


def _trend_line(points: list[dict], score, as_of: date) -> str:
    """A client's score from its first stored stretch to today's ``score``."""
    return score_line([date.fromisoformat(p["since"]) for p in points] + [as_of],
                      [p["score"] for p in points] + [score])


def _due_cells(cols: dict[str, list], as_of: date) -> list:
    """The due column: the deadline, and for a queued activity the day sync creates it."""
    return [f"{due} (queued: created {day})" if day != "" and day > as_of else due
            for due, day in zip(cols["due"], cols["ramp_day"])]


def _finding_row(cols: dict[str, list], i: int, client: str | None = None) -> str:
    first = f"<td>{esc_name(client)}</td>" if client is not None else ""
    return (f"<tr>{first}<td><span class='sev sev-{esc(cols['severity'][i])}'>{esc(cols['severity'][i])}</span></td>"
            f"<td>{esc(cols['rule'][i])}</td><td>{esc(cols['summary'][i])}</td><td>{esc_name(cols['owner'][i])}</td>"
            f"<td>{esc(cols['activity_type'][i] or cols['action'][i] or '')}</td><td>{esc(cols['due'][i])}</td>"
            f"<td>{esc(cols['since'][i])}</td></tr>")


def _summary_html(frame: pd.DataFrame, as_of: date) -> list[str]:
    """Findings per rule and severity, then the most severe activities, oldest first, grouped
    by person with what the ramp gives each today and queued."""
    if frame.empty:
        return []
    sev_order = sorted(frame["severity"].unique(), key=severity_rank)
    table = frame.groupby(["rule", "severity"]).size().unstack(fill_value=0).reindex(columns=sev_order, fill_value=0)
    clients = frame.loc[frame["client"] != "", "client"].nunique()
    parts = [f"<h2>Summary</h2><p>{len(frame)} finding(s) for {clients} client(s).</p><table><thead><tr><th>rule</th>"
             + "".join(f"<th>{esc(s)}</th>" for s in sev_order) + "<th>total</th></tr></thead><tbody>"]
    parts += [f"<tr><td>{esc(rule)}</td>" + "".join(f"<td>{int(n)}</td>" for n in row)
              + f"<td>{int(sum(row))}</td></tr>" for rule, row in zip(table.index, table.to_numpy().tolist())]
    parts.append("</tbody></table>")
    acts = frame.loc[frame["action"] == "activity"]
    if len(acts):
        since = acts["since"].astype(str).replace("", "9999")  # the oldest situation first
        top = acts.assign(_sev=acts["severity"].map(severity_rank), _since=since, client=acts["client"].replace(
            "", "(no client)")).sort_values(["_sev", "_since", "client", "key"], kind="stable").head(TOP_ACTIONS_SHOWN)
        cols = {c: top[c].tolist() for c in top.columns}
        cols["due"] = _due_cells(cols, as_of)
        figures = {name: text for name, _rows, text in person_groups(acts, as_of)}
        parts.append(f"<h2>Top actions ({len(top)} of {len(acts)}), by person</h2><table><thead><tr><th>client</th>"
                     "<th>severity</th><th>rule</th><th>summary</th><th>owner</th><th>action</th><th>due</th>"
                     "<th>since</th></tr></thead><tbody>")
        by_person: dict[str, list[int]] = {}
        for i, owner in enumerate(cols["owner"]):  # people in the order of their most urgent action
            by_person.setdefault(owner or NOBODY, []).append(i)
        for name, rows in by_person.items():
            parts.append(f"<tr><th colspan='8'>{esc_name(name)}: {esc(figures[name])}</th></tr>")
            parts += [_finding_row(cols, i, cols["client"][i]) for i in rows]
        parts.append("</tbody></table>")
        parts += _people_html(acts, as_of)
    return parts


#: Rows of the HTML report's "New activities per person" table (the busiest first).
PEOPLE_SHOWN = 100


def _people_html(acts: pd.DataFrame, as_of: date) -> list[str]:
    """What a first sync would give each person: new activities today, queued, until when
    (the write-back's ramp, ``max_new_per_person_per_day``)."""
    day = acts["ramp_day"]
    people = acts.assign(person=acts["owner"].replace("", NOBODY), today=day == as_of, queued=day != as_of)
    table = people.groupby("person").agg(today=("today", "sum"), queued=("queued", "sum"),
                                         until=("ramp_day", "max"))
    table = table.sort_values(["queued", "today"], ascending=False, kind="stable")
    rows = [f"<tr><td>{esc_name(name)}</td><td>{int(t)}</td><td>{int(q)}</td><td>{esc(u) if q else ''}</td></tr>"
            for name, t, q, u in zip(table.index, table["today"], table["queued"], table["until"])]
    more = len(rows) - PEOPLE_SHOWN
    return ([f"<h2>New activities per person</h2><p class='meta'>what a first sync creates today and what waits "
             "for the following working days (max_new_per_person_per_day; critical findings first)</p>"
             "<table><thead><tr><th>person</th><th>today</th><th>queued</th><th>until</th></tr></thead><tbody>"]
            + rows[:PEOPLE_SHOWN] + ["</tbody></table>"]
            + ([f"<p class='meta'>... and {more} more (see the CSV: ramp_day)</p>"] if more > 0 else []))


__all__ = ["findings_frame", "health_section", "not_raised_frame", "render_csv", "render_html", "render_json",
           "render_text"]
