"""The digest of a finding's inputs (rules/digest.py): what the write-back's fingerprint reads changes
it, a day passing does not; evidence shared as columns reads as the same rows given as dicts."""
from __future__ import annotations

import dataclasses

from clientcare.rules.digest import digests, hash_values
from clientcare.rules.finding import Rows
from clientcare.rules.finding_table import FindingTable
from clientcare.rules.i18n import Msg

from writeback_findings import finding


def one(f, **context) -> int:
    return int(digests([f], **{k: [v] for k, v in context.items()})[0])


def test_what_an_activity_says_changes_the_digest_and_a_day_does_not():
    base = finding(1, daily=("days_late",))
    same = one(base)
    assert one(finding(1, daily=("days_late",), days_late=17)) == same  # a day passed
    assert one(finding(1, daily=("days_late",), amount=999.0)) != same  # an evidence value
    assert one(finding(1, days_late=16)) != same  # a day count no longer daily
    assert one(finding(1, daily=("days_late",), summary="call Client 1: 3 invoices")) != same
    assert one(finding(1, daily=("days_late",), owner=7)) != same
    assert one(dataclasses.replace(base, talking_points=("Ask about INV/1",))) != same
    assert one(dataclasses.replace(base, talking_points=("Ask about INV/2",))) != \
        one(dataclasses.replace(base, talking_points=("Ask about INV/1",)))
    assert one(dataclasses.replace(base, severity="medium")) != same
    assert one(base, lang="en_US") != one(base, lang="fr_FR")  # the owner's language, given by the write-back
    assert one(base, type_id=2) != one(base, type_id=3)


def test_values_read_as_the_fingerprint_reads_them():
    assert len(set(hash_values([1, 1.0, True, "1", None, float("nan")]).tolist())) == 6
    assert hash_values([Msg("call {name}", {"name": "X"})])[0] == hash_values(["call X"])[0]  # its English text
    assert hash_values([1, "a"])[0] == hash_values([1, 2])[0] and hash_values([1, "a"])[1] == hash_values(["a"])[0]


def test_shared_columns_and_row_order():
    names = ["invoice", "amount_due", "days_late"]
    columns = [["INV/1", "INV/2", "INV/3"], [10.0, 20.0, 30.0], [5, 6, 7]]
    f = dataclasses.replace(finding(1), daily=("days_late",))
    first, second, both = (dataclasses.replace(f, evidence=Rows(names, columns, a, b)) for a, b in
                           ((0, 1), (1, 2), (0, 2)))
    swapped = dataclasses.replace(f, evidence=Rows(names, [c[::-1] for c in columns], 1, 3))
    later = dataclasses.replace(f, evidence=Rows(names, [columns[0], columns[1], [8, 9, 10]], 0, 2))
    d = digests(FindingTable.from_findings([first, second, both, swapped, later])).tolist()
    assert len(set(d[:4])) == 4  # each slice its own rows, in their order
    assert d[4] == d[2]  # only the daily column moved
    assert digests([both, first]).tolist() == [d[2], d[0]]  # per finding, whatever else is in the run
