"""ClientCare's connection to Odoo: transports, auth, errors, batched incremental pulls.

Import each name from the module that defines it (``from clientcare.connector.client import
OdooClient``).  This package imports nothing itself, so a command that needs only the errors or
the settings does not load pandas and pyarrow with the pull and the snapshot.

- ``settings``: where and how to connect; ``transports``: XML-RPC, JSON-RPC and JSON-2 behind
  one interface; ``errors``: the one error tree they raise;
- ``client``: ``OdooClient``, the session the pull, the write-back and ``check`` share;
- ``schema``: the tables pulled and their types; ``pull``: batched incremental pulls into a
  ``Snapshot`` (``snapshot``: the tables and views rules read);
- ``facts``: business facts defined once; ``demo``: the demo snapshot shipped in the package;
- ``state``: the state file; ``cursors`` and ``field_cache``: the connector's tables in it.
"""
