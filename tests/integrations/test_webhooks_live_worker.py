"""A real Celery worker delivers a webhook and retries it with backoff after a failure."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from pipeline.handoffs import handoff_accept
from scoring.models import Handoff
from tests.factories import LeadFactory
from tests.integration.conftest import live_worker, wait_for  # noqa: F401 - fixture

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker]


@pytest.fixture
def fast_retries(monkeypatch):  # type: ignore[no-untyped-def]
    # Read by the worker process at start: a failed attempt is retried after 1 s, not 30 s.
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "1")


def test_worker_retries_a_failed_delivery_until_it_succeeds(
    fast_retries,
    receiver,
    web_model,
    sales_user,
    live_worker,  # noqa: F811
):
    WebhookEndpoint.objects.create(
        name="CRM", url=receiver.url, events=[WebhookEvent.HANDOFF_ACCEPTED]
    )
    receiver.codes = [500]
    handoff = Handoff.objects.create(
        lead=LeadFactory(), scoring_model=web_model, score_at_handoff=12,
        sla_due_at=timezone.now() + timedelta(hours=8),
    )  # fmt: skip
    handoff_accept(handoff_id=handoff.pk, user=sales_user)  # commits; the signal enqueues

    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SUCCEEDED).first(),
        timeout=60,
    )
    assert delivery.attempts == 2 and delivery.last_status_code == 204
    assert len(receiver.requests) == 2
    assert receiver.json()["event"] == "handoff.accepted"
