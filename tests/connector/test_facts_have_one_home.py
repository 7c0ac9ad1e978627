"""Each business view has one home: the write-back marker, the severities and activity types,
the health bands and the payment states in ``connector/facts.py``; the client of a partner,
project or task and every derived view in ``connector/snapshot.py``.  A second spelling is how
two definitions drift apart, so these tests look for one."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from clientcare.connector import facts
from clientcare.connector import snapshot as views
from clientcare.jobs import health_tags
from clientcare.rules import frames as F
from clientcare.rules.builtin import fit_checklist
from clientcare.rules.testing import demo

from conftest import ROOT

PACKAGES = ("connector", "rules", "jobs")


def homes(pattern: str) -> list[str]:
    """The package modules whose source matches ``pattern``."""
    rx = re.compile(pattern, re.M)
    return sorted(p.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if rx.search(p.read_text(encoding="utf-8")))


# -- the write-back marker ------------------------------------------------------------------
def test_the_marker_round_trips():
    note = "<p>call them</p>"
    text = note + facts.compose_marker("late_payment:res.partner:8:call", "run-1", "0a1b", "ffee")
    assert facts.parse_marker(text) == facts.Marker("late_payment:res.partner:8:call", "run-1", "0a1b", "ffee")
    assert facts.strip_marker(text) == note
    assert facts.parse_marker(facts.compose_marker("k", "r", "00")) == facts.Marker("k", "r", "00", None)
    assert facts.parse_marker("<p>a person's note <!-- a comment --></p>") is None
    assert facts.parse_marker(None) is None


def test_a_key_cannot_end_the_comment_and_the_domain_terms_find_it():
    odd = "rule:res.partner:1:level --> <b>x</b>"
    text = facts.compose_marker(odd, "run-2", "00")
    key = facts.parse_marker(text).key
    assert key == facts.marker_key(odd) and not {" ", ">"} & set(key) and "--" not in key
    assert facts.marker_key(key) == key, "writing a written key again changes nothing"
    for field, op, needle in (facts.marked_key("body", odd), facts.marked_run("note", "run-2"), facts.ours("note")):
        assert op == "ilike" and needle in text
    assert facts.not_ours("body") == ("body", "not ilike", facts.ours("body")[2])


def test_the_marker_is_spelled_in_facts_only():
    assert homes(r"clientcare key=") == ["connector/facts.py"]


# -- severities, activity types, payment states ---------------------------------------------------
def test_severities_and_activity_types_are_listed_once():
    assert homes(r"Literal\[\s*[\"'](info|low)[\"']") == ["connector/facts.py"]
    assert homes(r"Literal\[\s*[\"'](todo|call)[\"']") == ["connector/facts.py"]
    assert facts.SEVERITIES == ("info", "low", "medium", "high", "critical")
    assert list(facts.ACTIVITY_TYPE_XMLIDS) == list(facts.ACTIVITY_TYPES) == ["todo", "call", "email", "meeting"]


def test_payment_states_are_defined_in_facts_only():
    assert homes(r"^\s*\w*_STATES\s*=\s*\(.*[\"'](paid|not_paid|in_payment|partial)[\"']") == ["connector/facts.py"]
    assert homes(r"[\"']in_payment[\"']") == ["connector/facts.py"]
    assert set(facts.OWED_STATES) <= set(facts.PAID_STATES) | {"not_paid"}


# -- client health bands ------------------------------------------------------------------------
def test_health_bands_names_and_floors_are_defined_in_facts_only():
    # a band's word in a message (its translation) is not a second definition of the band
    assert homes(r"^(?!.*gettext\().*[\"'](poor|at risk)[\"']") == ["connector/facts.py"]
    assert homes(r"(?i)^.*band.*\b(75|50)(\.0)?\b") == ["connector/facts.py"]
    config = fit_checklist.Config()
    assert (config.band_good, config.band_fair) == (facts.HEALTH_BAND_FLOORS["good"], facts.HEALTH_BAND_FLOORS["fair"])
    assert list(health_tags.NAMES) == list(facts.HEALTH_BANDS)
    assert health_tags.NAMES["poor"] == "Client health: at risk"


def test_a_score_falls_in_the_healthiest_band_whose_floor_it_reaches():
    scores = pd.Series([100.0, 75.0, 74.0, 50.0, 10.0, np.nan], index=list("abcdef"))
    bands = facts.health_bands(scores, facts.HEALTH_BAND_FLOORS)
    assert bands.tolist() == ["good", "good", "fair", "fair", "poor", facts.UNKNOWN_BAND]
    assert list(bands.index) == list("abcdef")
    assert [facts.HEALTH_RANK[b] for b in facts.HEALTH_BANDS] == [2, 1, 0]


# -- derived views ------------------------------------------------------------------------------
VIEWS = ("commercial", "tasks", "task_names", "project_clients", "finding_clients", "projects", "invoices",
         "invoice_names", "overdue_invoices", "open_credits", "late_tasks", "settled_invoices", "interactions",
         "record_clients", "open_activities", "ratings", "deadline_moves", "lookup", "memo")


@pytest.mark.parametrize("name", VIEWS)
def test_the_views_rules_read_are_the_snapshot_modules(name):
    assert getattr(F, name) is getattr(views, name)


def test_frames_builds_no_view_of_its_own():
    source = (ROOT / "rules" / "frames.py").read_text(encoding="utf-8")
    assert not re.search(r"^def \w+\(snapshot", source, re.M)
    assert homes(r"set_index\([\"']partner_id[\"']\)") == ["connector/snapshot.py"], "partner -> client: one map"


def test_a_partners_client_is_the_same_from_the_snapshot_and_the_frames():
    snap, _ = demo()
    ids = pd.concat([snap.partners["id"], pd.Series([10**9])], ignore_index=True).astype("Int64")
    pd.testing.assert_series_equal(snap.commercial_of(ids), F.commercial(snap, ids))
    assert snap.commercial_of(ids).iloc[-1] == 10**9, "an unknown partner stays as it is"
