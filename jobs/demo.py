"""The demo snapshot shipped inside the package: pulled by ClientCare from a real Odoo 19
demo database (with tests/seed_odoo.py's overdue invoices and late tasks), so that
``clientcare audit --demo`` shows a real report right after install."""
from __future__ import annotations

from importlib import resources

from clientcare.connector.snapshot import Snapshot


def demo_snapshot() -> Snapshot:
    with resources.as_file(resources.files("clientcare.jobs") / "demo_data") as path:
        snapshot = Snapshot.load(path)
    # pinned to the capture date, so the demo never drifts with the calendar
    snapshot.meta.setdefault("as_of", str(snapshot.meta["pulled_at"])[:10])
    return snapshot
