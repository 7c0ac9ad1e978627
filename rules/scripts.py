"""Talking points: what the person who makes the call or writes the mail says or asks.

A rule declares ``scripts = {kind: Script(points, values)}``; a finding's kind is its
``data["kind"]``, else its ``level``.  Each point is a template with ``{placeholders}``: the
common ones (:data:`COMMON`) and those the script maps to the finding's ``data`` or to the
values of an evidence column.  A profile replaces any script (``[profiles.NAME.scripts.RULE]``,
``KIND = ["point", ...]``; an empty list: none for that kind); every template is checked at
start-up and all problems are reported together.  A rule writes its points as messages
(``N_("...")``) so they are translated; a profile's own are kept as written.  Either way a
point is a :class:`~clientcare.rules.i18n.Msg` whose values (dates, numbers, lists) are
formatted in the reader's language.  Points are plain text: the write-back escapes them.  Names filled in (the client, the subject, text values of data and evidence such
as invoice numbers) are isolated (:func:`~clientcare.rules.bidi.isolate`); ``{summary}`` is
already.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from clientcare.connector.errors import ConfigError

from .bidi import FSI, PDI, isolate
from .finding import Finding
from .finding_table import FindingTable, findings_of
from .i18n import Money, MoneyList, Msg, N_, Num, iso_day, listing, pgettext

#: Placeholders every script may use.
COMMON = {"client": "the client's name", "subject": "the name of the record the activity is on",
          "summary": "the activity's summary", "due": "the rule's date for it (YYYY-MM-DD)"}


@dataclass(frozen=True)
class Script:
    """Talking points of one kind of finding: templates, and where their own placeholders come
    from (``data.KEY`` of the finding, or ``evidence.COLUMN``: the column's distinct values)."""

    points: tuple[str, ...]
    values: Mapping[str, str] = field(default_factory=dict)

    def placeholders(self) -> dict[str, str]:
        return {**COMMON, **{k: f"from the finding's {v}" for k, v in self.values.items()}}


def kind_of(finding: Any) -> str | None:
    return _kind(finding.data, finding.level)


def _kind(data: Mapping | None, level: str | None) -> str | None:
    """A finding's kind: its ``data["kind"]``, else its level."""
    return (data or {}).get("kind") or level


def template_problems(points: Any, allowed: Iterable[str], where: str) -> list[str]:
    """Every problem of a list of templates: not text, stray braces, unknown placeholders, format
    specs, conversions, attributes or indexes (only plain ``{name}`` is filled)."""
    if isinstance(points, str) or not isinstance(points, (list, tuple)) or \
            not all(isinstance(p, str) for p in points):
        return [f"{where} must be a list of strings, not {points!r}"]
    allowed = set(allowed)
    out = []
    for i, point in enumerate(points):
        try:
            parts = list(string.Formatter().parse(point))
        except ValueError as exc:
            out.append(f"{where}[{i}] {point!r}: {exc} (write {{{{ and }}}} for literal braces)")
            continue
        for _, fname, spec, conversion in parts:
            if fname is None:
                continue
            if fname not in allowed:
                out.append(f"{where}[{i}]: unknown placeholder {{{fname}}}; known: "
                           f"{', '.join('{' + a + '}' for a in sorted(allowed))}")
            elif spec or conversion:
                out.append(f"{where}[{i}]: {{{fname}}} may not have a format spec or conversion")
    return out


def spec_problems(scripts: Any) -> list[str]:
    """Why a rule's ``scripts`` attribute is unusable (empty when it is fine)."""
    if not isinstance(scripts, Mapping):
        return [f"scripts must map kinds to Script, not {type(scripts).__name__}"]
    out = []
    for kind, script in scripts.items():
        if not isinstance(script, Script):
            out.append(f"scripts[{kind!r}] is not a Script")
            continue
        out += [f"scripts[{kind!r}].values: {k!r}: {v!r} is not data.KEY or evidence.COLUMN"
                for k, v in script.values.items() if not str(v).startswith(("data.", "evidence."))]
        out += template_problems(script.points, script.placeholders(), f"scripts[{kind!r}]")
    return out


def configure(declared: Mapping[str, Mapping[str, Script]], raw: Mapping[str, Any] | None
              ) -> dict[str, dict[str, Script]]:
    """The rules' scripts with the profile's replacements (``raw``: rule -> kind -> points);
    every problem in one ConfigError."""
    out = {rule: dict(s) for rule, s in declared.items()}
    problems = []
    for rule, kinds in (raw or {}).items():
        where = f"scripts.{rule}"
        if rule not in declared:
            problems.append(f"{where}: no loaded rule {rule!r} with scripts (rules with scripts: "
                            f"{', '.join(sorted(r for r, s in declared.items() if s)) or 'none'})")
            continue
        if not isinstance(kinds, Mapping):
            problems.append(f"{where} must be a table of kind = [points]")
            continue
        for kind, points in kinds.items():
            script = declared[rule].get(kind)
            if script is None:
                problems.append(f"{where}.{kind}: {rule} has no kind {kind!r}; kinds: "
                                f"{', '.join(sorted(declared[rule]))}")
                continue
            sub = template_problems(points, script.placeholders(), f"{where}.{kind}")
            problems += sub
            if not sub:
                out[rule][kind] = Script(tuple(points), script.values)
    if problems:
        raise ConfigError(problems)
    return out


def fill(findings: FindingTable | list[Finding], scripts: Mapping[str, Mapping[str, Script]],
         client_names: Mapping[int, str]) -> None:
    """Set the talking points of every finding that asks for an activity and has a script: each
    a message filled with typed values, so it renders in the reader's language.  A table gets
    its ``talking_points`` column set (only the rows with a script are read); a list of
    Finding, each finding."""
    table = findings_of(findings)
    if not len(table):
        return
    kinds = table.column("action_kind")
    asks = np.flatnonzero((kinds == "activity") & pd.Series(table.column("rule"), dtype=object).isin(
        [rule for rule, kinds_ in scripts.items() if any(s.points for s in kinds_.values())]).to_numpy())
    rows = table.take(asks)
    known, data = rows.constant("data")
    datas = [data] * len(rows) if known else rows.column("data").tolist()
    points: dict[int, tuple] = {}
    for i, rule, data, level, client_id, subject, summary, due, evidence in zip(
            asks.tolist(), *(rows.column(c).tolist() for c in ("rule",)), datas,
            *(rows.column(c).tolist() for c in ("level", "client_id", "subject_name", "summary", "due_date",
                                                "evidence"))):
        script = scripts.get(rule, {}).get(_kind(data, level))
        if script is None or not script.points:
            continue
        client = client_names.get(client_id)
        values = {"client": isolate(client) if client else THE_CLIENT, "subject": _value(subject),
                  "summary": summary, "due": _value(due)}
        for key, source in script.values.items():
            where, _, name = source.partition(".")
            if where == "data":
                values[key] = _value((data or {}).get(name))
            else:
                values[key] = _value(list(dict.fromkeys(row.get(name) for row in evidence
                                                        if row.get(name) not in (None, ""))))
        points[i] = tuple(filled(p, values) for p in script.points)
    if table is not findings:  # a list: each finding gets its own
        for i, said in points.items():
            findings[i].talking_points = said
    elif points:
        column = table.column("talking_points").copy()
        for i, said in points.items():
            column[i] = said
        table.set("talking_points", column)


#: Fallbacks of a point's values.
THE_CLIENT = N_("the client")
# TRANSLATORS: a value a talking point needs is not known
UNKNOWN = pgettext("value not known", "?")
# TRANSLATORS: a talking point lists the values of an evidence column, and there are none
NONE = pgettext("no values", "none")


def filled(template: str, values: Mapping[str, Any]) -> Msg:
    """A template filled with ``values`` (a talking point, an onboarding step's summary): a
    rule's own (a message of its catalog) translated, a profile's (plain text) kept as written;
    in both, the values in the reader's formats."""
    if isinstance(template, Msg):
        return Msg(template.msgid, values, context=template.context, domain=template.domain)
    return Msg(template, values, domain=AS_WRITTEN)


#: The domain of a profile's own points: no catalog, so the text stays as written.
AS_WRITTEN = ""


def _value(value: Any) -> Any:
    """A value as a point shows it: typed (dates, numbers, lists rendered per language), names
    from Odoo data (text) isolated (:func:`~clientcare.rules.bidi.isolate`)."""
    if value is None:
        return UNKNOWN
    if isinstance(value, (list, tuple)):
        return listing([_value(v) for v in value], empty=NONE)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Msg):  # words of the rule: translated, and isolated like a name
        return Msg(FSI + "{value}" + PDI, {"value": value}, domain=AS_WRITTEN)
    if isinstance(value, (datetime, date)):
        return value if not isinstance(value, datetime) else value.date()
    day = iso_day(value)
    if day is not None:  # shown isolated as before in English (the text people have), in the reader's format
        return Msg(FSI + "{value}" + PDI, {"value": day}, domain=AS_WRITTEN)
    if isinstance(value, str):
        return value if isinstance(value, (Money, MoneyList)) else isolate(value)
    return value


def _number(value: float) -> Num:
    """A float with at most two decimals and no trailing zeros ("2.5", "1,234")."""
    if value == int(value):
        return Num(value, ",.0f")
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return Num(value, f",.{len(text.split('.', 1)[1]) if '.' in text else 0}f")
