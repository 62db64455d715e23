"""The OpenAPI schema is valid and complete; schemathesis fuzzes the live server against it."""

import zlib
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.test_api_handoffs import open_handoff


@pytest.mark.django_db
def test_schema_lists_every_endpoint_and_validates(client):
    from drf_spectacular.validation import validate_schema

    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)  # raises on anything that is not valid OpenAPI 3
    assert {
        "/api/v1/leads/", "/api/v1/leads/{id}/", "/api/v1/leads/upsert/", "/api/v1/accounts/",
        "/api/v1/accounts/upsert/", "/api/v1/activities/", "/api/v1/activities/bulk/",
        "/api/v1/scoring-models/{slug}/draft/", "/api/v1/scoring-models/{slug}/publish/",
        "/api/v1/scores/", "/api/v1/handoffs/{id}/reject/", "/api/v1/handoffs/{id}/outcome/",
    } <= set(schema["paths"])  # fmt: skip
    assert set(schema["components"]["securitySchemes"]) == {
        "cookieAuth",
        "tokenAuth",
        "ingestionToken",
    }


@pytest.mark.django_db
def test_interactive_docs_are_served_without_third_party_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content and b"cdn.jsdelivr" not in response.content


@pytest.fixture
def live_schema(live_server, transactional_db, admin_user, web_model):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from tests.factories import AccountFactory, LeadFactory

    handoffs = [
        open_handoff(timezone.now(), lead=LeadFactory(account=AccountFactory(), email=f"f{n}@x.de"))
        for n in range(3)
    ]
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    existing = {
        "leads": [h.lead_id for h in handoffs],
        "accounts": [h.lead.account_id for h in handoffs],
        "handoffs": [h.pk for h in handoffs],
        "scoring-models": [web_model.slug],
    }

    @schema.hook
    def map_path_parameters(context, parameters):  # type: ignore[no-untyped-def]
        """Half the cases name an object that exists, so that they get past the 404 to the
        checks of the body; the others keep the drawn (mostly unknown) id or slug."""
        resource = context.operation.path.split("/")[3]
        found = existing.get(resource)
        for key, value in (parameters or {}).items():
            if found and zlib.crc32(str(value).encode()) % 2 == 0:
                parameters[key] = found[zlib.crc32(str(value).encode()) // 2 % len(found)]
        return parameters

    # An admin may call every operation, so every operation's checks of its input are reached.
    schema.token = Token.objects.create(user=admin_user).key  # type: ignore[attr-defined]
    schema.base = live_server.url  # type: ignore[attr-defined]
    return schema


schema = schemathesis.pytest.from_fixture("live_schema")
# Every operation of the API, each with up to EXAMPLES generated cases: at least MIN_CASES in all.
EXAMPLES = 45
MIN_CASES = 2000
CASES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def enough_cases(request):  # type: ignore[no-untyped-def]
    """After the whole module ran (not a selection of it), the fuzzing tried MIN_CASES cases."""
    yield
    if CASES and not request.config.option.keyword:
        print(f"\nschemathesis_cases={sum(CASES.values())} operations={len(CASES)}")
        assert sum(CASES.values()) >= MIN_CASES, CASES


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_live_api_conforms_to_its_schema(case, live_schema):  # type: ignore[no-untyped-def]
    CASES[case.operation.label] += 1
    case.call_and_validate(
        base_url=live_schema.base,
        headers={"Authorization": f"Token {live_schema.token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
