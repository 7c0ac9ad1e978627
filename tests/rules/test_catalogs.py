"""The shipped catalogs against the code: every message translated, same placeholders, every
plural form (``python -m clientcare.rules.catalogs update`` brings new messages in)."""
import pytest

from clientcare.rules import catalogs, i18n


def test_every_shipped_language_has_a_catalog():
    assert sorted(catalogs.po_files()) == sorted(i18n.SHIPPED)


@pytest.mark.parametrize("lang", i18n.SHIPPED)
def test_the_catalog_is_complete(lang):
    found = [p for p in catalogs.problems() if p.startswith(f"{lang}:")]
    assert not found, f"{len(found)} problems, first: " + "; ".join(found[:10])


@pytest.mark.parametrize("lang", i18n.SHIPPED)
def test_plural_forms_are_the_usual_gettext_ones(lang):
    catalog = catalogs.read(catalogs.po_files()[lang])
    assert (catalog.num_plurals, catalog.plural_expr) == catalogs._plural_rule(lang)


def test_the_checker_sees_a_missing_translation_and_a_changed_placeholder(tmp_path):
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.py").write_text('from clientcare.rules.i18n import _, ngettext\n'
                              '_("call {client}", client=1)\n_("left out")\n'
                              'ngettext("{n} invoice", "{n} invoices", 2)\n')
    cat = Catalog(locale="de", domain="d")
    cat._num_plurals, cat._plural_expr = catalogs._plural_rule("de")
    cat.add("call {client}", "{kunde} anrufen")
    cat.add(("{n} invoice", "{n} invoices"), ("eine Rechnung",))
    path = tmp_path / "loc" / "de" / "LC_MESSAGES" / "d.po"
    path.parent.mkdir(parents=True)
    with path.open("wb") as fh:
        write_po(fh, cat)
    found = catalogs.problems([src], tmp_path / "loc", "d")
    assert any("'left out': no translation" in p for p in found)
    assert any("placeholders ['kunde']" in p for p in found)
    assert any("'{n} invoice'" in p and "no translation" in p for p in found)
