"""The personal data endpoints: admins export and erase a person; every other caller is refused.

The answers match the schema (schemathesis): for an existing lead, a missing one, a refused
caller, and for whatever ids and requests it makes up.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from scoring.models import Activity, Lead
from tests.privacy_data import person_with_everything

EMAIL = "eva.erasmus@kunde.example"
EXPORT = "/api/v1/leads/{id}/personal-data/"
ERASE = "/api/v1/leads/{id}/erase/"


def _export(pk: int) -> str:
    return EXPORT.format(id=pk)


def _erase(pk: int) -> str:
    return ERASE.format(id=pk)


@pytest.fixture
def person(sales_user):  # type: ignore[no-untyped-def]
    return person_with_everything(EMAIL, sales_user=sales_user)


@pytest.fixture
def admin_api(client_for, admin_user_role):  # type: ignore[no-untyped-def]
    return client_for(admin_user_role)


@pytest.mark.django_db
def test_an_admin_downloads_everything_about_the_person_as_a_json_file(admin_api, person):
    response = admin_api.get(_export(person.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == (
        f'attachment; filename="lead-{person.pk}-personal-data.json"'
    )
    body = response.json()
    assert body["lead"]["email"] == EMAIL and len(body["activities"]) == 2
    assert body["handoffs"][0]["actions"] and body["webhook_deliveries"]
    # Even when a browser asks for HTML: a file, not a page of the browsable API.
    html = admin_api.get(_export(person.pk), HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert html["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_an_admin_erases_the_person_and_gets_the_counts(admin_api, person, admin_user_role):
    response = admin_api.post(_erase(person.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["lead_id"] == person.pk and body["by"] == admin_user_role.username
    assert body["counts"]["leads"] == 1 and body["counts"]["activities"] == 2
    assert body["counts"]["webhook_deliveries"] >= 3
    assert not Lead.objects.filter(pk=person.pk).exists()
    assert not Activity.objects.filter(lead_id=person.pk).exists()
    # Gone: asking again finds nothing.
    assert admin_api.post(_erase(person.pk)).status_code == 404
    assert admin_api.get(_export(person.pk)).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("path", [EXPORT, ERASE])
def test_a_lead_that_does_not_exist_is_404_with_a_detail(admin_api, path):
    call = admin_api.get if path == EXPORT else admin_api.post
    for missing in (987654, "not-a-number"):
        response = call(path.format(id=missing))
        assert response.status_code == 404
        assert set(response.json()) == {"detail"}


@pytest.mark.django_db
@pytest.mark.parametrize("caller", ["marketing", "sales", "ingestion", "outsider", "anonymous"])
def test_only_admins_may_export_or_erase(caller, person, request):  # type: ignore[no-untyped-def]
    if caller == "ingestion":
        client = request.getfixturevalue("ingestion_api")
    else:
        client = APIClient()
        if caller != "anonymous":
            user = request.getfixturevalue(
                {"marketing": "marketing_user", "sales": "sales_user", "outsider": "outsider"}[
                    caller
                ]
            )
            client.force_authenticate(user)
    refused = {401, 403} if caller == "anonymous" else {403}
    export = client.get(_export(person.pk))
    assert export.status_code in refused
    assert EMAIL not in export.content.decode()
    assert client.post(_erase(person.pk)).status_code in refused
    assert Lead.objects.filter(pk=person.pk).exists()


@pytest.mark.django_db
def test_the_schema_documents_both_endpoints(client):
    from drf_spectacular.validation import validate_schema

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    validate_schema(schema)
    export, erase = schema["paths"][EXPORT]["get"], schema["paths"][ERASE]["post"]
    for operation in (export, erase):
        assert {"200", "401", "403", "404"} <= set(operation["responses"])
    assert "requestBody" not in erase


@pytest.fixture
def privacy_schema(live_server, transactional_db, admin_user_role, sales_user):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    schema.base = live_server.url  # type: ignore[attr-defined]
    schema.admin = Token.objects.create(user=admin_user_role).key  # type: ignore[attr-defined]
    schema.sales = Token.objects.create(user=sales_user).key  # type: ignore[attr-defined]
    schema.person = person_with_everything(EMAIL, sales_user=sales_user)  # type: ignore[attr-defined]
    return schema


def _call(schema, path: str, method: str, lead_id: object, token: str):  # type: ignore[no-untyped-def]
    case = schema[path][method].Case(path_parameters={"id": lead_id})
    return case.call_and_validate(
        base_url=schema.base,
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )


def test_every_answer_matches_the_schema(privacy_schema):  # type: ignore[no-untyped-def]
    schema, pk = privacy_schema, privacy_schema.person.pk
    assert _call(schema, EXPORT, "GET", pk, schema.sales).status_code == 403
    assert _call(schema, ERASE, "POST", pk, schema.sales).status_code == 403
    assert _call(schema, EXPORT, "GET", pk, schema.admin).status_code == 200
    assert _call(schema, ERASE, "POST", pk, schema.admin).status_code == 200
    assert _call(schema, EXPORT, "GET", pk, schema.admin).status_code == 404
    assert _call(schema, ERASE, "POST", pk, schema.admin).status_code == 404


fuzzed = schemathesis.pytest.from_fixture("privacy_schema").include(
    path_regex=r"^/api/v1/leads/\{id\}/(personal-data|erase)/$"
)


@fuzzed.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_made_up_requests_by_an_admin_get_documented_answers(case, privacy_schema):  # type: ignore[no-untyped-def]
    case.call_and_validate(
        base_url=privacy_schema.base,
        headers={"Authorization": f"Token {privacy_schema.admin}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
