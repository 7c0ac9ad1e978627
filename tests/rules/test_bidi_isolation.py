"""Names are isolated (issue 22): a name holding bidi controls (a right-to-left override, stray
isolates) cannot reorder the text around it in any summary, talking point, closing, note, report
or audit line; ``shorten`` keeps isolate pairs balanced; a second sync writes nothing."""
from __future__ import annotations

import re

import pytest

from clientcare.connector.snapshot import Snapshot
from clientcare.jobs.report import findings_frame, render_html, render_text
from clientcare.jobs.writeback import SUMMARY_MAX, WriteBack, esc, esc_name, shorten
from clientcare.rules.bidi import CONTROLS, FSI, PDI, bdi, isolate
from clientcare.rules.registry import builtin_names
from clientcare.jobs.ruleset import load_with_rules
from clientcare.rules.testing import demo, visible

from odoo_double import OdooDouble

RLO, LRI, RLI = "\u202e", "\u2066", "\u2067"
#: An override, an isolate of each kind, a stray PDI and a trailing unmatched FSI.
HOSTILE = f"{RLO}Evil{LRI}{RLI} Corp{PDI}{PDI}{FSI}"


def contained(text: str) -> bool:
    """True when no bidi control can act outside an isolate: no override or embedding, no
    LRI/RLI, and the FSI/PDI pairs balanced (never a PDI without its FSI, none left open)."""
    depth = 0
    for ch in text:
        if ch == FSI:
            depth += 1
        elif ch == PDI:
            depth -= 1
            if depth < 0:
                return False
        elif ch in CONTROLS:
            return False
    return depth == 0


def test_isolate_drops_the_names_own_controls_and_wraps_it_once():
    assert isolate(HOSTILE) == f"{FSI}Evil Corp{PDI}"
    assert isolate(isolate(HOSTILE)) == isolate(HOSTILE)  # never doubled
    assert contained(isolate(HOSTILE)) and not contained(HOSTILE)
    # an isolate only contains what is inside if it is closed: an unmatched PDI in a raw name
    # would close ours early and the override after it would leak, hence the dropping
    assert not contained(f"{FSI}x{PDI}{RLO}y{PDI}")


def test_html_turns_isolates_into_bdi_and_drops_stray_controls():
    assert esc_name(HOSTILE) == "<bdi>Evil Corp</bdi>"
    assert bdi(f"call {isolate('<b>A&B</b>')}: {RLO}x{PDI} {FSI}open") == \
        "call <bdi>&lt;b&gt;A&amp;B&lt;/b&gt;</bdi>: x <bdi>open</bdi>"
    assert esc(HOSTILE) == "Evil Corp<bdi></bdi>"  # raw data (an evidence cell): nothing left to reorder


@pytest.mark.parametrize("at", range(0, 400, 7))
def test_shorten_never_cuts_between_an_isolate_pair(at):
    name = isolate("N" * 60)
    text = "x" * at + name + "y" * (400 - at) + name + " (1,234.00 USD)"
    cut = shorten(text)
    assert len(cut) <= SUMMARY_MAX and contained(cut) and cut.endswith("(1,234.00 USD)")


def hostile_demo() -> tuple[Snapshot, object]:
    """The demo with every client, contact, project, task and user name made hostile."""
    snapshot, as_of = demo()
    tables = dict(snapshot.tables)
    for name in ("partners", "projects", "tasks", "users"):
        if name in tables and "name" in tables[name]:
            frame = tables[name].copy()
            frame["name"] = frame["name"].map(lambda n: f"{RLO}{n}{LRI}{RLI} x{PDI}{PDI}{FSI}" if isinstance(n, str) else n)
            tables[name] = frame
    return Snapshot(tables, snapshot.meta), as_of


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("bidi") / "clientcare.toml"
    cfg.write_text("[profiles.p]\nrules_enabled = [" + ", ".join(f'"{n}"' for n in builtin_names()) + "]\n")
    rule_set = load_with_rules("p", cfg, env={}, require_connection=False)[1]
    snapshot, as_of = hostile_demo()
    result = rule_set.evaluate(snapshot, as_of)
    return snapshot, as_of, result


def test_every_builtin_rules_summaries_and_talking_points_keep_hostile_names_contained(hostile):
    _, _, result = hostile
    assert {f.rule for f in result.findings} >= {"late_payment", "follow_up", "responsiveness", "unmet_deadlines",
                                                  "fit_checklist"}
    texts = [(f.key, t) for f in result.findings
             for t in (f.summary, f.action.summary if f.action else "", f.resolved_when or "", *f.talking_points)]
    bad = [(k, t) for k, t in texts if not contained(t)]
    assert not bad, bad[:3]
    assert any(f"{FSI}Wood Corner x{PDI}" in t for _, t in texts)
    assert sum(bool(f.talking_points) for f in result.findings) > 5
    # data stays raw: the name as the snapshot holds it (its controls already dropped on load,
    # connector.snapshot.display_text), never isolated
    assert "Wood Corner x" in {f.subject_name for f in result.findings}


def test_the_write_back_posts_names_in_bdi_and_a_second_sync_writes_nothing(hostile, state):
    _, as_of, result = hostile
    odoo = OdooDouble()
    wb = WriteBack(odoo, state, "run1", as_of=as_of)
    done = wb.apply(wb.plan(result.findings))
    assert done.get("created")
    notes = [a["note"] for a in odoo.open_activities()] + [m["body"] for m in odoo.messages()]
    assert notes and all(RLO not in n and FSI not in n and n.count("<bdi>") == n.count("</bdi>") for n in notes)
    assert any("<bdi>Wood Corner x</bdi>" in n for n in notes)
    assert all(contained(a["summary"]) for a in odoo.open_activities())
    wb = WriteBack(odoo, state, "run2", as_of=as_of)
    assert wb.apply(wb.plan(result.findings)) == {}  # the isolates are stable: nothing rewritten


def test_the_report_and_the_audit_text_isolate_names(hostile):
    snapshot, as_of, result = hostile
    text = render_text(findings_frame(result.findings, snapshot, as_of), None, as_of)
    assert RLO not in text and all(contained(line) for line in text.splitlines())
    assert f"{FSI}Wood Corner x{PDI}: " in text and "Wood Corner x: " in visible(text)
    page = render_html(result.findings, snapshot, as_of, {"db": "demo"}, result.not_raised)
    assert "<h3><bdi>Wood Corner x</bdi></h3>" in page and "<td><bdi>Wood Corner x</bdi></td>" in page
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", page)
    assert page.count("<bdi>") == page.count("</bdi>")
