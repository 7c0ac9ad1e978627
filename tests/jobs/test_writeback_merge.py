"""One activity per client and theme, on upgrade (offline double; the cassette scenario in
tests/jobs/test_calm_cassettes.py shows it on real Odoo 16-19): open activities under the keys a
finding replaces are taken over or merged, never closed as resolved, never duplicated; what a
person did on them (an owner, a "done") carries over."""
from __future__ import annotations

import dataclasses
import html
from datetime import timedelta

import pytest

from clientcare.rules.testing import visible
from clientcare.connector.facts import CLOSE_FEEDBACK, MERGE_FEEDBACK
from clientcare.jobs import ledger

from odoo_double import OdooDouble, keys_in
from test_writeback_people import AS_OF, MARC_USER, only, sync
from writeback_findings import finding

OLD = [f"late_payment:res.partner:1001:level{n}" for n in (1, 2, 3)]
NEW = "late_payment:res.partner:1001"


def today_s_finding(**kw):
    """The finding the rule now makes for client 1001: one key for every level."""
    return dataclasses.replace(finding(1, invoices=(11, 12, 13), **kw), level=None, replaces=tuple(OLD))


def upgraded_from_three_levels(state, odoo, **kw):
    for n in (1, 2, 3):  # yesterday's version: one activity per level
        sync(odoo, state, [finding(1, level=n, invoices=(10 + n,)) for n in (1, 2, 3)], "old")
    assert keys_in(odoo.open_activities(), "note") == OLD
    return sync(odoo, state, [today_s_finding(**kw)], "new", AS_OF + timedelta(days=1))


@pytest.mark.parametrize("major", [16, 18])
def test_three_level_activities_become_one_and_none_is_closed_as_resolved(state, major):
    odoo = OdooDouble(major)
    plan, done = upgraded_from_three_levels(state, odoo)
    assert done == {"updated": 1, "merged": 2}
    assert sorted(it.op for it in plan.items) == ["merge", "merge", "update"]
    act = only(odoo)
    assert keys_in([act], "note") == [NEW]
    assert act["id"] == min(a["id"] for a in odoo.records["mail.activity"].values())  # the oldest is kept
    assert "now closed as merged" in html.unescape(act["note"])
    closings = [html.unescape(m["body"]) for m in odoo.records["mail.message"].values() if m["mail_activity_type_id"]]
    assert len(closings) == 2 and all(MERGE_FEEDBACK in b and CLOSE_FEEDBACK not in b for b in closings)
    statuses = {k: v.status for k, v in ledger.activities(state, odoo.scope).items()}
    assert statuses == {OLD[0]: "merged", OLD[1]: "merged", OLD[2]: "merged", NEW: "open"}
    plan, done = sync(odoo, state, [today_s_finding()], "next", AS_OF + timedelta(days=2))
    assert done == {} and [(it.op, it.reason) for it in plan.items] == [("leave", "unchanged")]


def test_the_activity_a_person_gave_to_someone_is_the_one_kept_and_stays_with_them(state):
    odoo = OdooDouble()
    for n in (1, 2, 3):
        sync(odoo, state, [finding(1, level=n, invoices=(10 + n,)) for n in (1, 2, 3)], "old")
    moved = next(a for a in odoo.open_activities() if OLD[1] in a["note"])
    moved["user_id"] = MARC_USER  # a person reassigned the level-2 activity in Odoo
    plan, done = sync(odoo, state, [today_s_finding()], "new", AS_OF + timedelta(days=1))
    act = only(odoo)
    assert act["id"] == moved["id"] and act["user_id"] == MARC_USER
    assert "to whom a person gave it" in html.unescape(act["note"])


def test_a_person_s_done_on_a_replaced_key_stands_for_the_new_one(state):
    odoo = OdooDouble()
    sync(odoo, state, [finding(1, level=2, invoices=(11,))], "old")
    odoo.mark_done(only(odoo)["id"], "they pay on Friday")
    plan, done = sync(odoo, state, [finding(1, level=2, invoices=(11,))], "old2")
    assert done == {}
    plan, done = sync(odoo, state, [dataclasses.replace(finding(1, invoices=(11,)), level=None,
                                                        replaces=(OLD[1],))], "new", AS_OF + timedelta(days=1))
    assert done == {} and not odoo.open_activities()
    assert [visible(it.reason) for it in plan.items] == ["done by Marc Demo on 2026-11-22 — they noted: 'they pay on "
                                                "Friday'; raised again on 2026-11-30 if still found"]


def test_merged_activities_stay_open_when_the_one_holding_them_could_not_be_written(state):
    odoo = OdooDouble()
    for n in (1, 2):
        sync(odoo, state, [finding(1, level=n, invoices=(10 + n,)) for n in (1, 2)], "old")
    odoo.fail_res_ids.add(1002)  # the activity that would hold them (on another record) is refused
    new = dataclasses.replace(finding(2, invoices=(21,)), replaces=tuple(OLD[:2]))
    plan, done = sync(odoo, state, [new], "new", AS_OF + timedelta(days=1))
    assert sorted(it.op for it in plan.items) == ["create", "merge", "merge"] and done == {"created": 0}
    assert keys_in(odoo.open_activities(), "note") == OLD[:2]
