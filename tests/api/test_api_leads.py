"""Leads through the API: filters, scores with explanations, create, update, upsert."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from scoring.models import Lead, LeadScore, PendingRescore
from scoring.rescoring import leads_rescore
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads/"


def _scored(web_model, visits: int, **lead_fields):  # type: ignore[no-untyped-def]
    lead = LeadFactory(**lead_fields)
    for n in range(visits):
        ActivityFactory(lead=lead, occurred_at=timezone.now() - timedelta(hours=n + 1))
    leads_rescore(lead_ids=[lead.pk])
    return lead


def _ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_retrieve_shows_every_score_with_band_and_explanation(marketing_api, web_model):
    lead = _scored(web_model, visits=3)
    body = marketing_api.get(f"{URL}{lead.pk}/").json()
    [score] = body["scores"]
    assert score["model"] == "web" and score["version"] == 1
    assert float(score["total"]) == 15 and score["band"] == "warm" and score["mql"] is False
    assert score["explanation"] == [
        {"criterion": "Visit", "type": "activity", "points": 15.0, "evidence_count": 3}
    ]


def test_list_filters_on_band_model_and_score_range_of_one_score(marketing_api, web_model):
    cold, warm, hot = (_scored(web_model, visits=n) for n in (1, 3, 11))
    assert _ids(marketing_api.get(URL, {"model": "web", "band": "warm"})) == [warm.pk]
    assert set(_ids(marketing_api.get(URL, {"score_min": 10}))) == {warm.pk, hot.pk}
    assert _ids(marketing_api.get(URL, {"score_min": 10, "score_max": 20})) == [warm.pk]
    assert _ids(marketing_api.get(URL, {"model": "other", "band": "warm"})) == []
    assert _ids(marketing_api.get(URL, {"mql": "true"})) == [hot.pk]


def test_list_filters_on_stage_owner_source_and_updated_since(marketing_api, sales_user):
    mine = LeadFactory(owner=sales_user, source="fair", lifecycle_stage="mql")
    other = LeadFactory(source="web")
    assert _ids(marketing_api.get(URL, {"stage": "mql"})) == [mine.pk]
    assert _ids(marketing_api.get(URL, {"owner": sales_user.pk})) == [mine.pk]
    assert _ids(marketing_api.get(URL, {"source": "web"})) == [other.pk]
    Lead.objects.filter(pk=other.pk).update(updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert _ids(marketing_api.get(URL, {"updated_since": "2025-01-01T00:00:00Z"})) == [mine.pk]
    # Offsets beyond what PostgreSQL accepts are converted, not passed through.
    assert _ids(marketing_api.get(URL, {"updated_since": "2025-01-01T00:00:00-21:27"})) == [mine.pk]
    bad = marketing_api.get(URL, {"stage": "nonsense"})
    assert bad.status_code == 400 and "stage" in bad.json()


def test_list_orders_and_pages(marketing_api):
    leads = [LeadFactory(last_name=name) for name in ("Bauer", "Adler", "Claes")]
    ids = _ids(marketing_api.get(URL, {"ordering": "last_name"}))
    assert ids == [leads[1].pk, leads[0].pk, leads[2].pk]
    page = marketing_api.get(URL, {"ordering": "-last_name", "page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]


def test_list_query_count_does_not_grow_with_rows(
    marketing_api, web_model, django_assert_max_num_queries
):
    for n in range(3):
        _scored(web_model, visits=n + 1)
    with django_assert_max_num_queries(8) as few:
        marketing_api.get(URL)
    for n in range(12):
        _scored(web_model, visits=n + 1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(_ids(marketing_api.get(URL))) == 15


def test_create_validates_and_asks_for_a_rescore(marketing_api):
    response = marketing_api.post(
        URL, {"email": "Eva@Example.nl", "job_title": "CEO"}, format="json"
    )
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(pk=response.json()["id"])
    assert lead.job_title == "CEO"
    assert PendingRescore.objects.filter(lead=lead).exists()
    clash = marketing_api.post(URL, {"email": "eva@example.NL"}, format="json")
    assert clash.status_code == 400 and "email" in clash.json()
    bad = marketing_api.post(
        URL, {"email": "not-an-address", "lifecycle_stage": "x"}, format="json"
    )
    assert bad.status_code == 400 and set(bad.json()) == {"email", "lifecycle_stage"}


def test_update_changes_fields_and_scores_follow(marketing_api, web_model):
    lead = _scored(web_model, visits=1)
    PendingRescore.objects.all().delete()
    response = marketing_api.patch(f"{URL}{lead.pk}/", {"job_title": "Head of IT"}, format="json")
    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).job_title == "Head of IT"
    assert PendingRescore.objects.filter(lead=lead).exists()


def test_upsert_creates_then_updates_by_email_or_external_id(marketing_api):
    first = marketing_api.post(
        f"{URL}upsert/", {"email": "jan@bedrijf.nl", "first_name": "Jan"}, format="json"
    )
    assert first.status_code == 201
    again = marketing_api.post(
        f"{URL}upsert/", {"email": "JAN@bedrijf.nl", "last_name": "Jansen"}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name) == ("Jan", "Jansen")
    LeadFactory(external_id="CRM-7", email="old@bedrijf.nl")
    by_ref = marketing_api.post(
        f"{URL}upsert/", {"external_id": "CRM-7", "email": "new@bedrijf.nl"}, format="json"
    )
    assert by_ref.status_code == 200 and by_ref.json()["email"] == "new@bedrijf.nl"
    missing_key = marketing_api.post(f"{URL}upsert/", {"first_name": "X"}, format="json")
    assert missing_key.status_code == 400


def test_sales_may_update_but_not_create_leads(sales_api):
    lead = LeadFactory()
    assert sales_api.post(URL, {"email": "x@y.de"}, format="json").status_code == 403
    assert (
        sales_api.patch(f"{URL}{lead.pk}/", {"seniority": "VP"}, format="json").status_code == 200
    )


def test_scores_endpoint_lists_and_filters(marketing_api, web_model, django_assert_max_num_queries):
    _scored(web_model, visits=1)
    hot = _scored(web_model, visits=11)
    with django_assert_max_num_queries(8):
        body = marketing_api.get("/api/v1/scores/", {"model": "web", "band": "hot"}).json()
    assert [row["lead"] for row in body["results"]] == [hot.pk]
    assert LeadScore.objects.count() == 2
