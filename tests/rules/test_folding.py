"""Folding: findings of one rule, client, theme and person become one activity."""
from __future__ import annotations

from datetime import date

from clientcare.rules import Action, Finding
from clientcare.rules.folding import fold


def finding(sid, *, severity="medium", due=date(2026, 11, 10), client=10, theme="waiting", user=7, rule="r",
            ids=None, replaces=(), part="x"):
    f = Finding("project.task", sid, f"Task {sid}", severity, f"reply on Task {sid}",
                [{"record": f"project.task,{sid}", "value": sid}], ["record", "value"], client_id=client,
                part=part, action=Action("activity", f"reply on Task {sid}", "email", due),
                data={"message_ids": ids or [sid * 10]}, rule=rule, fold=theme, replaces=replaces,
                daily=("value",))
    f.responsible_user_id = user
    return f


def test_nothing_to_fold_returns_the_same_list():
    plain = [finding(1, theme=None), finding(2, theme=None), finding(3, client=None), finding(4), finding(5, user=8)]
    assert fold(plain) is plain


def test_one_per_client_theme_and_person_the_most_severe_leads():
    a, b, c = finding(1), finding(2, severity="high", due=date(2026, 11, 12)), finding(3, due=date(2026, 11, 1))
    out = fold([a, b, c])
    assert len(out) == 1
    lead = out[0]
    assert lead.key == b.key and lead.subject_id == 2 and lead.severity == "high"
    assert lead.summary == "reply on Task 2 (+2 more)" == lead.action.summary
    assert "\n" not in lead.summary and not lead.problems()
    # the others are listed: evidence, record ids, keys to take over
    assert [r["record"] for r in lead.evidence] == ["project.task,2", "project.task,3", "project.task,1"]
    assert lead.data["message_ids"] == [20, 30, 10] and lead.record_ids() == (10, 20, 30)
    assert [m["key"] for m in lead.data["folded"]] == [c.key, a.key]
    assert lead.replaces == (c.key, a.key)
    assert lead.action.due_date == date(2026, 11, 1)  # due when the first of them is
    assert b.summary == "reply on Task 2" and "folded" not in b.data  # the members are untouched


def test_same_severity_the_oldest_due_date_then_the_key_leads():
    out = fold([finding(1, due=date(2026, 11, 9)), finding(2, due=date(2026, 11, 3)), finding(3, due=date(2026, 11, 3))])
    assert out[0].subject_id == 2


def test_other_person_client_theme_or_rule_stay_apart():
    group = [finding(1), finding(2, user=8), finding(3, client=11), finding(4, theme="other"), finding(5, rule="s"),
             finding(6, user=None), finding(7, user=None)]
    out = fold(group)
    assert [f.subject_id for f in out] == [1, 2, 3, 4, 5, 6]
    assert out[5].replaces == (group[6].key,) and out[0] is group[0]


def test_the_leader_takes_over_the_members_earlier_keys_too():
    out = fold([finding(1, replaces=("r:old:1",)), finding(2, replaces=("r:old:2",), due=date(2026, 11, 1))])
    assert out[0].replaces == ("r:old:2", "r:project.task:1:x", "r:old:1")


def test_shared_rows_are_listed_once_and_order_is_kept():
    a, b = finding(1), finding(2)
    shared = {"record": "res.partner,10", "value": "new client"}
    a.evidence, b.evidence = [shared, *a.evidence], [shared, *b.evidence]
    before, after = finding(9, theme=None), finding(8, theme=None)
    out = fold([before, a, after, b])
    assert [f.subject_id for f in out] == [9, 1, 8]
    assert [r["record"] for r in out[1].evidence] == ["res.partner,10", "project.task,1", "project.task,2"]
    assert out[1].to_dict()["fold"] == "waiting"


def test_a_table_folds_as_the_list_does():
    from clientcare.rules.finding_table import FindingTable
    group = [finding(1), finding(2, user=8), finding(3, severity="high"), finding(9, theme=None),
             finding(4, client=None), finding(5, client=None, due=date(2026, 11, 1)), finding(6)]
    table = FindingTable.from_findings(group)
    folded = fold(table)
    assert isinstance(folded, FindingTable) and folded.to_dicts() == [f.to_dict() for f in fold(group)]
    assert [f.subject_id for f in folded] == [3, 2, 9, 5]
    plain = FindingTable.from_findings([finding(1, theme=None), finding(2)])
    assert fold(plain) is plain
