"""Rate limits count per client address, and X-Forwarded-For names it only behind our proxies.

NUM_PROXIES (settings: REST_FRAMEWORK["NUM_PROXIES"]) is how many proxies of ours stand in front.
With 0 the header is ignored: anyone can write it, so believing it would let a caller give every
request a fresh bucket. Both throttles, the API's and the tracking beacon's, ask DRF's get_ident.
"""

import json

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory

from integrations.models import TrackingSite
from integrations.throttles import BeaconThrottle
from scoring.api.throttles import ApiRateThrottle

ORIGIN = "https://www.shop.example"
CLIENT = "203.0.113.7"  # what our proxy saw and appended


def test_by_default_no_proxy_is_believed():
    assert django_settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # tests run without NUM_PROXIES


@pytest.mark.parametrize("throttle", [ApiRateThrottle, lambda: BeaconThrottle("key")])
@pytest.mark.parametrize(
    "count, forwarded_for, ident",
    [
        (0, None, "10.0.0.1"),
        (0, "198.51.100.1", "10.0.0.1"),  # made up by the caller: ignored
        (1, None, "10.0.0.1"),  # no proxy on this request's way
        (1, CLIENT, CLIENT),
        (1, f"198.51.100.1, {CLIENT}", CLIENT),  # the caller's own entry comes first: ignored
        (2, f"198.51.100.1, {CLIENT}, 10.0.0.9", CLIENT),
    ],
)
def test_the_client_address(num_proxies, throttle, count, forwarded_for, ident):
    num_proxies(count)
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", **headers)
    assert throttle().get_ident(request) == ident


@pytest.fixture
def site(db):  # type: ignore[no-untyped-def]
    # A new random key per test: the beacon's counters start at zero.
    return TrackingSite.objects.create(name="Shop", allowed_origins=[ORIGIN])


def _post(client, site, forwarded_for: str, n: int):  # type: ignore[no-untyped-def]
    body = {
        "visitor_id": "visitor-0001",
        "events": [{"id": f"event-{n:04d}", "type": "page_view", "url": f"{ORIGIN}/",
                    "title": "/", "referrer": ""}],
    }  # fmt: skip
    return client.post(
        f"/t/{site.site_key}/collect/", json.dumps(body), content_type="text/plain",
        HTTP_ORIGIN=ORIGIN, HTTP_X_FORWARDED_FOR=forwarded_for, REMOTE_ADDR="10.0.0.1",
    )  # fmt: skip


def test_a_made_up_forwarded_for_does_not_dodge_the_beacon_limit(
    client, site, settings, num_proxies
):
    num_proxies(0)
    settings.TRACKING_THROTTLE_RATE = "2/min"
    codes = [
        _post(client, site, forwarded_for, n).status_code
        for n, forwarded_for in enumerate(["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    ]
    assert codes == [204, 204, 429]  # one connection address, one bucket


def test_behind_one_proxy_the_beacon_limits_the_address_it_saw(client, site, settings, num_proxies):
    num_proxies(1)
    settings.TRACKING_THROTTLE_RATE = "1/min"
    assert _post(client, site, CLIENT, 0).status_code == 204
    # The same client with a made-up entry in front: still its bucket.
    assert _post(client, site, f"198.51.100.1, {CLIENT}", 1).status_code == 429
    # Another client behind the same proxy (one REMOTE_ADDR): a bucket of its own.
    assert _post(client, site, "203.0.113.8", 2).status_code == 204
