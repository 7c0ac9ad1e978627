"""Columnar rules give the same findings as the object-per-finding rules did (issue 24).

The reference (``golden/random_100k.json.xz``) is what the rules of 399aad5 made of 100,000
random invoices in two runs (see :mod:`random_invoices`); any difference is a change of
behaviour, shown finding by finding."""
from __future__ import annotations

import json
import lzma

import random_invoices as ri


def _by_key(findings: list[dict]) -> dict[str, dict]:
    return {f["key"]: f for f in findings}


def test_columnar_rules_find_what_the_object_rules_found():
    want = json.loads(lzma.decompress(ri.GOLDEN.read_bytes()))
    got = json.loads(json.dumps(ri.judge(), sort_keys=True))
    for run in ("first", "second"):
        w, g = want[run], got[run]
        assert len(g["findings"]) == len(w["findings"]), run
        wk, gk = _by_key(w["findings"]), _by_key(g["findings"])
        missing, extra = sorted(set(wk) - set(gk))[:5], sorted(set(gk) - set(wk))[:5]
        assert not missing and not extra, (run, missing, extra)
        differ = [k for k in wk if wk[k] != gk[k]]
        assert not differ, (run, len(differ), differ[0],
                            {f: (wk[differ[0]][f], gk[differ[0]].get(f)) for f in wk[differ[0]]
                             if wk[differ[0]][f] != gk[differ[0]].get(f)})
        assert [f["key"] for f in g["findings"]] == [f["key"] for f in w["findings"]], f"{run}: order changed"
        for part in ("not_raised", "not_judged", "resolved", "errors", "rules_run", "partial", "as_of"):
            assert g.get(part) == w.get(part), (run, part)
