"""Outbound webhooks against a real local HTTP receiver: signed JSON, retries, log, resend."""

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.tasks import deliver_webhook
from integrations.webhooks import (
    SIGNATURE_HEADER,
    deliveries_for_handoffs,
    retry_delay,
    webhook_deliver,
    webhook_deliveries_resend,
)
from pipeline.handoffs import handoff_accept
from scoring.models import Handoff, ScoreEvent
from scoring.rescoring import leads_rescore
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status


def _endpoint(receiver, *events: str) -> WebhookEndpoint:  # type: ignore[no-untyped-def]
    return WebhookEndpoint.objects.create(name="CRM", url=receiver.url, events=list(events))


def _handoff(web_model) -> Handoff:  # type: ignore[no-untyped-def]
    return Handoff.objects.create(
        lead=LeadFactory(email="eva@kunde.de"), scoring_model=web_model, score_at_handoff=12,
        sla_due_at=timezone.now() + timedelta(hours=8),
    )  # fmt: skip


def _deliver_all() -> None:
    # Without a broker the on-commit task already ran; with one, nothing consumes it here,
    # so the service is called directly (it does nothing for an already delivered row).
    for delivery_id in WebhookDelivery.objects.values_list("pk", flat=True):
        webhook_deliver(delivery_id=delivery_id)


def test_a_handoff_action_is_delivered_signed_to_subscribed_endpoints(
    receiver, web_model, sales_user, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(receiver, WebhookEvent.HANDOFF_ACCEPTED)
    _endpoint(receiver, WebhookEvent.HANDOFF_REJECTED)  # not subscribed to this event
    handoff = _handoff(web_model)
    with django_capture_on_commit_callbacks(execute=True):
        handoff_accept(handoff_id=handoff.pk, user=sales_user)
    _deliver_all()
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    expected = hmac.new(endpoint.secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"][SIGNATURE_HEADER] == f"sha256={expected}"
    assert request["headers"]["Content-Type"] == "application/json"
    body = receiver.json()
    assert (
        body["event"] == "handoff.accepted" and body["event_id"] == f"handoff:{handoff.pk}:accepted"
    )
    assert body["data"]["handoff"]["status"] == "accepted"
    assert body["data"]["lead"]["email"] == "eva@kunde.de"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.SUCCEEDED,
        1,
        204,
    )
    assert delivery.delivered_at is not None


def test_lead_becoming_mql_and_band_changes_are_delivered(
    receiver, web_model, django_capture_on_commit_callbacks
):
    _endpoint(receiver, WebhookEvent.LEAD_MQL, WebhookEvent.LEAD_BAND_CHANGED)
    lead = LeadFactory()
    for n in range(5):
        ActivityFactory(
            lead=lead, kind="page_view", occurred_at=timezone.now() - timedelta(hours=n + 1)
        )
    with django_capture_on_commit_callbacks(execute=True):
        leads_rescore(lead_ids=[lead.pk])
    assert ScoreEvent.objects.filter(lead=lead, kind="mql_reached").exists()
    _deliver_all()
    events = sorted(receiver.json(i)["event"] for i in range(len(receiver.requests)))
    assert "lead.mql" in events
    mql = next(receiver.json(i) for i in range(len(receiver.requests))
               if receiver.json(i)["event"] == "lead.mql")  # fmt: skip
    assert mql["data"]["lead"]["id"] == lead.pk and mql["data"]["score"]["to_total"] == 10
    assert mql["data"]["scoring_model"]["slug"] == "web"


def test_the_same_event_is_recorded_once_per_endpoint(receiver, web_model):
    _endpoint(receiver, WebhookEvent.HANDOFF_CREATED)
    handoff = _handoff(web_model)
    first = deliveries_for_handoffs(handoff_ids=[handoff.pk], action="created")
    again = deliveries_for_handoffs(handoff_ids=[handoff.pk], action="created")
    assert len(first) == 1 and again == []
    assert WebhookDelivery.objects.count() == 1
    assert deliveries_for_handoffs(handoff_ids=[handoff.pk], action="assigned") == []


@override_settings(WEBHOOK_MAX_ATTEMPTS=3)
def test_failures_are_logged_and_retried_until_the_last_attempt(receiver, web_model):
    _endpoint(receiver, WebhookEvent.HANDOFF_CREATED)
    receiver.codes = [500, 503, 502]
    [delivery_id] = deliveries_for_handoffs(handoff_ids=[_handoff(web_model).pk], action="created")
    WebhookDelivery.objects.filter(pk=delivery_id).update(status=Status.PENDING)
    outcomes = [webhook_deliver(delivery_id=delivery_id) for _ in range(3)]
    assert [(d.status, d.attempts, d.last_status_code) for d in outcomes] == [
        (Status.RETRYING, 1, 500), (Status.RETRYING, 2, 503), (Status.FAILED, 3, 502),
    ]  # fmt: skip
    # The status line only: the answer's body echoed the payload, with the person's e-mail.
    assert outcomes[-1].last_error == "HTTP 502 Receiver Says No"
    assert b"eva@kunde.de" in receiver.requests[-1]["body"]
    assert webhook_deliver(delivery_id=delivery_id) is None  # failed: no more attempts
    assert len(receiver.requests) == 3


def test_an_unreachable_endpoint_is_logged_as_an_error(web_model):
    WebhookEndpoint.objects.create(name="Down", url="http://127.0.0.1:9/hook",
                                   events=[WebhookEvent.HANDOFF_CREATED])  # fmt: skip
    [delivery_id] = deliveries_for_handoffs(handoff_ids=[_handoff(web_model).pk], action="created")
    delivery = webhook_deliver(delivery_id=delivery_id)
    assert delivery.status == Status.RETRYING and delivery.last_status_code is None
    assert "ConnectionError" in delivery.last_error


def test_backoff_doubles_and_is_capped():
    assert [retry_delay(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(30) == 20 * 60


def test_a_task_in_process_marks_a_failure_for_resend_instead_of_looping(receiver, web_model):
    _endpoint(receiver, WebhookEvent.HANDOFF_CREATED)
    receiver.codes = [500]
    [delivery_id] = deliveries_for_handoffs(handoff_ids=[_handoff(web_model).pk], action="created")
    WebhookDelivery.objects.filter(pk=delivery_id).update(status=Status.PENDING, attempts=0)
    assert deliver_webhook.apply(args=[delivery_id]).get() == Status.FAILED
    assert len(receiver.requests) == 1


def test_resend_starts_a_fresh_series_of_attempts(
    receiver, web_model, django_capture_on_commit_callbacks
):
    _endpoint(receiver, WebhookEvent.HANDOFF_CREATED)
    [delivery_id] = deliveries_for_handoffs(handoff_ids=[_handoff(web_model).pk], action="created")
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=Status.FAILED, attempts=8, last_error="HTTP 500"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_deliveries_resend(delivery_ids=[delivery_id]) == 1
    _deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (Status.SUCCEEDED, 1, "")
    assert len(receiver.requests) == 1


def test_a_delivery_being_sent_is_not_sent_twice(receiver, web_model):
    _endpoint(receiver, WebhookEvent.HANDOFF_CREATED)
    [delivery_id] = deliveries_for_handoffs(handoff_ids=[_handoff(web_model).pk], action="created")
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=Status.SENDING, last_attempt_at=timezone.now()
    )
    assert webhook_deliver(delivery_id=delivery_id) is None
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        last_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert webhook_deliver(delivery_id=delivery_id).status == Status.SUCCEEDED
