"""Keeping the message catalogs in step with the code (a developer's tool and the suite's check).

``python -m clientcare.rules.catalogs update`` extracts every message of the code under the
source folders (default: ClientCare's ``rules`` and ``jobs``; a plugin names its own) and merges it into each
``locale/<lang>/LC_MESSAGES/<domain>.po``: new messages arrive untranslated, gone ones are
dropped.  ``check`` lists what a shipped catalog lacks: a message without a translation, a
translation whose ``{placeholders}`` differ, a missing plural form.  The suite runs ``check``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .i18n import DOMAIN, KEYWORDS, LOCALE_DIR, placeholders

#: ClientCare's source folders (the checkout's ``rules`` and ``jobs``; installed: the same packages).
SOURCES = (LOCALE_DIR.parent, LOCALE_DIR.parent.parent / "jobs")


def extract(sources=SOURCES, domain: str = DOMAIN):
    """The messages of the code under ``sources`` as a Babel catalog (a template)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    catalog = Catalog(domain=domain, project="ClientCare", charset="utf-8")
    for source in sources:
        source = Path(source)
        if not source.is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
                str(source), method_map=[("**.py", "python")], keywords=KEYWORDS,
                comment_tags=("TRANSLATORS:",), strip_comment_tags=True):
            catalog.add(message, None, [(str(source.name + "/" + filename), lineno)],
                        auto_comments=comments, context=context)
    return catalog


def po_files(locale_dir: Path = LOCALE_DIR, domain: str = DOMAIN) -> dict[str, Path]:
    """Each shipped language's PO file."""
    return {p.parent.parent.name: p for p in sorted(Path(locale_dir).glob(f"*/LC_MESSAGES/{domain}.po"))}


def read(path: Path):
    from babel.messages.pofile import read_po
    with path.open("rb") as fh:
        return read_po(fh, locale=path.parent.parent.name)


#: gettext's usual plural rules for the shipped languages (two forms each; CLDR's third French
#: form, for millions, is left out as gettext tools do).
PLURAL_FORMS = {"fr": "nplurals=2; plural=(n > 1);", "pt_BR": "nplurals=2; plural=(n > 1);",
                "pt": "nplurals=2; plural=(n > 1);"}
GERMANIC = "nplurals=2; plural=(n != 1);"


def update(sources=SOURCES, locale_dir: Path = LOCALE_DIR, domain: str = DOMAIN, langs=()) -> list[Path]:
    """Merge the code's messages into each PO file (and create those of ``langs``)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po
    template = extract(sources, domain)
    written = []
    files = po_files(locale_dir, domain)
    for lang in langs:
        files.setdefault(lang, Path(locale_dir) / lang / "LC_MESSAGES" / f"{domain}.po")
    for lang, path in files.items():
        catalog = read(path) if path.is_file() else Catalog(locale=lang, domain=domain, project="ClientCare")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False
        catalog.project, catalog.version = "ClientCare", ""
        catalog.copyright_holder = catalog.last_translator = catalog.language_team = "ClientCare contributors"
        catalog.msgid_bugs_address = ""
        catalog.header_comment = f"# {lang} messages of ClientCare ({domain}); `python -m clientcare.rules.catalogs update` keeps them in step."
        catalog._num_plurals, catalog._plural_expr = _plural_rule(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, ignore_obsolete=True, sort_output=True)
        written.append(path)
    return written


def _plural_rule(lang: str) -> tuple[int, str]:
    rule = PLURAL_FORMS.get(lang) or PLURAL_FORMS.get(lang.split("_", 1)[0]) or GERMANIC
    n, expr = rule.split(";", 1)
    return int(n.split("=")[1]), expr.strip().removeprefix("plural=").rstrip(";").strip()


def problems(sources=SOURCES, locale_dir: Path = LOCALE_DIR, domain: str = DOMAIN) -> list[str]:
    """Everything a shipped catalog lacks against the code (empty when complete)."""
    template = extract(sources, domain)
    wanted = {(m.id if isinstance(m.id, str) else m.id[0], m.context): m for m in template if m.id}
    out = []
    for lang, path in po_files(locale_dir, domain).items():
        catalog = read(path)
        have = {(m.id if isinstance(m.id, str) else m.id[0], m.context): m for m in catalog if m.id}
        n_plurals = catalog.num_plurals
        for key, source in wanted.items():
            where = f"{lang}: {key[0]!r}" + (f" (context {key[1]})" if key[1] else "")
            got = have.get(key)
            if got is None or not got.string or (isinstance(got.string, (list, tuple)) and not all(got.string)):
                out.append(f"{where}: no translation")
                continue
            if got.fuzzy:
                out.append(f"{where}: marked fuzzy")
            ids = source.id if isinstance(source.id, (list, tuple)) else (source.id,)
            strings = got.string if isinstance(got.string, (list, tuple)) else (got.string,)
            if isinstance(source.id, (list, tuple)) and len(strings) != n_plurals:
                out.append(f"{where}: {len(strings)} plural forms, the language has {n_plurals}")
            expected = set().union(*(placeholders(i) for i in ids))
            for s in strings:
                found = placeholders(s)
                # a plural form may leave out {n} ("one invoice"); nothing else may differ
                if found - expected or (expected - found) - ({"n"} if len(ids) > 1 else set()):
                    out.append(f"{where}: placeholders {sorted(found)} instead of {sorted(expected)} in {s!r}")
        out += [f"{lang}: {key[0]!r}: no longer in the code" for key in have.keys() - wanted.keys()]
    return out


def main(argv: list[str]) -> int:
    """``update`` / ``check``; a plugin passes ``--domain=D --source=DIR --locale-dir=DIR`` for its own."""
    command, *rest = argv or ["check"]
    opts: dict[str, list[str]] = {}
    for arg in rest:
        key, _, value = arg.partition("=")
        opts.setdefault(key.lstrip("-"), []).append(value)
    domain = (opts.get("domain") or [DOMAIN])[0]
    sources = [Path(s) for s in opts.get("source", [])] or SOURCES
    locale_dir = Path((opts.get("locale-dir") or [LOCALE_DIR])[0])
    if command == "update":
        for path in update(sources, locale_dir, domain, opts.get("lang", [])):
            print(path)
        return 0
    if command == "check":
        found = problems(sources, locale_dir, domain)
        for p in found:
            print(p)
        return 1 if found else 0
    print("usage: python -m clientcare.rules.catalogs update|check [--lang=xx] [--domain=D --source=DIR "
          "--locale-dir=DIR]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
