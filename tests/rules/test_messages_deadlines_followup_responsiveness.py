"""unmet_deadlines, follow_up and responsiveness speak through messages: every text of theirs a
person reads (summaries, resolved_when, closing feedback, not-raised reasons, talking points,
word values of the evidence) is an :class:`~clientcare.rules.i18n.Msg`, and rendered in a
pseudo language whose catalog marks each message's own words, nothing but data (names, numbers,
dates, codes) is left unmarked: no English word slipped in by concatenation or a plain string."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from clientcare.jobs.ruleset import load_with_rules
from clientcare.rules import filled, i18n
from clientcare.rules.bidi import FSI, PDI, isolate
from clientcare.rules.i18n import N_, Msg
from clientcare.rules.testing import CLOSE, OPEN, demo, pseudo_language

RULES = ("unmet_deadlines", "follow_up", "responsiveness")
#: Word values of the evidence (the rest of it is data: dates, counts, names, record refs).
WORD_COLUMNS = {"unmet_deadlines": (), "follow_up": ("signal", "value"), "responsiveness": ("signal", "value")}
PSEUDO = "de"  # numeric dates and numbers: every letter left after the marks is a word


@pytest.fixture
def pseudo(tmp_path):
    """ClientCare's catalog in a pseudo language: every message marked, its placeholders kept."""
    with pseudo_language(tmp_path, PSEUDO) as lang:
        yield lang

def _run(tmp_path, previous=None, as_of_shift: int = 0):
    cfg = tmp_path / "clientcare.toml"
    cfg.write_text("[profiles.p]\nrules_enabled = [" + ", ".join(f'"{r}"' for r in RULES) + "]\n")
    rule_set = load_with_rules("p", cfg, env={}, require_connection=False)[1]
    snapshot, as_of = demo()
    return snapshot, rule_set.evaluate(snapshot, as_of + timedelta(days=as_of_shift), previous)


def _texts(tmp_path) -> tuple[list[tuple[str, object]], object]:
    """Every person-facing text of the three rules on the demo, with where it comes from: this
    run's, and the closing feedback of its findings under other keys a week later (gone)."""
    snapshot, result = _run(tmp_path)
    out = []
    for f in result.findings:
        out += [(f"{f.key} summary", f.summary), (f"{f.key} resolved_when", f.resolved_when)]
        out += [(f"{f.key} action", f.action.summary)] if f.action else []
        out += [(f"{f.key} point {i}", p) for i, p in enumerate(f.talking_points)]
        for row in f.evidence:
            out += [(f"{f.key} {c}", row[c]) for c in WORD_COLUMNS[f.rule] if isinstance(row.get(c), str)]
    out += [(f"not raised {n.model},{n.res_id}", n.reason) for n in result.not_raised if n.rule in RULES]
    previous = {}
    for f in result.findings:
        d = f.to_dict()
        previous.setdefault(f.rule, []).append(d | {"key": d["key"] + ":earlier"})
    _, later = _run(tmp_path, previous, as_of_shift=7)
    out += [(f"resolved {r.key}", r.how) for r in later.resolved]
    return out, (snapshot, result, later)


def _data(snapshot) -> list[str]:
    """Names the demo's data holds (raw ones, as some texts quote them), longest first."""
    names = set()
    for table in snapshot.tables.values():
        for col in table.columns:
            if col == "name" or col.endswith("_name") or col == "summary":
                names |= {v for v in table[col].dropna().tolist() if isinstance(v, str) and v}
    return sorted(names, key=len, reverse=True)


def test_every_text_of_the_three_rules_is_a_message(tmp_path):
    texts, (_, result, later) = _texts(tmp_path)
    assert {f.rule for f in result.findings} == set(RULES)
    assert any(f.talking_points for f in result.findings) and later.resolved
    assert any(key.startswith("not raised") for key, _ in texts)
    plain = [(key, text) for key, text in texts if not isinstance(text, Msg)]
    assert not plain, plain[:5]


def test_rendered_in_another_language_only_data_is_left_untranslated(tmp_path, pseudo):
    texts, (snapshot, _, _) = _texts(tmp_path)
    data = _data(snapshot)
    leftovers = []
    for key, text in texts:
        shown = i18n.render(text, pseudo)
        assert OPEN in shown, (key, shown)
        rest = re.sub(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}", " ", shown)
        rest = re.sub(f"{FSI}[^{FSI}{PDI}]*{PDI}", " ", rest)  # names, isolated
        for name in data:
            rest = rest.replace(name, " ")
        rest = re.sub(r"\b(UTC|[A-Z]{3}|[A-Z][a-z]+/[A-Za-z_]+)\b", " ", rest)  # zones, currency codes
        if re.search(r"[^\W\d_]{2,}", rest):
            leftovers.append((key, shown))
    assert not leftovers, leftovers[:5]


def test_english_is_the_text_as_before(tmp_path, pseudo):
    """The English of a message is its ``str`` value, whatever catalog is registered."""
    texts, _ = _texts(tmp_path)
    assert all(i18n.render(text, "en_US") == str.__str__(text) for _, text in texts)


def test_a_profiles_own_point_is_kept_as_written_its_values_in_the_readers_formats(pseudo):
    values = {"client": isolate("Acme"), "due": date(2026, 11, 30), "amount": i18n.money(1234.5, "EUR")}
    own = filled("Call {client} before {due} about {amount}", values)
    assert own == "Call \u2068Acme\u2069 before 2026-11-30 about 1,234.50 EUR"
    assert i18n.render(own, pseudo) == "Call \u2068Acme\u2069 before 30.11.2026 about 1.234,50\xa0€"
    shipped = filled(N_("If not, tell {client} now and agree a new date."), values)
    assert i18n.render(shipped, pseudo) == "⟦If not, tell ⟧\u2068Acme\u2069⟦ now and agree a new date.⟧"
