"""The message core: English as the source, any language rendered later from the same message."""
import pickle
from datetime import date

import pytest

from clientcare.rules import catalogs, i18n
from clientcare.rules.i18n import Money, Num, Percent, _, listing, money, money_list, ngettext, render


@pytest.fixture
def pseudo(tmp_path):
    """A French catalog of a test domain where every text reads ``⟦...⟧``."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po
    cat = Catalog(locale="fr", domain="t")
    cat._num_plurals, cat._plural_expr = catalogs._plural_rule("fr")  # as the shipped catalogs
    cat.add(("{n} invoice", "{n} invoices"), ("⟦une facture⟧", "⟦{n} factures⟧"))
    cat.add("call {client} since {day}: {what}", "⟦appeler {client} depuis {day} : {what}⟧")
    cat.add("level", "⟦niveau⟧", context="column")
    path = tmp_path / "fr" / "LC_MESSAGES" / "t.po"
    path.parent.mkdir(parents=True)
    with path.open("wb") as fh:
        write_po(fh, cat)
    t = i18n.translator("t", tmp_path)
    yield t
    i18n._translations.cache_clear()


def test_english_is_the_text_itself():
    m = _("call {client}: {amount} since {day}", client="Azure", amount=money(1234.5, "USD"), day=date(2026, 1, 2))
    assert isinstance(m, str) and m == "call Azure: 1,234.50 USD since 2026-01-02"
    assert render(m, "en_US") == m and render(m, None) == m
    assert ngettext("{n} invoice", "{n} invoices", 1) == "1 invoice"
    assert ngettext("{n} invoice", "{n} invoices", 3) == "3 invoices"


def test_a_message_renders_in_another_language_with_its_values_formatted_there(pseudo):
    what = pseudo.ngettext("{n} invoice", "{n} invoices", 3)
    m = pseudo.gettext("call {client} since {day}: {what}", client="Azure", day=date(2026, 12, 7), what=what)
    assert m == "call Azure since 2026-12-07: 3 invoices"
    out = m.render("fr_FR")
    assert out == "⟦appeler Azure depuis 7 déc. 2026 : ⟦3 factures⟧⟧"
    assert pseudo.ngettext("{n} invoice", "{n} invoices", 1).render("fr_FR") == "⟦une facture⟧"
    assert pseudo.pgettext("column", "level").render("fr_FR") == "⟦niveau⟧"
    assert pseudo.gettext("not in the catalog {x}", x=1).render("fr_FR") == "not in the catalog 1"


def test_money_dates_and_numbers_follow_the_locale():
    assert money(12345.67, "USD").render("fr_FR") == "12\u202f345,67\u00a0$US"
    assert money(1000, "EUR").render("de_DE") == "1.000,00\u00a0€"
    assert money_list([("EUR", 1000.0), ("USD", 3000.0)]) == "1,000.00 EUR + 3,000.00 USD"
    assert money_list([("EUR", 1000.0), ("USD", 3000.0)]).render("de_DE") == "1.000,00\u00a0€ + 3.000,00\u00a0$"
    assert render(date(2026, 12, 7), "de_DE") == "07.12.2026"
    assert render(date(2026, 12, 7), "en_US") == "2026-12-07"
    assert Num(7.5, ".1f").render("fr") == "7,5" and Num(1234.0, ".0f").render("de") == "1.234"
    assert str(Num(7.0, "g")) == "7" and Percent(0.5).render("de") == "50\u00a0%"
    assert render(12345, "de") == "12.345" and render(12345, "en") == "12345"


def test_messages_of_many_rows_are_those_made_one_by_one(pseudo):
    """``*_rows``: each row's message has the same text, values (in order) and rendering in every
    language as the message the single-row function makes with that row's values."""
    what = [pseudo.ngettext("{n} invoice", "{n} invoices", k) for k in (1, 3, 2)]
    days = [date(2026, 12, 7), None, date(2026, 1, 2)]
    clients = ["Azure", "Bleu", money_list([("EUR", 1.0), ("USD", 2.5)])]
    rows = pseudo.gettext_rows("call {client} since {day}: {what}", client=i18n.each(clients), day=i18n.each(days),
                               what=i18n.each(what))
    one = [pseudo.gettext("call {client} since {day}: {what}", client=c, day=d, what=w)
           for c, d, w in zip(clients, days, what)]
    plural = pseudo.ngettext_rows("{n} invoice", "{n} invoices", i18n.each([1, 3]))
    one += [pseudo.ngettext("{n} invoice", "{n} invoices", k) for k in (1, 3)]
    context = pseudo.pgettext_rows("column", "level", x=i18n.each([1]))
    one.append(pseudo.pgettext("column", "level", x=1))
    # a field with a format, a conversion and a literal brace: filled as one message is
    odd = i18n.gettext_rows("{{x}} {a!r} {b:>4} {c}", a=i18n.each(["p", "q"]), b="7", c=i18n.each([1.5, 2]))
    one += [_("{{x}} {a!r} {b:>4} {c}", a=a, b="7", c=c) for a, c in (("p", 1.5), ("q", 2))]
    many = rows + plural + context + odd
    assert [m.__reduce__() for m in many] == [m.__reduce__() for m in one]
    assert [list(m.params) for m in many] == [list(m.params) for m in one]
    assert [(str.__str__(m), m.render("fr_FR")) for m in many] == [(str.__str__(m), m.render("fr_FR")) for m in one]
    assert rows[0].render("fr_FR") == "⟦appeler Azure depuis 7 déc. 2026 : ⟦une facture⟧⟧"
    with pytest.raises(ValueError):
        i18n.gettext_rows("{a}", a="the same for every row")


def test_lists_name_a_few_then_say_how_many_more():
    assert str(listing(range(10))) == "0, 1, 2, 3, 4, 5, 6, 7 and 2 more"
    assert str(listing([], empty=_("none"))) == "none"


def test_messages_survive_pickling_and_keep_their_language(pseudo):
    m = pseudo.gettext("call {client} since {day}: {what}", client="A", day=date(2026, 1, 1),
                       what=money_list([("EUR", 1.0)]))
    back = pickle.loads(pickle.dumps(m))
    assert back == m and back.render("fr_FR") == m.render("fr_FR")
    assert isinstance(pickle.loads(pickle.dumps(money(1, "EUR"))), Money)


@pytest.mark.parametrize("raw, code", [("fr_FR.UTF-8", "fr_FR"), ("fr-fr", "fr_FR"), ("de_DE@euro", "de_DE"),
                                       ("C", "en"), ("POSIX", "en"), ("", "en"), (None, "en"), ("pt_BR", "pt_BR")])
def test_language_codes_read_the_same_whatever_their_spelling(raw, code):
    assert i18n.normalize(raw) == code


def test_the_first_language_given_wins_else_english():
    assert i18n.pick(False, "de_DE", None) == "de_DE"
    assert i18n.pick(None, False) == "en"


def test_the_environment_language_is_read_like_gettext(monkeypatch):
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.environment_lang() == "en"
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.setenv("LC_MESSAGES", "fr_FR.UTF-8")
    assert i18n.environment_lang() == "fr_FR"


def test_a_regional_variant_uses_its_language_catalog():
    assert i18n.catalog_path("clientcare", "fr_BE") == i18n.catalog_path("clientcare", "fr")


def test_no_message_is_built_from_an_f_string():
    """An f-string inside ``_()`` cannot be translated: Babel skips it with a warning."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        catalogs.extract()
