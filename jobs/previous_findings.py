"""Each rule's findings of the last applied run on a database, what ``RuleContext.previous``
holds next run (the state table ``previous_findings``, owned here)."""
from __future__ import annotations

import json

from clientcare.connector.state import StateStore, Tables

TABLES = Tables({2: """
    CREATE TABLE previous_findings (
        scope TEXT NOT NULL,
        rule TEXT NOT NULL,
        run_id TEXT NOT NULL,         -- the applied run that found them
        findings_json TEXT NOT NULL,  -- JSON list of Finding.to_dict()
        PRIMARY KEY (scope, rule)
    );
    """})


def load(state: StateStore, scope: str) -> dict[str, list[dict]]:
    """Each rule's findings of the last applied run on this database."""
    rows = state.db.execute("SELECT rule, findings_json FROM previous_findings WHERE scope=?",
                            (scope,)).fetchall()
    return {rule: json.loads(data) for rule, data in rows}


def by_rule(findings, rules) -> dict[str, list[dict]]:
    """What :func:`save` stores of a run: the ``Finding.to_dict()`` of each of ``rules``' findings
    (``findings``: a FindingTable), rule by rule."""
    rule = findings.column("rule")
    return {name: findings.take(rule == name).to_dicts() for name in rules}


def save(state: StateStore, scope: str, run_id: str, by_rule: dict[str, list[dict]]) -> None:
    """Replace the previous findings of the rules given (those that ran to the end)."""
    with state.transaction() as db:
        for rule, findings in by_rule.items():
            db.execute("INSERT OR REPLACE INTO previous_findings VALUES (?,?,?,?)",
                       (scope, rule, run_id, json.dumps(findings, default=str)))
