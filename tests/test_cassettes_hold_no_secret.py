"""Cassettes are committed: they must hold placeholders only, never a secret."""
from __future__ import annotations

import json
import re
import xmlrpc.client
from pathlib import Path

import pytest

from cassette_store import SUFFIX, read_cassette
from conftest import (API_KEY, BOT_PASSWORD, CASSETTES, DEMO_API_KEY, DEMO_PASSWORD, EXPIRED_API_KEY,
                      LIMITED_PASSWORD, PASSWORD, PASSWORD_POSITION, WRONG_PASSWORD)

ALLOWED = {PASSWORD, API_KEY, DEMO_PASSWORD, DEMO_API_KEY, LIMITED_PASSWORD, BOT_PASSWORD, EXPIRED_API_KEY, WRONG_PASSWORD,
           ""}
API_KEY_SHAPE = re.compile(r"\b[0-9a-f]{40}\b")
SESSION = re.compile(r"session_id=[0-9A-Za-z_-]{10,}")
CASSETTE_FILES = sorted(CASSETTES.glob(f"odoo*/*{SUFFIX}"))


def _strings(value):
    """Every string in a cassette's data, keys included: what the file says, decompressed."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _password_slots(body: str):
    if body.lstrip().startswith("<?xml"):
        params, method = xmlrpc.client.loads(body)
        pos = PASSWORD_POSITION.get(method)
        if pos is not None and len(params) > pos:
            yield params[pos]
        return
    data = json.loads(body)
    params = data.get("params") if isinstance(data, dict) else None
    if isinstance(params, dict):
        if "password" in params:
            yield params["password"]
        pos = PASSWORD_POSITION.get(params.get("method"))
        args = params.get("args")
        if pos is not None and isinstance(args, list) and len(args) > pos:
            yield args[pos]


def test_there_are_cassettes_from_16_17_18_and_19():
    versions = {p.parent.name for p in CASSETTE_FILES}
    assert {"odoo16", "odoo17", "odoo18", "odoo19"} <= versions


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: f"{p.parent.name}/{p.name.removesuffix(SUFFIX)}")
def test_cassette_holds_no_secret(path: Path):
    data = read_cassette(path)
    text = "\n".join(_strings(data))
    assert not SESSION.search(text), "a session id was recorded"
    assert not API_KEY_SHAPE.search(text), "something shaped like an Odoo API key was recorded"
    for interaction in data["interactions"]:
        req = interaction["request"]
        for name, values in (req.get("headers") or {}).items():
            assert name.lower() != "cookie"
            if name.lower() == "authorization":
                assert all(v.split(" ", 1)[-1] in ALLOWED for v in values), values
        for name in (interaction["response"].get("headers") or {}):
            assert name.lower() != "set-cookie"
        body = req.get("body")
        if body:
            body = body.decode() if isinstance(body, bytes) else body
            for value in _password_slots(body):
                assert value in ALLOWED, "a password slot holds something other than a placeholder"
