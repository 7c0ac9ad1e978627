"""Audit output: a terminal table grouped by client, CSV, JSON, and one self-contained HTML file.

Findings come with what was *not* raised and why (``NotRaised``): every overdue invoice and
late task Odoo shows is accounted for.  CSV holds the findings only (one row each); the
"not raised" list is in the text, JSON and HTML outputs.  Every chart is declared by a rule
(:class:`~clientcare.rules.spec.ReportChart`): the situations the rules judge first, computed
from the frames the rules use for the audited clients only, then charts of the findings.
"""
from __future__ import annotations

import csv
import functools
import io
import json
from datetime import date

import pandas as pd

from clientcare.connector.facts import marker_key, severity_rank
from clientcare.connector.snapshot import Snapshot
from clientcare.jobs import health_history
from clientcare.rules.words import band_word
from clientcare.jobs.charts import BAND_COLORS, TONES, bar_chart, score_line
from clientcare.jobs.ramp import DEFAULT_PER_DAY, Creation, Ramp, deadline, ramp
from clientcare.jobs.writeback import esc, esc_name, evidence_table
from clientcare.rules import frames as F
from clientcare.rules.bidi import isolate
from clientcare.rules.i18n import SOURCE, _, is_source, ngettext, normalize, pgettext, render
from clientcare.rules.working_time import WorkingTime

#: Lines of the "Not raised, because" section in text output (JSON lists them all).
NOT_RAISED_SHOWN = 50

#: A severity as a person reads it in the text and HTML reports (JSON and CSV keep the raw value).
SEVERITY_WORDS = {"critical": pgettext("severity", "critical"), "high": pgettext("severity", "high"),
                  "medium": pgettext("severity", "medium"), "low": pgettext("severity", "low"),
                  "info": pgettext("severity", "info")}
#: What a finding asks for, when it is not an activity.
ACTION_WORDS = {"note": pgettext("action", "note"), "activity": pgettext("action", "activity")}
NO_CLIENT = _("(no client)")


#: The column headings of the HTML report's tables.
HEADINGS = {"severity": pgettext("column", "severity"), "rule": pgettext("column", "rule"),
            "summary": pgettext("column", "summary"), "owner": pgettext("column", "owner"),
            "action": pgettext("column", "action"), "due": pgettext("column", "due"),
            "since": pgettext("column", "since"), "client": pgettext("column", "client"),
            "record": pgettext("column", "record"), "reason": pgettext("column", "reason"),
            "total": pgettext("column", "total"), "person": pgettext("column", "person"),
            "today": pgettext("column", "today"), "queued": pgettext("column", "queued"),
            "until": pgettext("column", "until"), "was": pgettext("column", "was"),
            "now": pgettext("column", "now"), "trend": pgettext("column", "trend")}


def html_lang(lang: str | None) -> str:
    """``<html lang>``: a BCP 47 tag (``fr-FR``), ``en`` for English."""
    return "en" if lang is None or is_source(lang) else normalize(lang).replace("_", "-")


def _headings(columns, lang: str | None) -> str:
    return "".join(f"<th>{esc(render(HEADINGS[c], lang))}</th>" for c in columns)


def word(table: dict, raw, lang: str | None) -> str:
    """A raw value in ``lang`` through its table of words (the value itself when it has none)."""
    return render(table.get(raw, raw) if isinstance(raw, str) else raw, lang)


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
        "summary": pd.Series([f.summary for f in findings], dtype=object), "owner_id": owners,
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
    frame["reason"] = pd.Series([n.reason for n in not_raised], dtype=object)  # messages, rendered by the reader
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
NOBODY_WORDS = _("(nobody)")


def person(name: str, lang: str | None) -> str:
    """An owner's name as the reports show it, "(nobody)" in ``lang``."""
    return render(NOBODY_WORDS, lang) if name == NOBODY else name


def person_groups(frame: pd.DataFrame, as_of: date) -> list[tuple[str, list[int], str]]:
    """Row positions per owner ("(nobody)" last), each with a line (a message) of what the ramp
    gives them: new activities today and queued (until when).  Rows in the order sync creates them (the
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
        figures = ngettext("{n} new activity today", "{n} new activities today", today) if today or not later \
            else _("none today")
        if later:
            # TRANSLATORS: {today} is "3 new activities today" or "none today"
            figures = ngettext("{today}, {n} queued until {day}", "{today}, {n} queued until {day}", len(later),
                               today=figures, day=max(later))
        out.append((name, rows, figures))
    return out


def render_text(frame: pd.DataFrame, not_raised: pd.DataFrame | None, as_of: date, lang: str | None = None) -> str:
    """The findings per person (their owner), with what the ramp gives each on ``as_of``;
    names isolated (:func:`~clientcare.rules.bidi.isolate`), as in the summaries; every text
    in ``lang`` (English when None)."""
    out = [render(_("No findings."), lang)] if frame.empty else []
    sev, rule, summary, client, action, day, due = (frame[c].tolist() for c in (
        "severity", "rule", "summary", "client", "action", "ramp_day", "due"))

    def when(i: int):
        if action[i] != "activity":
            return _("({action})", action=ACTION_WORDS.get(action[i], action[i])) if action[i] \
                else _("(reported only)")
        return _("(due {due})", due=due[i]) if day[i] == as_of else \
            _("(queued: created {day}, due {due})", day=day[i], due=due[i])
    for name, rows, figures in person_groups(frame, as_of):
        out.append(render(_("{person}: {figures}", person=isolate(person(name, lang)), figures=figures), lang))
        out += [f"  {word(SEVERITY_WORDS, sev[i], lang):<8} {rule[i]:<16} "
                # TRANSLATORS: one finding of a person's list: its client, what it says, when it is due
                + render(_("{client}: {summary}  {when}", client=isolate(client[i]) if client[i] else NO_CLIENT,
                           summary=summary[i], when=when(i)), lang) for i in rows]
    if not frame.empty:
        counts = frame.groupby(["rule", "severity"]).size()
        out.append("")
        counted = ", ".join(f"{rule} {word(SEVERITY_WORDS, sev, lang)} {render(int(n), lang)}"
                            for (rule, sev), n in counts.items())
        out.append(render(ngettext("{n} finding(s): {counts}", "{n} finding(s): {counts}", len(frame),
                                   counts=counted), lang))
    if not_raised is not None and len(not_raised):
        out += ["", render(ngettext("Not raised, because ({n}):", "Not raised, because ({n}):", len(not_raised)),
                           lang)]
        for r in not_raised.head(NOT_RAISED_SHOWN).itertuples():
            # TRANSLATORS: a record (invoice, task) no finding was raised for, its client, and why
            out.append(f"  {r.rule:<16} " + render(_("{record} ({client}): {reason}", record=isolate(r.record),
                                                     client=isolate(r.client) if r.client else _("no client"),
                                                     reason=r.reason), lang))
        if len(not_raised) > NOT_RAISED_SHOWN:
            out.append(render(_("  ... and {n} more: see --format json", n=len(not_raised) - NOT_RAISED_SHOWN), lang))
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
def situation_chart(chart, snapshot: Snapshot, as_of: date, client_ids: set[int] | None, not_raised: list,
                    lang: str | None = None) -> str:
    """Draw a chart a rule declared with ``bars`` (:class:`~clientcare.rules.spec.ReportChart`):
    the situation it judges, for the audited clients, less what it did not raise; its title and
    labels (messages of the rule) in ``lang``."""
    bars = chart.bars(snapshot, as_of, client_ids, not_raised)
    return bar_chart(chart.title, [render(b[0], lang) for b in bars], [b[1] for b in bars],
                     colors=TONES[chart.tone], noun=chart.noun, lang=lang)


def rule_chart(chart, findings: list, frame: pd.DataFrame, lang: str | None = None) -> str:
    """Draw a chart a rule declared (:class:`~clientcare.rules.spec.ReportChart`) from its findings."""
    mine = [f for f in findings if chart.level is None or f.level == chart.level]
    if chart.value is None:
        keys = {f.key for f in mine}
        rows = frame.loc[frame["key"].isin(keys)]
        counts = rows.groupby(rows["owner"].replace("", NOBODY)).size().sort_values(ascending=False)
        return bar_chart(chart.title, [person(str(k), lang) for k in counts.index], [int(v) for v in counts],
                         colors=TONES[chart.tone], noun=chart.noun, lang=lang)
    bars = sorted(((f.subject_name or str(f.subject_id), float(f.data[chart.value]),
                    str(f.data.get(chart.band)) if chart.band else "")
                   for f in mine if (f.data or {}).get(chart.value) is not None), key=lambda b: b[1])
    missing = len(mine) - len(bars)
    # TRANSLATORS: a chart's title, then how many findings it cannot draw and why ("without a score")
    title = ngettext("{title}; {n} {what}", "{title}; {n} {what}", missing, title=chart.title, what=chart.missing) \
        if missing and chart.missing else chart.title
    tone = TONES[chart.tone]
    colors = [BAND_COLORS.get(b, tone[0]) for _, _, b in bars] if chart.band else tone
    return bar_chart(title, [b[0] for b in bars], [b[1] for b in bars], colors=colors or None,
                     scale_max=chart.scale_max, noun=chart.noun, lang=lang)


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
                health_html: str = "", cap: int = DEFAULT_PER_DAY, working_time: WorkingTime | None = None,
                lang: str | None = None, server: str | None = None) -> str:
    """The audit as one HTML page (``server``: the Odoo its evidence names link to; none for the
    demo); ``rule_charts``: rule name -> the charts it declares;
    ``health_html``: the client health section (:func:`health_section`); ``cap`` and
    ``working_time``: the ramp (:func:`findings_frame`).
    Summary, top actions and client health first; long sections are capped and say how many
    more the CSV/JSON hold.  Every text in ``lang`` (English when None), ``<html lang>`` too."""
    t = functools.partial(render, lang=lang)
    frame = findings_frame(findings, snapshot, as_of, cap, working_time)
    by_key = {f.key: f for f in findings}
    server = server if str(server or "").startswith(("http://", "https://")) else None
    declared = [(rule, c) for rule, cs in sorted((rule_charts or {}).items()) for c in cs]
    charts = [situation_chart(c, snapshot, as_of, client_ids, [n for n in not_raised if n.rule == rule], lang)
              for rule, c in declared if c.bars is not None]
    charts += [rule_chart(c, [f for f in findings if f.rule == rule], frame, lang)
               for rule, c in declared if c.bars is None]
    counts = frame.groupby("rule").size().to_dict()
    counted = ", ".join(f"{k} {t(int(v))}" for k, v in sorted(counts.items()))
    parts = [
        f"<!DOCTYPE html><html lang='{esc(html_lang(lang))}'><head><meta charset='utf-8'>",
        "<title>" + esc(t(_("ClientCare audit — {db}", db=meta.get("db", "")))) + f"</title><style>{CSS}</style></head><body>",
        "<h1>" + esc(t(_("ClientCare audit of {db}", db=meta.get("db", "")))) + "</h1>",
        # TRANSLATORS: the report's first line: Odoo's version, its address, when the data was pulled,
        # the day the rules judged, then the number of findings per rule
        "<p class='meta'>" + esc(t(ngettext(
            "Odoo {version} at {url}; data pulled {pulled}; evaluated as of {day}; {n} finding(s): {counts}",
            "Odoo {version} at {url}; data pulled {pulled}; evaluated as of {day}; {n} finding(s): {counts}",
            len(frame), version=meta.get("server_version", "?"), url=meta.get("url", ""),
            pulled=meta.get("pulled_at", "?"), day=as_of, counts=counted))) + "</p>",
        *_summary_html(frame, as_of, lang),
        *([health_html] if health_html else []),
        "<div class='charts'>" + "".join(f"<div class='card'>{c}</div>" for c in charts) + "</div>",
        "<h2>" + esc(t(_("Clients"))) + "</h2>",
    ]
    cols = {c: frame[c].tolist() for c in ("severity", "rule", "summary", "owner", "activity_type", "action",
                                           "due", "since", "key", "ramp_day")}
    cols["due"] = _due_cells(cols, as_of)
    shown = 0
    groups = client_groups(frame)
    for n, (client, rows) in enumerate(groups):
        if shown and shown + len(rows) > HTML_FINDINGS_SHOWN:
            rest = groups[n:]
            more = ngettext("{n} more finding(s) ({clients} client(s)): see the CSV/JSON",
                            "{n} more finding(s) ({clients} client(s)): see the CSV/JSON",
                            sum(len(r) for _c, r in rest), clients=len(rest))
            parts.append(f"<p>{esc(t(more))}</p>")
            break
        shown += len(rows)
        parts.append(f"<h3>{esc_name(t(NO_CLIENT) if client == NO_CLIENT else client)}</h3><table><thead><tr>"
                     + _headings(("severity", "rule", "summary", "owner", "action", "due", "since"), lang)
                     + "</tr></thead><tbody>")
        parts += [_finding_row(cols, i, lang=lang) for i in rows]
        parts.append("</tbody></table>")
        for i in rows:
            f = by_key.get(cols["key"][i])
            evidence = list(getattr(f, "evidence", None) or [])
            if evidence:
                parts.append("<details><summary>" + esc(t(_("Evidence: {summary}", summary=cols["summary"][i])))
                             + "</summary>" + evidence_table(evidence, getattr(f, "evidence_columns", None),
                                                             getattr(f, "view", None), lang or SOURCE, server)
                             + "</details>")
    if len(not_raised):
        nr = not_raised_frame(list(not_raised), snapshot)
        parts.append("<h2>" + esc(t(ngettext("Not raised, because ({n})", "Not raised, because ({n})", len(nr))))
                     + "</h2><table><thead><tr>" + _headings(("client", "rule", "record", "reason"), lang)
                     + "</tr></thead><tbody>")
        parts += [f"<tr><td>{esc_name(r.client)}</td><td>{esc(r.rule)}</td><td>{esc_name(r.record)}</td>"
                  f"<td>{esc(t(r.reason))}</td></tr>" for r in nr.head(HTML_NOT_RAISED_SHOWN).itertuples()]
        parts.append("</tbody></table>")
        if len(nr) > HTML_NOT_RAISED_SHOWN:
            parts.append("<p>" + esc(t(_("{n} more: see the JSON", n=len(nr) - HTML_NOT_RAISED_SHOWN))) + "</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def health_section(history: pd.DataFrame | None, findings, as_of: date, cap: int = HEALTH_TRENDS_SHOWN,
                   lang: str | None = None) -> str:
    """The report's "Client health" section: the clients whose health fell since the last
    stored run, then one small line per client (oldest stored stretch to today); "" without
    a history.  Every text in ``lang``."""
    if history is None or not len(history):
        return ""
    t = functools.partial(render, lang=lang)
    down = health_history.fell(history, findings)
    now = health_history.checklists(findings)
    first_day = history["since"].min()
    parts = ["<h2>" + esc(t(_("Client health"))) + "</h2>", "<p class='meta'>" + esc(t(ngettext(
        "{n} client(s) whose health fell since the last stored run; fit score over the stored history "
        "({first} to {last})",
        "{n} client(s) whose health fell since the last stored run; fit score over the stored history "
        "({first} to {last})", len(down), first=_day(first_day), last=as_of))) + "</p>"]
    if down:
        parts.append("<table><thead><tr>" + _headings(("client", "was", "now"), lang) + "</tr></thead><tbody>")
        # TRANSLATORS: a client's fit score and band at the last stored run, and since when
        parts += [f"<tr><td>{esc_name(d['name'])}</td><td>"
                  + esc(t(_("{score} ({band}) since {day}", score=d["was"], band=band_word(d["was_band"]),
                            day=_day(d["since"]))))
                  + f"</td><td><b>{t(d['score'])}</b> ({esc(t(band_word(d['band'])))})</td></tr>" for d in down]
        parts.append("</tbody></table>")
    first = [d["client_id"] for d in down]
    rest = sorted((c for c in now if c not in set(first) and now[c][1] is not None), key=lambda c: (now[c][1], c))
    stored = set(history["client_id"].tolist())
    drawable = [c for c in first + rest if c in stored]
    shown = drawable[:cap]
    parts.append("<table><thead><tr>" + _headings(("client", "trend", "now"), lang) + "</tr></thead><tbody>")
    for cid in shown:
        name, score, band, _checks = now[cid]
        parts.append(f"<tr><td>{esc_name(name)}</td><td>{_trend_line(health_history.trend(history, cid), score, as_of, lang)}"
                     f"</td><td><span style='color:{BAND_COLORS.get(band, '#607d8b')}'>"
                     f"{esc(t(health_history.score_text(score)))} {esc(t(band_word(band)))}</span></td></tr>")
    parts.append("</tbody></table>")
    more = len(drawable) - len(shown)
    if more > 0:
        parts.append("<p class='meta'>" + esc(t(_("... and {n} more (`clientcare history CLIENT` shows any client)",
                                                  n=more))) + "</p>")
    return "\n".join(parts)


def _day(value):
    """A stored ISO day as a date (rendered per locale); anything else as it is."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _trend_line(points: list[dict], score, as_of: date, lang: str | None = None) -> str:
    """A client's score from its first stored stretch to today's ``score``."""
    return score_line([date.fromisoformat(p["since"]) for p in points] + [as_of],
                      [p["score"] for p in points] + [score], lang=lang)


def _due_cells(cols: dict[str, list], as_of: date) -> list:
    """The due column: the deadline, and for a queued activity the day sync creates it (messages
    and dates, rendered by :func:`_finding_row`)."""
    return [_("{due} (queued: created {day})", due=due, day=day) if day != "" and day > as_of else due
            for due, day in zip(cols["due"], cols["ramp_day"])]


def _finding_row(cols: dict[str, list], i: int, client: str | None = None, lang: str | None = None) -> str:
    t = functools.partial(render, lang=lang)
    first = f"<td>{esc_name(t(NO_CLIENT) if client == NO_CLIENT else client)}</td>" if client is not None else ""
    kind = cols["activity_type"][i] or ACTION_WORDS.get(cols["action"][i], cols["action"][i]) or ""
    return (f"<tr>{first}<td><span class='sev sev-{esc(cols['severity'][i])}'>"
            f"{esc(word(SEVERITY_WORDS, cols['severity'][i], lang))}</span></td>"
            f"<td>{esc(cols['rule'][i])}</td><td>{esc(t(cols['summary'][i]))}</td>"
            f"<td>{esc_name(cols['owner'][i])}</td>"
            f"<td>{esc(t(kind))}</td><td>{esc(t(cols['due'][i]))}</td>"
            f"<td>{esc(t(cols['since'][i]))}</td></tr>")


def _summary_html(frame: pd.DataFrame, as_of: date, lang: str | None = None) -> list[str]:
    """Findings per rule and severity, then the most severe activities, oldest first, grouped
    by person with what the ramp gives each today and queued."""
    if frame.empty:
        return []
    t = functools.partial(render, lang=lang)
    sev_order = sorted(frame["severity"].unique(), key=severity_rank)
    table = frame.groupby(["rule", "severity"]).size().unstack(fill_value=0).reindex(columns=sev_order, fill_value=0)
    clients = frame.loc[frame["client"] != "", "client"].nunique()
    summary = ngettext("{n} finding(s) for {clients} client(s).", "{n} finding(s) for {clients} client(s).",
                       len(frame), clients=int(clients))
    parts = ["<h2>" + esc(t(_("Summary"))) + f"</h2><p>{esc(t(summary))}</p><table><thead><tr>" + _headings(("rule",), lang)
             + "".join(f"<th>{esc(word(SEVERITY_WORDS, s, lang))}</th>" for s in sev_order)
             + _headings(("total",), lang) + "</tr></thead><tbody>"]
    parts += [f"<tr><td>{esc(rule)}</td>" + "".join(f"<td>{t(int(n))}</td>" for n in row)
              + f"<td>{t(int(sum(row)))}</td></tr>" for rule, row in zip(table.index, table.to_numpy().tolist())]
    parts.append("</tbody></table>")
    acts = frame.loc[frame["action"] == "activity"]
    if len(acts):
        since = acts["since"].astype(str).replace("", "9999")  # the oldest situation first
        top = acts.assign(_sev=acts["severity"].map(severity_rank), _since=since, client=acts["client"].replace(
            "", "(no client)")).sort_values(["_sev", "_since", "client", "key"], kind="stable").head(TOP_ACTIONS_SHOWN)
        cols = {c: top[c].tolist() for c in top.columns}
        cols["due"] = _due_cells(cols, as_of)
        figures = {name: text for name, _rows, text in person_groups(acts, as_of)}
        heading = ngettext("Top actions ({shown} of {n}), by person", "Top actions ({shown} of {n}), by person",
                           len(acts), shown=len(top))
        parts.append(f"<h2>{esc(t(heading))}</h2><table><thead><tr>"
                     + _headings(("client", "severity", "rule", "summary", "owner", "action", "due", "since"), lang)
                     + "</tr></thead><tbody>")
        by_person: dict[str, list[int]] = {}
        for i, owner in enumerate(cols["owner"]):  # people in the order of their most urgent action
            by_person.setdefault(owner or NOBODY, []).append(i)
        for name, rows in by_person.items():
            parts.append(f"<tr><th colspan='8'>{esc_name(person(name, lang))}: {esc(t(figures[name]))}</th></tr>")
            parts += [_finding_row(cols, i, cols["client"][i], lang) for i in rows]
        parts.append("</tbody></table>")
        parts += _people_html(acts, as_of, lang)
    return parts


#: Rows of the HTML report's "New activities per person" table (the busiest first).
PEOPLE_SHOWN = 100


def _people_html(acts: pd.DataFrame, as_of: date, lang: str | None = None) -> list[str]:
    """What a first sync would give each person: new activities today, queued, until when
    (the write-back's ramp, ``max_new_per_person_per_day``)."""
    r = functools.partial(render, lang=lang)
    day = acts["ramp_day"]
    people = acts.assign(person=acts["owner"].replace("", NOBODY), today=day == as_of, queued=day != as_of)
    table = people.groupby("person").agg(today=("today", "sum"), queued=("queued", "sum"),
                                         until=("ramp_day", "max"))
    table = table.sort_values(["queued", "today"], ascending=False, kind="stable")
    rows = [f"<tr><td>{esc_name(person(name, lang))}</td><td>{r(int(t))}</td><td>{r(int(q))}</td>"
            f"<td>{esc(r(u)) if q else ''}</td></tr>"
            for name, t, q, u in zip(table.index, table["today"], table["queued"], table["until"])]
    more = len(rows) - PEOPLE_SHOWN
    return (["<h2>" + esc(r(_("New activities per person"))) + "</h2><p class='meta'>"
             + esc(r(_("what a first sync creates today and what waits for the following working days "
                       "(max_new_per_person_per_day; critical findings first)"))) + "</p>"
             "<table><thead><tr>" + _headings(("person", "today", "queued", "until"), lang) + "</tr></thead><tbody>"]
            + rows[:PEOPLE_SHOWN] + ["</tbody></table>"]
            + (["<p class='meta'>" + esc(r(_("... and {n} more (see the CSV: ramp_day)", n=more))) + "</p>"]
               if more > 0 else []))


__all__ = ["findings_frame", "health_section", "not_raised_frame", "render_csv", "render_html", "render_json",
           "render_text"]
