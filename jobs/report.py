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
import itertools
import json
from datetime import date, datetime
from json.encoder import encode_basestring_ascii

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clientcare.connector.facts import marker_key, severity_rank
from clientcare.connector.snapshot import Snapshot
from clientcare.jobs import health_history
from clientcare.rules.words import band_word
from clientcare.jobs.charts import BAND_COLORS, TONES, bar_chart, score_line
from clientcare.jobs.ramp import DEFAULT_PER_DAY, Ramp, deadline, ramp_columns
from clientcare.jobs.writeback import esc, esc_name, evidence_table
from clientcare.rules import frames as F
from clientcare.rules.bidi import isolate
from clientcare.rules.finding import Action, Rows, jsonable
from clientcare.rules.finding_table import FindingTable, findings_of
from clientcare.rules.i18n import SOURCE, Msg, _, is_source, ngettext, normalize, pgettext, render, translate
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


def audit_ramp(findings, as_of: date, cap: int = DEFAULT_PER_DAY,
               working_time: WorkingTime | None = None) -> Ramp:
    """The write-back's ramp (:func:`clientcare.jobs.ramp.ramp`) over the findings' activities,
    as a first sync would make it: no ledger, so nothing received yet today."""
    table = findings_of(findings)
    act = np.flatnonzero(table.column("action_kind") == "activity")
    return _ramp(table, table.keys(), act, as_of, cap, working_time)[0]


def _ramp(table, keys: np.ndarray, act: np.ndarray, as_of: date, cap: int, working_time: WorkingTime | None):
    """:func:`audit_ramp` of the rows ``act``, with their marker keys."""
    marked = _marker_keys(keys[act].tolist())
    owners = [int(o) if o else None for o in table.column("responsible_user_id")[act].tolist()]
    return ramp_columns(marked, owners, table.column("severity")[act].tolist(), table.column("due_date")[act].tolist(),
                        cap, as_of, working_time or WorkingTime.weekdays()), marked


def _marker_keys(keys: list[str]) -> list[str]:
    """:func:`~clientcare.connector.facts.marker_key` of each key, in one pass over them joined by
    a character markers keep and no key holds (one by one when every such character is taken)."""
    for sep in "=+@":
        joined = sep.join(keys)
        if len(keys) > 1 and joined.count(sep) == len(keys) - 1:
            return marker_key(joined).split(sep)
    return [marker_key(k) for k in keys]


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values if isinstance(values, np.ndarray) and values.dtype == object else list(values)
    return out


def _lookup(mapping, values) -> list:
    """``mapping(v)`` of each value, computed once per distinct value."""
    seen: dict = {}
    return [seen[v] if v in seen else seen.setdefault(v, mapping(v)) for v in values]


def _ranks(values: list) -> np.ndarray:
    """Each value's place (from 0) among the distinct values sorted, for ``np.lexsort``: texts ranked
    by Arrow (UTF-8 bytes sort as Python sorts code points), anything else by Python."""
    try:
        return pc.rank(pa.array(values, type=pa.string()), sort_keys="ascending",
                       tiebreaker="dense").to_numpy().astype(np.int64) - 1
    except (pa.ArrowException, TypeError, ValueError):  # not text (or not UTF-8): Python's order
        order = sorted(set(values))
        place = {v: i for i, v in enumerate(order)}
        return np.fromiter((place[v] for v in values), dtype=np.int64, count=len(values))


def findings_frame(findings, snapshot: Snapshot, as_of: date, cap: int = DEFAULT_PER_DAY,
                   working_time: WorkingTime | None = None) -> pd.DataFrame:
    """One row per finding with the client's and the owner's names, sorted for reading;
    ``ramp_day`` is the day sync would create its activity (:func:`audit_ramp`, ``cap`` a day
    per person), ``due`` the deadline it would get then (a working day of its owner), ``since``
    the rule's own date when that is earlier (the situation is older than the activity).
    Built from the findings' columns (:func:`~clientcare.rules.finding_table.findings_of`)."""
    return _findings_frame(findings_of(findings), None, snapshot, as_of, cap, working_time)


def _findings_frame(table: FindingTable, keys: np.ndarray | None, snapshot: Snapshot, as_of: date, cap: int,
                    working_time: WorkingTime | None) -> pd.DataFrame:
    """:func:`findings_frame` of a table whose ``keys`` may be known already."""
    n = len(table)
    working_time = working_time or WorkingTime.weekdays()
    names = user_names(snapshot)
    clients = dict(zip(snapshot.partners["id"].astype(int), snapshot.partners["name"].astype(str)))
    keys = table.keys() if keys is None else keys
    kind = table.column("action_kind")
    act = np.flatnonzero(kind == "activity")
    days, marked = _ramp(table, keys, act, as_of, cap, working_time)
    act_days = [days.days[k] for k in marked]
    owners = table.column("responsible_user_id").tolist()
    act_owners = [owners[i] for i in act.tolist()]
    due_dates = table.column("due_date")[act].tolist()
    summaries, types = table.column("action_summary"), table.column("activity_type")
    calendars = {o: working_time.for_user(int(o) if o else None) for o in dict.fromkeys(act_owners)}
    deadlines: dict = {}  # a deadline is its calendar's first working day on or after the action's due_on
    due = _objects([""] * n)
    found = []
    for o, a, day in zip(act_owners, (Action("activity", summaries[i], types[i], d)
                                      for i, d in zip(act.tolist(), due_dates)), act_days):
        found.append((id(calendars[o]), a.due_on(day)))
        deadlines.setdefault(found[-1], (a, day, calendars[o]))
    deadlines = {k: deadline(*v) for k, v in deadlines.items()}
    due[act] = _objects([deadlines[k] for k in found])
    ramp_day, since = _objects([""] * n), _objects([""] * n)
    ramp_day[act] = _objects(act_days)
    since[act] = _objects([d if d and d < as_of else "" for d in due_dates])
    client_ids = table.column("client_id").tolist()
    client = _lookup(lambda c: clients.get(int(c), "") if c else "", client_ids)
    severity, rule, key = table.column("severity").tolist(), table.column("rule").tolist(), keys.tolist()
    ranks = {s: severity_rank(s) for s in set(severity)}
    order = np.lexsort((_ranks(key), _ranks(rule), np.fromiter(map(ranks.__getitem__, severity), np.int64, n),
                        _ranks(client)))
    kinds = kind.tolist()
    columns = {  # column by column: no dict per finding, lists as before (pandas infers the same types)
        "client_id": client_ids, "client": client, "severity": severity, "rule": rule,
        "summary": table.column("summary"), "owner_id": owners,
        "owner": _lookup(lambda o: names.get(int(o), f"user {o}") if o else "", owners),
        "subject": [f"{m},{i}" for m, i in zip(table.column("subject_model").tolist(), table.column("subject_id").tolist())],
        "subject_name": table.column("subject_name").tolist(), "level": table.column("level").tolist(), "key": key,
        "action": [k or "" for k in kinds], "activity_type": [t or "" for t in types.tolist()],
        "ramp_day": ramp_day, "due": due, "since": since,
    }
    return pd.DataFrame({name: pd.Series(_objects(values)[order], dtype=object) if name == "summary"
                         else _objects(values)[order].tolist() for name, values in columns.items()})


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


def client_groups(frame: pd.DataFrame):
    """Row positions per client as the reports show it ("(no client)" for none), clients sorted
    by that name, rows in frame order, one client at a time (a reader stops early)."""
    names = [name or "(no client)" for name in frame["client"].tolist()]
    group = _ranks(names)
    order = np.argsort(group, kind="stable")
    at = 0
    for name, size in zip(sorted(set(names)), np.bincount(group).tolist()):
        yield name, order[at:at + size].tolist()
        at += size


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
    n = len(day)
    who = [name or NOBODY for name in frame["owner"].tolist()]
    people = sorted(set(who), key=lambda name: (name == NOBODY, name))
    place = {name: i for i, name in enumerate(people)}
    group = np.fromiter((place[name] for name in who), dtype=np.int64, count=n)
    undated = np.fromiter((d == "" for d in day), dtype=bool, count=n)
    created = np.fromiter(((d or as_of).toordinal() for d in day), dtype=np.int64, count=n)
    ranks = {s: severity_rank(s) for s in set(sev)}
    order = np.lexsort((_ranks(key), np.fromiter(((d or as_of).toordinal() for d in due), dtype=np.int64, count=n),
                        np.fromiter((ranks[s] for s in sev), dtype=np.int64, count=n), created, undated, group))
    sizes = np.bincount(group, minlength=len(people))
    today = np.bincount(group[~undated & (created == as_of.toordinal())], minlength=len(people))
    queued = ~undated & (created > as_of.toordinal())
    later = np.bincount(group[queued], minlength=len(people))
    last = np.zeros(len(people), dtype=np.int64)
    np.maximum.at(last, group[queued], created[queued])
    out, at = [], 0
    for i, name in enumerate(people):
        rows = order[at:at + sizes[i]].tolist()
        at += sizes[i]
        figures = ngettext("{n} new activity today", "{n} new activities today", int(today[i])) \
            if today[i] or not later[i] else _("none today")
        if later[i]:
            # TRANSLATORS: {today} is "3 new activities today" or "none today"
            figures = ngettext("{today}, {n} queued until {day}", "{today}, {n} queued until {day}", int(later[i]),
                               today=figures, day=date.fromordinal(int(last[i])))
        out.append((name, rows, figures))
    return out


def _texts(values, lang: str | None) -> list[str]:
    """:func:`~clientcare.rules.i18n.render` of each value (English messages as their text)."""
    if lang is None or is_source(lang):
        return [v if type(v) is str else str.__str__(v) if type(v) is Msg else render(v) for v in values]
    return [render(v, lang) for v in values]


def _template(message: Msg, lang: str | None) -> str:
    """A message's text in ``lang``, its ``{values}`` left to fill (rendered in ``lang``)."""
    return message.msgid if lang is None or is_source(lang) else \
        translate(message.msgid, lang, context=message.context, domain=message.domain)


# TRANSLATORS: one finding of a person's list: its client, what it says, when it is due
FINDING_LINE = _("{client}: {summary}  {when}")


def render_text(frame: pd.DataFrame, not_raised: pd.DataFrame | None, as_of: date, lang: str | None = None) -> str:
    """The findings per person (their owner), with what the ramp gives each on ``as_of``;
    names isolated (:func:`~clientcare.rules.bidi.isolate`), as in the summaries; every text
    in ``lang`` (English when None).  Each distinct value (a severity, a client, a day) is
    rendered once."""
    out = [render(_("No findings."), lang)] if frame.empty else []
    sev, rule, client, action, day, due = (frame[c].tolist() for c in (
        "severity", "rule", "client", "action", "ramp_day", "due"))

    def when(a, d, due_day):
        if a != "activity":
            return render(_("({action})", action=ACTION_WORDS.get(a, a)) if a else _("(reported only)"), lang)
        return render(_("(due {due})", due=due_day) if d == as_of else
                      _("(queued: created {day}, due {due})", day=d, due=due_day), lang)
    heads = _lookup(lambda sr: f"  {word(SEVERITY_WORDS, sr[0], lang):<8} {sr[1]:<16} ", zip(sev, rule))
    clients = _lookup(lambda c: render(isolate(c) if c else NO_CLIENT, lang), client)
    whens = _lookup(lambda w: when(*w), zip(action, day, due))
    line = _template(FINDING_LINE, lang).format
    lines = [head + line(client=c, summary=s, when=w)
             for head, c, s, w in zip(heads, clients, _texts(frame["summary"].tolist(), lang), whens)]
    for name, rows, figures in person_groups(frame, as_of):
        out.append(render(_("{person}: {figures}", person=isolate(person(name, lang)), figures=figures), lang))
        out += [lines[i] for i in rows]
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


def render_json(findings, meta: dict, not_raised: list = (), not_judged: list = (), people: list = ()) -> str:
    return "".join(json_chunks(findings, meta, not_raised, not_judged, people))


def people_dicts(findings, snapshot: Snapshot, as_of: date, cap: int = DEFAULT_PER_DAY,
                 working_time: WorkingTime | None = None) -> list[dict]:
    """Per person, what the ramp gives them (:func:`audit_ramp`), with their name."""
    names = user_names(snapshot)
    people = audit_ramp(findings, as_of, cap, working_time).people.values()
    return [dict(p.to_dict(), name=names.get(p.owner, f"user {p.owner}") if p.owner else NOBODY)
            for p in sorted(people, key=lambda p: (p.owner is None, p.owner or 0))]


#: Findings encoded at a time by :func:`json_chunks` (the audit is written as it is encoded).
JSON_BATCH = 8192


def json_chunks(findings, meta: dict, not_raised: list = (), not_judged: list = (), people: list = ()):
    """The JSON audit piece by piece, one finding per line, each as ``json.dumps(finding.to_dict(),
    default=str)`` writes it, encoded column by column (:func:`_finding_lines`) a batch at a time,
    so a large audit is written as it is encoded instead of becoming one string; ``people``:
    :func:`people_dicts`."""
    table = findings_of(findings)
    yield '{"meta": ' + json.dumps(meta, default=str) + ',\n"findings": ['
    sep = "\n"
    for at in range(0, len(table), JSON_BATCH):
        yield sep + ",\n".join(_finding_lines(table.take(np.arange(at, min(at + JSON_BATCH, len(table))))))
        sep = ",\n"
    for name, items in (("not_raised", not_raised), ("not_judged", not_judged), ("people", people)):
        yield f'\n], "{name}": ['
        if len(items):
            yield "\n" + ",\n".join(_json_values([n if isinstance(n, dict) else n.to_dict() for n in items]))
    yield "\n]}\n"


_JSON = json.JSONEncoder(default=str)  # json.dumps(value, default=str), without a new encoder per value
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _json_values(values: list, plain: bool = False) -> list[str]:
    """``json.dumps(v, default=str)`` of each value (of ``jsonable(v)`` when ``plain``: what
    :meth:`Finding.to_dict` makes of data and evidence), one call per type and column: the
    items of lists and the values of dicts with the same keys are encoded as columns too."""
    if not values:
        return []
    types = set(map(type, values))
    if len(types) == 1:
        return _json_same(types.pop(), values, plain)
    if types <= _SCALARS:  # text or None, numbers or None: one pass
        return [_SCALAR[type(v)](v) for v in values] if not plain or float not in types else \
            [_SCALAR[type(v)](v) if type(v) is not float or v == v else "null" for v in values]
    kinds = list(map(type, values))
    out: list = [None] * len(values)
    for kind in types:
        at = [i for i, k in enumerate(kinds) if k is kind]
        for i, text in zip(at, _json_same(kind, [values[i] for i in at], plain)):
            out[i] = text
    return out


def _float_json(v: float) -> str:
    text = float.__repr__(v)
    return _NON_FINITE.get(text, text)


#: JSON of a scalar per exact type, as ``json.dumps`` writes it.
_SCALAR = {str: encode_basestring_ascii, type(None): lambda v: "null", bool: lambda v: "true" if v else "false",
           int: int.__repr__, float: _float_json}
_SCALARS = frozenset(_SCALAR)


def _json_same(kind: type, values: list, plain: bool) -> list[str]:
    """:func:`_json_values` of values of one type."""
    if issubclass(kind, str):
        return list(map(encode_basestring_ascii, values))
    if kind is type(None):
        return ["null"] * len(values)
    if kind is bool:
        return ["true" if v else "false" for v in values]
    if kind is int:
        return list(map(int.__repr__, values))
    if kind is float:
        texts = list(map(float.__repr__, values))
        if any(t in _NON_FINITE for t in texts):
            texts = ["null" if plain and t == "nan" else _NON_FINITE.get(t, t) for t in texts]
        return texts
    if kind is dict:
        return _json_dicts(values, plain)
    if kind is list or kind is tuple or (plain and kind is set):
        return _json_lists(values, plain)
    if plain:  # as jsonable() makes them
        if kind is type(pd.NA) or kind is type(pd.NaT):
            return ["null" if v is pd.NA or v is pd.NaT else _JSON.encode(jsonable(v)) for v in values]
        if issubclass(kind, np.integer):
            return list(map(int.__repr__, map(int, values)))
        if issubclass(kind, (float, np.floating)):
            return _json_same(float, [float(v) for v in values], plain)
        if issubclass(kind, np.bool_):
            return ["true" if v else "false" for v in values]
        if issubclass(kind, date) and not issubclass(kind, pd.Timestamp) or issubclass(kind, datetime):
            return [encode_basestring_ascii(v.isoformat()) for v in values]
        return [_JSON.encode(jsonable(v)) for v in values]
    return [_JSON.encode(v) for v in values]


def _json_dicts(values: list[dict], plain: bool) -> list[str]:
    """Dicts with the same keys as columns of their values (keys made text by ``str`` when
    ``plain``); a key JSON would not take as it is, one dict at a time."""
    groups: dict[tuple, list[int]] = {}
    for i, d in enumerate(values):
        groups.setdefault(tuple(d), []).append(i)
    out: list = [None] * len(values)
    for keys, at in groups.items():
        names = [str(k) for k in keys] if plain else list(keys)
        if not all(isinstance(k, str) for k in names) or len(set(names)) < len(names):
            texts = [_JSON.encode(jsonable(values[i]) if plain else values[i]) for i in at]
        elif not keys:
            texts = ["{}"] * len(at)
        else:
            texts = list(map(_object_template(names).format, *(_json_values([values[i][k] for i in at], plain) for k in keys)))
        if len(at) == len(values):
            return texts
        for i, text in zip(at, texts):
            out[i] = text
    return out


def _object_template(keys: list[str]) -> str:
    """A ``str.format`` template of a JSON object with these text keys, a ``{}`` per value."""
    return "{{" + ", ".join(encode_basestring_ascii(k).replace("{", "{{").replace("}", "}}") + ": {}"
                            for k in keys) + "}}"


def _json_lists(values: list, plain: bool) -> list[str]:
    """Lists (tuples, sets) with their items encoded as one column."""
    sizes = list(map(len, values))
    items = _json_values(list(itertools.chain.from_iterable(values)), plain)
    out, at = [], 0
    for size in sizes:
        out.append("[" + ", ".join(items[at:at + size]) + "]")
        at += size
    return out


def _json_shared(values: list, convert=None) -> list[str]:
    """:func:`_json_values` of values many rows share (a rule's evidence columns, its daily
    columns): each object encoded once."""
    distinct: dict[int, object] = {}
    for v in values:
        distinct.setdefault(id(v), v)
    texts = dict(zip(distinct, _json_values([convert(v) if convert else v for v in distinct.values()])))
    return [texts[id(v)] for v in values]


def _finding_lines(table: FindingTable) -> list[str]:
    """``json.dumps(f.to_dict(), default=str)`` of each finding of ``table``, from its columns
    (values as its rows give them: a typed column's as Python's, an object column's as held)."""
    n = len(table)

    def values(name: str) -> list:
        return table.column(name).tolist()

    def encoded(name: str) -> list[str]:
        return _json_values(values(name))
    kind, summary, kinds, dues = map(values, ("action_kind", "action_summary", "activity_type", "due_date"))
    acting = [i for i, k in enumerate(kind) if k is not None]
    action = ["null"] * n
    parts = [_json_values([kind[i] for i in acting]), _json_values([summary[i] for i in acting]),
             _json_values([kinds[i] for i in acting]),
             _json_values([dues[i].isoformat() if dues[i] else None for i in acting])]
    line = '{{"kind": {}, "summary": {}, "activity_type": {}, "due_date": {}}}'.format
    for i, text in zip(acting, map(line, *parts)):
        action[i] = text
    extra = [""] * n
    for name, convert in (("talking_points", list), ("replaces", list), ("fold", None)):
        got = values(name)
        present = [i for i, v in enumerate(got) if v]
        for i, text in zip(present, _json_values([convert(got[i]) if convert else got[i] for i in present])):
            extra[i] += f', "{name}": {text}'
    columns = [_json_values(table.keys().tolist()), *map(encoded, (
        "rule", "subject_model", "subject_id", "subject_name", "client_id", "severity", "level", "part", "period",
        "summary")), _json_evidence(values("evidence")), _json_shared(values("evidence_columns")),
        encoded("responsible_user_id"), encoded("routed_by"), action, encoded("resolved_when"),
        _json_values(values("data"), plain=True), _json_shared(values("daily"), list), extra]
    line = ('{{"key": {}, "rule": {}, "subject_model": {}, "subject_id": {}, "subject_name": {}, "client_id": {}, '
            '"severity": {}, "level": {}, "part": {}, "period": {}, "summary": {}, "evidence": {}, '
            '"evidence_columns": {}, "responsible_user_id": {}, "routed_by": {}, "action": {}, "resolved_when": {}, '
            '"data": {}, "daily": {}{}}}').format
    return list(map(line, *columns))


def _json_evidence(evidence: list) -> list[str]:
    """The evidence of each finding as :meth:`Finding.to_dict` gives it: :class:`Rows` that share
    their columns (a rule builds them once) encoded column by column, any other one by one."""
    out: list = [None] * len(evidence)
    shared: dict[tuple[int, int], list[int]] = {}
    for i, ev in enumerate(evidence):
        if type(ev) is Rows:
            names, columns, _, _ = ev.shared()
            shared.setdefault((id(columns), id(names)), []).append(i)
        else:
            out[i] = _JSON.encode(ev.jsonable() if isinstance(ev, Rows)
                                  else [{k: jsonable(v) for k, v in row.items()} for row in ev])
    for at in shared.values():
        names, columns, _, _ = evidence[at[0]].shared()
        spans = np.array([evidence[i].shared()[2:] for i in at], dtype=np.int64).reshape(len(at), 2)
        starts, sizes = spans[:, 0], spans[:, 1] - spans[:, 0]
        if (not all(type(k) is str for k in names) or len(set(names)) < len(names) or len(names) != len(columns)
                or not all(isinstance(c, (list, np.ndarray)) for c in columns) or (sizes < 0).any()
                or int((starts + sizes).max(initial=0)) > min((len(c) for c in columns), default=0)):
            for i in at:
                out[i] = _JSON.encode(evidence[i].jsonable())
            continue
        if not columns:
            for i in at:
                out[i] = "[]"
            continue
        total = int(sizes.sum())
        rows = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(total)
        whole = total == len(columns[0]) and bool((rows == np.arange(total)).all())
        texts = []
        for col in columns:
            if isinstance(col, np.ndarray):
                picked = col if whole else col[rows]
                picked = picked.tolist() if picked.dtype.kind in "biuf" else list(picked)
            else:
                picked = col if whole else [col[k] for k in rows.tolist()]
            texts.append(_json_values(picked, plain=True))
        encoded = list(map(_object_template(names).format, *texts))
        bounds = np.cumsum(sizes).tolist()
        for i, stop, size in zip(at, bounds, sizes.tolist()):
            out[i] = "[" + ", ".join(encoded[stop - size:stop]) + "]"
    return out


# -- HTML -------------------------------------------------------------------------
def situation_chart(chart, snapshot: Snapshot, as_of: date, client_ids: set[int] | None, not_raised: list,
                    lang: str | None = None) -> str:
    """Draw a chart a rule declared with ``bars`` (:class:`~clientcare.rules.spec.ReportChart`):
    the situation it judges, for the audited clients, less what it did not raise; its title and
    labels (messages of the rule) in ``lang``."""
    bars = chart.bars(snapshot, as_of, client_ids, not_raised)
    return bar_chart(chart.title, [render(b[0], lang) for b in bars], [b[1] for b in bars],
                     colors=TONES[chart.tone], noun=chart.noun, lang=lang)


def rule_chart(chart, table, frame: pd.DataFrame, lang: str | None = None, keys: np.ndarray | None = None) -> str:
    """Draw a chart a rule declared (:class:`~clientcare.rules.spec.ReportChart`) from its findings
    (``table``: the rule's, as columns; ``keys``: theirs, when known)."""
    level = None if chart.level is None else table.column("level") == chart.level
    mine = table if level is None else table.take(level)
    if chart.value is None:
        keys = mine.keys() if keys is None else keys if level is None else keys[level]
        rows = frame.loc[frame["key"].isin(set(keys.tolist()))]
        counts = rows.groupby(rows["owner"].replace("", NOBODY)).size().sort_values(ascending=False)
        return bar_chart(chart.title, [person(str(k), lang) for k in counts.index], [int(v) for v in counts],
                         colors=TONES[chart.tone], noun=chart.noun, lang=lang)
    bars = sorted(((name or str(sid), float(data[chart.value]), str(data.get(chart.band)) if chart.band else "")
                   for name, sid, data in zip(mine.column("subject_name").tolist(), mine.column("subject_id").tolist(),
                                              (d or {} for d in mine.column("data").tolist()))
                   if data.get(chart.value) is not None), key=lambda b: b[1])
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
    table = findings_of(findings)
    keys = table.keys()
    frame = _findings_frame(table, keys, snapshot, as_of, cap, working_time)
    server = server if str(server or "").startswith(("http://", "https://")) else None
    declared = [(rule, c) for rule, cs in sorted((rule_charts or {}).items()) for c in cs]
    rules = table.column("rule")
    charts = [situation_chart(c, snapshot, as_of, client_ids, [n for n in not_raised if n.rule == rule], lang)
              for rule, c in declared if c.bars is not None]
    charts += [rule_chart(c, table.take(rules == rule), frame, lang, keys[rules == rule])
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
    shown, positions, more = [], [], ""
    for client, rows in client_groups(frame):  # whole clients in name order, up to the cap
        if positions and len(positions) + len(rows) > HTML_FINDINGS_SHOWN:
            more = ngettext("{n} more finding(s) ({clients} client(s)): see the CSV/JSON",
                            "{n} more finding(s) ({clients} client(s)): see the CSV/JSON", len(frame) - len(positions),
                            clients=frame["client"].replace("", "(no client)").nunique() - len(shown))
            break
        shown.append((client, rows))
        positions += rows
    rows_shown = frame.iloc[positions]
    cols = {c: rows_shown[c].tolist() for c in ("severity", "rule", "summary", "owner", "activity_type", "action",
                                                "due", "since", "key", "ramp_day")}
    cols["due"] = _due_cells(cols, as_of)
    row_of = {k: i for i, k in enumerate(keys.tolist())}  # the last finding of a key, as before
    evidence, evidence_columns, views = (table.column(c) for c in ("evidence", "evidence_columns", "view"))
    at = 0
    for client, rows in shown:
        mine = range(at, at + len(rows))
        at += len(rows)
        parts.append(f"<h3>{esc_name(t(NO_CLIENT) if client == NO_CLIENT else client)}</h3><table><thead><tr>"
                     + _headings(("severity", "rule", "summary", "owner", "action", "due", "since"), lang)
                     + "</tr></thead><tbody>")
        parts += [_finding_row(cols, j, lang=lang) for j in mine]
        parts.append("</tbody></table>")
        for j in mine:
            i = row_of.get(cols["key"][j])
            rows_of_evidence = list(evidence[i] or []) if i is not None else []
            if rows_of_evidence:
                parts.append("<details><summary>" + esc(t(_("Evidence: {summary}", summary=cols["summary"][j])))
                             + "</summary>" + evidence_table(rows_of_evidence, evidence_columns[i], views[i],
                                                             lang or SOURCE, server)
                             + "</details>")
    if more:
        parts.append(f"<p>{esc(t(more))}</p>")
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
