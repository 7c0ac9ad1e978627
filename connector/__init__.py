"""ClientCare's connection to Odoo: transports, auth, errors, batched incremental pulls."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from importlib import import_module
from typing import TYPE_CHECKING

from .errors import (AccessError, AuthenticationError, ClientCareError, ConfigError, FatalError,
                     MissingModelError, RetriableError)
from .settings import ConnectionSettings, Secret

if TYPE_CHECKING:
    from .pull import OdooClient, PullOptions, Puller
    from .snapshot import Snapshot
    from .state import StateStore

#: Names served from their submodule on first use: the pull and the snapshot bring pandas and
#: pyarrow, and a command that only parses its options (``--help``) must not pay for them.
_LAZY = {"OdooClient": "pull", "PullOptions": "pull", "Puller": "pull", "Snapshot": "snapshot",
         "StateStore": "state", "default_state_path": "state", "Transport": "transports",
         "open_transport": "transports"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AccessError", "AuthenticationError", "ClientCareError", "ConfigError", "ConnectionSettings",
    "FatalError", "MissingModelError", "OdooClient", "PullOptions", "Puller", "RetriableError",
    "Secret", "Snapshot", "StateStore", "Transport", "default_state_path", "open_transport",
    "pull_incremental", "snapshot_dir_for",
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
    from .pull import Puller
    from .snapshot import Snapshot

    directory = snapshot_dir_for(client.state, client.scope)
    previous = None
    if (directory / "meta.json").exists():
        previous = Snapshot.load(directory)
    snapshot = Puller(client, options).pull(previous)
    snapshot.save(directory)
    client.state.set_cursors(client.scope, snapshot.cursors)
    return snapshot
