"""The connector against real Odoo servers, replayed from cassettes.

Each test runs once per recorded server (Odoo 16, 18, 19); ``pytest --record``
re-records them against the live server named by ``ODOO_URL`` etc.
"""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from clientcare.connector import cursors, errors as E
from clientcare.connector.client import OdooClient
from clientcare.connector.pull import PullOptions, Puller
from clientcare.connector.transports import open_transport
from clientcare.connector.schema import CORE_TABLES, TABLES

CORE = [TABLES[t] for t in CORE_TABLES]
from clientcare.connector.transports import server_major

from conftest import API_KEY, DEMO_API_KEY, DEMO_PASSWORD, EXPIRED_API_KEY, PASSWORD, WRONG_PASSWORD


def transports_for(odoo) -> list[str]:
    return ["xmlrpc", "jsonrpc"] + (["json2"] if odoo.major >= 19 else [])


def need_api_key(odoo):
    if not odoo.has_api_key:
        pytest.skip("no API key recorded for this server")


# -- version and authentication --------------------------------------------------
@pytest.mark.parametrize("transport", ["xmlrpc", "jsonrpc", "json2"])
def test_version_and_password_login(odoo, cassette, transport):
    if transport == "json2":
        if odoo.major < 19:
            pytest.skip("JSON-2 exists from Odoo 19")
        settings = odoo.settings(transport, password="")
    else:
        settings = odoo.settings(transport, api_key="")
    t = open_transport(settings)
    assert server_major(t.version()) == odoo.major
    assert t.uid == 2  # admin in every demo database


@pytest.mark.parametrize("transport", ["xmlrpc", "jsonrpc"])
def test_api_key_works_as_password(odoo, cassette, transport):
    need_api_key(odoo)
    t = open_transport(odoo.settings(transport, password=API_KEY, api_key=""))
    assert t.uid == 2
    rows = t.execute_kw("res.users", "read", [[t.uid]], {"fields": ["login"]})
    assert rows[0]["login"] == odoo.server["login"]


@pytest.mark.parametrize("transport", ["xmlrpc", "jsonrpc", "json2"])
def test_wrong_credentials_name_url_db_login_not_secret(odoo, cassette, transport):
    if transport == "json2":
        if odoo.major < 19:
            pytest.skip("JSON-2 exists from Odoo 19")
        settings = odoo.settings(transport, password="", api_key=WRONG_PASSWORD)
    else:
        settings = odoo.settings(transport, password=WRONG_PASSWORD, api_key="")
    with pytest.raises(E.AuthenticationError) as err:
        open_transport(settings)
    text = str(err.value)
    assert odoo.server["url"] in text and repr(odoo.server["db"]) in text
    assert repr(odoo.server["login"]) in text
    assert WRONG_PASSWORD not in text


def test_auto_picks_fastest_allowed_transport(odoo, cassette):
    t = open_transport(odoo.settings("auto", api_key=API_KEY if odoo.has_api_key else ""))
    expected = "json2" if odoo.major >= 19 and odoo.has_api_key else "jsonrpc"
    assert t.name == expected


# -- version adaptation ----------------------------------------------------------
def test_server_profile_adapts_to_version(odoo, cassette):
    client = OdooClient(odoo.settings("xmlrpc"))
    client.load_fields([s.model for s in CORE])
    p = client.profile
    assert p.major == odoo.major
    deadline_type = p.ftype("project.task", "date_deadline")
    if odoo.major == 16:
        assert deadline_type == "date"
        assert not p.has("project.task", "state") and p.has("project.task", "is_closed")
        assert p.task_open_filter().domain() == [("is_closed", "in", [False])]
    else:
        assert deadline_type == "datetime"
        assert p.task_open_filter().domain() == [("state", "not in", ["1_done", "1_canceled"])]
    assert ("blocked" in p.selection("account.move", "payment_state")) == (odoo.major >= 18)
    assert p.has("account.move", "matched_payment_ids") == (odoo.major >= 18)
    assert p.group_method() == ("formatted_read_group" if odoo.major >= 19 else "read_group")


# -- full pulls -------------------------------------------------------------------
def _pull(odoo, transport, state=None, page_size=2000, **opts):
    settings = odoo.settings(transport, page_size=page_size,
                             api_key=API_KEY if transport == "json2" else "")
    client = OdooClient(settings, state=state)
    snap = Puller(client, PullOptions(tables=CORE_TABLES, **opts)).pull(now=odoo.recorded_at)
    return client, snap


def test_full_pull_is_the_same_through_every_transport(odoo, cassette):
    snaps = {t: _pull(odoo, t)[1] for t in transports_for(odoo)}
    first, *others = snaps
    base = snaps[first]
    assert len(base.partners) > 10 and len(base.tasks) > 10 and len(base.invoices) >= 3
    for other in others:
        for name, frame in base.tables.items():
            pd.testing.assert_frame_equal(frame, snaps[other].tables[name], obj=f"{other}:{name}")
    # who ClientCare is in Odoo, as every transport logs in: the login's user and its partner
    login = base.users.loc[base.users["login"] == odoo.server["login"]].iloc[0]
    for transport, snap in snaps.items():
        assert (snap.meta["own_user_id"], snap.meta["own_partner_id"]) == (login["id"], login["partner_id"]), transport


def _pages_by_model(snap, page: int) -> dict[str, int]:
    """Expected search_read calls per model: one per page per table, an empty last page included."""
    out: dict[str, int] = {}
    for spec in CORE:
        if spec.name in snap.tables:
            out[spec.model] = out.get(spec.model, 0) + len(snap.tables[spec.name]) // page + 1
    return out


def test_full_pull_rpc_count_is_one_per_page_plus_constant(odoo, cassette):
    page = 10
    client, snap = _pull(odoo, "xmlrpc", page_size=page)
    calls = client.transport.calls
    pages = _pages_by_model(snap, page)
    for model, n in pages.items():
        assert calls[f"{model}.search_read"] == n, model
        assert calls[f"{model}.fields_get"] == 1
    payment_models = ("account.move.line", "account.partial.reconcile", "account.payment")
    payment_calls = sum(v for k, v in calls.items() if k.rsplit(".", 1)[0] in payment_models)
    constant = client.transport.call_count - sum(pages.values()) - payment_calls
    # version, authenticate, the user's companies, and fields_get once per model
    assert constant == 3 + len(pages)
    assert payment_calls <= 3 * (len(snap.payments) // page + 2)


def test_pull_types_dates_and_relations(odoo, cassette):
    _, snap = _pull(odoo, "xmlrpc")
    moves = snap.table("moves")
    assert str(moves["write_date"].dtype) == "datetime64[ns, UTC]"
    assert str(moves["invoice_date_due"].dtype) == "datetime64[ns]"  # a date stays a date
    assert str(moves["partner_id"].dtype) == "Int64" and "partner_id_name" in moves
    tasks = snap.tasks
    assert tasks["user_ids"].map(lambda v: isinstance(v, list)).all()
    with_deadline = tasks.dropna(subset=["date_deadline"])
    if len(with_deadline):
        assert (with_deadline["deadline_date"] == with_deadline["deadline_date"].dt.normalize()).all()
    # every partner maps to a commercial partner that is itself in the table
    assert snap.contacts["commercial_partner_id"].isin(snap.partners["id"]).all()
    assert set(snap.invoices["move_type"]) <= {"out_invoice", "out_refund"}
    assert (snap.invoices["state"] == "posted").all()
    assert snap.table("partners")["active"].eq(False).any(), "archived partners must be pulled too"


def test_snapshot_round_trips_through_disk(odoo, cassette, tmp_path):
    _, snap = _pull(odoo, "xmlrpc")
    snap.save(tmp_path / "snap")
    loaded = type(snap).load(tmp_path / "snap")
    for name, frame in snap.tables.items():
        pd.testing.assert_frame_equal(frame, loaded.tables[name], obj=name)
    pd.testing.assert_frame_equal(snap.tasks, loaded.tasks)
    pd.testing.assert_frame_equal(snap.invoices, loaded.invoices)


# -- incremental pulls -----------------------------------------------------------
def _server_changes(client: OdooClient) -> dict:
    """Change a few records the way users do: deadline moved, stage changed, invoice paid."""
    c = client
    tasks = c.call("project.task", "search_read", [], {
        "domain": [("project_id", "!=", False)] + (
            [("state", "not in", ["1_done", "1_canceled"])] if c.profile.has("project.task", "state")
            else [("stage_id.fold", "=", False)]),
        "fields": ["id", "date_deadline", "stage_id", "project_id"], "limit": 2, "order": "id asc"})
    moved, staged = tasks[0], tasks[1]
    new_deadline = "2031-01-15" if c.profile.ftype("project.task", "date_deadline") == "date" \
        else "2031-01-15 09:00:00"
    c.call("project.task", "write", [[moved["id"]], {"date_deadline": new_deadline}])
    stages = c.call("project.task.type", "search_read", [], {
        "domain": [("project_ids", "in", [staged["project_id"][0]])], "fields": ["id", "fold"],
        "order": "id asc"})
    target = next(s for s in stages if s["id"] != staged["stage_id"][0])
    c.call("project.task", "write", [[staged["id"]], {"stage_id": target["id"]}])
    invoice = c.call("account.move", "search_read", [], {
        "domain": [("move_type", "=", "out_invoice"), ("state", "=", "posted"),
                   ("payment_state", "=", "not_paid")],
        "fields": ["id", "amount_residual", "write_date"], "limit": 1, "order": "id asc"})[0]
    ctx = c.context(active_model="account.move", active_ids=[invoice["id"]])
    wizard = c.call("account.payment.register", "create", [{"payment_date": "2026-11-20"}],
                    {"context": ctx})
    wizard_id = wizard[0] if isinstance(wizard, list) else wizard
    c.call("account.payment.register", "action_create_payments", [[wizard_id]], {"context": ctx})
    return {"moved_task": moved["id"], "staged_task": staged["id"], "stage": target["id"],
            "paid_invoice": invoice["id"], "invoice_write_date_before": invoice["write_date"]}


def test_incremental_pull_sees_changes_and_costs_one_call_per_table(odoo, cassette, state):
    settings = odoo.settings("xmlrpc")
    t0 = odoo.recorded_at
    client = OdooClient(settings, state=state)
    first = Puller(client, PullOptions(tables=CORE_TABLES)).pull(now=t0)
    cursors.save(state, client.scope, first.cursors)

    changed = _server_changes(OdooClient(settings))

    client = OdooClient(settings, state=state)
    second = Puller(client, PullOptions(tables=CORE_TABLES)).pull(previous=first, now=t0 + timedelta(minutes=5))
    cursors.save(state, client.scope, second.cursors)
    tasks = second.tasks.set_index("id")
    assert tasks.loc[changed["moved_task"], "deadline_date"] == pd.Timestamp("2031-01-15")
    assert tasks.loc[changed["staged_task"], "stage_id"] == changed["stage"]
    inv = second.invoices.set_index("id").loc[changed["paid_invoice"]]
    assert inv["payment_state"] in ("paid", "in_payment")
    # a reconciliation is dated by its later side: a payment before the invoice date counts then
    assert inv["paid_date"] == max(pd.Timestamp("2026-11-20"), inv["invoice_date"])
    assert len(second.tasks) == len(first.tasks) and len(second.partners) == len(first.partners)

    # nothing changed on the server since: at most one call per table, plus a constant
    client = OdooClient(settings, state=state)
    third = Puller(client, PullOptions(tables=CORE_TABLES)).pull(previous=second, now=t0 + timedelta(minutes=10))
    calls = client.transport.calls
    per_table = {k: v for k, v in calls.items() if not k.startswith(("common.", "res.users.read"))}
    expected: dict[str, int] = {}
    for spec in CORE:
        if spec.name in third.tables:
            expected[f"{spec.model}.search_read"] = expected.get(f"{spec.model}.search_read", 0) + 1
    assert per_table == expected  # at most one call per table
    # plus the version and the user's companies: no login, the user id of the first pull is remembered
    assert "common.authenticate" not in calls
    assert client.transport.call_count == sum(expected.values()) + 2
    for name, frame in second.tables.items():
        pd.testing.assert_frame_equal(frame, third.tables[name], obj=name)


# -- errors ------------------------------------------------------------------------
ERROR_CASES = {
    "missing_model": (E.MissingModelError, "x_no_such.model", "search_read",
                      [], {"domain": [], "fields": ["id"], "limit": 1}),
    "missing_method": (E.MissingMethodError, "res.partner", "no_such_method", [[1]], {}),
    "bad_field": (E.InvalidFieldError, "res.partner", "search_read", [],
                  {"domain": [("no_such_field", "=", 1)], "fields": ["id"], "limit": 1}),
    "validation": (E.UserError, "res.partner", "create", [[{"name": False}]], {}),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
@pytest.mark.parametrize("transport", ["xmlrpc", "jsonrpc", "json2"])
def test_fatal_errors_map_to_the_same_tree(odoo, cassette, transport, case):
    if transport == "json2" and (odoo.major < 19 or not odoo.has_api_key):
        pytest.skip("JSON-2 exists from Odoo 19")
    expected, model, method, args, kwargs = ERROR_CASES[case]
    t = open_transport(odoo.settings(transport, api_key=API_KEY if transport == "json2" else ""))
    before = t.call_count
    with pytest.raises(expected) as err:
        t.execute_kw(model, method, args, kwargs)
    assert isinstance(err.value, E.FatalError)
    assert t.call_count == before + 1, "fatal errors are never retried"
    assert PASSWORD not in str(err.value)


@pytest.mark.parametrize("transport", ["xmlrpc", "jsonrpc", "json2"])
def test_access_error_for_a_user_without_rights(odoo, cassette, transport):
    if transport == "json2":
        if odoo.major < 19:
            pytest.skip("JSON-2 exists from Odoo 19")
        if not odoo.secret(DEMO_API_KEY):
            pytest.skip("no API key for the restricted user")
        settings = odoo.settings(transport, login=odoo.server["demo_login"], password="",
                                 api_key=DEMO_API_KEY)
    else:
        settings = odoo.settings(transport, login=odoo.server["demo_login"], password=DEMO_PASSWORD,
                                 api_key="")
    t = open_transport(settings)
    with pytest.raises(E.AccessError):
        t.execute_kw("ir.config_parameter", "search_read", [], {"domain": [], "fields": ["key"],
                                                                 "limit": 1})


@pytest.mark.parametrize("transport", ["xmlrpc", "jsonrpc"])
def test_wrong_database_is_named(odoo, cassette, transport):
    settings = odoo.settings(transport, api_key="")
    settings = type(settings)(**{**settings.__dict__, "db": "no_such_db"})
    with pytest.raises(E.MissingDatabaseError) as err:
        open_transport(settings)
    assert "no_such_db" in str(err.value)
    assert PASSWORD not in str(err.value)


def test_expired_api_key_is_refused_like_a_wrong_one(odoo, cassette):
    if odoo.major < 19 or not odoo.secret(EXPIRED_API_KEY):
        pytest.skip("recorded on Odoo 19 with an API key whose expiration date has passed")
    with pytest.raises(E.AuthenticationError) as err:
        open_transport(odoo.settings("json2", password="", api_key=EXPIRED_API_KEY))
    assert odoo.server["url"] in str(err.value) and EXPIRED_API_KEY not in str(err.value)
