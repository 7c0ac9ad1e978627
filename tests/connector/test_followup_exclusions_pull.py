"""The pull's follow-up exclusion look-up on each version's fields (a unit-test double serving
what ``fields_get`` of Odoo 16-19 says; the request shapes on real Odoo are for the cassettes):
only the flags the server has are asked for, one search of the flagged receivable lines whatever
the number of invoices, 19's invoice flag read for those invoices only, and an unreadable look-up
recorded as unavailable, never as "nothing excluded"."""
from __future__ import annotations

import pandas as pd
import pytest

from clientcare.connector import errors as E
from clientcare.connector.client import OdooClient
from clientcare.connector.pull import PullOptions, Puller
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.snapshot import followup_exclusions_unknown, invoices
from clientcare.connector.transports import Transport

from test_pull_scale import MOVE_TYPES, NOW  # the moves as the pull types them, the pull's clock

#: What each version's account.move.line has of the exclusion flags (Odoo's sources).
LINE_FLAGS = {16: ["blocked"], 17: ["blocked"], 18: [], 19: ["no_followup"]}


class VersionedOdoo(Transport):
    """Three open invoices; invoice 2 flagged on its receivable line, on 19 invoice 3 flagged on
    the invoice (all its receivable lines)."""

    name = "double"

    def __init__(self, settings: ConnectionSettings, major: int, refuse_lines: bool = False):
        super().__init__(settings)
        self.major, self.refuse_lines = major, refuse_lines
        self.served: list[tuple[str, str, list, dict]] = []
        self.moves = [{
            "id": i, "name": f"INV/{i:05d}", "move_type": "out_invoice", "state": "posted",
            "partner_id": [7, "Client"], "commercial_partner_id": [7, "Client"], "invoice_user_id": False,
            "invoice_date": "2026-09-01", "invoice_date_due": "2026-10-01", "amount_total": 100.0,
            "amount_residual": 100.0, "amount_total_signed": 100.0, "amount_residual_signed": 100.0,
            "currency_id": [1, "EUR"], "company_id": [1, "Co"], "company_currency_id": [1, "EUR"],
            "payment_state": "not_paid", "invoice_origin": False, "create_date": "2026-09-01 08:00:00",
            "write_date": "2026-09-01 08:00:00"} for i in (1, 2, 3)]

    def _version(self) -> dict:
        return {"server_version": f"{self.major}.0", "server_version_info": [self.major, 0, 0, "final", 0]}

    def _authenticate(self) -> int:
        return 2

    def _execute_kw(self, model, method, args, kwargs):
        self.served.append((model, method, args, kwargs))
        if model == "res.users":
            return [{"id": 2, "company_ids": [1], "company_id": [1, "Co"]}]
        if (model, method) == ("account.move", "fields_get"):
            types = {f: {"type": t} for f, t in MOVE_TYPES.items()}
            if self.major >= 19:
                types["no_followup"] = {"type": "boolean"}
            return types
        if (model, method) == ("account.move.line", "fields_get"):
            if self.refuse_lines:
                raise E.AccessError("You are not allowed to access 'Journal Item' (account.move.line) records.")
            return {f: {"type": "boolean"} for f in LINE_FLAGS[self.major] if f in kwargs["allfields"]}
        after = next((t[2] for t in kwargs.get("domain", ()) if tuple(t[:2]) == ("id", ">")), 0)
        if (model, method) == ("account.move", "search_read"):
            return [{f: m[f] for f in ("id", *kwargs["fields"])} for m in self.moves if m["id"] > after]
        if (model, method) == ("account.move.line", "search_read"):
            flagged = [20, 30] if self.major >= 19 else [20]  # line 10n is a receivable line of invoice n
            return [{"id": line, "move_id": [line // 10, f"INV/{line // 10:05d}"],
                     **{f: True for f in kwargs["fields"] if f != "move_id"}} for line in flagged if line > after]
        if (model, method) == ("account.move", "read"):
            return [{"id": i, "no_followup": i == 3} for i in args[0]]
        raise AssertionError(f"unexpected call {model}.{method}")


def pulled(major: int, **kw):
    settings = ConnectionSettings(url="http://double", db=f"v{major}", login="admin", password="x")
    transport = VersionedOdoo(settings, major, **kw)
    client = OdooClient(settings, None, transport)
    snapshot = Puller(client, PullOptions(tables=("moves",), followup_exclusions=True)).pull(now=NOW)
    return snapshot, transport.served


def calls_to(calls, model, method):
    return [c for c in calls if (c[0], c[1]) == (model, method)]


@pytest.mark.parametrize("major", [16, 17])
def test_16_and_17_read_the_blocked_receivable_lines(major):
    snapshot, calls = pulled(major)
    (search,) = calls_to(calls, "account.move.line", "search_read")
    assert ("blocked", "=", True) in search[3]["domain"] and search[3]["fields"] == ["move_id", "blocked"]
    assert ("account_id.account_type", "=", "asset_receivable") in search[3]["domain"]
    assert calls_to(calls, "account.move", "read") == []
    assert snapshot.meta["followup_exclusion_fields"] == ["account.move.line.blocked"]
    excluded = invoices(snapshot).set_index("id")["followup_excluded"]
    assert excluded.isna().tolist() == [True, False, True]
    assert excluded[2] == "excluded from follow-up by accounting (No Follow-up on the receivable line)"


def test_18_has_no_flag_and_searches_nothing():
    snapshot, calls = pulled(18)
    assert calls_to(calls, "account.move.line", "search_read") == []
    assert snapshot.meta["followup_exclusion_fields"] == []
    assert followup_exclusions_unknown(snapshot) is None  # known: nothing to exclude by flag
    assert invoices(snapshot)["followup_excluded"].isna().all()


def test_19_reads_the_line_flag_then_the_invoice_flag_of_those_invoices_only():
    snapshot, calls = pulled(19)
    (search,) = calls_to(calls, "account.move.line", "search_read")
    assert ("no_followup", "=", True) in search[3]["domain"]
    (read,) = calls_to(calls, "account.move", "read")
    assert read[2][0] == [2, 3] and read[3]["fields"] == ["no_followup"]
    assert snapshot.meta["followup_exclusion_fields"] == ["account.move.line.no_followup",
                                                          "account.move.no_followup"]
    excluded = invoices(snapshot).set_index("id")["followup_excluded"]
    assert excluded[2] == "excluded from follow-up by accounting (No Follow-up on the receivable line)"
    assert excluded[3] == "excluded from follow-up by accounting (No Follow-up on the invoice)"


def test_unreadable_lines_are_unavailable_not_none_excluded():
    snapshot, _ = pulled(17, refuse_lines=True)
    assert "followup_exclusions" not in snapshot.tables
    assert "AccessError" in snapshot.unavailable["followup_exclusions"]
    assert followup_exclusions_unknown(snapshot).startswith("follow-up exclusions could not be read (AccessError")


def test_not_looked_up_unless_a_rule_reads_it():
    settings = ConnectionSettings(url="http://double", db="v17", login="admin", password="x")
    transport = VersionedOdoo(settings, 17)
    snapshot = Puller(OdooClient(settings, None, transport), PullOptions(tables=("moves",))).pull(now=NOW)
    assert "followup_exclusions" not in snapshot.tables
    assert not [c for c in transport.served if c[0] == "account.move.line"]


@pytest.mark.parametrize("enabled, asked", [(["late_payment"], True), (["unmet_deadlines"], False)])
def test_sync_asks_for_the_lookup_when_late_payment_runs(tmp_path, enabled, asked):
    from clientcare.jobs.ruleset import load_with_rules
    from clientcare.jobs.sync import pull_options

    cfg = tmp_path / "c.toml"
    cfg.write_text("[profiles.p]\nrules_enabled = [" + ", ".join(f'"{n}"' for n in enabled) + "]\n")
    assert pull_options(load_with_rules("p", cfg, env={}, require_connection=False)[1]).followup_exclusions is asked


class CreditedOdoo(VersionedOdoo):
    """Invoice 1 paid by matching credit note 4 (one partial, 99); invoice 2 paid by a payment
    (partial 98 with a payment entry, not a move ClientCare pulls)."""

    def __init__(self, settings):
        super().__init__(settings, 17)
        for m in self.moves[:2]:
            m.update(payment_state="paid", amount_residual=0.0, amount_residual_signed=0.0)
        self.moves.append(dict(self.moves[0], id=4, name="RINV/2026/00004", move_type="out_refund"))

    def _execute_kw(self, model, method, args, kwargs):
        if (model, method) == ("account.move.line", "search_read") and any(
                t[0] == "move_id" for t in kwargs["domain"] if isinstance(t, (list, tuple))):
            self.served.append((model, method, args, kwargs))
            partial = {1: ([], [99]), 2: ([], [98]), 4: ([99], [])}
            wanted = next(t[2] for t in kwargs["domain"] if isinstance(t, (list, tuple)) and t[0] == "move_id")
            return [{"id": 10 * m, "move_id": [m, "x"], "matched_debit_ids": partial[m][0],
                     "matched_credit_ids": partial[m][1]} for m in wanted if m in partial]
        if (model, method) == ("account.partial.reconcile", "read"):
            self.served.append((model, method, args, kwargs))
            return [{"id": p, "max_date": "2026-11-18"} for p in args[0]]
        return super()._execute_kw(model, method, args, kwargs)


def test_a_credit_note_reconciled_with_an_invoice_is_named_without_another_request():
    settings = ConnectionSettings(url="http://double", db="credited", login="admin", password="x")
    transport = CreditedOdoo(settings)
    snapshot = Puller(OdooClient(settings, None, transport), PullOptions(tables=("moves",))).pull(now=NOW)
    paid = invoices(snapshot).set_index("id")
    assert paid.loc[1, "credited_by"] == "RINV/2026/00004" and pd.isna(paid.loc[2, "credited_by"])
    assert str(paid.loc[1, "paid_date"].date()) == "2026-11-18"
    assert [c[:2] for c in transport.served if c[0] != "res.users" and c[1] != "fields_get"] == [
        ("account.move", "search_read"), ("account.move.line", "search_read"),
        ("account.partial.reconcile", "read")]
