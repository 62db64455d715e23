"""Accounts through the API: list, create, upsert by external id; their leads are rescored."""

import pytest

from scoring.models import Account, PendingRescore
from tests.factories import AccountFactory, LeadFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/"


def test_list_filters_and_query_count_stays_flat(marketing_api, django_assert_max_num_queries):
    for _ in range(2):
        AccountFactory(industry="Retail")
    with django_assert_max_num_queries(8) as few:
        marketing_api.get(URL)
    for _ in range(10):
        AccountFactory(industry="Software")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert marketing_api.get(URL).json()["count"] == 12
    assert marketing_api.get(URL, {"industry": "retail"}).json()["count"] == 2


def test_upsert_by_external_id_updates_and_rescores_its_leads(marketing_api):
    account = AccountFactory(external_id="ACC-1", employee_count=10)
    lead = LeadFactory(account=account)
    response = marketing_api.post(
        f"{URL}upsert/", {"external_id": "ACC-1", "employee_count": 150}, format="json"
    )
    assert response.status_code == 200
    assert Account.objects.get(pk=account.pk).employee_count == 150
    assert PendingRescore.objects.filter(lead=lead).exists()
    created = marketing_api.post(
        f"{URL}upsert/", {"external_id": "ACC-2", "name": "Neu BV"}, format="json"
    )
    assert created.status_code == 201 and Account.objects.count() == 2
    nameless = marketing_api.post(f"{URL}upsert/", {"external_id": "ACC-3"}, format="json")
    assert nameless.status_code == 400 and "name" in nameless.json()


def test_sales_may_not_change_accounts(sales_api):
    account = AccountFactory()
    response = sales_api.patch(f"{URL}{account.pk}/", {"industry": "X"}, format="json")
    assert response.status_code == 403
