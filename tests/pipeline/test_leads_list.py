"""The list of every lead: search by name, e-mail or company, filters, sorting and paging."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pipeline.selectors import LEADS_PAGE_SIZE
from scoring.models import LifecycleStage
from scoring.rescoring import leads_rescore
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(model):  # type: ignore[no-untyped-def]
    """Three leads of the B2B model: a target account's (20 points), one with visits, one with
    neither; plus a customer."""
    now = timezone.now()
    eva = LeadFactory(first_name="Eva", last_name="Kunde", email="eva@kunde.de",
                      account=AccountFactory(name="Kunde AG", is_target_account=True))  # fmt: skip
    jan = LeadFactory(first_name="Jan", last_name="de Vries", email="jan@vries.nl",
                      account=AccountFactory(name="De Vries B.V."))  # fmt: skip
    for hours in (1, 2, 3):
        ActivityFactory(lead=jan, kind="page_view", occurred_at=now - timedelta(hours=hours))
    otto = LeadFactory(first_name="Otto", last_name="Normal", email="otto@example.de")
    kim = LeadFactory(first_name="Kim", last_name="Kundin", email="kim@kunde.de",
                      lifecycle_stage=LifecycleStage.CUSTOMER)  # fmt: skip
    leads_rescore(lead_ids=[eva.pk, jan.pk, otto.pk, kim.pk])
    return {"eva": eva, "jan": jan, "otto": otto, "kim": kim}


def _names(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [row.lead.first_name for row in response.context["page"].object_list]


def test_the_list_shows_the_first_models_leads_by_score(client, sales_user, people):
    client.force_login(sales_user)
    response = client.get("/leads/")
    assert response.status_code == 200
    rows = response.context["page"].object_list
    assert {row.lead.first_name for row in rows} == {"Eva", "Jan", "Otto", "Kim"}
    totals = [row.score.total for row in rows]
    assert totals == sorted(totals, reverse=True) and totals[0] > totals[-1]
    assert rows[0].lead.first_name == "Jan"  # a busy week of visits: 20 points
    assert "Kunde AG" in response.content.decode()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("kunde", {"Eva", "Kim"}),  # last name, company and e-mail alike, any case
        ("VRIES", {"Jan"}),
        ("jan@vries", {"Jan"}),
        ("eva kunde", {"Eva"}),  # every word somewhere
        ("Kunde AG", {"Eva"}),
        ("nobody-like-this", set()),
    ],
)
def test_search_finds_by_name_e_mail_or_company(client, marketing_user, people, text, found):
    client.force_login(marketing_user)
    response = client.get("/leads/", {"q": text})
    assert set(_names(response)) == found
    if not found:
        assert "No lead matches" in response.content.decode()


def test_filters_by_stage_band_and_owner(client, sales_user, people):
    client.force_login(sales_user)
    customers = client.get("/leads/", {"stage": LifecycleStage.CUSTOMER})
    assert _names(customers) == ["Kim"]
    people["jan"].owner = sales_user
    people["jan"].save(update_fields=["owner"])
    assert _names(client.get("/leads/", {"owner": "me"})) == ["Jan"]
    assert "Jan" not in _names(client.get("/leads/", {"owner": "none"}))
    cold = client.get("/leads/", {"band": "cold"})
    assert set(_names(cold)) == {"Eva", "Jan", "Otto", "Kim"}  # all below 50 points
    assert _names(client.get("/leads/", {"band": "hot"})) == []


def test_sorting_by_name_or_newest_and_all_leads_without_scores(client, sales_user, people):
    client.force_login(sales_user)
    assert _names(client.get("/leads/", {"sort": "name"})) == ["Jan", "Eva", "Kim", "Otto"]
    every = client.get("/leads/", {"model": "all"})
    assert _names(every) == ["Jan", "Eva", "Kim", "Otto"]  # by last name: de Vries first
    assert all(row.score is None for row in every.context["page"].object_list)


def test_a_page_of_leads_costs_the_same_queries_however_many_there_are(
    client, sales_user, model, django_assert_max_num_queries
):
    leads = [LeadFactory(account=AccountFactory()) for _ in range(LEADS_PAGE_SIZE + 5)]
    leads_rescore(lead_ids=[lead.pk for lead in leads])
    client.force_login(sales_user)
    with django_assert_max_num_queries(12):
        first = client.get("/leads/")
    assert len(first.context["page"].object_list) == LEADS_PAGE_SIZE
    second = client.get("/leads/", {"page": 2})
    assert len(second.context["page"].object_list) == 5


@pytest.mark.parametrize(
    "params",
    [{"model": "nope"}, {"sort": "drop table"}, {"page": "x"}, {"page": "999"},
     {"owner": "42x"}, {"stage": "martian"}, {"q": "x" * 500}, {"q": "\x00"}],
)  # fmt: skip
def test_odd_parameters_fall_back_instead_of_failing(client, sales_user, people, params):
    client.force_login(sales_user)
    assert client.get("/leads/", params).status_code == 200


def test_the_top_bar_searches_leads_from_every_page(client, sales_user, people):
    client.force_login(sales_user)
    page = client.get("/queue/").content.decode()
    assert 'action="/leads/"' in page and 'name="q"' in page
    assert "Anyone" in client.get("/leads/", {"q": "eva"}).content.decode()
