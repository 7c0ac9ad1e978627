"""Nothing dropped in silence: every overdue invoice and late task Odoo shows is accounted for.

Odoo's own lists (:func:`facts.overdue_invoice_domain`, :func:`facts.late_task_domain`, as
the frames :func:`~clientcare.rules.frames.overdue_invoices` and
:func:`~clientcare.rules.frames.late_tasks`) are what a person compares ClientCare with.
A record is accounted for when a finding lists it (in the ``data`` key the rule declares in
its ``accounts_for``, e.g. ``{"account.move": "invoice_ids"}``: the contract any rule can
follow) or a ``NotRaised`` says why not.  ``owners`` is :meth:`Registry.accounts_for`.
"""
from __future__ import annotations

from datetime import date
from typing import Mapping

import pandas as pd

from clientcare.connector.snapshot import Snapshot

from . import frames as F
from .finding import NotRaised
from .finding_table import findings_of
from .engine import RunResult


def odoo_lists(snapshot: Snapshot, as_of: date) -> pd.DataFrame:
    """What Odoo shows as overdue invoices and late tasks: ``model``, ``res_id``, ``client_id``
    (nothing of a table that was not pulled, e.g. without the project module)."""
    inv = F.overdue_invoices(snapshot, as_of)
    tasks = F.late_tasks(snapshot, as_of) if "tasks" in snapshot.tables else inv.iloc[:0]
    return pd.concat([
        pd.DataFrame({"model": "account.move", "res_id": inv["id"].to_numpy(dtype="int64"),
                      "client_id": inv["client_id"].astype("Int64").array}),
        pd.DataFrame({"model": "project.task", "res_id": tasks["id"].to_numpy(dtype="int64"),
                      "client_id": tasks["client_id"].astype("Int64").array}),
    ], ignore_index=True)


def not_run(snapshot: Snapshot, as_of: date, result: RunResult, owners: Mapping[str, tuple[str, str]]
            ) -> list[NotRaised]:
    """A ``NotRaised`` for each listed record whose rule did not run (disabled, skipped, failed)."""
    listed = odoo_lists(snapshot, as_of)
    out = []
    for model, (rule, _) in owners.items():
        if rule in result.rules_run:
            continue
        rows = listed.loc[listed["model"] == model]
        reason = f"the rule {rule} did not run (disabled, skipped or failed)"
        out += [NotRaised(rule, model, rid, F.opt_id(cid), reason)
                for rid, cid in zip(rows["res_id"].tolist(), rows["client_id"].tolist())]
    return out


def unaccounted(snapshot: Snapshot, as_of: date, result: RunResult, owners: Mapping[str, tuple[str, str]]
                ) -> pd.DataFrame:
    """Odoo's overdue invoices and late tasks in no finding and no ``NotRaised`` (should be empty)."""
    listed = odoo_lists(snapshot, as_of)
    seen = {model: set() for model in owners}
    for data in findings_of(result.findings).column("data").tolist():
        for model, (_, key) in owners.items():
            seen[model].update(data.get(key) or ())
    for n in result.not_raised:
        if n.model in seen:
            seen[n.model].add(n.res_id)
    hit = pd.Series(False, index=listed.index)
    for model, ids in seen.items():
        hit |= (listed["model"] == model) & listed["res_id"].isin(ids)
    return listed.loc[~hit].reset_index(drop=True)
