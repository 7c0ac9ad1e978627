"""How cassettes are stored, and how a request finds its recording.

Stored as vcrpy's JSON, xz-compressed (``name.json.xz``): XML-RPC and JSON bodies shrink
about 40 times, so the recordings of four Odoo versions stay small enough for every clone.

A request matches a recording when both say the same to Odoo once decoded per transport
(XML-RPC through ``xmlrpc.client.loads``, JSON-RPC and JSON-2 through ``json``), not when
their bytes agree: key order, whitespace, ``1`` vs ``1.0`` or odoorpc's random JSON-RPC
``id`` change no answer; another model, method, domain, field list or context does.
"""
from __future__ import annotations

import functools
import json
import lzma
import xmlrpc.client
from pathlib import Path

from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.serialize import deserialize, serialize
from vcr.serializers import jsonserializer

SUFFIX = ".json.xz"


class XzJsonPersister:
    """vcrpy persister: the configured serializer's text (JSON), xz-compressed."""

    @staticmethod
    def load_cassette(cassette_path, serializer=jsonserializer):
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        return deserialize(lzma.decompress(path.read_bytes()).decode("utf-8"), serializer)

    @staticmethod
    def save_cassette(cassette_path, cassette_dict, serializer=jsonserializer):
        path = Path(cassette_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = serialize(cassette_dict, serializer).encode("utf-8")
        path.write_bytes(lzma.compress(text, preset=6 | lzma.PRESET_EXTREME))  # 9 is no smaller


def read_cassette(path: str | Path) -> dict:
    """A cassette file as its plain data (``interactions`` with request and response dicts)."""
    return json.loads(lzma.decompress(Path(path).read_bytes()))


@functools.lru_cache(maxsize=8192)
def request_meaning(body: bytes):
    """What a request body says to Odoo: the decoded XML-RPC call, the JSON without its
    top-level ``id``, or the bytes themselves when they are neither."""
    if body.lstrip().startswith(b"<?xml"):
        try:
            params, method = xmlrpc.client.loads(body)
        except Exception:  # not XML-RPC after all: compare bytes
            return body
        return {"xmlrpc": method, "params": list(params)}
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict):
        data.pop("id", None)  # odoorpc sends a random JSON-RPC id
    return data


def first_difference(a, b, where: str = "body") -> str | None:
    """Where two decoded values differ (``None`` if they are equal). Numbers compare by value
    (``1 == 1.0``) but a boolean never equals a number."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return f"{where}.{key}"
            found = first_difference(a[key], b[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where} (length {len(a)} vs {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(a, bool) != isinstance(b, bool) or type(a) is not type(b) and not (
            isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return where
    return None if a == b else where


def _body_bytes(request) -> bytes:
    body = request.body or b""
    return body.encode("utf-8") if isinstance(body, str) else body


def same_meaning(b1: bytes, b2: bytes) -> str | None:
    """``None`` if two request bodies say the same to Odoo, else where they differ."""
    if b1 == b2:
        return None
    return first_difference(request_meaning(b1), request_meaning(b2))


def body_matcher(r1, r2) -> None:
    """vcrpy matcher: the two requests' bodies mean the same (see :func:`same_meaning`)."""
    difference = same_meaning(_body_bytes(r1), _body_bytes(r2))
    if difference:
        raise AssertionError(f"request bodies differ at {difference}")
