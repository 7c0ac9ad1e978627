"""ClientCare's connection to Odoo: transports, auth, errors, batched incremental pulls."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from .errors import (AccessError, AuthenticationError, ClientCareError, ConfigError, FatalError,
                     MissingModelError, RetriableError)
from .pull import OdooClient, PullOptions, Puller
from .settings import ConnectionSettings, Secret
from .snapshot import Snapshot
from .state import StateStore, default_state_path
from .transports import Transport, open_transport

__all__ = [
    "AccessError", "AuthenticationError", "ClientCareError", "ConfigError", "ConnectionSettings",
    "FatalError", "MissingModelError", "OdooClient", "PullOptions", "Puller", "RetriableError",
    "Secret", "Snapshot", "StateStore", "Transport", "default_state_path", "open_transport",
    "pull_incremental",
]

log = logging.getLogger(__name__)


def snapshot_dir_for(state: StateStore, scope: str) -> Path:
    """Where the working snapshot of one database lives, beside the state file."""
    digest = hashlib.sha256(scope.encode()).hexdigest()[:16]
    return state.path.parent / f"{state.path.stem}-snapshots" / digest


def pull_incremental(client: OdooClient, options: PullOptions | None = None) -> Snapshot:
    """Pull against the stored snapshot, save it, and only then advance the cursors.

    A crash before the cursors are written leaves older cursors, so the next
    pull re-reads a little more: never less.
    """
    if client.state is None:
        raise ConfigError("incremental pulls need a state store")
    directory = snapshot_dir_for(client.state, client.scope)
    previous = None
    if (directory / "meta.json").exists():
        previous = Snapshot.load(directory)
    snapshot = Puller(client, options).pull(previous)
    snapshot.save(directory)
    client.state.set_cursors(client.scope, snapshot.cursors)
    return snapshot
