"""Write-back idempotency under crashes, caps and single-record failures (offline double)."""
from __future__ import annotations

from datetime import date

import pytest

from clientcare.rules.testing import visible
from clientcare.connector.facts import parse_marker
from clientcare.jobs import ledger
from clientcare.jobs.writeback import WriteBack, undo_run

from odoo_double import Crash, OdooDouble, keys_in
from writeback_findings import finding


def findings(n: int, *, level: int = 1, note_every: int = 0) -> list:
    out = []
    for i in range(n):
        kind = "note" if note_every and i % note_every == 0 else "activity"
        out.append(finding(i + 1, level=level, kind=kind))
    return out


def sync(odoo, state, found, run_id, **kw):
    wb = WriteBack(odoo, state, run_id, batch_size=kw.pop("batch_size", 4), as_of=date(2026, 11, 22), **kw)
    plan = wb.plan(found)
    done = wb.apply(plan)
    return wb, plan, done


def expected_keys(found, kind="activity"):
    from clientcare.connector.facts import marker_key
    return sorted(marker_key(f.key) for f in found if f.action.kind == kind)


def test_first_sync_creates_second_changes_nothing(state):
    odoo = OdooDouble()
    found = findings(10, note_every=5)
    _, plan, done = sync(odoo, state, found, "run1")
    assert done == {"created": 8, "noted": 2}
    calls_first = odoo.write_calls
    assert calls_first == 2 + 1  # 8 activities in batches of 4, 2 notes in one batch
    _, plan2, done2 = sync(odoo, state, found, "run2")
    assert done2 == {} and odoo.write_calls == calls_first
    assert {it.op for it in plan2.items} == {"leave"}


def test_changes_update_and_close_exactly_the_affected(state):
    odoo = OdooDouble()
    found = findings(6)
    sync(odoo, state, found, "run1")
    changed = found[:4] + [finding(5, level=1, owner=7)]  # 6 resolved, 5 got a new owner
    _, plan, done = sync(odoo, state, changed, "run2")
    assert done == {"updated": 1, "closed": 1}
    closed = [r for r in odoo.records["mail.activity"].values() if not r["active"]]
    assert len(closed) == 1 and "resolved" in closed[0]["feedback"]
    assert keys_in(odoo.open_activities(), "note") == expected_keys(changed)


@pytest.mark.parametrize("after", [False, True], ids=["before-odoo-write", "after-odoo-write"])
def test_crash_at_every_write_then_rerun_converges(tmp_path, after):
    from clientcare.jobs.run_session import open_store

    found = findings(11, note_every=4)
    total_writes = None
    crash_point = 1
    while True:
        odoo = OdooDouble()
        state = open_store(tmp_path / f"s{crash_point}{after}.sqlite3")
        odoo.crash_at, odoo.crash_after_write = crash_point, after
        try:
            sync(odoo, state, found, "run1")
            total_writes = odoo.write_calls
            crashed = False
        except Crash:
            crashed = True
        odoo.crash_at = None
        sync(odoo, state, found, "run2")  # the rerun after the crash
        assert keys_in(odoo.open_activities(), "note") == expected_keys(found)
        assert keys_in(odoo.messages(), "body") == expected_keys(found, "note")
        # and the ledger knows each open activity by its id: a create whose answer the crash cut
        # off (its ledger entry still "pending") is recorded "open" by the rerun, as Ctrl-C or
        # SIGTERM leave it too (benchmarks/kill_live.py found it live)
        ids = {parse_marker(r["note"]).key: r["id"] for r in odoo.open_activities()}
        known = ledger.activities(state, odoo.scope)
        assert {k: (known[k].status, known[k].odoo_id) for k in ids if k in known} == \
            {k: ("open", i) for k, i in ids.items()}, crash_point
        state.close()
        if not crashed:
            break
        crash_point += 1
    assert crash_point == total_writes + 1 and total_writes >= 3


def test_a_bad_record_fails_alone_and_the_batch_lands(state):
    odoo = OdooDouble()
    found = findings(8)
    odoo.fail_res_ids = {1003}
    wb, plan, done = sync(odoo, state, found, "run1")
    assert done == {"created": 7}
    assert [e["res_id"] for e in wb.errors] == [1003]


def test_cap_turns_a_flood_into_a_warning(state):
    odoo = OdooDouble()
    wb, plan, done = sync(odoo, state, findings(30), "run1", max_creations=10, max_new_per_person_per_day=0)
    assert done == {"created": 10}
    assert len(plan.of("skip")) == 20 and "cap" in wb.warnings[0]


def test_notes_fall_back_to_message_post_without_rights(state):
    odoo = OdooDouble()
    odoo.message_create_allowed = False
    _, _, done = sync(odoo, state, findings(6, note_every=2), "run1")
    assert done["noted"] == 3 and len(odoo.messages()) == 3


def test_undo_removes_what_the_run_created(state):
    odoo = OdooDouble()
    sync(odoo, state, findings(5, note_every=5), "run1")
    sync(odoo, state, findings(8, note_every=5), "run2")
    report = undo_run(odoo, "run2")
    assert report["activities_removed"] == 2 and report["notes_removed"] == 1
    assert len(odoo.open_activities()) == 4


def test_hostile_names_are_escaped(state):
    odoo = OdooDouble()
    f = finding(1, name='<script>alert(1)</script> & "Co"')
    sync(odoo, state, [f], "run1")
    note = odoo.open_activities()[0]["note"]
    assert "<script>" not in note and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;" in note


def test_an_activity_done_by_a_person_is_not_raised_again_until_the_situation_returns(state):
    odoo = OdooDouble()
    found = findings(3)
    wb, _, _ = sync(odoo, state, found, "run1")
    done_id = odoo.open_activities()[0]["id"]
    odoo.mark_done(done_id, "called them")
    wb, plan, done = sync(odoo, state, found, "run2")
    assert done == {} and len(odoo.open_activities()) == 2
    assert [visible(i.reason) for i in plan.items if i.odoo_id is None] == [
        "done by Marc Demo on 2026-11-22 — they noted: 'called them'; raised again on 2026-11-30 if still found"]
    wb.forget_resolved(plan, found)
    # the situation goes away (resolved), then comes back: a new activity is due
    wb, plan, _ = sync(odoo, state, found[1:], "run3")
    wb.forget_resolved(plan, found[1:])
    _, _, done = sync(odoo, state, found, "run4")
    assert done == {"created": 1} and len(odoo.open_activities()) == 3


def test_undo_lets_a_later_sync_raise_the_activities_again(state):
    odoo = OdooDouble()
    sync(odoo, state, findings(3), "run1")
    undo_run(odoo, "run1", state)
    _, _, done = sync(odoo, state, findings(3), "run2")
    assert done == {"created": 3}
