"""The reports read findings as columns: each piece gives the bytes today's per-object code gives
(``json.dumps(f.to_dict(), default=str)``, Python's sort order, the ramp of one creation at a
time), for the awkward values too."""
from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from clientcare.jobs import report
from clientcare.jobs.ramp import Creation, order, ramp
from clientcare.rules.finding import Action, Finding, Rows, jsonable
from clientcare.rules.finding_table import FindingTable, const, findings_of
from clientcare.rules.i18n import _, money
from clientcare.rules.working_time import WorkingTime

AWKWARD = ["text", "", "quote \" and \\ and {braces}", "é ß 😀 \u2068bidi\u2069", _("{n} day", n=3), money(5, "EUR"),
           None, True, False, 0, -7, 2**70, 1.5, -0.0, float("nan"), float("inf"), float("-inf"), 1e-7,
           np.int64(4), np.float64(2.25), np.float64("nan"), np.bool_(True), date(2026, 1, 2),
           datetime(2026, 1, 2, 3, 4), pd.Timestamp("2026-01-02 03:04"), pd.NA, pd.NaT, [1, "a", None], (2, 3),
           {"a": 1, "b": [1, {"c": None}]}, {1: "int key", "1": "text key"}, {"z": 1, "a": 2}, {}, [], {3, 4},
           {"nested": {"a": float("nan"), "b": (1, 2)}}, frozenset([1]), object]


@pytest.mark.parametrize("plain", [False, True])
def test_values_are_encoded_as_json_dumps_encodes_each(plain):
    values = AWKWARD * 3 + [{"a": 1, "b": 2}] * 4 + [{"a": "x", "b": None}] * 3
    expected = [json.dumps(jsonable(v) if plain else v, default=str) for v in values]
    assert report._json_values(values, plain) == expected
    for kind in ({"a": 1}, [1], "x", None, 1.5):  # one type, and that type mixed with None
        same = [v for v in values if isinstance(v, type(kind))]
        assert report._json_values(same, plain) == [json.dumps(jsonable(v) if plain else v, default=str) for v in same]


def _findings() -> list[Finding]:
    shared = Rows(["kind", "amount", "day", "note"], [["a", "b", "c", "d", "e"], [1.5, None, 3, float("nan"), 2],
                                                      ["2026-01-01", None, "x", "y", "z"], [None, "n", "m", 1, 0]])
    out = []
    for i in range(1, 9):
        out.append(Finding(
            subject_model="res.partner", subject_id=i, subject_name=f"Client {i}", severity=("high", "low")[i % 2],
            summary=_("call {client}", client=f"Client {i}"),
            evidence=Rows(shared._names, shared._columns, i % 3, i % 3 + 2) if i % 4 else [{"x": np.int64(i), "y": None}],
            evidence_columns=["kind", "amount"] if i % 2 else None, client_id=i if i % 3 else None,
            level="chronic" if i == 2 else None, part="p" if i == 3 else None, period="2026-01" if i == 4 else None,
            action=Action("activity", f"do {i}", "call", date(2026, 1, i)) if i % 2 else
            (Action("note", f"note {i}") if i == 4 else None),
            resolved_when="paid" if i % 2 else "", data={"ids": [i, i + 1], "score": i / 3, "k": {"a": i}} if i != 5
            else {7: "int key", "when": date(2026, 2, 2)}, responsible_user_id=i % 3 or None, routed_by="test",
            rule="late_payment" if i < 5 else "follow_up", daily=("amount",) if i % 2 else (),
            talking_points=("ask",) if i == 6 else (), replaces=("old:key",) if i == 7 else (), fold="theme" if i == 8 else None))
    return out


def test_finding_lines_are_to_dict_dumped_for_a_list_and_for_a_table():
    findings = _findings()
    expected = "".join("\n" + json.dumps(f.to_dict(), default=str) if i == 0 else ",\n" + json.dumps(f.to_dict(), default=str)
                       for i, f in enumerate(findings))
    for given in (findings, findings_of(findings)):
        text = report.render_json(given, {"db": "x"})
        assert text == '{"meta": {"db": "x"},\n"findings": [' + expected + '\n], "not_raised": [\n], "not_judged": [\n], ' \
                       '"people": [\n]}\n'


def test_a_table_s_numpy_values_are_written_as_its_rows_give_them():
    table = FindingTable(3, subject_model="res.partner", subject_id=np.array([1, 2, 3]), subject_name=["a", "b", "c"],
                         severity=const("low"), summary=["s1", "s2", "s3"], evidence=[[{"v": 1}]] * 3,
                         client_id=np.array([4, 5, 6]), responsible_user_id=np.array([7, None, np.int64(8)], dtype=object),
                         rule=const("r"))
    lines = report.render_json(table, {}).split("\n")[2:5]
    assert [json.loads(line.rstrip(",")) for line in lines] == [json.loads(json.dumps(f.to_dict(), default=str))
                                                                for f in table]
    assert [line.rstrip(",") for line in lines] == [json.dumps(f.to_dict(), default=str) for f in table]


def test_texts_rank_in_python_s_order():
    values = ["", "a", "b", "é", "Z", "\u2068x", "😀", "a\x00", "a", "ß", "z", "\ud800 lone"]
    place = {v: i for i, v in enumerate(sorted(set(values)))}
    assert report._ranks(values).tolist() == [place[v] for v in values]
    assert report._ranks(values[:-1]).tolist() == [place[v] - (v > "\ud800 lone") for v in values[:-1]]


def test_the_ramp_of_columns_is_the_ramp_of_one_creation_at_a_time():
    rng = np.random.default_rng(3)
    severities = ["critical", "high", "medium", "low", "info", "unknown"]
    creations = [Creation(f"k{rng.integers(40)}", [None, 2, 3, 7][rng.integers(4)], severities[rng.integers(6)],
                          None if rng.random() < .2 else date(2026, 11, 1 + int(rng.integers(28))))
                 for _ in range(400)]
    for cap, received in ((0, {}), (1, {2: 1}), (3, {None: 5, 7: 2}), (10, {})):
        got = ramp(creations, cap, date(2026, 12, 7), WorkingTime.weekdays(), received)
        days, ahead, people = {}, {}, {}  # one creation at a time, as the ramp was written first
        for owner in dict.fromkeys(c.owner for c in creations):
            mine = sorted((c for c in creations if c.owner == owner), key=order)
            got_today, today, queued, day = received.get(owner, 0), 0, 0, None
            first = date(2026, 12, 7)
            for n, c in enumerate(mine):
                ahead[c.key] = n
                if not cap or today < (cap if c.severity == "critical" else max(cap - got_today, 0)):
                    days[c.key], today = first, today + 1
                    continue
                day = days[c.key] = WorkingTime.weekdays().for_user(owner).add_working_days(first, queued // cap + 1)
                queued += 1
            people[owner] = (got_today, today, queued, day)
        assert list(got.days.items()) == list(days.items()) and list(got.ahead.items()) == list(ahead.items())
        assert {o: (p.received, p.today, p.queued, p.until) for o, p in got.people.items()} == people
