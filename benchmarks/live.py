"""What the live scripts share: a client for the Odoo named by CLIENTCARE_URL, CLIENTCARE_DB,
CLIENTCARE_LOGIN and CLIENTCARE_PASSWORD, and a clean slate (no ClientCare activity, no state)."""
from __future__ import annotations

import os

from clientcare.connector.client import OdooClient
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.facts import MARKER_PREFIX


def client() -> OdooClient:
    return OdooClient(ConnectionSettings(
        url=os.environ["CLIENTCARE_URL"], db=os.environ["CLIENTCARE_DB"], login=os.environ["CLIENTCARE_LOGIN"],
        password=os.environ["CLIENTCARE_PASSWORD"], transport="xmlrpc", timeout=300))


def clean_slate(c: OdooClient, state: str) -> None:
    """Remove every ClientCare activity from Odoo and the state file (with its WAL files)."""
    ids = c.search_ids("mail.activity", [("note", "ilike", MARKER_PREFIX)])
    for start in range(0, len(ids), 1000):
        c.call("mail.activity", "unlink", [ids[start:start + 1000]])
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(state + suffix):
            os.remove(state + suffix)
