"""Bad input through the API: each bad item refused with its reason, its batch mates kept, no 500.

On PostgreSQL (as in CI) these are the values that used to fail a whole statement: NUL in text or
jsonb, a lone surrogate that cannot be encoded, a timestamp stored as BC.
"""

import json

import pytest

from scoring.models import Account, Activity, Lead
from tests.factories import AccountFactory, LeadFactory

pytestmark = pytest.mark.django_db
BULK = "/api/v1/activities/bulk/"

BAD_ITEMS = [
    ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at: lies before 1970-01-01"),
    ({"occurred_at": "1077-03-01T10:00:00Z"}, "occurred_at: lies before 1970-01-01"),
    ({"kind": "page\x00view"}, "kind: contains a NUL character"),
    ({"channel": "web\ud800"}, "channel: contains an unpaired surrogate (not valid Unicode)"),
    ({"external_id": "x\x00"}, "external_id: contains a NUL character"),
    ({"properties": {"url": "/p\x00"}}, "properties.url: contains a NUL character"),
    ({"properties": {"tags": ["a", "\udfff"]}}, "properties.tags.1: contains an unpaired"),
    ({"properties": {"k\x00": 1}}, "properties: a key contains a NUL character"),
    ({"properties": {"a": json.loads("[" * 40 + "]" * 40)}}, "properties.a.0.0.0"),
]  # fmt: skip


def _body(payload: object) -> str:
    # ensure_ascii keeps lone surrogates as \ud800 escapes, as a sender's JSON encoder would.
    return json.dumps(payload, ensure_ascii=True)


def test_each_bad_item_is_refused_on_its_own_and_its_batch_mates_are_stored(marketing_api):
    lead = LeadFactory(email="anna@firma.de")
    good = {"lead_id": lead.pk, "kind": "page_view", "properties": {"url": "/pricing"}}
    batch = [good | {"external_id": "first"}]
    batch += [good | {"external_id": f"bad-{n}"} | bad for n, (bad, _) in enumerate(BAD_ITEMS)]
    batch += [good | {"external_id": "last"}]
    response = marketing_api.post(
        BULK, _body({"activities": batch}), content_type="application/json"
    )
    assert response.status_code == 200
    result = response.json()
    assert result["created"] == 2
    reasons = {r["index"]: r["reason"] for r in result["rejected"]}
    assert sorted(reasons) == list(range(1, len(BAD_ITEMS) + 1))
    for n, (_, expected) in enumerate(BAD_ITEMS, start=1):
        assert reasons[n].startswith(expected), (n, reasons[n])
    stored = Activity.objects.filter(lead=lead)
    assert sorted(stored.values_list("external_id", flat=True)) == ["first", "last"]


def test_a_lead_id_beyond_the_column_is_refused_not_a_server_error(marketing_api):
    batch = [{"lead_id": 2**70, "kind": "page_view"}]
    response = marketing_api.post(BULK, {"activities": batch}, format="json")
    assert response.status_code == 200
    assert response.json()["rejected"][0]["reason"].startswith("lead_id: must be between")


@pytest.mark.parametrize(
    "url", ["/api/v1/activities/bulk/", "/api/v1/activities/", "/api/v1/leads/upsert/"]
)
def test_json_nested_without_end_is_refused_before_it_is_parsed(marketing_api, url):
    body = '{"activities": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = marketing_api.post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["detail"]


def test_json_that_nests_within_the_bound_is_parsed(marketing_api):
    lead = LeadFactory()
    properties: dict = {"level": 1}
    for level in range(2, 28):
        properties = {"level": level, "inner": properties}
    item = {"lead_id": lead.pk, "kind": "page_view", "properties": {"deep": properties}}
    response = marketing_api.post(BULK, {"activities": [item]}, format="json")
    assert response.json()["created"] == 1, response.json()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "An\ud800na", "contains an unpaired surrogate"),
        ("job_title", "CEO\x00", "contains a NUL character"),
        ("attributes", {"interest": "bikes\x00"}, "attributes.interest: contains a NUL"),
        ("birthday", "0001-01-01", "lies before 1900-01-01"),
        ("birthday", "2999-01-01", "lies in the future"),
    ],
)
def test_a_lead_with_a_bad_field_is_refused_with_that_field(marketing_api, field, value, message):
    payload = {"email": "new@firma.de", field: value}
    response = marketing_api.post("/api/v1/leads/", _body(payload), content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not Lead.objects.exists()


def test_an_upsert_matching_on_a_bad_email_is_refused_not_a_server_error(marketing_api):
    response = marketing_api.post(
        "/api/v1/leads/upsert/", _body({"email": "a\udc00@firma.de"}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "surrogate" in response.json()["email"][0]


def test_an_account_with_an_out_of_range_number_is_refused(marketing_api):
    account = AccountFactory(external_id="acme")
    response = marketing_api.post(
        "/api/v1/accounts/upsert/",
        {"external_id": "acme", "employee_count": 10**20},
        format="json",
    )
    assert response.status_code == 400
    assert "employee_count" in response.json()
    account.refresh_from_db()
    assert Account.objects.count() == 1 and account.employee_count != 10**20
