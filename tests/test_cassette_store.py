"""Cassette storage and matching: a recording is found by what a request says to Odoo, not by
its bytes, and a recorded cassette reads back exactly as it was written."""
from __future__ import annotations

import copy
import json
import lzma
import xmlrpc.client

import pytest
from vcr.request import Request

from cassette_store import SUFFIX, XzJsonPersister, body_matcher, read_cassette

OBJECT = "http://127.0.0.1:8019/xmlrpc/2/object"
DOMAIN = [["move_type", "=", "out_invoice"], ["amount_residual", ">", 0]]


def request(body, uri=OBJECT) -> Request:
    return Request("POST", uri, body.encode() if isinstance(body, str) else body, {})


def matches(a: Request, b: Request) -> bool:
    try:
        body_matcher(a, b)
    except AssertionError:
        return False
    return True


def xmlrpc_search_read(domain, kwargs) -> str:
    return xmlrpc.client.dumps(("cc19", 2, "***password***", "account.move", "search_read", [domain], kwargs),
                               "execute_kw", allow_none=True)


def test_a_re_encoded_xmlrpc_call_matches_its_recording():
    recorded = xmlrpc_search_read(DOMAIN, {"fields": ["name", "partner_id"], "limit": 80,
                                           "context": {"lang": "en_US", "active_test": False}})
    # other key order, 80 sent as a double, other whitespace between the elements
    replayed = xmlrpc_search_read(DOMAIN, {"context": {"active_test": False, "lang": "en_US"},
                                           "limit": 80.0, "fields": ["name", "partner_id"]})
    replayed = replayed.replace("<param>\n", "<param>  \n\t")
    assert replayed != recorded and "<double>80.0</double>" in replayed
    assert matches(request(replayed), request(recorded))


def test_a_re_encoded_json_call_matches_its_recording():
    call = {"service": "object", "method": "execute_kw",
            "args": ["cc19", 2, "***password***", "res.partner", "search_read", [DOMAIN], {"limit": 80}]}
    recorded = json.dumps({"jsonrpc": "2.0", "method": "call", "params": call, "id": 417})
    replayed = json.dumps({"id": 9, "params": {**call, "args": [*call["args"][:-1], {"limit": 80.0}]},
                           "method": "call", "jsonrpc": "2.0"}, indent=2)
    assert matches(request(replayed), request(recorded))
    json2 = "http://127.0.0.1:8019/json/2/account.move/search_read"
    assert matches(request('{"domain": [], "fields": ["name"]}', json2),
                   request('{"fields":["name"],"domain":[]}', json2))


@pytest.mark.parametrize("transport", ["xmlrpc", "json"])
def test_another_domain_does_not_match(transport):
    other = [["move_type", "=", "out_refund"], ["amount_residual", ">", 0]]
    if transport == "xmlrpc":
        recorded, replayed = (xmlrpc_search_read(d, {"fields": ["name"]}) for d in (DOMAIN, other))
    else:
        recorded, replayed = (json.dumps({"domain": d, "fields": ["name"]}) for d in (DOMAIN, other))
    assert not matches(request(replayed), request(recorded))
    with pytest.raises(AssertionError, match=r"differ at body\.(params\[5\]\[0\]|domain)\[0\]\[2\]"):
        body_matcher(request(replayed), request(recorded))


def test_a_boolean_never_matches_a_number():
    assert not matches(request('{"domain": [["active", "=", 1]]}'), request('{"domain": [["active", "=", true]]}'))


def test_a_saved_cassette_is_compressed_and_reads_back_unchanged(tmp_path):
    body = xmlrpc_search_read(DOMAIN, {"fields": ["name"]}).encode()
    response = {"status": {"code": 200, "message": "OK"}, "headers": {"Content-Type": ["text/xml"]},
                "body": {"string": "<?xml version='1.0'?><methodResponse>é</methodResponse>".encode()}}
    path = tmp_path / f"recorded{SUFFIX}"
    XzJsonPersister.save_cassette(path, {"requests": [request(body)], "responses": [copy.deepcopy(response)]})
    assert json.loads(lzma.decompress(path.read_bytes()))["interactions"][0]["request"]["body"] == body.decode()
    requests, responses = XzJsonPersister.load_cassette(path)
    assert [(r.method, r.uri, r.body) for r in requests] == [("POST", OBJECT, body)]
    assert responses == [response]
    assert read_cassette(path)["interactions"][0]["response"]["status"]["code"] == 200
