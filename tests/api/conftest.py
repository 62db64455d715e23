"""API fixtures: clients signed in per role, an ingestion token, and a small published model."""

import pytest
from rest_framework.test import APIClient

from integrations.tokens import ingestion_token_create
from scoring.services import scoring_model_load

# Page views count, a webinar makes an MQL; bands cold/warm/hot.
MODEL = {
    "slug": "web", "name": "Web", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "warm", "min": 10},
              {"label": "hot", "min": 50}],
    "criteria": [
        {"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 5},
        {"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"], "points": 50,
         "count": "once"},
    ],
}  # fmt: skip


@pytest.fixture
def client_for():  # type: ignore[no-untyped-def]
    def make(user=None):  # type: ignore[no-untyped-def]
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def marketing_api(client_for, marketing_user):  # type: ignore[no-untyped-def]
    return client_for(marketing_user)


@pytest.fixture
def sales_api(client_for, sales_user):  # type: ignore[no-untyped-def]
    return client_for(sales_user)


@pytest.fixture
def ingestion_api():  # type: ignore[no-untyped-def]
    token, key = ingestion_token_create(name="Web forms", source="webforms")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    client.token = token
    return client


@pytest.fixture
def web_model():  # type: ignore[no-untyped-def]
    scoring_model, _ = scoring_model_load(data=MODEL)
    return scoring_model
