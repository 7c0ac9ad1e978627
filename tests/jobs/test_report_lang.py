"""``--lang`` for audit, explain, history and the HTML report: every text a person reads goes
through the catalog (a pseudo catalog here: each translation is its message id in ⟦ ⟧, so a text
that bypasses the catalog shows without them), dates and numbers per locale; JSON and CSV stay
machine output, the same bytes whatever the language.  The language comes from ``--lang``, else
the profile's ``lang``, else the environment's locale, else English."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from clientcare.jobs.cli import main
from clientcare.jobs.exit_codes import EXIT_USAGE
from clientcare.rules import catalogs
from clientcare.rules.testing import CLOSE, OPEN, pseudo_language



@pytest.fixture
def pseudo_fr(tmp_path):
    """A French catalog of ClientCare's domain where each text is its id in ⟦ ⟧, in place of
    the shipped one for the test."""
    with pseudo_language(tmp_path / "locale", "fr", pieces=False):
        yield

def run(args, tmp_path, config: str = "", **env):
    cfg = tmp_path / "config.toml"
    cfg.write_text(config)
    result = CliRunner().invoke(main, args, env={"CLIENTCARE_CONFIG": str(cfg), **env}, prog_name="clientcare")
    return result


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def untranslated(text: str) -> list[str]:
    return [line for line in lines(text) if OPEN not in line]


def test_audit_text_speaks_through_the_catalog_on_every_line(pseudo_fr, tmp_path):
    result = run(["audit", "--demo", "--lang", "fr"], tmp_path)
    assert result.exit_code == 0, result.output
    assert untranslated(result.stdout) == []
    assert f"{OPEN}⁨Marc Demo⁩: {OPEN}8 new activities today{CLOSE}{CLOSE}" in result.stdout
    assert f"  {OPEN}critical{CLOSE} late_payment" in result.stdout  # the severity in words, layout kept
    assert f"{OPEN}24 finding(s): fit_checklist {OPEN}info{CLOSE} 8," in result.stdout
    assert "(due 30 nov. 2026)" in result.stdout  # French dates
    assert "2026-11-30" not in result.stdout.replace("since 2026", "")  # not the English ISO day


def test_html_report_speaks_the_language(pseudo_fr, tmp_path):
    page = run(["audit", "--demo", "--format", "html", "--lang", "fr_FR"], tmp_path).stdout
    assert "<html lang='fr-FR'>" in page
    for english in ("<th>severity</th>", "<h2>Summary</h2>", "<h2>Clients</h2>", "<h2>Top actions",
                    "<h2>New activities per person", "<h2>Client health", "<summary>Evidence: ", "'meta'>Odoo ",
                    "<th colspan='8'><bdi>Marc Demo</bdi>: 8 new", "<title>ClientCare audit"):
        assert english not in page, english
    assert f"<th>{OPEN}severity{CLOSE}</th>" in page and f"<h2>{OPEN}Summary{CLOSE}</h2>" in page
    assert f"<h2>{OPEN}Client health{CLOSE}</h2>" in page and f"'meta'>{OPEN}Odoo " in page
    assert "30 nov. 2026" in page  # dates per locale, in the tables and the score lines' titles
    assert "2026-11-30: 25" not in page


def test_english_is_the_default_and_en_the_html_lang(tmp_path):
    text = run(["audit", "--demo"], tmp_path).stdout
    assert OPEN not in text and "new activities today" in text
    assert "<html lang='en'>" in run(["audit", "--demo", "--format", "html"], tmp_path).stdout


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_machine_output_is_the_same_in_every_language(pseudo_fr, tmp_path, fmt):
    english = run(["audit", "--demo", "--format", fmt], tmp_path)
    french = run(["audit", "--demo", "--format", fmt, "--lang", "fr"], tmp_path)
    assert english.exit_code == french.exit_code == 0
    assert french.stdout == english.stdout and OPEN not in french.stdout


def test_the_profile_s_lang_is_the_default(pseudo_fr, tmp_path):
    result = run(["audit", "--demo"], tmp_path, '[profiles.default]\nlang = "fr_FR"\n')
    assert result.exit_code == 0, result.output
    assert untranslated(result.stdout) == []
    # --lang wins over the profile
    again = run(["audit", "--demo", "--lang", "en"], tmp_path, '[profiles.default]\nlang = "fr_FR"\n')
    assert OPEN not in again.stdout and again.stdout == run(["audit", "--demo"], tmp_path).stdout


def test_without_a_profile_lang_the_environment_s_locale_is_used(pseudo_fr, tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    monkeypatch.delenv("LC_ALL")
    monkeypatch.delenv("LC_MESSAGES")
    assert untranslated(run(["audit", "--demo"], tmp_path).stdout) == []
    # the profile's lang comes before the environment
    assert OPEN not in run(["audit", "--demo"], tmp_path, '[profiles.default]\nlang = "en_US"\n').stdout


def test_a_locale_babel_does_not_know_in_the_environment_is_english(tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "xx_QQ.UTF-8")
    result = run(["audit", "--demo"], tmp_path)
    assert result.exit_code == 0 and "new activities today" in result.stdout


@pytest.mark.parametrize("command", [["audit", "--demo"], ["explain", "--demo", "Wood Corner"],
                                     ["history", "--demo", "Wood Corner"]], ids=lambda c: c[0])
def test_an_unknown_language_is_one_line_and_exit_2(tmp_path, command):
    result = run([*command, "--lang", "klingon"], tmp_path)
    assert result.exit_code == EXIT_USAGE
    assert lines(result.output) == ["Error: Invalid value for '--lang': 'klingon' is not a language ClientCare "
                                    "knows (a code such as fr_FR, de_DE, pt_BR or en) (hint: see `clientcare "
                                    f"{command[0]} --help`)"]


def test_an_unknown_profile_lang_is_refused_with_the_other_settings(tmp_path):
    result = run(["audit", "--demo"], tmp_path, '[profiles.default]\nlang = "klingon"\npage_size = 0\n')
    assert result.exit_code == EXIT_USAGE
    assert "lang must be a language code" in result.output and "page_size" in result.output
    assert "Traceback" not in result.output


def test_history_text_in_the_language_json_and_csv_unchanged(pseudo_fr, tmp_path):
    text = run(["history", "--demo", "Wood Corner", "--lang", "fr"], tmp_path).stdout
    assert untranslated(text) == []
    assert f"15 juin 2026   67  {OPEN}fair{CLOSE}" in text and f"{OPEN}first stored{CLOSE}" in text
    assert f"{OPEN}band {OPEN}fair{CLOSE} -> {OPEN}poor{CLOSE}{CLOSE}" in text
    for fmt in ("json", "csv"):
        english = run(["history", "--demo", "Wood Corner", "--format", fmt], tmp_path).stdout
        assert run(["history", "--demo", "Wood Corner", "--format", fmt, "--lang", "fr"], tmp_path).stdout == english
    assert json.loads(english if False else run(["history", "--demo", "Wood Corner", "--format", "json", "--lang", "fr"],
                                                 tmp_path).stdout)["history"][0]["changes"] == ["first stored"]


def test_explain_speaks_the_language(pseudo_fr, tmp_path):
    result = run(["explain", "--demo", "Wood Corner", "--lang", "fr"], tmp_path)
    assert result.exit_code == 0, result.output
    out = [line for line in lines(result.stdout) if not line.startswith("    - ")]  # evidence: raw values
    assert [line for line in out if OPEN not in line] == []
    assert f"{OPEN}key: late_payment:res.partner:8{CLOSE}" in result.stdout
    assert "30 nov. 2026" in result.stdout


def test_the_report_texts_are_in_the_catalog_template():
    """Extraction finds the reports' messages (a text built outside ``_()`` would not be here)."""
    ids = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in catalogs.extract() if m.id}
    for key in [("{person}: {figures}", None), ("severity", "column"), ("critical", "severity"),
                ("{n} new activity today", None), ("Not raised, because ({n}):", None),
                ("{client} (id {ids}), as of {day}: {n} finding(s)", None), ("first stored", None),
                ("{n} more {noun}: see the CSV/JSON", None), ("fair", "health band")]:
        assert key in ids, key
