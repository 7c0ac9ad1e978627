"""Client health over time: each client's fit score, band and criteria after every applied
sync and live audit (the state table ``health_history``; this module owns it), and what the
stored stretches say: who fell since the last run, and what changed from one stretch to the next.

One row per client and unchanged stretch: a cron that finds nothing new adds no row.  Rows
of stretches that ended more than ``history_days`` before the run's day are dropped when a
run writes; the one current at that cut-off stays, so the window still has a start.  The
report draws it (:func:`clientcare.jobs.report.health_section`); the demo builds one
(:mod:`clientcare.jobs.demo_history`).
"""
from __future__ import annotations

import json
from collections import namedtuple
from datetime import date, timedelta
from typing import TYPE_CHECKING, Iterable

from clientcare.connector.facts import HEALTH_RANK
from clientcare.connector.state import StateStore, Tables
from clientcare.rules.i18n import _, pgettext
from clientcare.rules.words import CRITERION_WORDS, band_word, status_word

if TYPE_CHECKING:  # pandas and the rules are imported where used: `clientcare history` needs neither
    import pandas as pd

TABLES = Tables({3: """
    CREATE TABLE health_history (     -- jobs/health_history.py: one row per client and unchanged stretch
        scope TEXT NOT NULL,
        client_id INTEGER NOT NULL,
        name TEXT,                    -- the client's name when the stretch began
        since TEXT NOT NULL,          -- the run day (as_of) the stretch began
        run_id TEXT NOT NULL,         -- the run that began it
        score INTEGER,                -- NULL: unknown (too few criteria known)
        band TEXT NOT NULL,
        criteria_json TEXT NOT NULL   -- JSON {criterion: status}
    );
    CREATE INDEX health_history_client ON health_history(scope, client_id, since);
    """})

COLUMNS = ["client_id", "name", "since", "run_id", "score", "band", "criteria_json"]
#: One stored row, as ``clientcare history`` reads it without pandas.
Stretch = namedtuple("Stretch", COLUMNS)


def checklists(findings) -> dict[int, tuple]:
    """Client id -> (name, score, band, criteria JSON) from the findings stating client health."""
    from clientcare.rules.finding import HEALTH_LEVEL
    from clientcare.rules.finding_table import FindingTable

    if isinstance(findings, FindingTable):  # the run's table: three columns of its checklist rows
        rows = findings.take(findings.isin("level", (HEALTH_LEVEL,)))
        stated = zip(*(rows.column(c).tolist() for c in ("subject_id", "subject_name", "data")))
    else:  # findings one by one
        stated = ((f.subject_id, f.subject_name, f.data) for f in findings if f.level == HEALTH_LEVEL)
    return {sid: (name, data.get("score"), data.get("band"), json.dumps(data.get("criteria") or {}, sort_keys=True))
            for sid, name, data in stated if "band" in (data or {})}


def load_for_run(state: StateStore, scope: str, rules) -> pd.DataFrame | None:
    """The stored history when a rule of ``rules`` (a RuleSet) states client health; None, and
    nothing read, otherwise (a cron of other rules does not load every client's stretches)."""
    if not rules.health_rules:
        return None
    return load(state, scope)


def _select(state: StateStore, scope: str, client_ids=None) -> list[tuple]:
    """The stored stretches of one database (or of ``client_ids``), oldest first per client."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM health_history WHERE scope=?"
    args: list = [scope]
    if client_ids is not None:
        ids = sorted(int(i) for i in client_ids)
        sql += f" AND client_id IN ({','.join('?' * len(ids))})"
        args += ids
    return state.db.execute(sql + " ORDER BY client_id, since, rowid", args).fetchall()


def stretches(state: StateStore, scope: str, client_ids=None) -> list[Stretch]:
    """:func:`_select` as plain rows (unknown scores None), for ``clientcare history``."""
    return [Stretch(*row) for row in _select(state, scope, client_ids)]


def load(state: StateStore, scope: str, client_ids=None) -> pd.DataFrame:
    """:func:`_select` as a frame (unknown scores NaN), for the rules and the report."""
    import pandas as pd

    frame = pd.DataFrame(_select(state, scope, client_ids), columns=COLUMNS)
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


def fell(history: pd.DataFrame, findings) -> list[dict]:
    """Clients whose score or band is lower than at the last stored run, largest fall first."""
    if history is None or not len(history):
        return []
    last = history.groupby("client_id").tail(1).set_index("client_id")
    out = []
    for cid, (name, score, band, _criteria) in checklists(findings).items():
        if cid not in last.index or score is None or last.at[cid, "score"] != last.at[cid, "score"]:
            continue
        before, was = int(last.at[cid, "score"]), last.at[cid, "band"]
        if score < before or HEALTH_RANK.get(band, -1) < HEALTH_RANK.get(was, -1):
            out.append({"client_id": cid, "name": name, "score": score, "band": band, "was": before,
                        "was_band": was, "since": last.at[cid, "since"]})
    return sorted(out, key=lambda r: (r["score"] - r["was"], str(r["name"])))


def trend(history: pd.DataFrame, client_id: int) -> list[dict]:
    """One client's stretches, each with what changed since the one before."""
    return trend_of(history.loc[history["client_id"] == client_id].itertuples())


def trend_of(rows: Iterable) -> list[dict]:
    """:func:`trend` of one client's rows (stretches or frame rows: a NaN score is unknown)."""
    out, before = [], None
    for r in rows:
        crit = json.loads(r.criteria_json)
        score = None if r.score is None or r.score != r.score else int(r.score)
        changes = []
        if before is None:
            changes.append(_("first stored"))
        else:
            if score != before["score"]:
                changes.append(_("score {was} -> {now}", was=score_text(before["score"]), now=score_text(score)))
            if r.band != before["band"]:
                changes.append(_("band {was} -> {now}", was=band_word(before["band"]), now=band_word(r.band)))
            # TRANSLATORS: a fit criterion ("pays on time") and its status before and now (pass, fail)
            changes += [_("{criterion} {was} -> {now}", criterion=CRITERION_WORDS.get(c, c.replace("_", " ")),
                          was=status_word(before["criteria"].get(c, "unknown")), now=status_word(s))
                        for c, s in crit.items() if s != before["criteria"].get(c, "unknown")]
        before = {"since": r.since, "run_id": r.run_id, "score": score, "band": r.band, "criteria": crit,
                  "changes": changes}
        out.append(before)
    return out


def score_text(score) -> str:
    """A score as the trend and the report spell it: an unknown one is "unknown"."""
    return pgettext("score", "unknown") if score is None else str(score)
