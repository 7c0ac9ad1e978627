"""Findings for write-back tests, made with the rules' own classes."""
from __future__ import annotations

from datetime import date

from clientcare.rules.finding import Action, Finding


def finding(i: int, *, level: int = 1, kind: str = "activity", owner: int = 2, name: str | None = None,
            summary: str | None = None, days_late: int = 16, amount: float | None = None,
            daily: tuple[str, ...] = (), invoices: tuple[int, ...] = ()):
    """A late-payment finding for client ``1000 + i``; ``invoices``: the ids it lists (evidence
    rows ``INV/<id>`` and ``data["invoice_ids"]``), else one row without an id."""
    name = name or f"Client {i}"
    summary = summary or f"call {name}: 2 invoices 15+ days overdue"
    return Finding(
        rule="late_payment", subject_model="res.partner", subject_id=1000 + i, subject_name=name,
        severity="high", summary=summary,
        evidence=[{"invoice": f"INV/{n}", "invoice_id": n, "partner": name, "amount_due": amount or 100.0 * i,
                   "days_late": days_late} for n in invoices] or [
            {"invoice": f"INV/{i}", "partner": name, "amount_due": amount or 100.0 * i, "days_late": days_late}],
        data={"invoice_ids": list(invoices)} if invoices else {},
        client_id=1000 + i, level=f"level{level}", responsible_user_id=owner, routed_by="test",
        action=Action(kind=kind, summary=summary if kind == "activity" else f"call {name}",
                      activity_type="call" if kind == "activity" else None,
                      due_date=date(2026, 11, 23)), daily=daily)
