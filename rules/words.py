"""Words for the values people read in several places (a health band, a criterion and its status):
one home, so the fit checklist's notes, the report and ``history`` say the same word.  Raw
values stay as they are in JSON and CSV."""
from __future__ import annotations

from clientcare.connector.facts import HEALTH_BANDS, UNKNOWN_BAND

from .i18n import N_, pgettext

_GOOD, _FAIR, _POOR = HEALTH_BANDS
#: A health band (:data:`~clientcare.connector.facts.HEALTH_BANDS`, then unknown) in words.
BAND_WORDS = {_GOOD: pgettext("health band", "good"), _FAIR: pgettext("health band", "fair"),
              _POOR: pgettext("health band", "poor"), UNKNOWN_BAND: pgettext("health band", "unknown")}
#: A fit-checklist criterion's status in words.
STATUS_WORDS = {"pass": pgettext("criterion status", "pass"), "fail": pgettext("criterion status", "fail"),
                "warn": pgettext("criterion status", "warn"), "unknown": pgettext("criterion status", "unknown")}

#: The fit checklist's criteria (``fit_checklist.CRITERIA``) as people read them.
CRITERION_WORDS = {"fits_our_work": N_("fits our work"), "no_late_changes": N_("no late changes"),
                   "reasonable_expectations": N_("reasonable expectations"), "pays_on_time": N_("pays on time"),
                   "cooperates": N_("cooperates"), "likely_satisfied": N_("likely satisfied")}


def band_word(band):
    """A health band as a person reads it (the band itself when it has no word)."""
    return BAND_WORDS.get(band, band) if isinstance(band, str) else band


def status_word(status):
    """A criterion's status as a person reads it (the status itself when it has no word)."""
    return STATUS_WORDS.get(status, status) if isinstance(status, str) else status
