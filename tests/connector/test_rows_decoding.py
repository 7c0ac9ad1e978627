"""Pages decoded straight into columns give the frames the record-by-record decoding gave.

The reference is the decoding before columns: ``json.loads`` (or ``xmlrpc.client``) into one
dict per record, then the record-by-record typing kept verbatim below (``reference_frame``).
The new path is :func:`clientcare.connector.rows.json_rows` (JSON bodies, no dict per record) or
:meth:`Rows.of` (XML-RPC records), then :func:`~clientcare.connector.schema.to_frame`.  Both run
on every ``search_read`` answer the cassettes hold (Odoo 16-19, all three transports) typed with
the cassettes' own ``fields_get``, and on hand-made edge cases.  Frames must be identical: same
column order, dtypes, values and value types (``-0.0``, ``NaN`` and ``NA`` told apart).
"""
from __future__ import annotations

import glob
import json
import xmlrpc.client
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cassette_store import read_cassette, request_meaning
from clientcare.connector.rows import Rows, json_rows
from clientcare.connector.schema import to_frame

ROOT = Path(__file__).resolve().parents[2]
_PAIR = (list, tuple)


def _many2one_parts(v) -> tuple:
    ok = v.__class__ in _PAIR
    return (v[0] if ok and v else None, v[1] if ok and len(v) > 1 else None)


def reference_frame(records: list[dict], field_types: dict[str, str]) -> pd.DataFrame:
    """The typing of records before pages became columns (schema.to_frame as it was)."""
    columns = {name: [r.get(name) for r in records] for name in field_types}
    out = {}
    for name, ftype in field_types.items():
        col = columns[name]
        if name == "id":
            out[name] = np.array(col, dtype="int64")
        elif ftype == "many2one":
            pairs = [v if v.__class__ in _PAIR and len(v) == 2 else _many2one_parts(v) for v in col]
            ids, labels = zip(*pairs) if pairs else ((), ())
            out[name] = pd.array(ids, dtype="Int64")
            out[f"{name}_name"] = pd.array(labels, dtype="string")
        elif ftype in ("many2many", "one2many"):
            out[name] = pd.Series([list(v) if isinstance(v, list) else [] for v in col], dtype=object)
        elif ftype == "boolean":
            out[name] = np.array([v is not None and v == v and bool(v) for v in col], dtype=bool)
        elif ftype in ("integer", "many2one_reference"):
            out[name] = pd.array([None if v is False else v for v in col], dtype="Int64")
        elif ftype in ("float", "monetary"):
            values = [np.nan if v is False or v is None else v for v in col]
            try:
                out[name] = np.array(values, dtype="float64")
            except (TypeError, ValueError):
                out[name] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype("float64")
        elif ftype in ("datetime", "date"):
            stamps = pd.to_datetime([v if v else None for v in col], utc=ftype == "datetime",
                                    format="%Y-%m-%d %H:%M:%S" if ftype == "datetime" else "%Y-%m-%d")
            out[name] = stamps.astype("datetime64[ns, UTC]" if ftype == "datetime" else "datetime64[ns]")
        else:
            out[name] = pd.array([v if v.__class__ is str else None if v is False or v is None else str(v)
                                  for v in col], dtype="string")
    return pd.DataFrame(out)


def assert_identical(new: pd.DataFrame, old: pd.DataFrame) -> None:
    assert list(new.columns) == list(old.columns)
    assert list(new.dtypes) == list(old.dtypes)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    for name in old.columns:
        if isinstance(old[name].dtype, pd.StringDtype):  # the same Arrow storage underneath
            assert new[name].array._pa_array.type == old[name].array._pa_array.type, name
        as_seen = lambda s: [(type(v).__name__, repr(v)) for v in s.tolist()]  # noqa: E731
        assert as_seen(new[name]) == as_seen(old[name]), name


# -- the cassettes' answers ------------------------------------------------------------
def _text(body) -> bytes:
    if isinstance(body, dict):
        body = body.get("string", "")
    return body.encode("utf-8") if isinstance(body, str) else (body or b"")


def _call(meaning):
    """(model, method, kwargs) of a decoded request body, whatever the transport."""
    if isinstance(meaning, dict) and "xmlrpc" in meaning:
        params = meaning["params"]
        return (params[3], params[4], params[6] if len(params) > 6 else {}) if len(params) > 4 else None
    if isinstance(meaning, dict) and "params" in meaning:  # JSON-RPC
        args = meaning["params"].get("args") or []
        return (args[3], args[4], args[6] if len(args) > 6 else {}) if len(args) > 4 else None
    return None


def cassette_answers(most: int = 3):
    """The search_read answers of the cassettes (of each server, transport, model and field
    list: the ``most`` largest different ones), with their server's field types."""
    found, types = {}, {}
    for path in sorted(glob.glob(str(ROOT / "cassettes" / "odoo*" / "*.json.xz"))):
        folder = Path(path).parent.name
        for it in read_cassette(path)["interactions"]:
            uri, body = it["request"]["uri"], _text(it["request"]["body"])
            if b"search_read" not in body + uri.encode() and b"fields_get" not in body + uri.encode():
                continue
            meaning = request_meaning(body)
            if "/json/2/" in uri:
                model, method = uri.rsplit("/", 2)[-2:]
                call, kind = (model, method, meaning if isinstance(meaning, dict) else {}), "json2"
            else:
                call, kind = _call(meaning), "xmlrpc" if "/xmlrpc/" in uri else "jsonrpc"
            if call is None or it["response"]["status"]["code"] != 200:
                continue
            model, method, kwargs = call
            answer = _text(it["response"]["body"])
            if method == "fields_get":
                try:
                    fields = (xmlrpc.client.loads(answer)[0][0] if kind == "xmlrpc" else json.loads(answer))
                except Exception:
                    continue
                fields = fields.get("result", fields) if kind == "jsonrpc" else fields
                if isinstance(fields, dict):
                    types.setdefault(folder, {}).setdefault(model, {}).update(
                        {f: d["type"] for f, d in fields.items() if isinstance(d, dict) and "type" in d})
            elif method == "search_read" and isinstance(kwargs, dict) and kwargs.get("fields"):
                same = found.setdefault((folder, kind, model, tuple(kwargs["fields"])), {})
                same[answer] = len(answer)
    answers = [(folder, kind, model, list(fields), answer)
               for (folder, kind, model, fields), same in found.items()
               for answer in sorted(same, key=same.get, reverse=True)[:most]]
    return answers, types


ANSWERS, TYPES = cassette_answers()


def test_the_cassettes_hold_answers_of_every_transport():
    kinds = {kind for _, kind, _, _, _ in ANSWERS}
    assert kinds == {"xmlrpc", "jsonrpc", "json2"} and len(ANSWERS) > 500


@pytest.mark.parametrize("kind", ["xmlrpc", "jsonrpc", "json2"])
def test_every_recorded_page_types_as_before(kind):
    compared = decoded_as_columns = 0
    for folder, k, model, fields, answer in ANSWERS:
        if k != kind:
            continue
        if kind == "xmlrpc":
            try:
                records = xmlrpc.client.loads(answer)[0][0]
            except xmlrpc.client.Fault:
                continue
            rows = Rows.of(records, ["id", *fields])
        else:
            data = json.loads(answer)
            if kind == "jsonrpc":
                if "result" not in data:
                    assert json_rows(answer, ["id", *fields], envelope=True) is None  # an error
                    continue
                data = data["result"]
            rows = json_rows(answer, ["id", *fields], envelope=kind == "jsonrpc")
            assert rows is not None
            decoded_as_columns += 1
            records = data
        known = TYPES.get(folder, {}).get(model, {})
        names = list(dict.fromkeys(["id", *fields]))
        field_types = {f: "integer" if f == "id" else known.get(f, "char") for f in names}
        assert len(rows) == len(records)
        assert_identical(to_frame(rows, field_types), reference_frame(records, field_types))
        compared += 1
    assert compared > 20 and (kind == "xmlrpc" or decoded_as_columns == compared)


# -- edge cases ----------------------------------------------------------------------------
EDGE_TYPES = {"id": "integer", "name": "char", "partner_id": "many2one", "tag_ids": "many2many",
              "line_ids": "one2many", "active": "boolean", "res_id": "many2one_reference",
              "sequence": "integer", "amount": "monetary", "ratio": "float", "day": "date",
              "stamp": "datetime", "state": "selection", "body": "html"}

EDGE_BODY = """[
 {"id": 1, "name": "Zoë \\u00e9t\\u00e9 \\"quoted\\" back\\\\slash", "partner_id": [7, "Café ☕ مرحبا 😀"],
  "tag_ids": [3, 4], "line_ids": [], "active": true, "res_id": 42, "sequence": 10, "amount": 12.5,
  "ratio": 0.1, "day": "2026-02-28", "stamp": "2026-02-28 23:59:59", "state": "draft",
  "body": "<p>a\\nb\\t\\u2028c</p>"},
 {"id": 2, "name": false, "partner_id": false, "tag_ids": false, "line_ids": [9], "active": false,
  "res_id": false, "sequence": false, "amount": false, "ratio": false, "day": false,
  "stamp": false, "state": false, "body": false},
 {"id": 3, "name": null, "partner_id": null, "tag_ids": null, "line_ids": null, "active": null,
  "res_id": null, "sequence": null, "amount": null, "ratio": null, "day": null, "stamp": null,
  "state": null, "body": null},
 {"id": 4, "name": "", "partner_id": [8, false], "tag_ids": [], "active": 1, "res_id": 0,
  "sequence": 0, "amount": 0, "ratio": -0.0, "day": "", "stamp": "", "state": 3, "body": "",
  "extra": {"not": "asked"}},
 {"id": 5, "name": "x", "partner_id": [9], "amount": 1e-300, "ratio": 12345678901234567890,
  "sequence": 9007199254740993, "day": "2024-02-29", "stamp": "1970-01-01 00:00:00",
  "state": "a", "body": "\\u0000nul"},
 {"id": 6, "partner_id": [], "amount": 0.30000000000000004, "ratio": 1.7976931348623157e308},
 {"id": 9223372036854775807, "name": "last", "partner_id": [10, "Ten", "extra"]}
]"""


@pytest.mark.parametrize("envelope", [False, True])
def test_edge_values_type_as_before(envelope):
    body = EDGE_BODY.encode("utf-8")
    if envelope:
        body = b'{"jsonrpc": "2.0", "id": 7, "result": ' + body + b"}"
    rows = json_rows(body, list(EDGE_TYPES), envelope=envelope)
    assert rows is not None and len(rows) == 7 and rows.last_id == 9223372036854775807
    records = json.loads(EDGE_BODY)
    assert_identical(to_frame(rows, EDGE_TYPES), reference_frame(records, EDGE_TYPES))
    assert_identical(to_frame(records, EDGE_TYPES), reference_frame(records, EDGE_TYPES))


def test_an_empty_page_types_as_before():
    for body, envelope in ((b"[]", False), (b'{"jsonrpc": "2.0", "id": 1, "result": []}', True)):
        rows = json_rows(body, list(EDGE_TYPES), envelope=envelope)
        assert len(rows) == 0
        assert_identical(to_frame(rows, EDGE_TYPES), reference_frame([], EDGE_TYPES))


@pytest.mark.parametrize("body, envelope", [
    (b'[{"id": 1, "amount": NaN}]', False),  # Python's json writes NaN; the fast decoder refuses it
    (b'[{"id": 1, "name": "\\ud800"}]', False),  # a lone surrogate
    (b'{"id": 1}', False),  # not a list
    (b'{"jsonrpc": "2.0", "id": 1, "error": {"code": 200, "message": "Odoo Server Error"}}', True),
    (b'{"jsonrpc": "2.0", "id": 1, "result": {"not": "a list"}}', True),
    (b'<html>not JSON</html>', False),
])
def test_what_is_not_a_plain_list_of_records_is_left_to_the_ordinary_reading(body, envelope):
    assert json_rows(body, ["id", "name", "amount"], envelope=envelope) is None


def test_a_paged_pull_types_its_batches_as_one_frame(monkeypatch):
    """Pages typed in batches (here of 5 rows, pages of 3) give the frame of all records at once."""
    from clientcare.connector import client as client_module
    from clientcare.connector.client import OdooClient
    from clientcare.connector.settings import ConnectionSettings
    from clientcare.connector.transports import Transport

    records = json.loads(EDGE_BODY)
    records = [dict(r, id=i) for i, r in enumerate(records * 3, 1)]

    class Pages(Transport):
        name = "pages"

        def _version(self):
            return {"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0]}

        def _authenticate(self):
            return 2

        def _execute_kw(self, model, method, args, kwargs):
            if model == "res.users":
                return [{"id": 2, "company_ids": [1], "company_id": [1, "Co"]}]
            last = next(t[2] for t in kwargs["domain"] if isinstance(t, (list, tuple)) and t[0] == "id")
            return [r for r in records if r["id"] > last][:kwargs["limit"]]

    monkeypatch.setattr(client_module, "TYPED_BATCH", 5)
    settings = ConnectionSettings(url="http://pages", db="db", login="admin", password="x", page_size=3)
    client = OdooClient(settings, None, Pages(settings))
    frame = client.search_read_frame("x.model", [], list(EDGE_TYPES), EDGE_TYPES)
    assert_identical(frame, reference_frame(records, EDGE_TYPES))
    assert client.transport.calls["x.model.search_read"] == 8  # 21 rows: 7 full pages and an empty one
