"""Health tag planning for what the cassettes do not reach: an unknown band keeps our tag, a tag
already on a client that ClientCare did not put there is left alone (and not adopted).  The
double answers only the one search for the tags' ids; the cassette test proves the writes."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from clientcare.jobs import health_tags
from clientcare.jobs.run_session import open_store

from test_health_history import checklist

IDS = {"Client health: good": 11, "Client health: fair": 12, "Client health: at risk": 13}


class TagSearch:
    scope = "u|db"

    def call(self, model, method, args, kwargs=None):
        assert (model, method) == ("res.partner.category", "search_read")
        return [{"id": i, "name": n} for n, i in IDS.items()]


def test_unknown_bands_keep_our_tag_and_hand_set_tags_are_not_adopted(tmp_path):
    state = open_store(tmp_path / "s.sqlite3")
    with state.transaction() as db:  # run1 put "fair" on client 1 and "good" on client 2
        db.executemany("INSERT INTO health_tags VALUES (?,?,?,?,?)",
                       [("u|db", 1, 12, "fair", "run1"), ("u|db", 2, 11, "good", "run1")])
    partners = pd.DataFrame({"id": [1, 2, 3, 4], "category_id": [[12], [11], [11], []]})
    findings = [checklist(1, None, "unknown"), checklist(2, 40, "poor"), checklist(3, 90, "good"),
                checklist(4, 60, "fair")]
    plan = health_tags.plan(TagSearch(), state, findings, SimpleNamespace(partners=partners), enabled=True)
    # 1: unknown keeps its tag; 2: moves good -> at risk; 3: someone's "good" already: left, not
    # recorded as ours; 4: gets "fair"
    assert plan.moves == [(2, 11, "poor"), (4, None, "fair")]
    assert plan.to_dict()["counts"] == {"add": 1, "move": 1} and plan.to_dict()["create_tags"] == []
    off = health_tags.plan(TagSearch(), state, findings, SimpleNamespace(partners=partners), enabled=False)
    assert off.moves == [(1, 12, None), (2, 11, None)]  # ours only, all of them
    fresh = open_store(tmp_path / "new.sqlite3")
    assert health_tags.plan(TagSearch(), fresh, findings, None, enabled=False) is None  # off, none of ours: no call
    fresh.close()
    state.close()
