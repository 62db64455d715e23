"""API requests are rate limited per user and per ingestion token."""

import pytest
from django.core.cache import cache
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _forget(ident: str) -> None:
    # Only this caller's counter: the cache is shared with other tests (and, in CI, Redis).
    cache.delete(f"throttle_api_{ident}")


@override_settings(API_THROTTLE_RATE="3/min")
def test_a_user_over_the_rate_gets_429_with_retry_after(client_for, marketing_user, sales_user):
    _forget(f"user-{marketing_user.pk}")
    _forget(f"user-{sales_user.pk}")
    api = client_for(marketing_user)
    codes = [api.get("/api/v1/leads/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert int(api.get("/api/v1/leads/")["Retry-After"]) > 0
    assert client_for(sales_user).get("/api/v1/leads/").status_code == 200  # own counter


@override_settings(API_THROTTLE_RATE="2/min")
def test_an_ingestion_token_has_its_own_limit(ingestion_api):
    _forget(f"token-{ingestion_api.token.pk}")
    body = {"activities": [{"email": "a@b.de", "kind": "page_view"}], "create_leads": True}
    codes = [
        ingestion_api.post("/api/v1/activities/bulk/", body, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
