"""The tracking beacon: registered sites and origins only, bounded payloads, anonymous → lead."""

import json

import pytest
from django.test import override_settings

from integrations.models import PendingVisit, Visitor
from integrations.tracking import MAX_BODY_BYTES, BeaconError, PayloadTooLarge, beacon_parse
from scoring.models import Activity, Lead, LeadScore, PendingRescore
from scoring.rescoring import leads_rescore
from tests.factories import LeadFactory
from tests.integrations.conftest import ORIGIN

pytestmark = pytest.mark.django_db
VISITOR = "visitor-0001"


def _post(client, site, body, origin=ORIGIN):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(
        f"/t/{site.site_key}/collect/", data, content_type="text/plain", HTTP_ORIGIN=origin
    )


def _views(*paths: str, start: int = 0) -> list[dict]:
    return [
        {"id": f"event-{start + n:04d}", "type": "page_view", "url": f"{ORIGIN}{path}",
         "title": path, "referrer": ""}
        for n, path in enumerate(paths)
    ]  # fmt: skip


def test_anonymous_page_views_wait_for_the_visitor_to_identify(client, site):
    response = _post(client, site, {"visitor_id": VISITOR, "events": _views("/", "/pricing")})
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert PendingVisit.objects.count() == 2 and not Activity.objects.exists()
    assert Visitor.objects.get().lead is None


def test_identify_turns_earlier_visits_into_the_leads_scored_activities(client, site, web_model):
    lead = LeadFactory(email="eva@kunde.de")
    _post(client, site, {"visitor_id": VISITOR, "events": _views("/", "/pricing", "/jobs")})
    identify = {"id": "event-0100", "type": "identify", "email": "Eva@Kunde.de"}
    assert _post(client, site, {"visitor_id": VISITOR, "events": [identify]}).status_code == 204
    assert Visitor.objects.get().lead == lead
    assert not PendingVisit.objects.exists()
    activities = Activity.objects.filter(lead=lead, source="tracking", kind="page_view")
    assert sorted(a.properties["title"] for a in activities) == ["/", "/jobs", "/pricing"]
    assert PendingRescore.objects.filter(lead=lead).exists()
    leads_rescore(lead_ids=[lead.pk])
    assert LeadScore.objects.get(lead=lead).total == 6


def test_an_identified_visitor_sends_straight_to_the_lead_and_resends_count_once(client, site):
    lead = LeadFactory(email="eva@kunde.de")
    _post(client, site, {"visitor_id": VISITOR,
                         "events": [{"id": "event-0100", "type": "identify", "email": lead.email}]})  # fmt: skip
    later = {"visitor_id": VISITOR, "events": _views("/webinar", start=5)}
    _post(client, site, later)
    _post(client, site, later)  # the browser retried
    assert Activity.objects.filter(lead=lead).count() == 1
    assert not PendingVisit.objects.exists()


def test_identify_with_an_unknown_email_creates_the_lead(client, site):
    events = [*_views("/"), {"id": "event-0009", "type": "identify", "email": "new@kunde.de"},
              {"id": "event-0010", "type": "event", "name": "download",
               "properties": {"file": "a.pdf"}}]  # fmt: skip
    assert _post(client, site, {"visitor_id": VISITOR, "events": events}).status_code == 204
    lead = Lead.objects.get(email="new@kunde.de")
    assert lead.source == "website"
    assert sorted(lead.activities.values_list("kind", flat=True)) == ["download", "page_view"]
    assert lead.activities.get(kind="download").properties["file"] == "a.pdf"


def test_unknown_site_keys_and_foreign_origins_are_refused(client, site):
    body = {"visitor_id": VISITOR, "events": _views("/")}
    assert client.post("/t/nope/collect/", json.dumps(body), content_type="text/plain",
                       HTTP_ORIGIN=ORIGIN).status_code == 404  # fmt: skip
    refused = _post(client, site, body, origin="https://evil.example")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    assert client.post(f"/t/{site.site_key}/collect/", json.dumps(body),
                       content_type="text/plain").status_code == 403  # fmt: skip
    site.active = False
    site.save()
    assert _post(client, site, body).status_code == 404
    assert not PendingVisit.objects.exists()


def test_preflight_answers_only_registered_origins(client, site):
    url = f"/t/{site.site_key}/collect/"
    ok = client.options(url, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert ok.status_code == 204 and ok["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in ok["Access-Control-Allow-Methods"]
    bad = client.options(url, HTTP_ORIGIN="https://evil.example")
    assert bad.status_code == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "payload is not JSON"),
        ([1, 2], "payload must be a JSON object"),
        ({"visitor_id": "x", "events": []}, "visitor_id"),
        ({"visitor_id": VISITOR, "events": []}, "events: must be a non-empty list"),
        ({"visitor_id": VISITOR, "events": [{"id": "event-0001", "type": "purchase"}]},
         "events[0].type"),
        ({"visitor_id": VISITOR, "events": [{"id": "event-0001", "type": "identify",
                                             "email": "nope"}]}, "events[0].email"),
        ({"visitor_id": VISITOR, "events": [{"id": "short", "type": "page_view"}]},
         "events[0].id"),
        ({"visitor_id": VISITOR, "events": [{"id": "event-0001", "type": "event",
                                             "name": "Bad Name"}]}, "events[0].name"),
        ({"visitor_id": VISITOR, "events": _views(*["/"] * 51)}, "at most 50"),
    ],
)  # fmt: skip
def test_malformed_payloads_are_refused_with_the_reason(client, site, body, message):
    response = _post(client, site, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not PendingVisit.objects.exists()


def test_a_bad_event_is_refused_with_its_index_and_the_others_are_kept(client, site):
    events = [*_views("/"), {"id": "event-0001", "type": "event", "name": "Bad Name"},
              {"id": "event-0002", "type": "event", "name": "download",
               "properties": {"file": "x" * 3000}},
              {"id": "event-0003", "type": "event", "name": "download"}]  # fmt: skip
    response = _post(client, site, {"visitor_id": VISITOR, "events": events})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    rejected = response.json()["rejected"]
    assert [r["index"] for r in rejected] == [1, 2]
    assert rejected[0]["error"].startswith("events[1].name")
    assert rejected[1]["error"].startswith("events[2].properties: larger than")
    kept = PendingVisit.objects.order_by("event_id").values_list("event_id", "kind")
    assert list(kept) == [("event-0000", "page_view"), ("event-0003", "download")]


def test_a_beacon_whose_every_event_is_bad_lists_them_all(client, site):
    events = [{"id": "short", "type": "page_view"}, {"id": "event-0001", "type": "purchase"}]
    response = _post(client, site, {"visitor_id": VISITOR, "events": events})
    assert response.status_code == 400
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1]
    assert not PendingVisit.objects.exists()


def test_oversized_payloads_are_refused(client, site):
    body = {"visitor_id": VISITOR, "events": _views("/" + "x" * MAX_BODY_BYTES)}
    assert _post(client, site, body).status_code == 413


def test_an_oversized_body_is_told_apart_from_a_malformed_one():
    # The view answers 413 for the first, 400 for the second, by the error's type.
    with pytest.raises(PayloadTooLarge):
        beacon_parse(b" " * (MAX_BODY_BYTES + 1))
    with pytest.raises(BeaconError) as malformed:
        beacon_parse(b"{")
    assert not isinstance(malformed.value, PayloadTooLarge)


@override_settings(TRACKING_THROTTLE_RATE="3/min")
def test_the_beacon_is_rate_limited_per_site_and_address(client, site):
    # Each test's site has a new random key, so its counter starts at zero.
    codes = [
        _post(client, site, {"visitor_id": VISITOR, "events": _views("/", start=n)}).status_code
        for n in range(4)
    ]
    assert codes == [204, 204, 204, 429]


def test_the_beacon_needs_no_login_and_no_csrf_token(site):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    body = {"visitor_id": VISITOR, "events": _views("/")}
    assert _post(strict, site, body).status_code == 204


def test_an_event_with_a_nul_or_a_lone_surrogate_is_refused_and_its_beacon_mates_kept(client, site):
    events = [
        *_views("/"),
        {"id": "event-0001", "type": "page_view", "url": f"{ORIGIN}/a\x00b"},
        {"id": "event-0002", "type": "event", "name": "download",
         "properties": {"file": "plan\ud800.pdf"}},
        {"id": "event-0003", "type": "event", "name": "download", "properties": {"file": "ok"}},
    ]  # fmt: skip
    body = json.dumps({"visitor_id": VISITOR, "events": events})  # \u0000 and \ud800 escapes
    response = _post(client, site, body)
    assert response.status_code == 200
    rejected = response.json()["rejected"]
    assert [(r["index"], r["error"]) for r in rejected] == [
        (1, "events[1].url: contains a NUL character"),
        (2, "events[2].properties.file: contains an unpaired surrogate (not valid Unicode)"),
    ]
    kept = PendingVisit.objects.order_by("event_id").values_list("event_id", flat=True)
    assert list(kept) == ["event-0000", "event-0003"]


def test_a_beacon_nested_without_end_is_refused_before_it_is_parsed(client, site):
    body = '{"visitor_id": "visitor-0001", "events": ' + "[" * 10_000 + "]" * 10_000 + "}"
    response = _post(client, site, body)
    assert response.status_code == 400
    assert response.json()["error"] == "payload nested deeper than 64 levels"
