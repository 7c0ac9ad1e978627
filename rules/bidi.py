"""Names from Odoo data, isolated so they cannot reorder the text around them.

A client, contact, project or user name may hold bidi controls (a right-to-left override,
U+202E, reverses everything after it up to the end of the line).  Every name a rule or the
write-back puts into text is wrapped once by :func:`isolate` in U+2068 FIRST STRONG ISOLATE
... U+2069 POP DIRECTIONAL ISOLATE; the name's own explicit controls (embeddings, overrides,
isolates, U+202A-202E and U+2066-2069) are dropped first, because an unmatched PDI inside
would close our isolate early and let an override after it leak out.  Marks (U+200E, U+200F,
U+061C) are kept: they open nothing.  In HTML, :func:`bdi` turns each isolate pair into
``<bdi>``.  Data fields (``subject_name``, evidence, JSON) keep names raw.
"""
from __future__ import annotations

import html
import re

FSI, PDI = "\u2068", "\u2069"
#: Explicit bidi controls: embeddings and overrides (LRE RLE PDF LRO RLO) and isolates
#: (LRI RLI FSI PDI).  Each opens or closes a level; marks do not and are not listed.
CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROL = re.compile(f"[{CONTROLS}]")
_OPENERS = "\u2066\u2067\u2068"


def strip_controls(text: str) -> str:
    """The text without explicit bidi controls."""
    return _CONTROL.sub("", text)


def isolate(name) -> str:
    """A name for text a person reads: its controls dropped, wrapped in FSI ... PDI.
    Idempotent (an isolated name is isolated once), so a name is never wrapped twice."""
    return f"{FSI}{strip_controls(str(name))}{PDI}"


def open_isolates(text: str) -> int:
    """Isolates opened in ``text`` and not closed (an unmatched PDI closes nothing)."""
    depth = 0
    for ch in text:
        if ch in _OPENERS:
            depth += 1
        elif ch == PDI and depth:
            depth -= 1
    return depth


def unmatched_closers(text: str) -> int:
    """PDIs at the start of ``text`` that close an isolate opened before it."""
    depth = missing = 0
    for ch in text:
        if ch in _OPENERS:
            depth += 1
        elif ch == PDI:
            if depth:
                depth -= 1
            else:
                missing += 1
    return missing


def bdi(text) -> str:
    """HTML-escaped text with each balanced FSI ... PDI pair as ``<bdi>``...``</bdi>``; any
    other explicit control (an override in raw data, an unmatched isolate) is dropped, so the
    markup is always balanced and nothing can reorder the text around it."""
    out, depth = [], 0
    for ch in html.escape(str(text), quote=True):
        if ch == FSI:
            depth += 1
            out.append("<bdi>")
        elif ch == PDI:
            if depth:
                depth -= 1
                out.append("</bdi>")
        elif ch not in CONTROLS:
            out.append(ch)
    return "".join(out) + "</bdi>" * depth
