"""A password transport's run that knows its user id from the state file sends it without logging
in (Odoo's login is a 600,000-round password hash); a refused id logs in again, and a refused
password says what it always said.  Against a loopback XML-RPC server of Odoo's shape."""
from __future__ import annotations

import subprocess
import sys
import threading
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer
import xmlrpc.client

import pytest

from clientcare.connector import errors as E, logins
from clientcare.connector.client import OdooClient
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.transports import open_transport


class Odoo:
    """``common.version``, ``common.authenticate`` and ``res.users.read`` of one user, counted."""

    def __init__(self):
        self.users = {"bot": (7, "secret")}
        self.logins = 0
        self.uids_sent: list[int] = []

    def version(self):
        return {"server_version": "18.0", "server_version_info": [18, 0, 0, "final", 0]}

    def authenticate(self, db, login, password, env):
        self.logins += 1
        uid, good = self.users.get(login, (False, None))
        return uid if password == good else False

    def execute_kw(self, db, uid, password, model, method, args, kwargs):
        self.uids_sent.append(uid)
        if (uid, password) not in self.users.values():
            raise xmlrpc.client.Fault(3, "Access Denied")
        return [{"id": uid, "company_ids": [1], "company_id": [1, "Co"]}]


class Paths(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object")


@pytest.fixture
def server():
    server = SimpleXMLRPCServer(("127.0.0.1", 0), Paths, logRequests=False, allow_none=True)
    double = Odoo()
    server.register_instance(double)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield double
    server.shutdown()
    server.server_close()


def settings(odoo, password="secret") -> ConnectionSettings:
    return ConnectionSettings(url=odoo.url, db="db", login="bot", password=password, transport="xmlrpc",
                              retry_attempts=1)


def test_the_second_run_sends_the_remembered_user_id_without_logging_in(server, state):
    first = OdooClient(settings(server), state)
    assert first.company_ids == [1] and server.logins == 1
    assert logins.load(state, first.scope, "bot") == (7, "xmlrpc")
    second = OdooClient(settings(server), state)
    assert second.company_ids == [1]
    assert server.logins == 1 and server.uids_sent == [7, 7]
    assert "common.authenticate" not in second.transport.calls


def test_a_refused_user_id_logs_in_again_and_the_new_one_is_remembered(server, state):
    OdooClient(settings(server), state).company_ids
    server.users["bot"] = (9, "secret")  # the user was made again: a new id
    client = OdooClient(settings(server), state)
    assert client.company_ids == [1]
    assert server.uids_sent == [7, 7, 9] and server.logins == 2
    assert logins.load(state, client.scope, "bot") == (9, "xmlrpc")


def test_a_changed_password_is_refused_as_without_a_remembered_user_id(server, state):
    OdooClient(settings(server), state).company_ids
    client = OdooClient(settings(server, password="old"), state)
    with pytest.raises(E.AuthenticationError) as err:
        client.company_ids
    assert str(err.value) == f"Odoo refused the credentials for {client.settings.describe()}"
    assert "old" not in str(err.value).replace("'bot'", "")


def test_a_login_remembered_for_another_transport_logs_in(server):
    seen = []
    transport = open_transport(settings(server), known=(7, "jsonrpc"), signed_in=lambda *a: seen.append(a))
    assert server.logins == 1 and seen == [(7, "xmlrpc")] and transport.uid == 7


def test_a_run_over_xml_rpc_loads_neither_requests_nor_urllib3(server):
    """JSON-2 alone needs them: a fresh interpreter pulls the user's companies over XML-RPC."""
    code = ("import sys\nfrom clientcare.connector.client import OdooClient\n"
            "from clientcare.connector.settings import ConnectionSettings\n"
            f"client = OdooClient(ConnectionSettings(url={server.url!r}, db='db', login='bot', password='secret'))\n"
            "assert client.company_ids == [1]\n"
            "print(sorted(m for m in ('requests', 'urllib3') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
