"""Client health over time: each client's fit score, band and criteria after every applied
sync and live audit (the state table ``health_history``; this module owns it).

One row per client and unchanged stretch: a cron that finds nothing new adds no row.  Rows
of stretches that ended more than ``history_days`` before the run's day are dropped when a
run writes; the one current at that cut-off stays, so the window still has a start.
"""
from __future__ import annotations

import json
import logging
import tempfile
from contextlib import contextmanager
from datetime import date, timedelta

import pandas as pd

from clientcare.connector.state import StateStore
from clientcare.rules.finding import HEALTH_LEVEL

COLUMNS = ["client_id", "name", "since", "run_id", "score", "band", "criteria_json"]
DEFAULT_DAYS = 400
BAND_RANK = {"poor": 0, "fair": 1, "good": 2}
#: Trend lines drawn in the report (the clients whose health fell come first).
TREND_CAP = 60


def checklists(findings) -> dict[int, tuple]:
    """Client id -> (name, score, band, criteria JSON) from the findings stating client health."""
    return {f.subject_id: (f.subject_name, f.data.get("score"), f.data.get("band"),
                           json.dumps(f.data.get("criteria") or {}, sort_keys=True))
            for f in findings if f.level == HEALTH_LEVEL and "band" in (f.data or {})}


def health_rules(profile) -> set[str]:
    """The enabled rules that state client health: those charting findings of ``HEALTH_LEVEL``."""
    from clientcare.jobs import rulesglue

    return {name for name, charts in rulesglue.charts(profile).items() if any(c.level == HEALTH_LEVEL for c in charts)}


def load_for_run(state: StateStore, scope: str, profile, rule_names=None) -> pd.DataFrame | None:
    """The stored history when a rule stating client health runs; None, and nothing read,
    otherwise (a cron of other rules does not load every client's stretches)."""
    from clientcare.jobs import rulesglue

    if not health_rules(profile) & set(rulesglue.enabled(profile, rule_names)):
        return None
    return load(state, scope)


def load(state: StateStore, scope: str, client_ids=None) -> pd.DataFrame:
    """The stored stretches of one database (or of ``client_ids``), oldest first per client."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM health_history WHERE scope=?"
    args: list = [scope]
    if client_ids is not None:
        ids = sorted(int(i) for i in client_ids)
        sql += f" AND client_id IN ({','.join('?' * len(ids))})"
        args += ids
    rows = state.db.execute(sql + " ORDER BY client_id, since, rowid", args).fetchall()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["score"] = pd.to_numeric(frame["score"]).astype("float64")
    return frame


def record(state: StateStore, scope: str, run_id: str, day: date, findings, keep_days: int) -> int:
    """Store the run's checklists where they changed; drop what retention lets go.  Rows added."""
    current = checklists(findings)
    if not current:
        return 0
    latest = {row[0]: tuple(row[1:4]) for row in state.db.execute(
        "SELECT client_id, score, band, criteria_json, max(rowid) FROM health_history WHERE scope=? "
        "GROUP BY client_id", (scope,))}
    rows = [(scope, cid, name, day.isoformat(), run_id, score, band, crit)
            for cid, (name, score, band, crit) in current.items() if latest.get(cid) != (score, band, crit)]
    cutoff = (day - timedelta(days=keep_days)).isoformat()
    with state.transaction() as db:
        db.executemany("INSERT INTO health_history(scope, client_id, name, since, run_id, score, band, "
                       "criteria_json) VALUES (?,?,?,?,?,?,?,?)", rows)
        db.execute("DELETE FROM health_history WHERE scope=? AND since < ? AND rowid < (SELECT max(n.rowid) "
                   "FROM health_history n WHERE n.scope=health_history.scope AND "
                   "n.client_id=health_history.client_id AND n.since <= ?)", (scope, cutoff, cutoff))
    return len(rows)


def keep_days(profile) -> int:
    value = profile.values.get("history_days")
    return DEFAULT_DAYS if value is None else int(value)


def fell(history: pd.DataFrame, findings) -> list[dict]:
    """Clients whose score or band is lower than at the last stored run, largest fall first."""
    if history is None or not len(history):
        return []
    last = history.groupby("client_id").tail(1).set_index("client_id")
    out = []
    for cid, (name, score, band, _) in checklists(findings).items():
        if cid not in last.index or score is None or last.at[cid, "score"] != last.at[cid, "score"]:
            continue
        before, was = int(last.at[cid, "score"]), last.at[cid, "band"]
        if score < before or BAND_RANK.get(band, -1) < BAND_RANK.get(was, -1):
            out.append({"client_id": cid, "name": name, "score": score, "band": band, "was": before,
                        "was_band": was, "since": last.at[cid, "since"]})
    return sorted(out, key=lambda r: (r["score"] - r["was"], str(r["name"])))


def trend(history: pd.DataFrame, client_id: int) -> list[dict]:
    """One client's stretches, each with what changed since the one before."""
    rows = history.loc[history["client_id"] == client_id]
    out, before = [], None
    for r in rows.itertuples():
        crit = json.loads(r.criteria_json)
        score = None if r.score != r.score else int(r.score)
        changes = []
        if before is None:
            changes.append("first stored")
        else:
            if score != before["score"]:
                changes.append(f"score {_shown(before['score'])} -> {_shown(score)}")
            if r.band != before["band"]:
                changes.append(f"band {before['band']} -> {r.band}")
            changes += [f"{c.replace('_', ' ')} {before['criteria'].get(c, 'unknown')} -> {s}"
                        for c, s in crit.items() if s != before["criteria"].get(c, "unknown")]
        before = {"since": r.since, "run_id": r.run_id, "score": score, "band": r.band, "criteria": crit,
                  "changes": changes}
        out.append(before)
    return out


def health_section(history: pd.DataFrame | None, findings, as_of: date, cap: int = TREND_CAP) -> str:
    """The report's "Client health" section: the clients whose health fell since the last
    stored run, then one small line per client (oldest stored stretch to today); "" without
    a history."""
    from clientcare.jobs.charts import BAND_COLORS
    from clientcare.jobs.writeback import esc

    if history is None or not len(history):
        return ""
    down = fell(history, findings)
    now = checklists(findings)
    parts = ["<h2>Client health</h2>", f"<p class='meta'>{len(down)} client(s) whose health fell since the last "
             f"stored run; fit score over the stored history ({history['since'].min()} to {as_of:%Y-%m-%d})</p>"]
    if down:
        parts.append("<table><thead><tr><th>client</th><th>was</th><th>now</th></tr></thead><tbody>")
        parts += [f"<tr><td>{esc(d['name'])}</td><td>{d['was']} ({esc(d['was_band'])}) since {esc(d['since'])}</td>"
                  f"<td><b>{d['score']}</b> ({esc(d['band'])})</td></tr>" for d in down]
        parts.append("</tbody></table>")
    first = [d["client_id"] for d in down]
    rest = sorted((c for c in now if c not in set(first) and now[c][1] is not None), key=lambda c: (now[c][1], c))
    shown = [c for c in first + rest if (history["client_id"] == c).any()][:cap]
    parts.append("<table><thead><tr><th>client</th><th>trend</th><th>now</th></tr></thead><tbody>")
    for cid in shown:
        name, score, band, _ = now[cid]
        parts.append(f"<tr><td>{esc(name)}</td><td>{_sparkline(trend(history, cid), score, as_of)}</td><td>"
                     f"<span style='color:{BAND_COLORS.get(band, '#607d8b')}'>{_shown(score)} {esc(band)}</span>"
                     f"</td></tr>")
    parts.append("</tbody></table>")
    more = len([c for c in first + rest if (history["client_id"] == c).any()]) - len(shown)
    if more > 0:
        parts.append(f"<p class='meta'>... and {more} more (`clientcare history CLIENT` shows any client)</p>")
    return "\n".join(parts)


def _sparkline(points: list[dict], score, as_of: date, width: int = 160, height: int = 28) -> str:
    """Inline SVG: the score as a step line from the first stored stretch to today (0-100)."""
    days = [date.fromisoformat(p["since"]) for p in points] + [as_of]
    values = [p["score"] for p in points] + [score]
    span = max((days[-1] - days[0]).days, 1)
    xy = []
    for i, (d, v) in enumerate(zip(days, values)):
        if v is None:
            continue
        x = 2 + (width - 4) * (d - days[0]).days / span
        y = height - 2 - (height - 4) * v / 100
        if xy and i:
            xy.append(f"{x:.1f},{xy[-1].split(',')[1]}")
        xy.append(f"{x:.1f},{y:.1f}")
    title = ", ".join(f"{d:%Y-%m-%d}: {_shown(v)}" for d, v in zip(days, values))
    return (f"<svg width='{width}' height='{height}' role='img'><title>{title}</title>"
            f"<line x1='0' x2='{width}' y1='{height / 2}' y2='{height / 2}' stroke='#eee'/>"
            f"<polyline fill='none' stroke='#1565c0' stroke-width='1.5' points='{' '.join(xy)}'/>"
            + (f"<circle cx='{xy[-1].split(',')[0]}' cy='{xy[-1].split(',')[1]}' r='2.5' fill='#1565c0'/>" if xy else "")
            + "</svg>")


def _shown(score) -> str:
    return "unknown" if score is None else str(score)


def demo_history(profile, snapshot, day: date, last: bool = True, every_days: int = 14,
                 runs: int = 13) -> pd.DataFrame:
    """The history the demo snapshot gives when the fit checklist is evaluated every
    ``every_days`` up to ``day`` (before it unless ``last``), built in a throwaway state
    store, so ``history`` and the report can be tried without a server."""
    from clientcare.jobs import rulesglue

    routing_log = logging.getLogger("clientcare.rules.routing")  # who owns a finding: not shown here
    with tempfile.TemporaryDirectory(prefix="clientcare-demo-") as tmp, _quiet(routing_log):
        state = StateStore(f"{tmp}/demo.sqlite3")
        try:
            previous, names = {}, sorted(health_rules(profile))
            for k in range(runs - last, -last, -1) if names else ():
                run_day = day - timedelta(days=every_days * k)
                result = rulesglue.evaluate(snapshot, run_day, profile, names, previous=previous,
                                            history=load(state, "demo"))
                record(state, "demo", f"demo-{run_day.isoformat()}", run_day, result.findings, keep_days(profile))
                previous = {r: [f.to_dict() for f in result.findings if f.rule == r] for r in result.rules_run}
            return load(state, "demo")
        finally:
            state.close()


@contextmanager
def _quiet(logger: logging.Logger):
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
