"""An ingestion token writes leads but never reads personal data: answers carry ids only."""

import pytest
from django.urls import URLPattern, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scoring.api.urls import router
from scoring.models import Lead
from scoring.rescoring import leads_rescore
from tests.api.test_api_handoffs import open_handoff
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db
UPSERT = "/api/v1/leads/upsert/"
ID_FIELDS = {"id", "external_id", "created"}


def test_a_token_upserting_a_known_email_gets_ids_only_and_the_lead_is_updated(
    ingestion_api, web_model
):
    lead = LeadFactory(email="jan@bedrijf.nl", phone="+31 20 123", attributes={"plan": "pro"})
    ActivityFactory(lead=lead)
    leads_rescore(lead_ids=[lead.pk])
    body = {"email": "JAN@bedrijf.nl", "last_name": "Jansen"}
    response = ingestion_api.post(UPSERT, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"id": lead.pk, "external_id": lead.external_id, "created": False}
    lead.refresh_from_db()
    assert (lead.last_name, lead.first_name, lead.phone) == ("Jansen", "Alex", "+31 20 123")


def test_a_token_creating_a_lead_gets_ids_only(ingestion_api):
    created = ingestion_api.post(UPSERT, {"external_id": "CRM-1", "email": "a@b.de"}, format="json")
    assert created.status_code == 201
    lead = Lead.objects.get(external_id="CRM-1")
    assert created.json() == {"id": lead.pk, "external_id": "CRM-1", "created": True}
    plain = ingestion_api.post("/api/v1/leads/", {"email": "c@d.de"}, format="json")
    assert plain.status_code == 201 and set(plain.json()) == ID_FIELDS
    assert plain.json()["created"] is True and plain.json()["external_id"] is None


def test_users_still_get_the_whole_lead(marketing_api, marketing_user, web_model):
    LeadFactory(email="jan@bedrijf.nl")
    upsert = marketing_api.post(UPSERT, {"email": "jan@bedrijf.nl", "phone": "1"}, format="json")
    assert upsert.status_code == 200
    assert upsert.json()["email"] == "jan@bedrijf.nl" and "scores" in upsert.json()
    personal = APIClient()
    personal.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketing_user)}")
    created = personal.post("/api/v1/leads/", {"email": "new@bedrijf.nl"}, format="json")
    assert created.status_code == 201 and created.json()["email"] == "new@bedrijf.nl"


def _router_urls(ids: dict[str, object]) -> list[str]:
    """Every route of the API router, filled with a real id, without the `.json` duplicates."""
    urls = []
    for pattern in router.urls:
        assert isinstance(pattern, URLPattern)
        kwargs = pattern.pattern.regex.groupindex
        if "format" in kwargs:
            continue
        basename = pattern.name.rsplit("-", 1)[0]
        args = [ids[basename]] if kwargs else []
        urls.append(reverse(f"api:{pattern.name}", args=args))
    return urls


def test_a_token_cannot_read_through_any_endpoint(ingestion_api, web_model):
    lead = LeadFactory(account=AccountFactory())
    handoff = open_handoff(timezone.now(), lead=lead)
    ids = {"lead": lead.pk, "account": lead.account.pk, "handoff": handoff.pk,
           "scoring-model": web_model.slug}  # fmt: skip
    urls = _router_urls(ids)
    # The walk covers the reads that could show a person: lists and details.
    assert {f"/api/v1/leads/{lead.pk}/", f"/api/v1/accounts/{lead.account.pk}/", "/api/v1/scores/",
            f"/api/v1/handoffs/{handoff.pk}/", "/api/v1/scoring-models/web/"} <= set(urls)  # fmt: skip
    for url in urls:
        for method in ("get", "head", "options"):
            response = getattr(ingestion_api, method)(url)
            assert response.status_code in (401, 403), (method, url, response.status_code)
            assert lead.email.encode() not in response.content
