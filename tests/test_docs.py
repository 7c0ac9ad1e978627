"""The README stays a short front page and the reference under docs/ stays reachable and whole:
every page is linked from the README, every relative link and anchor lands, every profile key
and every module named is real, and the README keeps the test command CI runs."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from clientcare.jobs.config import ENV_PREFIX, KEYS

from conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M)


def prose(path: Path) -> str:
    """The page without fenced code, where ``](`` is code rather than a link."""
    return re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(prose(path)):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def relative_links(path: Path) -> list[str]:
    return [t for t in LINK.findall(prose(path)) if not re.match(r"[a-z]+:", t)]


def test_the_readme_links_every_docs_page():
    linked = {(README.parent / t.split("#")[0]).resolve() for t in relative_links(README)}
    pages = sorted(DOCS.glob("*.md"))
    assert pages, "docs/ holds the reference"
    assert [p.name for p in pages if p.resolve() not in linked] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_lands(page):
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert broken == []


def test_every_image_in_docs_is_shown_somewhere():
    linked = {(p.parent / t).resolve() for p in PAGES for t in relative_links(p)}
    images = [p for p in DOCS.iterdir() if p.suffix in {".png", ".svg", ".jpg"}]
    assert [p.name for p in images if p.resolve() not in linked] == []


def test_every_profile_key_is_documented_with_its_variable():
    text = (DOCS / "configuration.md").read_text()
    missing = [key for key in KEYS
               if f"| `{key}` | `{ENV_PREFIX}{key.upper()}` |" not in text]
    assert missing == [], "docs/configuration.md lacks a row for these keys"


def test_every_module_and_name_the_docs_mention_exists():
    """A module renamed or moved must take its documentation along."""
    named = sorted({m for p in PAGES for m in re.findall(r"`(clientcare(?:\.\w+)+)", p.read_text())})
    missing = []
    for dotted in named:
        parts = dotted.split(".")
        for cut in range(len(parts), 1, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
                break
            except ImportError:
                continue
        else:
            missing.append(dotted)
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        if obj is None:
            missing.append(dotted)
    assert named and missing == []


def test_the_readme_keeps_the_test_command_ci_runs():
    text = README.read_text()
    assert '```sh\npython -m pip install -e ".[test]" && python -m pytest -q\n```' in text


def test_the_readme_stays_a_five_minute_read():
    assert len(README.read_text().splitlines()) <= 150


def test_the_readme_bot_set_up_makes_the_api_key_that_auto_speaks_json2_with():
    """On Odoo 19 the profile's default transport speaks JSON-2 only with an API key: the
    README's bot set-up makes one (where, per version), and the key's expiry is explained."""
    from clientcare.connector.transports import AUTO_PREFERENCE

    assert KEYS["transport"][1] == "auto" and AUTO_PREFERENCE[0] == "json2"
    setup = " ".join(README.read_text().split("## Connecting to Odoo", 1)[1].split("\n## ", 1)[0].split())
    for words in ("Add API Key", "New API Key", 'transport = "auto"', "JSON-2", "CLIENTCARE_API_KEY",
                  "(docs/odoo.md#api-keys)"):
        assert words in setup, words
    odoo = (DOCS / "odoo.md").read_text()
    assert "api-keys" in anchors(DOCS / "odoo.md")
    assert 'env["res.users.apikeys"].with_user(bot).sudo()' in odoo and "api_key_duration" in odoo
