"""fit_checklist's decline finding, from the stored history (``ctx.history``) on hand-made snapshots."""
from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd

from clientcare.rules.testing import visible
from clientcare.jobs.health_history import COLUMNS
from clientcare.rules.builtin import fit_checklist as fc
from clientcare.rules.testing import AS_OF, evaluate

from test_rules_fit_checklist import ONE, client, paid

KEY = "fit_checklist:res.partner:10:decline"
ALL_PASS = json.dumps({"pays_on_time": "pass"})


def stored(*rows) -> pd.DataFrame:
    """History rows for client 10: (days ago the stretch began, score, band[, criteria JSON])."""
    frame = pd.DataFrame([(10, "Azure Interior", (AS_OF - timedelta(days=ago)).isoformat(), f"r{i}", score, band,
                           crit[0] if crit else ALL_PASS) for i, (ago, score, band, *crit) in enumerate(rows)],
                         columns=COLUMNS)
    frame["score"] = pd.to_numeric(frame["score"]).astype("float64")
    return frame


def run(b, history, previous=(), **config):
    out = evaluate(fc, b.build(), AS_OF, fc.Config(**{**ONE, **config}), previous=previous, history=history)
    return {f.key: f for f in out.findings}, [n for n in out.not_judged if n.pattern.endswith(":decline")]


def test_a_fall_of_decline_points_within_the_window_is_one_activity_for_the_salesperson():
    found, _ = run(paid([1, 1, 0, 0]), stored((10, 100, "good")))       # pays late now: 0, poor
    f = found[KEY]
    since = (AS_OF - timedelta(days=10)).isoformat()
    assert visible(f.summary) == (f"fit score of Azure Interior fell from 100 to 0 since {since}: pays on time now fails "
                         f"(50 % of invoices paid late or overdue)")
    assert (f.action.kind, f.action.activity_type, f.action.due_date) == ("activity", "todo", AS_OF)
    assert f.data["decline_from"] == 100 and f.data["decline_band"] == "good"


def test_a_band_drop_is_a_decline_even_under_decline_points():
    found, _ = run(paid([70] + [0] * 9), stored((5, 100, "good")), decline_points=60.0)   # warn: 50, fair
    assert "fell from 100 to 50" in found[KEY].summary and "pays on time now warns" in found[KEY].summary


def test_a_small_fall_in_the_same_band_is_no_decline():
    assert KEY not in run(paid([70] + [0] * 9), stored((5, 60, "fair")))[0]


def test_only_the_window_counts_and_the_stretch_current_at_its_start():
    old_best = stored((60, 100, "good"), (40, 0, "poor"))   # good until 40 days ago: before the window
    assert KEY not in run(paid([1, 1, 0, 0]), old_best)[0]
    assert KEY in run(paid([1, 1, 0, 0]), old_best, decline_window_days=50)[0]
    spanning = stored((60, 100, "good"))                   # good since 60 days, still at the window's start
    assert KEY in run(paid([1, 1, 0, 0]), spanning)[0]


def test_an_open_decline_keeps_its_reference_until_the_client_recovers():
    first, _ = run(paid([1, 1, 0, 0]), stored((10, 100, "good")))
    previous = [f.to_dict() for f in first.values()]
    # the history's good stretch has left the window: the raised decline stays, same text and date
    later, _ = run(paid([1, 1, 0, 0]), stored((90, 0, "poor")), previous=previous)
    assert later[KEY].summary == first[KEY].summary and later[KEY].action.due_date == AS_OF
    recovered, not_judged = run(paid([0] * 4), stored((90, 0, "poor")), previous=previous)
    assert KEY not in recovered and not not_judged
    closed = evaluate(fc, paid([0] * 4).build(), AS_OF, fc.Config(**ONE), previous=previous,
                      history=stored((90, 0, "poor"))).resolved
    since = (AS_OF - timedelta(days=10)).isoformat()
    assert [(r.key, r.how) for r in closed] == [
        (KEY, f"fit score 100 (good), back within 20 points of 100 (since {since})")]


def test_no_history_or_an_unknown_score_is_never_a_decline():
    found, not_judged = run(paid([1, 1, 0, 0]), None)
    assert KEY not in found and not not_judged                   # offline: nothing open to keep either
    assert KEY not in run(paid([1, 1, 0, 0]), stored())[0]       # a first run: no history yet
    assert KEY not in run(client(), stored((10, 100, "good")))[0]   # the score is unknown now
    previous = [f.to_dict() for f in run(paid([1, 1, 0, 0]), stored((10, 100, "good")))[0].values()]
    for history, b in ((stored((10, 100, "good")), client()), (None, paid([1, 1, 0, 0]))):
        found, not_judged = run(b, history, previous=previous)   # an open decline is never closed from absence
        assert KEY not in found and [n.pattern for n in not_judged] == [KEY]


def test_the_decline_settings_are_checked():
    assert fc.Config(decline_points=0).check() == ["decline_points must be > 0 and decline_window_days >= 1"]


def test_the_decline_activity_carries_its_talking_points():
    from clientcare.rules import scripts
    found, _ = run(paid([1, 1, 0, 0]), stored((10, 100, "good")))
    f = found[KEY]
    scripts.fill([f], {"fit_checklist": fc.scripts}, {10: "Azure Interior"})
    since = (AS_OF - timedelta(days=10)).isoformat()
    assert visible(f.talking_points[0]) == f"Call Azure Interior: their fit score fell from 100 to 0 since {since}."
    assert visible(f.summary) in visible(f.talking_points[1])


def test_a_decline_is_the_clients_one_activity_no_attention_repeats_it():
    """Pays late now and the score fell: the decline says so; an attention activity for the same
    client would say it twice (one already open is left, not closed)."""
    previous = [{"rule": "fit_checklist", "level": "checklist", "subject_id": 10, "client_id": 10,
                 "key": "fit_checklist:res.partner:10:checklist",
                 "data": {"score": 100, "band": "good", "criteria": {"pays_on_time": "pass"}}}]
    found, _ = run(paid([1, 1, 0, 0]), stored((10, 100, "good")), previous=previous)
    assert KEY in found
    assert not [k for k in found if k.endswith(":attention")]
    out = evaluate(fc, paid([1, 1, 0, 0]).build(), AS_OF, fc.Config(**ONE), previous=previous,
                   history=stored((10, 100, "good")))
    assert "fit_checklist:res.partner:10:attention" in {n.pattern for n in out.not_judged}
    without_history = evaluate(fc, paid([1, 1, 0, 0]).build(), AS_OF, fc.Config(**ONE), previous=previous)
    assert "fit_checklist:res.partner:10:attention" in {f.key for f in without_history.findings}
