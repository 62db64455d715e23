"""Activities through the API: bulk with per-item reasons, idempotent re-delivery, leads on the fly."""

import pytest

from scoring.ingest import MAX_BATCH
from scoring.models import Activity, Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
BULK = "/api/v1/activities/bulk/"


def test_bulk_keeps_good_items_and_reports_each_rejected_one(marketing_api):
    lead = LeadFactory(email="anna@firma.de")
    batch = [
        {"email": "anna@firma.de", "kind": "page_view", "external_id": "e1",
         "properties": {"url": "/pricing"}},
        {"email": "anna@firma.de", "external_id": "e2"},
        {"lead_id": lead.pk, "kind": "webinar_attended", "occurred_at": "yesterday"},
        {"email": "nobody@firma.de", "kind": "page_view"},
        {"lead_id": lead.pk, "kind": "download", "external_id": "e3"},
    ]  # fmt: skip
    response = marketing_api.post(BULK, {"activities": batch}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "created": 2,
        "duplicates": 0,
        "leads_created": 0,
        "rejected": [
            {"index": 1, "reason": "kind: is required"},
            {"index": 2, "reason": "occurred_at: must be an ISO 8601 timestamp"},
            {"index": 3, "reason": "email: no lead 'nobody@firma.de'"},
        ],
    }
    assert sorted(Activity.objects.values_list("kind", flat=True)) == ["download", "page_view"]


def test_a_redelivered_batch_creates_nothing_new(marketing_api):
    LeadFactory(email="anna@firma.de")
    batch = [
        {"email": "anna@firma.de", "kind": "page_view", "external_id": f"v{n}"} for n in range(3)
    ]
    first = marketing_api.post(BULK, {"activities": batch}, format="json").json()
    again = marketing_api.post(BULK, {"activities": batch}, format="json").json()
    assert (first["created"], first["duplicates"]) == (3, 0)
    assert (again["created"], again["duplicates"]) == (0, 3)
    assert Activity.objects.count() == 3


def test_a_retried_batch_without_external_ids_counts_once(marketing_api):
    lead = LeadFactory(email="anna@firma.de")
    at = "2026-03-02T09:15:00.123456+01:00"
    batch = [
        {"email": "anna@firma.de", "kind": "page_view", "occurred_at": at,
         "properties": {"url": "/pricing", "utm": {"source": "ads", "campaign": "q1"}}},
        {"email": "anna@firma.de", "kind": "page_view", "occurred_at": at,
         "properties": {"url": "/features"}},
        {"lead_id": lead.pk, "kind": "email_open", "occurred_at": at, "channel": "email"},
    ]  # fmt: skip
    first = marketing_api.post(BULK, {"activities": batch}, format="json").json()
    # The same events again, as a retry may word them: keys in another order, the time in UTC.
    retried = [dict(reversed(list(item.items()))) for item in batch]
    for item in retried:
        item["occurred_at"] = "2026-03-02T08:15:00.123456Z"
    retried[0]["properties"] = {"utm": {"campaign": "q1", "source": "ads"}, "url": "/pricing"}
    again = marketing_api.post(BULK, {"activities": retried}, format="json").json()
    assert (first["created"], first["duplicates"]) == (3, 0)
    assert (again["created"], again["duplicates"]) == (0, 3)
    # What differs by a microsecond, a channel or a property is another activity.
    other = [
        {**batch[0], "occurred_at": "2026-03-02T09:15:00.123457+01:00"},
        {**batch[2], "channel": "web"},
        {**batch[1], "properties": {"url": "/features", "ref": "x"}},
    ]
    third = marketing_api.post(BULK, {"activities": other}, format="json").json()
    assert (third["created"], third["duplicates"]) == (3, 0)
    assert Activity.objects.count() == 6


def test_an_activity_without_its_time_or_id_is_taken_as_new_each_time(marketing_api):
    """It happened when it arrived, so a second delivery is a second activity."""
    LeadFactory(email="anna@firma.de")
    batch = [{"email": "anna@firma.de", "kind": "page_view"}]
    marketing_api.post(BULK, {"activities": batch}, format="json")
    again = marketing_api.post(BULK, {"activities": batch}, format="json").json()
    assert (again["created"], again["duplicates"]) == (1, 0)


def test_unknown_leads_are_created_when_asked(marketing_api):
    batch = [{"email": "New@Kunde.nl", "kind": "newsletter_signup"}]
    response = marketing_api.post(BULK, {"activities": batch, "create_leads": True}, format="json")
    assert response.json()["leads_created"] == 1 and response.json()["created"] == 1
    assert Lead.objects.get().email == "new@kunde.nl"


def test_a_batch_over_the_limit_or_not_a_list_is_refused_whole(marketing_api):
    too_many = [{"lead_id": 1, "kind": "x"}] * (MAX_BATCH + 1)
    response = marketing_api.post(BULK, {"activities": too_many}, format="json")
    assert response.status_code == 400 and "activities" in response.json()
    assert marketing_api.post(BULK, {"activities": "nope"}, format="json").status_code == 400
    assert marketing_api.post(BULK, [1, 2], format="json").status_code == 400
    assert Activity.objects.count() == 0


def test_single_activity_answers_created_duplicate_or_rejected(marketing_api):
    lead = LeadFactory()
    item = {"lead_id": lead.pk, "kind": "demo_request", "external_id": "d1", "source": "crm"}
    created = marketing_api.post("/api/v1/activities/", item, format="json")
    assert created.status_code == 201 and created.json()["created"] == 1
    assert marketing_api.post("/api/v1/activities/", item, format="json").status_code == 200
    assert Activity.objects.get().source == "crm"
    rejected = marketing_api.post("/api/v1/activities/", {"lead_id": lead.pk}, format="json")
    assert rejected.status_code == 400
    assert rejected.json()["rejected"] == [{"index": 0, "reason": "kind: is required"}]


def test_an_ingestion_token_writes_under_its_own_source(ingestion_api):
    lead = LeadFactory()
    item = {"lead_id": lead.pk, "kind": "form_submit", "external_id": "f1"}
    response = ingestion_api.post(BULK, {"activities": [item], "source": "spoofed"}, format="json")
    assert response.status_code == 200 and response.json()["created"] == 1
    assert Activity.objects.get().source == "webforms"
