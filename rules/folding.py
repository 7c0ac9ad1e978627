"""Folding: one activity per client, theme and person instead of a pile.

A rule sets :attr:`Finding.fold` (a theme) on findings a person should get as one activity
when they land on the same desk: the engine calls :func:`fold` right after routing, because
who gets a finding is only known then.  Findings of one rule with the same client, theme and
responsible user become one: the leader (most severe, then the oldest action due date, then
the key) keeps its key and subject; the others are listed in it (its summary says how many
more, its evidence gains their rows, its ``data`` their record ids so
:meth:`Finding.record_ids` sees them) and their keys go to its ``replaces``, so an activity
created earlier under a member's key is merged into the leader's, never closed as resolved.
"""
from __future__ import annotations

import numpy as np

from clientcare.connector.facts import severity_rank

from .finding import Action, Finding
from .finding_table import FindingTable, findings_of
from .i18n import ngettext


def fold(findings: FindingTable | list[Finding]) -> FindingTable | list[Finding]:
    """``findings`` with each group of folded findings replaced by its leader, in place of the
    group's first member (order otherwise kept).  Findings without a theme are left alone, and
    ``findings`` itself is returned when nothing folds.  Only the rows with a theme are grouped,
    and only the members of a group become :class:`Finding` objects."""
    table = findings_of(findings)
    known, theme = table.constant("fold")
    if known and theme is None:
        return findings
    themed = np.arange(len(table)) if known else np.flatnonzero(table.column("fold") != None)  # noqa: E711
    groups: dict[tuple, list[int]] = {}
    # no client (a project without one) is a bucket of its own
    for i, key in zip(themed.tolist(), zip(*(table.column(c)[themed].tolist() for c in
                                             ("rule", "client_id", "fold", "responsible_user_id")))):
        groups.setdefault(key, []).append(i)
    groups = {k: v for k, v in groups.items() if len(v) > 1}
    if not groups:
        return findings
    drop: set[int] = set()
    lead_at: dict[int, Finding] = {}
    for positions in groups.values():
        members = [findings[i] for i in positions]
        lead_at[positions[0]] = _merged(members)
        drop.update(positions[1:])
    if not isinstance(findings, FindingTable):
        return [lead_at.get(i, f) for i, f in enumerate(findings) if i not in drop]
    rows = np.arange(len(table))
    rows[list(lead_at)] = np.arange(len(table), len(table) + len(lead_at))  # the leaders, after the rows
    keep = np.ones(len(table), dtype=bool)
    keep[list(drop)] = False
    return FindingTable.concat([table, FindingTable.from_findings(list(lead_at.values()))]).take(rows[keep])


def _order(f: Finding) -> tuple:
    due = f.action.due_date if f.action is not None and f.action.due_date is not None else None
    return (severity_rank(f.severity), due is None, due or 0, f.key)


def _merged(members: list[Finding]) -> Finding:
    """The leader of ``members`` listing the others (a new finding: the members are left as
    they were, so a caller holding them sees no change)."""
    members = sorted(members, key=_order)
    lead, rest = members[0], members[1:]
    # TRANSLATORS: an activity's summary, then how many other records it lists
    summary = ngettext("{summary} (+{n} more)", "{summary} (+{n} more)", len(rest), summary=lead.summary)
    action = lead.action
    if action is not None:
        dues = [m.action.due_date for m in members if m.action is not None and m.action.due_date is not None]
        action = Action(action.kind, summary if action.summary == lead.summary else action.summary,
                        action.activity_type, min(dues) if dues else action.due_date)
    columns = list(lead.evidence_columns or [])
    evidence, seen = [], []
    for m in members:
        for c in m.evidence_columns or ():
            if c not in columns:
                columns.append(c)
        for row in m.evidence:
            row = dict(row)
            if row not in seen:  # shared rows (the client, a first-seen date) once
                seen.append(row)
                evidence.append(row)
    evidence = [{c: row.get(c) for c in columns} | row for row in evidence] if columns else evidence
    data = dict(lead.data)
    for m in rest:
        for k, v in m.data.items():
            if k.endswith("_ids") and isinstance(v, (list, tuple)):
                mine = list(data.get(k) or ())
                data[k] = mine + [i for i in v if i not in mine]
    data["folded"] = [{"key": m.key, "summary": m.summary,
                       "due_date": m.action.due_date.isoformat() if m.action and m.action.due_date else None}
                      for m in rest]
    replaces = list(lead.replaces)
    for m in rest:
        for k in (m.key, *m.replaces):
            if k not in replaces and k != lead.key:
                replaces.append(k)
    daily = tuple(dict.fromkeys(d for m in members for d in m.daily))
    return Finding(
        subject_model=lead.subject_model, subject_id=lead.subject_id, subject_name=lead.subject_name,
        severity=lead.severity, summary=summary, evidence=evidence, evidence_columns=columns or None,
        client_id=lead.client_id, level=lead.level, part=lead.part, period=lead.period, action=action,
        resolved_when=lead.resolved_when, data=data, route=lead.route,
        responsible_user_id=lead.responsible_user_id, routed_by=lead.routed_by, rule=lead.rule,
        daily=daily, talking_points=lead.talking_points, replaces=tuple(replaces), fold=lead.fold,
        view=lead.view)
