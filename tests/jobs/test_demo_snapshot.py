"""The shipped demo snapshot shows every rule at work and holds no test artefacts."""
from __future__ import annotations

from clientcare.connector.demo import demo_as_of, demo_snapshot
from clientcare.rules import run_rules, scripts
from clientcare.rules.testing import builtin_rules


def test_demo_shows_every_rule_at_work():
    snap = demo_snapshot()
    result = run_rules(snap, demo_as_of(snap), {}, {}, registry=builtin_rules())
    assert not result.errors
    kinds = {(f.rule, scripts.kind_of(f)) for f in result.findings}
    late_payment = {kind for rule, kind in kinds if rule == "late_payment"}
    assert {"reminder", "call", "stop_work", "credit_match", "chronic"} <= late_payment
    # one activity per client (issue 21): Wood Corner's lists its invoices at three levels
    wood = next(f for f in result.findings if f.key == "late_payment:res.partner:8")
    assert {r["level"] for r in wood.evidence} == {"call", "manager", "stop_work", None}  # None: its credit note
    assert {("unmet_deadlines", "late"), ("unmet_deadlines", "escalated")} <= kinds
    # a late project's tasks at risk are in its one activity
    assert any(r["kind"] == "task at risk" for f in result.findings if f.rule == "unmet_deadlines" for r in f.evidence)
    follow_ups = {f.key.split(":")[3] for f in result.findings if f.rule == "follow_up"}
    assert {"check_in", "onboarding"} <= follow_ups
    responsiveness = {(f.subject_model, f.subject_id, f.part, f.responsible_user_id) for f in result.findings
                      if f.rule == "responsiveness"}
    assert responsiveness == {
        ("res.partner", 8, "unanswered", 5), ("res.partner", 8, "broken_promises", 5),  # Wood Corner: Marc Demo
        ("project.task", 72, "unanswered", 2),  # Acme's email on a task, followed by an internal note only
        ("res.partner", 9, "broken_promises", 2)}  # Acme's promise 18 days overdue: escalated (default user)
    assert not any(f.client_id == 10 and f.rule == "responsiveness" for f in result.findings), "Gemini was answered"
    scores = [f.data["score"] for f in result.findings if f.level == "checklist"]
    assert any(s is not None for s in scores) and None in scores  # scored, and honest about too little data
    assert result.not_raised  # and says what it leaves out, and why


def test_demo_holds_no_test_artefacts():
    snap = demo_snapshot()
    names = " ".join(snap.partners["name"].dropna()) + " ".join(snap.users["name"].dropna())
    assert "<" not in names and "script" not in names.lower()
    assert not snap.users["login"].str.contains("ccbot|bot|limited", case=False).any()
    assert "password" not in (snap.meta.get("url") or "")


def test_report_shows_the_deadline_sync_would_set():
    """The report's due date is what lands in Odoo (never before the run day); the rule's
    earlier date is shown as "since"."""
    from clientcare.jobs.report import findings_frame

    snap = demo_snapshot()
    as_of = demo_as_of(snap)
    result = run_rules(snap, as_of, {}, {}, registry=builtin_rules())
    frame = findings_frame(result.findings, snap, as_of)
    dues = [d for d in frame["due"] if d != ""]
    assert dues and min(dues) >= as_of
    assert any(s != "" and s < as_of for s in frame["since"])
