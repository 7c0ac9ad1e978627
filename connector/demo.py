"""The demo snapshot shipped inside the package: pulled by ClientCare (``clientcare pull``)
from a real Odoo 19 Community demo database with tests/seed_odoo.py's overdue invoices, credit
note and late tasks, plus a client who pays late again and again and two tasks nobody touched
for twelve days that fall due within three days, so that ``clientcare audit --demo`` shows
every rule at work right after install.  Its client emails (one answered only by an internal
note, one answered) and two overdue activities were posted through the API on a seeded Odoo 19
copy, dated before the demo day, pulled by ClientCare and added to its ``messages`` and
``activities``.  No invoice of that database is excluded from follow-up (``no_followup`` is off
on every one), so its ``followup_exclusions`` table is empty, and its paid invoices were paid
by payments, none reconciled with a credit note (``credited_by`` is empty).  It holds no test artefacts (no test users, no
hostile names: those live in the cassettes)."""
from __future__ import annotations

from datetime import date
from importlib import resources

from clientcare.connector.snapshot import Snapshot


def demo_snapshot() -> Snapshot:
    with resources.as_file(resources.files("clientcare.connector") / "demo_data") as path:
        return Snapshot.load(path)


def demo_as_of(snapshot: Snapshot) -> date:
    """The demo's day: its capture date, so the demo never drifts with the calendar."""
    return date.fromisoformat(str(snapshot.meta["pulled_at"])[:10])
