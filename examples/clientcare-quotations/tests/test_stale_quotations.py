"""stale_quotations with ClientCare's test kit: no server needed."""
from datetime import timedelta
from pathlib import Path

from clientcare.rules import catalogs, i18n

from clientcare.rules.testing import AS_OF, SALES, SnapshotBuilder, keys, run

from clientcare_quotations import stale_quotations

QUOTATION = {"name": "char", "partner_id": "many2one", "user_id": "many2one", "date_order": "datetime",
             "amount_total": "monetary", "currency_id": "many2one"}


def quotation(qid, days_ago):
    return {"id": qid, "name": f"S{qid:05d}", "partner_id": [10, "Azure Interior"], "user_id": [SALES, "Marc"],
            "date_order": f"{AS_OF - timedelta(days=days_ago)} 09:00:00", "amount_total": 1200.0,
            "currency_id": [1, "USD"]}


def snapshot():
    b = SnapshotBuilder(17).client(10, "Azure Interior", SALES)
    return b.add("quotations", QUOTATION, quotation(1, 30), quotation(2, 3)).build()


def test_a_quotation_unanswered_for_two_weeks_gets_an_activity():
    result = run(stale_quotations, snapshot(), AS_OF)
    assert keys(result) == ["stale_quotations:sale.order:1"]
    (f,) = result.findings
    assert f.client_id == 10 and f.responsible_user_id == SALES
    assert f.action.activity_type == "call" and (AS_OF - f.action.due_date).days == 16  # 30 - 14


def test_the_delay_is_configurable():
    assert keys(run(stale_quotations, snapshot(), AS_OF, {"after_days": 2})) == [
        "stale_quotations:sale.order:1", "stale_quotations:sale.order:2"]


def test_it_speaks_french_from_its_own_catalog():
    (f,) = run(stale_quotations, snapshot(), AS_OF).findings
    assert str(f.summary).startswith("follow up quotation S00001 sent to")  # English is the source
    french = i18n.render(f.summary, "fr_FR")
    assert french.startswith("relancer") and "devis S00001" in french
    assert str(AS_OF - timedelta(days=30)) not in french  # the date in French, not ISO
    assert i18n.render(f.resolved_when, "fr_FR") == "le devis S00001 est confirmé ou annulé"


def test_its_catalog_is_complete():
    root = Path(stale_quotations.__file__).parent
    assert catalogs.problems([root], root / "locale", "clientcare_quotations") == []
