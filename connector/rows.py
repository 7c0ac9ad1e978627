"""Pages of ``search_read`` as columns: what a transport hands the pull, with no dict per record
where the wire format allows it (JSON is decoded straight into columns), and what
:func:`~clientcare.connector.schema.to_frame` types.  No pandas here: transports import it."""
from __future__ import annotations

import functools
from itertools import chain
from operator import itemgetter
from typing import Any, Sequence


class Rows:
    """One answer of ``search_read`` as columns: field → values in record order, each value as
    Odoo sent it (``False`` for an empty one, lists for pairs and x2many).  Records from any
    other source become columns through :meth:`of`."""

    __slots__ = ("columns", "n")

    def __init__(self, columns: dict[str, Sequence], n: int):
        self.columns = columns
        self.n = n

    def __len__(self) -> int:
        return self.n

    @property
    def last_id(self) -> int:
        return self.columns["id"][-1]

    @classmethod
    def concat(cls, parts: Sequence[Rows]) -> Rows:
        """The rows of ``parts`` (same columns), one after the other."""
        if len(parts) == 1:
            return parts[0]
        names = list(parts[0].columns) if parts else []
        return cls({name: list(chain.from_iterable(p.columns[name] for p in parts)) for name in names},
                   sum(map(len, parts)))

    @classmethod
    def of(cls, answer: Rows | list[dict], names: Sequence[str]) -> Rows:
        """``answer`` (records or rows) as the columns ``names``; a missing key is an empty value."""
        if isinstance(answer, Rows):
            return answer
        return cls(_columns(answer, list(names)), len(answer))


def _columns(records: list[dict], names: list[str]) -> dict[str, list | tuple]:
    if not records:
        return {name: [] for name in names}
    try:
        if len(names) == 1:
            return {names[0]: [r[names[0]] for r in records]}
        return dict(zip(names, zip(*map(itemgetter(*names), records))))
    except KeyError:
        return {name: [r.get(name) for r in records] for name in names}


@functools.lru_cache(maxsize=64)
def _decoder(names: tuple[str, ...], envelope: bool):
    """A msgspec decoder of a JSON list of records with these fields (any JSON value each, as
    ``json`` would give it; an absent one is ``None``, other keys are skipped), in a JSON-RPC
    envelope or bare (JSON-2).  Its records are structs: no dict, no cycle tracking."""
    import msgspec

    row = msgspec.defstruct("Row", [(name, Any, None) for name in names], gc=False)
    if not envelope:
        return msgspec.json.Decoder(list[row])
    answer = msgspec.defstruct("Answer", [("result", list[row] | None, None), ("error", Any, None)], gc=False)
    return msgspec.json.Decoder(answer)


def json_rows(body: bytes, names: Sequence[str], envelope: bool = False) -> Rows | None:
    """A JSON ``search_read`` answer decoded straight into columns ``names`` (one C pass, then a
    transposition), or ``None`` when it is not a plain list of records (an error answer, or JSON
    the fast decoder refuses, e.g. ``NaN``): the caller then reads it the ordinary way."""
    import msgspec
    from msgspec.structs import astuple

    names = tuple(dict.fromkeys(names))
    try:
        decoded = _decoder(names, envelope).decode(body)
    except msgspec.DecodeError:  # ValidationError included
        return None
    if envelope:
        if decoded.error is not None or decoded.result is None:
            return None
        decoded = decoded.result
    if not decoded:
        return Rows({name: [] for name in names}, 0)
    return Rows(dict(zip(names, zip(*map(astuple, decoded)))), len(decoded))
