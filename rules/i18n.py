"""Texts people read, in their language: lazy messages, gettext catalogs and locale formatting.

A rule or report writes ``_("call {client}: {what}", client=..., what=...)`` (or
``ngettext(singular, plural, n, ...)``, ``pgettext(context, text)``).  The result is a
:class:`Msg`: a ``str`` holding the English text, so everything that reads text as before keeps
working, that also remembers its message id and values so it can be rendered again in any
language with :func:`render`.  Values are formatted for the language they are rendered in:
:class:`Money` (an amount with its currency), dates, numbers (:class:`Num`), percentages
(:class:`Percent`), lists (:class:`Listing`) and nested messages.

English is the source language and keeps the project's neutral formats (ISO dates,
"1,234.56 USD"): unambiguous for every English reader and stable for scripts.  Other languages
use Babel's CLDR data ("12 345,67 $US", "1.000,00 €", "7 déc. 2026").

Catalogs are gettext PO files under ``locale/<lang>/LC_MESSAGES/<domain>.po`` beside the code
that owns them, compiled in memory on first use.  ClientCare's domain is ``clientcare``; a rule
plugin makes its own :class:`Translator` (``translator("my_rules", Path(__file__).parent /
"locale")``) so its messages come from its own catalog.

Only rendering depends on the language: the English text (the ``str`` value) is what the
write-back fingerprints, so a person switching language or a new translation never looks like
a changed situation.
"""
from __future__ import annotations

import functools
import gettext as _gettext
import io
import os
import re
import string
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

DOMAIN = "clientcare"
LOCALE_DIR = Path(__file__).with_name("locale")
#: The source language: texts as written in the code.
SOURCE = "en"
#: The languages ClientCare ships complete catalogs for (Odoo codes: fr_FR reads ``fr``).
SHIPPED = ("fr", "de", "es", "nl", "it", "pt_BR")
#: At most this many items of a :class:`Listing` are named ("and 3 more").
LIST_MAX = 8

_DOMAINS: dict[str, Path] = {DOMAIN: LOCALE_DIR}


# -- languages ------------------------------------------------------------------------------

def normalize(lang: Any) -> str:
    """An Odoo or POSIX language code as ClientCare uses it: ``fr_FR``, ``pt_BR``, ``en_US``
    (``fr-fr``, ``fr_FR.UTF-8`` and ``fr_FR@euro`` read the same); empty, ``C`` and ``POSIX``
    are English."""
    text = str(lang or "").strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    if not text or text.upper() in ("C", "POSIX"):
        return SOURCE
    lang_part, _, region = text.partition("_")
    return f"{lang_part.lower()}_{region.upper()}" if region else lang_part.lower()


def is_source(lang: Any) -> bool:
    """Whether ``lang`` is English (asked for every value of every message: remembered)."""
    try:
        return _IS_SOURCE[lang]
    except (KeyError, TypeError):
        answer = normalize(lang).split("_", 1)[0] == SOURCE
        if isinstance(lang, (str, type(None))) and len(_IS_SOURCE) < 256:
            _IS_SOURCE[lang] = answer
        return answer


_IS_SOURCE: dict[Any, bool] = {}


def pick(*candidates: Any) -> str:
    """The first language given (a user's, then their company's, then a default): English
    when none is."""
    for c in candidates:
        if c and c is not False:
            return normalize(c)
    return SOURCE


def environment_lang() -> str:
    """The language of the environment (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), as gettext
    reads it; English when unset."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return normalize(value)
    return SOURCE


def valid(lang: Any) -> bool:
    """Whether Babel knows the language (its formats); the CLI says so when it does not."""
    from babel import Locale, UnknownLocaleError
    try:
        Locale.parse(normalize(lang))
        return True
    except (UnknownLocaleError, ValueError):
        return False


# -- catalogs -------------------------------------------------------------------------------

def register_domain(domain: str, locale_dir: Path | str) -> None:
    """Where a plugin's catalogs live (done by :func:`translator`)."""
    _DOMAINS[domain] = Path(locale_dir)


def catalog_path(domain: str, lang: str) -> Path | None:
    """The PO file of ``domain`` for ``lang``: the exact code, else its language (``fr_BE`` →
    ``fr``), else none."""
    base = _DOMAINS.get(domain)
    if base is None:
        return None
    code = normalize(lang)
    for candidate in dict.fromkeys((code, code.split("_", 1)[0])):
        path = base / candidate / "LC_MESSAGES" / f"{domain}.po"
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=64)
def _translations(domain: str, lang: str) -> _gettext.NullTranslations:
    path = catalog_path(domain, lang)
    if path is None:
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=path.parent.parent.name, domain=domain)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def translate(msgid: str, lang: str, *, plural: str | None = None, n: int | None = None,
              context: str | None = None, domain: str = DOMAIN) -> str:
    """The text of one message in ``lang`` (untranslated: the English)."""
    if is_source(lang):
        return msgid if plural is None or n == 1 else plural
    t = _translations(domain, normalize(lang))
    if plural is None:
        return t.pgettext(context, msgid) if context else t.gettext(msgid)
    return t.npgettext(context, msgid, plural, n) if context else t.ngettext(msgid, plural, n)


# -- values ---------------------------------------------------------------------------------

class Money(str):
    """An amount with its currency: ``1,000.00 EUR`` in English, the locale's way elsewhere.
    Amounts of two currencies are never added (:class:`MoneyList` shows them side by side)."""

    def __new__(cls, amount: float, currency: Any):
        self = super().__new__(cls, f"{float(amount):,.2f} {currency}")
        self.amount, self.currency = float(amount), str(currency)
        return self

    def __reduce__(self):
        return (Money, (self.amount, self.currency))

    def render(self, lang: str) -> str:
        if is_source(lang) or not self.currency or len(self.currency) != 3:
            return str.__str__(self)
        from babel.numbers import format_currency
        return format_currency(self.amount, self.currency, locale=_babel_locale(lang))


class MoneyList(str):
    """Amounts in several currencies, never added: "1,000.00 EUR + 3,000.00 USD"."""

    def __new__(cls, items: Iterable[Money]):
        items = tuple(items)
        self = super().__new__(cls, " + ".join(items))
        self.items = items
        return self

    def __reduce__(self):
        return (MoneyList, (self.items,))

    def render(self, lang: str) -> str:
        return " + ".join(m.render(lang) for m in self.items)


def money(amount: float, currency: Any) -> Money:
    return Money(amount, currency)


def money_list(pairs: Iterable[tuple[Any, float]]) -> MoneyList:
    """``(currency, amount)`` pairs (:func:`clientcare.connector.snapshot.per_currency`) as one
    text, one amount per currency."""
    return MoneyList(Money(amount, currency) for currency, amount in pairs)


@dataclass(frozen=True)
class Num:
    """A number with its English format spec (``".0f"``, ``",.2f"``, ``"g"``); other languages
    get the locale's separators with as many decimals."""

    value: float
    spec: str = "g"

    def __str__(self) -> str:
        return format(self.value, self.spec)

    def render(self, lang: str) -> str:
        if is_source(lang):
            return str(self)
        from babel.numbers import format_decimal
        digits = _decimals(self.spec, self.value)
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        if "g" in self.spec:
            fmt = "#,##0.######"
        return format_decimal(self.value, format=fmt, locale=_babel_locale(lang))


@dataclass(frozen=True)
class Percent:
    """A share (0.5 → "50%"), with ``digits`` decimals."""

    value: float
    digits: int = 0

    def __str__(self) -> str:
        return f"{self.value:.{self.digits}%}"

    def render(self, lang: str) -> str:
        if is_source(lang):
            return str(self)
        from babel.numbers import format_percent
        locale = _babel_locale(lang)
        pattern = locale.percent_formats[None].pattern
        if self.digits:
            pattern = pattern.replace("0", "0." + "0" * self.digits, 1)
        return format_percent(self.value, format=pattern, locale=locale)


@dataclass(frozen=True)
class Listing:
    """Items joined with ``sep``, at most ``limit`` named then "and N more" (translated; None:
    all of them); ``empty`` is said when there are none."""

    items: tuple
    empty: Any = None
    sep: str = ", "
    limit: int | None = LIST_MAX

    def __str__(self) -> str:
        return self.render(SOURCE)

    def render(self, lang: str) -> str:
        shown = [render(v, lang) for v in self.items[:self.limit]]
        if not shown:
            return render(self.empty, lang) if self.empty is not None else ""
        rest = len(self.items) - len(shown)
        text = self.sep.join(shown)
        if rest > 0:
            text += translate(" and {n} more", lang, plural=" and {n} more", n=rest).format(n=render(rest, lang))
        return text


def listing(items: Iterable[Any], empty: Any = None, sep: str = ", ", limit: int | None = LIST_MAX) -> Listing:
    return Listing(tuple(items), empty, sep, limit)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_day(value: Any) -> date | None:
    """The day a rule kept as ISO text (``"2026-10-28"`` in evidence or data), else None: it
    reads as a day in the reader's format."""
    return date.fromisoformat(value) if type(value) is str and _ISO_DAY.fullmatch(value) else None


def render(value: Any, lang: str | None = None) -> str:
    """Any value as a person reads it in ``lang`` (English when None)."""
    kind = type(value)
    if kind is str:  # most values (names, already isolated): as they are
        return value
    lang = lang or SOURCE
    if kind is int and is_source(lang):
        return str(value)
    renderer = getattr(value, "render", None)
    if renderer is not None and callable(renderer):
        return renderer(lang)
    if value is None:
        return "?"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (datetime, date)):
        return _date(value if not isinstance(value, datetime) else value.date(), lang)
    if isinstance(value, int) or type(value).__name__.startswith("int"):
        if is_source(lang):
            return str(int(value))
        from babel.numbers import format_decimal
        return format_decimal(int(value), locale=_babel_locale(lang))
    if isinstance(value, float):
        return Num(value, ",.2f").render(lang)
    if isinstance(value, (list, tuple)):
        return Listing(tuple(value)).render(lang)
    return str(value)


def _date(d: date, lang: str) -> str:
    if is_source(lang):
        return d.isoformat()
    from babel.dates import format_date
    return format_date(d, "medium", locale=_babel_locale(lang))


@functools.lru_cache(maxsize=64)
def _babel_locale(lang: str):
    from babel import Locale, UnknownLocaleError
    code = normalize(lang)
    for candidate in (code, code.split("_", 1)[0]):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


def _decimals(spec: str, value: float) -> int:
    if "." in spec:
        digits = "".join(ch for ch in spec.split(".", 1)[1] if ch.isdigit())
        return int(digits or 0)
    return 0 if float(value).is_integer() else 2


# -- messages -------------------------------------------------------------------------------

class Msg(str):
    """A message: its English text as the ``str`` value, its id and values kept to render it
    in any language (:meth:`render`)."""

    def __new__(cls, msgid: str, params: Mapping[str, Any] | None = None, *, plural: str | None = None,
                n: int | None = None, context: str | None = None, domain: str = DOMAIN):
        params = dict(params or {})
        if plural is not None and "n" not in params:
            params["n"] = n
        text = _fill(msgid if plural is None or n == 1 else plural, params, SOURCE)
        return _made(text, msgid, params, plural, n, context, domain)

    def __reduce__(self):
        return (_rebuild, (self.msgid, self.params, self.plural, self.n, self.context, self.domain))

    def render(self, lang: str | None) -> str:
        if lang is None or is_source(lang):
            return str.__str__(self)
        text = translate(self.msgid, lang, plural=self.plural, n=self.n, context=self.context, domain=self.domain)
        return _fill(text, self.params, lang)


def _rebuild(msgid, params, plural, n, context, domain):
    return Msg(msgid, params, plural=plural, n=n, context=context, domain=domain)


def _made(text: str, msgid: str, params: dict, plural: str | None, n: int | None, context: str | None,
          domain: str) -> Msg:
    """A message whose English ``text`` is already filled in."""
    self = str.__new__(Msg, text)
    self.msgid, self.plural, self.n, self.context, self.domain, self.params = msgid, plural, n, context, domain, params
    return self


class Each:
    """Values of a message that differ per row (see :func:`each`)."""

    __slots__ = ("values",)

    def __init__(self, values: Iterable[Any]):
        self.values = values if isinstance(values, list) else list(values)


def each(values: Iterable[Any]) -> Each:
    """A column of values for the ``*_rows`` message functions (``gettext_rows``...): one per
    row, typed as the message takes them (dates as ``date``, counts as ``int``)."""
    return Each(values.tolist() if hasattr(values, "tolist") else values)


def _rows(msgid: str, params: dict[str, Any], *, plural: str | None = None, n: Any = None,
          context: str | None = None, domain: str = DOMAIN) -> list[Msg]:
    """One message per row, each equal to the one ``Msg`` makes with that row's values, each
    value rendered to English once per column instead of once per message."""
    if plural is not None:
        n = Each([int(k) for k in n.values]) if isinstance(n, Each) else int(n)
        params.setdefault("n", n)
    columns = [k for k, v in params.items() if isinstance(v, Each)]
    if not columns:
        raise ValueError("the *_rows message functions need a value per row (each(...))")
    values = [params[k].values for k in columns]
    counts = n.values if isinstance(n, Each) else [n] * len(values[0])
    if any(len(v) != len(counts) for v in values):
        raise ValueError("columns of different lengths")
    shown = {k: [_english(v) for v in params[k].values] if k in columns else render(v, SOURCE)
             for k, v in params.items()}
    texts = _filled_rows(msgid, shown, len(counts))
    if plural is not None:
        texts = [one if k == 1 else other for one, other, k in zip(texts, _filled_rows(plural, shown, len(counts)),
                                                                   counts)]
    out = []
    if len(columns) == 1:  # the usual case, spared a zip per row
        key = columns[0]
        for text, value, count in zip(texts, values[0], counts):
            row = params.copy()  # each row's value in its column's place: the order of the values is kept
            row[key] = value
            out.append(_made(text, msgid, row, plural, count, context, domain))
        return out
    for text, values_row, count in zip(texts, zip(*values), counts):
        row = params.copy()
        row.update(zip(columns, values_row))
        out.append(_made(text, msgid, row, plural, count, context, domain))
    return out


#: Values whose English rendering is their text (:func:`render` would say the same, slower).
_ENGLISH_AS_TEXT = frozenset((str, Msg, Money, MoneyList))


def _english(value: Any) -> str:
    """``render(value, SOURCE)``, without asking the language for the commonest values."""
    kind = type(value)
    if kind in _ENGLISH_AS_TEXT:
        return str.__str__(value)
    if kind is int:
        return str(value)
    return render(value, SOURCE)


def _filled_rows(text: str, shown: dict[str, Any], size: int) -> list[str]:
    """``text`` filled with the rendered values of ``shown`` (a value, or a list of one per
    row): piece by piece when its fields are plain names, else as :func:`_fill` does."""
    pieces = list(string.Formatter().parse(text))
    if any(field is not None and (spec or conversion or field not in shown)
           for _lit, field, spec, conversion in pieces):
        rows = [{k: v[i] if isinstance(v, list) else v for k, v in shown.items()} for i in range(size)]
        return [text.format_map(row) for row in rows]
    out = [""] * size
    for literal, field, _spec, _conversion in pieces:
        value = shown.get(field, "") if field is not None else ""
        if isinstance(value, list):
            out = [t + literal + v for t, v in zip(out, value)]
        else:
            tail = literal + value
            out = [t + tail for t in out]
    return out


class _Values(dict):
    def __init__(self, params: Mapping[str, Any], lang: str):
        super().__init__()
        self.params, self.lang = params, lang

    def __missing__(self, key: str) -> str:
        return render(self.params[key], self.lang)


def _fill(text: str, params: Mapping[str, Any], lang: str) -> str:
    if not params:
        return text
    if lang is SOURCE:  # every message is filled in English once, when made: the short way
        return text.format_map({k: _english(v) for k, v in params.items()})
    return text.format_map(_Values(params, lang))


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a message uses (the catalog test compares them per translation)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class Translator:
    """The message functions of one catalog domain; ClientCare's are the module-level ones."""

    def __init__(self, domain: str, locale_dir: Path | str | None = None):
        self.domain = domain
        if locale_dir is not None:
            register_domain(domain, locale_dir)

    def gettext(self, msgid: str, **params: Any) -> Msg:
        return Msg(msgid, params, domain=self.domain)

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> Msg:
        return Msg(singular, params, plural=plural, n=int(n), domain=self.domain)

    def pgettext(self, context: str, msgid: str, **params: Any) -> Msg:
        return Msg(msgid, params, context=context, domain=self.domain)

    def npgettext(self, context: str, singular: str, plural: str, n: int, **params: Any) -> Msg:
        return Msg(singular, params, plural=plural, n=int(n), context=context, domain=self.domain)

    # -- many rows at once: a value given as each(column) differs per row, the others are shared;
    # each row's message is the one the function above makes with that row's values
    def gettext_rows(self, msgid: str, **params: Any) -> list[Msg]:
        return _rows(msgid, params, domain=self.domain)

    def ngettext_rows(self, singular: str, plural: str, n: Any, **params: Any) -> list[Msg]:
        return _rows(singular, params, plural=plural, n=n, domain=self.domain)

    def pgettext_rows(self, context: str, msgid: str, **params: Any) -> list[Msg]:
        return _rows(msgid, params, context=context, domain=self.domain)


def translator(domain: str, locale_dir: Path | str) -> Translator:
    """A plugin's own message functions, from its catalogs under ``locale_dir``."""
    return Translator(domain, locale_dir)


_default = Translator(DOMAIN)
_ = _default.gettext
gettext = _default.gettext
ngettext = _default.ngettext
pgettext = _default.pgettext
npgettext = _default.npgettext
gettext_rows = _default.gettext_rows
ngettext_rows = _default.ngettext_rows
pgettext_rows = _default.pgettext_rows


def N_(msgid: str) -> Msg:
    """A message written as a constant (a heading, a value label): the same as ``_`` without
    values, for tables built at import time."""
    return Msg(msgid)


#: Keywords for Babel's extractor (``pybabel extract -k``), the same as the functions above.
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3), "gettext_rows": None, "ngettext_rows": (1, 2),
            "pgettext_rows": ((1, "c"), 2)}


# -- evidence as a person reads it ----------------------------------------------------------

@dataclass(frozen=True)
class EvidenceView:
    """How a rule's evidence columns read in a note: headings, amounts shown with their currency,
    names that link to their record, raw values in words.  Columns a view does not name fall
    back to :data:`COMMON_VIEW`; ``*_id`` columns and currency columns shown beside an amount
    are never columns of their own (ids are for the links)."""

    labels: Mapping[str, Any] = None
    #: amount column -> the column holding its currency code
    money: Mapping[str, str] = None
    #: name column -> (Odoo model, id column): the name opens the record in Odoo
    links: Mapping[str, tuple[str, str]] = None
    #: column -> raw value -> words (``payment_state``: ``not_paid`` -> "not paid")
    values: Mapping[str, Mapping[Any, Any]] = None
    #: columns never shown
    hidden: tuple[str, ...] = ()

    def label(self, column: str) -> Any:
        for view in (self, common_view()):
            if view.labels and column in view.labels:
                return view.labels[column]
        return column.replace("_", " ")

    def currency_of(self, column: str) -> str | None:
        for view in (self, common_view()):
            if view.money and column in view.money:
                return view.money[column]
        return None

    def link_of(self, column: str) -> tuple[str, str] | None:
        for view in (self, common_view()):
            if view.links and column in view.links:
                return view.links[column]
        return None

    def value(self, column: str, raw: Any) -> Any:
        for view in (self, common_view()):
            table = (view.values or {}).get(column)
            if table is not None and isinstance(raw, (str, int)) and raw in table:
                return table[raw]
        return raw

    def shown(self, columns: Iterable[str]) -> list[str]:
        """The columns a person sees, in order."""
        columns = list(columns)
        beside = {self.currency_of(c) for c in columns} - {None}
        hidden = set(self.hidden) | set(common_view().hidden) | beside
        return [c for c in columns if c not in hidden and not c.endswith("_id") and not c.startswith("_")]


def common_view() -> EvidenceView:
    """The defaults every view falls back to: the columns the built-in rules share
    (:data:`clientcare.rules.evidence_labels.COMMON`), loaded on first use (it builds its
    headings with this module's functions, so it cannot be imported here at the top)."""
    from .evidence_labels import COMMON
    return COMMON


def __getattr__(name: str) -> Any:
    # ``i18n.COMMON_VIEW``: the same as :func:`common_view`
    if name == "COMMON_VIEW":
        return common_view()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
