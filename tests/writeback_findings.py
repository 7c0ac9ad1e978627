"""Findings for write-back tests, shaped like the rules' own."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace


def finding(i: int, *, level: int = 1, kind: str = "activity", owner: int = 2, name: str | None = None):
    name = name or f"Client {i}"
    return SimpleNamespace(
        key=f"late_payment:res.partner:{1000 + i}:level{level}", rule="late_payment",
        subject_model="res.partner", subject_id=1000 + i, subject_name=name,
        summary=f"call {name}: 2 invoices 15+ days overdue", severity="high",
        evidence=[{"invoice": f"INV/{i}", "partner": name, "amount_due": 100.0 * i, "days_late": 16}],
        evidence_columns=None, responsible_user_id=owner,
        action=SimpleNamespace(kind=kind, activity_type="call", due_date=date(2026, 11, 23),
                               summary=f"call {name}"))
