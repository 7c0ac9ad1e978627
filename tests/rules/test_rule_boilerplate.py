"""A rule says its name once (the entry point) and its findings need not repeat it."""
from __future__ import annotations

import sys
import types
from datetime import date
from importlib import metadata

from clientcare.rules import ENTRY_POINT_GROUP, Action, Finding, load_rules, run_rules
from clientcare.rules.testing import SnapshotBuilder


def _module(monkeypatch) -> str:
    mod = types.ModuleType("cc_terse_rule")
    mod.version = "1.0"
    mod.description = "One finding per client, written without boilerplate"
    mod.needs = {"partners": []}

    def evaluate(ctx):
        clients = ctx.snapshot.clients
        return [Finding(subject_model="res.partner", subject_id=int(cid), subject_name=str(name),
                        client_id=int(cid), severity="low", summary=f"hello {name}",
                        evidence=[{"id": int(cid)}], action=Action("note", f"hello {name}"))
                for cid, name in zip(clients["id"], clients["name"])]

    mod.evaluate = evaluate
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod.__name__


def test_name_from_the_entry_point_and_rule_filled_in(monkeypatch):
    module = _module(monkeypatch)
    ep = metadata.EntryPoint(name="terse", value=module, group=ENTRY_POINT_GROUP)
    registry = load_rules([ep])
    assert not registry.failures and registry.rules["terse"].name == "terse"
    snap = SnapshotBuilder().client(1, "Azure Interior").build()
    result = run_rules(snap, date(2026, 11, 30), {}, {}, registry=registry)
    assert not result.errors
    assert [(f.rule, f.key) for f in result.findings] == [("terse", "terse:res.partner:1")]


def test_a_finding_naming_another_rule_is_still_refused(monkeypatch):
    module = _module(monkeypatch)
    original = sys.modules[module].evaluate
    sys.modules[module].evaluate = lambda ctx: [Finding(**{**_as_kwargs(f), "rule": "other"}) for f in original(ctx)]
    registry = load_rules([metadata.EntryPoint(name="terse", value=module, group=ENTRY_POINT_GROUP)])
    snap = SnapshotBuilder().client(1, "Azure Interior").build()
    result = run_rules(snap, date(2026, 11, 30), {}, {}, registry=registry)
    assert result.errors and "expected 'terse'" in result.errors[0]["error"]


def _as_kwargs(f: Finding) -> dict:
    return {k: getattr(f, k) for k in ("subject_model", "subject_id", "subject_name", "client_id", "severity",
                                        "summary", "evidence", "action")}
