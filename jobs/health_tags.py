"""Client health as contact tags in Odoo (opt-in per profile: ``health_tags``).

One tag per band ("Client health: good / fair / at risk", ``res.partner.category``; an
existing tag of that name is reused).  The state table ``health_tags`` (owned here) records
the tag ClientCare put on each client: only those are ever moved or removed, so a tag a
person set is never touched, and a client never carries two of ours.  Writes are batched:
one ``res.partner.write`` per group of clients making the same move.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from clientcare.connector import errors as E
from clientcare.connector.facts import HEALTH_BAND_LABELS, HEALTH_BANDS
from clientcare.connector.state import StateStore, Tables
from clientcare.jobs.health_history import checklists

TABLES = Tables({3: """
    CREATE TABLE health_tags (        -- jobs/health_tags.py: the band tags ClientCare put on clients
        scope TEXT NOT NULL,
        client_id INTEGER NOT NULL,
        tag_id INTEGER NOT NULL,
        band TEXT NOT NULL,
        run_id TEXT NOT NULL,
        PRIMARY KEY (scope, client_id)
    );
    """})

NAMES = {band: f"Client health: {HEALTH_BAND_LABELS[band]}" for band in HEALTH_BANDS}
#: What writing the tags needs in Odoo (``check`` probes it when ``health_tags`` is on).
MODELS = {"res.partner": {"read", "write"}, "res.partner.category": {"read", "create"}}


@dataclass
class TagPlan:
    #: Tag name -> its id in Odoo (None: to be created).
    tags: dict[str, int | None] = field(default_factory=dict)
    #: (client id, tag id to take off or None, band to put on or None)
    moves: list[tuple[int, int | None, str | None]] = field(default_factory=list)
    #: Writes Odoo refused, as the run summary lists them.
    errors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        counts = {"add": sum(1 for _, old, new in self.moves if new and not old),
                  "move": sum(1 for _, old, new in self.moves if new and old),
                  "remove": sum(1 for _, _, new in self.moves if not new)}
        return {"counts": {k: v for k, v in counts.items() if v},
                "create_tags": sorted(n for n, i in self.tags.items() if i is None and self._used(n)),
                "sample": [{"client_id": c, "band": b, "tag": NAMES.get(b) if b else None} for c, _, b in
                           self.moves[:20]]}

    def _used(self, name: str) -> bool:
        return any(b and NAMES[b] == name for _, _, b in self.moves)


def links(state: StateStore, scope: str) -> dict[int, tuple[int, str, str]]:
    """Client id -> (tag id, band, run id) of the tags ClientCare put on."""
    return {r[0]: tuple(r[1:]) for r in state.db.execute(
        "SELECT client_id, tag_id, band, run_id FROM health_tags WHERE scope=?", (scope,))}


def plan(client, state: StateStore, findings, snapshot, enabled: bool, client_ids=None) -> TagPlan | None:
    """The tag moves this run makes; None (and no call to Odoo) when tags are off and none of
    ours is left.  Off: every tag of ours comes off.  A client whose band is unknown keeps
    its tag (unknown is not a change)."""
    ours = {c: v for c, v in links(state, client.scope).items() if not client_ids or c in client_ids}
    if not enabled:
        return TagPlan(moves=[(c, tag, None) for c, (tag, _, _) in sorted(ours.items())]) if ours else None
    found = client.call("res.partner.category", "search_read", [[("name", "in", list(NAMES.values()))]],
                        {"fields": ["name"], "order": "id asc"})
    out = TagPlan(tags={n: None for n in NAMES.values()})
    for row in reversed(found):  # the oldest tag of a name wins
        out.tags[row["name"]] = row["id"]
    partners = snapshot.partners.drop_duplicates("id").set_index("id")["category_id"]
    for cid, (_, _, band, _) in sorted(checklists(findings).items()):
        if band not in NAMES or (cid in ours and ours[cid][1] == band):
            continue
        want = out.tags[NAMES[band]]
        has = partners.get(cid)
        if cid not in ours and want is not None and isinstance(has, list) and want in has:
            continue  # already there, not put by us: someone's tag, left alone
        out.moves.append((cid, ours[cid][0] if cid in ours else None, band))
    return out


def apply(client, state: StateStore, run_id: str, tag_plan: TagPlan) -> dict[str, int]:
    """Create the missing tags, write the moves in batches, and record those Odoo accepted (a
    refused batch is listed in ``tag_plan.errors`` and tried again next run)."""
    missing = [n for n in tag_plan.tags if tag_plan.tags[n] is None and tag_plan._used(n)]
    if missing:
        try:
            ids = client.call("res.partner.category", "create", [[{"name": n} for n in missing]])
        except E.ClientCareError as exc:
            tag_plan.errors.append({"res_model": "res.partner.category", "res_id": 0,
                                    "error": f"health tags {', '.join(missing)} not created: {exc}"})
            return {}
        tag_plan.tags.update(zip(missing, ids if isinstance(ids, list) else [ids]))
    groups: dict[tuple, list[int]] = {}
    failed: set[int] = set()
    for cid, old, band in tag_plan.moves:
        groups.setdefault((old, band), []).append(cid)
    for (old, band), ids in groups.items():
        ops = ([(3, old)] if old else []) + ([(4, tag_plan.tags[NAMES[band]])] if band else [])
        try:
            client.call("res.partner", "write", [ids, {"category_id": ops}])
        except E.ClientCareError as exc:
            tag_plan.errors.append({"res_model": "res.partner", "res_id": ids[0],
                                    "error": f"health tag of {len(ids)} client(s) not written: {exc}"})
            failed.update(ids)
            continue
        with state.transaction() as db:
            if band:
                db.executemany("INSERT OR REPLACE INTO health_tags VALUES (?,?,?,?,?)",
                               [(client.scope, c, tag_plan.tags[NAMES[band]], band, run_id) for c in ids])
            else:
                db.executemany("DELETE FROM health_tags WHERE scope=? AND client_id=?",
                               [(client.scope, c) for c in ids])
    done = TagPlan(moves=[m for m in tag_plan.moves if m[0] not in failed])
    return {f"tags_{k}": v for k, v in done.to_dict()["counts"].items()}


def undo(client, state: StateStore, run_id: str) -> int:
    """Take off the tags one run put on (the tag it moved away from is not put back)."""
    mine = {c: v for c, v in links(state, client.scope).items() if v[2] == run_id}
    if not mine:
        return 0
    return sum(apply(client, state, run_id, TagPlan(moves=[(c, tag, None) for c, (tag, _, _) in
                                                           sorted(mine.items())])).values())
