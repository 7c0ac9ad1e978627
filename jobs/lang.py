"""The language of what ClientCare prints for people (``audit``, ``explain``, ``history``, the
HTML report): ``--lang``, else the profile's ``lang``, else the environment's locale, else English."""
from __future__ import annotations

from clientcare.rules import i18n


def report_lang(given: str | None, profile_lang: str | None) -> str:
    """The language to print in: ``--lang`` (checked by the CLI), else the profile's ``lang``
    (checked with the other settings), else the environment's locale when Babel knows it (a
    stray ``LANG`` is not the user's choice: English then), else English."""
    m = i18n
    if given or profile_lang:
        return m.normalize(given or profile_lang)
    env = m.environment_lang()
    return env if m.is_source(env) or m.valid(env) else m.SOURCE
