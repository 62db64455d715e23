"""With Redis down (cache and broker), pages and the API keep answering; nothing accepted is lost.

The test runs a Redis of its own on a free port, so stopping it leaves the machine's shared Redis
(other test runs use it) alone. Sessions are `cached_db`, so sign-in reads and writes the
database; the cache (leadscoring.cache.DegradingRedisCache) serves every operation as a miss; the
flush task cannot be sent and waits in PendingRescore for the sweep once Redis is back.
"""

import logging
import shutil
import socket
import subprocess
import time
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.test import APIClient

import leadscoring.cache
from leadscoring.celery import app
from reports.selectors import dashboard_get, default_filters
from scoring.models import Activity, LeadScore, PendingRescore
from scoring.services import scoring_model_load
from scoring.tasks import rescore_pending, rescore_pending_sweep
from tests.factories import LeadFactory
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

MODEL = {
    "slug": "web", "name": "Web", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "hot", "min": 50}],
    "criteria": [{"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 5}],
}  # fmt: skip


class OwnRedis:
    """A throwaway redis-server on a port of its own, to stop and start again at will."""

    def __init__(self) -> None:
        with socket.socket() as probe:  # a port free now; the server takes it right after
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_for(answers, timeout=10, interval=0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(monkeypatch):  # type: ignore[no-untyped-def]
    """Cache and broker on a Redis of the test's own."""
    server = OwnRedis()
    cache = {
        "BACKEND": "leadscoring.cache.DegradingRedisCache",
        "LOCATION": server.url,
        "KEY_PREFIX": settings.REDIS_KEY_PREFIX,
    }
    # The app reads Django settings under the CELERY_ namespace: the key carries it too. Its
    # connection and producer pools, made for the shared Redis by earlier tests, are set aside
    # (as Celery does after a fork) and come back afterwards.
    monkeypatch.setattr(app.conf, "CELERY_BROKER_URL", server.url)
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    assert app.connection_for_write().as_uri() == server.url  # never the shared Redis
    # override_settings resets django.core.cache.caches on enter and exit (setting_changed).
    try:
        server.start()
        with override_settings(CACHES={"default": cache}):
            yield server
    finally:
        app.amqp.producer_pool.connections.force_close_all()
        server.stop()


def test_pages_and_the_api_work_while_redis_is_down_and_catch_up_after(
    own_redis, sales_user, marketing_user, monkeypatch, caplog
):
    scoring_model = scoring_model_load(data=MODEL)[0]  # eager: scores the (no) leads inline
    lead = LeadFactory(email="anna@firma.de")
    # The autouse fixture runs tasks inline; here the flush must go through the broker.
    monkeypatch.setattr(app.conf, "CELERY_TASK_ALWAYS_EAGER", False)
    monkeypatch.setattr(leadscoring.cache, "_warned_at", None)
    own_redis.stop()

    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        browser = Client()
        assert browser.get("/login/").status_code == 200
        signed_in = browser.post("/login/", {"username": "sam", "password": "pw-sam"})
        assert signed_in.status_code == 302, signed_in.content[:500]
        assert browser.get("/queue/").status_code == 200
        assert browser.get("/queue/").status_code == 200  # the session is read back from the DB

        api = APIClient()
        api.force_authenticate(marketing_user)
        batch = [{"email": "anna@firma.de", "kind": "page_view", "external_id": "down-1"}]
        response = api.post("/api/v1/activities/bulk/", {"activities": batch}, format="json")
        assert response.status_code == 200, response.content[:500]
        assert response.json()["created"] == 1
        # The report's compute lock cannot be seen: the request computes instead of waiting.
        assert dashboard_get(filters=default_filters()[0]) is not None
    assert time.monotonic() - started < 10

    assert Activity.objects.filter(lead=lead, external_id="down-1").exists()
    assert PendingRescore.objects.filter(lead=lead, taken_by__isnull=True).exists()
    assert not LeadScore.objects.filter(lead=lead, total__gt=0).exists()
    outage = [r.getMessage() for r in caplog.records if r.name == "leadscoring.cache"]
    assert len(outage) == 1 and "Redis cache unreachable" in outage[0]  # once, not per call
    assert any("Rescore flush not sent" in r.getMessage() for r in caplog.records)

    # Redis is back: beat's sweep sends the flush through the broker again...
    own_redis.start()
    rescore_pending_sweep()
    queued = redis.Redis.from_url(own_redis.url).llen(settings.REDIS_KEY_PREFIX + "default")
    assert queued == 1
    # ...and the flush (run here in place of a worker) scores the lead that waited.
    monkeypatch.setattr(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    assert rescore_pending() == 1
    score = LeadScore.objects.get(lead=lead, scoring_model=scoring_model)
    assert score.total == Decimal(5)
    assert not PendingRescore.objects.filter(lead=lead).exists()
