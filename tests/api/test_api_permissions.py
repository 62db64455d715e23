"""Every endpoint checks the caller's role; ingestion tokens may only write leads and activities."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.tokens import ingestion_token_create, ingestion_tokens_revoke
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
READS = ["/api/v1/leads/", "/api/v1/accounts/", "/api/v1/scores/", "/api/v1/handoffs/",
         "/api/v1/scoring-models/"]  # fmt: skip


@pytest.mark.parametrize("url", READS)
def test_anonymous_callers_are_refused(url):
    assert APIClient().get(url).status_code in (401, 403)


@pytest.mark.parametrize("url", READS)
def test_users_without_a_role_are_refused(client_for, outsider, url):
    assert client_for(outsider).get(url).status_code == 403


@pytest.mark.parametrize("url", READS)
def test_every_role_may_read(client_for, marketing_user, sales_user, url):
    assert client_for(marketing_user).get(url).status_code == 200
    assert client_for(sales_user).get(url).status_code == 200


def test_session_auth_works_for_the_browser(client, marketing_user):
    client.force_login(marketing_user)
    assert client.get("/api/v1/leads/").status_code == 200


def test_drf_token_auth_works_for_integrations(marketing_user):
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketing_user).key}")
    assert client.get("/api/v1/leads/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert client.get("/api/v1/leads/").status_code == 401


@pytest.mark.parametrize("url", READS)
def test_an_ingestion_token_cannot_read(ingestion_api, url):
    assert ingestion_api.get(url).status_code == 403


def test_an_ingestion_token_may_write_leads_and_activities_only(ingestion_api):
    lead = LeadFactory()
    assert (
        ingestion_api.post("/api/v1/leads/", {"email": "a@b.de"}, format="json").status_code == 201
    )
    upsert = ingestion_api.post(
        "/api/v1/leads/upsert/", {"email": "a@b.de", "first_name": "A"}, format="json"
    )
    assert upsert.status_code == 200
    assert (
        ingestion_api.patch(
            f"/api/v1/leads/{lead.pk}/", {"first_name": "B"}, format="json"
        ).status_code
        == 403
    )
    assert ingestion_api.post("/api/v1/accounts/", {"name": "X"}, format="json").status_code == 403
    item = {"lead_id": lead.pk, "kind": "page_view"}
    assert ingestion_api.post("/api/v1/activities/", item, format="json").status_code == 201
    ingestion_api.token.refresh_from_db()
    assert ingestion_api.token.last_used_at is not None


def test_a_revoked_or_unknown_ingestion_token_is_refused(ingestion_api):
    ingestion_tokens_revoke(token_ids=[ingestion_api.token.pk])
    item = {"email": "a@b.de", "kind": "page_view"}
    assert ingestion_api.post("/api/v1/activities/", item, format="json").status_code == 401
    _, key = ingestion_token_create(name="other")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}x")
    assert client.post("/api/v1/activities/", item, format="json").status_code == 401


def test_only_marketing_edits_and_publishes_models(sales_api, marketing_api, web_model):
    draft = marketing_api.get("/api/v1/scoring-models/web/").json()["draft"]
    assert (
        sales_api.put("/api/v1/scoring-models/web/draft/", draft, format="json").status_code == 403
    )
    assert (
        sales_api.post("/api/v1/scoring-models/web/publish/", {}, format="json").status_code == 403
    )
    assert (
        marketing_api.put("/api/v1/scoring-models/web/draft/", draft, format="json").status_code
        == 200
    )


def test_only_sales_works_handoffs(marketing_api, sales_api):
    from tests.api.test_api_handoffs import open_handoff

    handoff = open_handoff(timezone.now())
    assert marketing_api.post(f"/api/v1/handoffs/{handoff.pk}/accept/").status_code == 403
    assert sales_api.post(f"/api/v1/handoffs/{handoff.pk}/accept/").status_code == 200
