"""An access error keeps Odoo's whole message: it names the model, the operation and the group
that would allow it, which is what a person needs to fix the bot's rights."""
from __future__ import annotations

import xmlrpc.client

from clientcare.connector import errors as E

from cassette_store import SUFFIX, read_cassette
from conftest import CASSETTES

#: Recorded live on Odoo 17 (cc17, 2026-11-30): the README's old least-rights bot reading ir.model
#: during sync, and creating an activity on a client without write on res.partner.
IR_MODEL_17 = ("You are not allowed to access 'Models' (ir.model) records.\n\nThis operation is allowed for "
               "the following groups:\n\t- Administration/Access Rights\n\nContact your administrator to "
               "request access if necessary.")
ACTIVITY_17 = ("Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, ClientCare bot (w) "
               "(id=8) doesn't have 'create' access to:\n- Activity (mail.activity)\n\nIf you really, really "
               "need access, perhaps you can win over your friendly administrator with a batch of freshly "
               "baked cookies.")


def recorded_fault(path) -> xmlrpc.client.Fault:
    for interaction in read_cassette(path)["interactions"]:
        body = interaction["response"]["body"]["string"]
        body = body.decode() if isinstance(body, bytes) else body
        if "<fault>" in body:
            try:
                xmlrpc.client.loads(body)
            except xmlrpc.client.Fault as fault:
                return fault
    raise AssertionError(f"no fault in {path}")


def test_a_recorded_access_fault_keeps_the_group_it_names():
    fault = recorded_fault(CASSETTES / "odoo19" / f"test_access_error_for_a_user_without_rights_xmlrpc_{SUFFIX}")
    exc = E.classify_server_error(fault.faultString, fault_code=fault.faultCode, where="ir.config_parameter.search")
    assert isinstance(exc, E.AccessError)
    assert str(exc) == ("ir.config_parameter.search: You are not allowed to access 'System Parameter' "
                        "(ir.config_parameter) records. This operation is allowed for the following groups: "
                        "- Role / Administrator Contact your administrator to request access if necessary.")


def test_live_access_faults_keep_model_operation_and_group():
    exc = E.classify_server_error(IR_MODEL_17, fault_code=4)
    assert isinstance(exc, E.AccessError) and "(ir.model)" in str(exc) and "Administration/Access Rights" in str(exc)
    exc = E.classify_server_error(ACTIVITY_17, fault_code=4)
    assert "doesn't have 'create' access to: - Activity (mail.activity)" in str(exc)


def test_a_traceback_keeps_the_final_exception_message_whole():
    traceback = ("Traceback (most recent call last):\n  File \"/odoo/http.py\", line 1, in dispatch\n"
                 "    result = method()\nodoo.exceptions.AccessError: " + IR_MODEL_17 + "\n")
    text = E.server_message(traceback)
    assert text.startswith("You are not allowed to access 'Models' (ir.model) records.")
    assert text.endswith("- Administration/Access Rights Contact your administrator to request access if necessary.")
