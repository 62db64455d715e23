"""Outbound webhooks: which events go where, signed JSON deliveries, retries and resends.

A delivery row is written per (endpoint, event) before anything is sent, so every attempt is
logged and a lost task can be resent. Bodies are signed with HMAC-SHA256 of the raw body, sent
as `X-Leadscoring-Signature: sha256=<hex>`.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from scoring.models import Handoff, Lead, ScoreEvent, ScoreEventKind, ScoringModel

from .addresses import webhook_address_problem
from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent

SIGNATURE_HEADER = "X-Leadscoring-Signature"
_SCORE_EVENTS = {
    ScoreEventKind.MQL_REACHED: WebhookEvent.LEAD_MQL,
    ScoreEventKind.BAND_CHANGED: WebhookEvent.LEAD_BAND_CHANGED,
}
_HANDOFF_EVENTS = {
    "created": WebhookEvent.HANDOFF_CREATED,
    "accepted": WebhookEvent.HANDOFF_ACCEPTED,
    "rejected": WebhookEvent.HANDOFF_REJECTED,
}
# Longest wait between two attempts; kept below the broker's visibility timeout, or a waiting
# retry would be handed to a second worker.
_MAX_RETRY_DELAY = 20 * 60
# A refusal is kept as its status line: an answer's body may echo the payload (personal data)
# and would sit where admins read it, so it is not even downloaded.
_REASON_MAX_CHARS = 200


def sign(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt: base, 2×base, 4×base, … up to 20 minutes."""
    base: int = settings.WEBHOOK_RETRY_BASE_SECONDS
    factor: int = 2 ** max(attempts - 1, 0)  # typeshed says Any: a negative power is a float
    return min(base * factor, _MAX_RETRY_DELAY)


def _lead(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.pk,
        "external_id": lead.external_id,
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "lifecycle_stage": lead.lifecycle_stage,
    }


def _model(scoring_model: ScoringModel) -> dict[str, Any]:
    return {"slug": scoring_model.slug, "name": scoring_model.name}


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def deliveries_create(*, event: str, payloads: Iterable[tuple[str, dict[str, Any]]]) -> list[int]:
    """Record one delivery per subscribed endpoint and payload, and send them after commit.

    `payloads` yields (event key, data); a key already delivered to an endpoint is skipped.
    """
    endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if event in e.events]
    if not endpoints:
        return []
    now = timezone.now()
    rows = [
        WebhookDelivery(
            endpoint=endpoint, event=event, event_key=key, created_at=now,
            payload={"event": event, "event_id": key, "occurred_at": now.isoformat(), "data": data},
        )
        for key, data in payloads
        for endpoint in endpoints
    ]  # fmt: skip
    if not rows:
        return []
    from .tasks import deliver_webhook

    keys = {row.event_key for row in rows}
    with transaction.atomic():
        known = set(
            WebhookDelivery.objects.filter(endpoint__in=endpoints, event_key__in=keys).values_list(
                "endpoint_id", "event_key"
            )
        )
        new = [row for row in rows if (row.endpoint.pk, row.event_key) not in known]
        # ignore_conflicts: a concurrent sender may record the same event first; its rows
        # carry another creation time, so only ours are picked up below.
        WebhookDelivery.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
        ids = list(
            WebhookDelivery.objects.filter(
                endpoint__in=endpoints, event_key__in={row.event_key for row in new},
                created_at=now,
            ).values_list("pk", flat=True)
        )  # fmt: skip
        for delivery_id in ids:
            deliver_webhook.delay_on_commit(delivery_id)
    return ids


def deliveries_for_score_events(*, event_ids: Iterable[int]) -> list[int]:
    """Deliveries for MQL and band changes among these score events."""
    if not WebhookEndpoint.objects.filter(active=True).exists():
        return []
    events = ScoreEvent.objects.filter(pk__any_of=list(event_ids), kind__in=list(_SCORE_EVENTS))
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for ev in events.select_related("lead", "scoring_model", "version").order_by("pk"):
        by_kind.setdefault(_SCORE_EVENTS[ScoreEventKind(ev.kind)], []).append(
            (
                f"score_event:{ev.pk}",
                {
                    "lead": _lead(ev.lead),
                    "scoring_model": _model(ev.scoring_model),
                    "version": ev.version.number,
                    "score": {
                        "from_total": _number(ev.from_total),
                        "to_total": _number(ev.to_total),
                        "from_band": ev.from_band,
                        "to_band": ev.to_band,
                        "reason": ev.reason,
                    },
                    "at": ev.occurred_at.isoformat(),
                },
            )
        )
    ids: list[int] = []
    for event, payloads in by_kind.items():
        ids += deliveries_create(event=event, payloads=payloads)
    return ids


def deliveries_for_handoffs(*, handoff_ids: Iterable[int], action: str) -> list[int]:
    """Deliveries for handoffs that one action changed (a rescore opens hundreds at once)."""
    event = _HANDOFF_EVENTS.get(action)
    if event is None or not WebhookEndpoint.objects.filter(active=True).exists():
        return []
    handoffs = Handoff.objects.select_related("lead", "scoring_model", "owner").filter(
        pk__any_of=list(handoff_ids)
    )
    payloads = [
        (
            # A handoff is created, accepted and rejected at most once each: the key is unique.
            f"handoff:{handoff.pk}:{action}",
            {
                "handoff": {
                    "id": handoff.pk,
                    "status": handoff.status,
                    "owner": handoff.owner.get_username() if handoff.owner else None,
                    "score_at_handoff": _number(handoff.score_at_handoff),
                    "trigger": handoff.trigger,
                    "sla_due_at": handoff.sla_due_at.isoformat(),
                    "reason": handoff.reason,
                    "note": handoff.note,
                },
                "lead": _lead(handoff.lead),
                "scoring_model": _model(handoff.scoring_model),
            },
        )
        for handoff in handoffs.order_by("pk")
    ]
    return deliveries_create(event=event, payloads=payloads) if payloads else []


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one attempt; a second worker with the same task gets nothing.

    A 'sending' row whose worker died is taken again once the request would have timed out.
    """
    stale = now - timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3)
    return bool(
        WebhookDelivery.objects.filter(
            Q(status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING])
            | Q(status=WebhookDelivery.Status.SENDING, last_attempt_at__lt=stale),
            pk=delivery_id,
        ).update(
            status=WebhookDelivery.Status.SENDING, attempts=F("attempts") + 1, last_attempt_at=now
        )
    )


def webhook_deliver(*, delivery_id: int, may_retry: bool = True) -> WebhookDelivery | None:
    """Make one attempt; None when the delivery is done or another worker has it.

    A failure leaves the delivery 'retrying' (the caller schedules the next attempt) until the
    last allowed attempt, or at once when `may_retry` is off; then it is 'failed'.
    """
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "leadscoring-webhooks/1",
        "X-Leadscoring-Event": delivery.event,
        "X-Leadscoring-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(secret=delivery.endpoint.secret, body=body),
    }
    refused = webhook_address_problem(delivery.endpoint.url)
    code, error = (None, f"Refused: {refused}") if refused else _post(delivery, body, headers)
    if not error:
        status = WebhookDelivery.Status.SUCCEEDED
    elif may_retry and delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS:
        status = WebhookDelivery.Status.RETRYING
    else:
        status = WebhookDelivery.Status.FAILED
    delivery.status, delivery.last_status_code, delivery.last_error = status, code, error
    if status == WebhookDelivery.Status.SUCCEEDED:
        delivery.delivered_at = timezone.now()
    delivery.save(update_fields=["status", "last_status_code", "last_error", "delivered_at"])
    return delivery


def _post(
    delivery: WebhookDelivery, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str]:
    """One POST: the status code (None without an answer) and the error ("" on success): the
    answer's status line, never its body."""
    try:
        with requests.post(
            delivery.endpoint.url, data=body, headers=headers, allow_redirects=False,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS, stream=True,
        ) as response:  # fmt: skip
            code, reason = response.status_code, response.reason or ""
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:1000]
    if 200 <= code < 300:
        return code, ""
    return code, f"HTTP {code} {reason}".strip()[:_REASON_MAX_CHARS]


def webhook_deliveries_resend(*, delivery_ids: Iterable[int]) -> int:
    """Send these deliveries again from the start (a fresh series of attempts)."""
    from .tasks import deliver_webhook

    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(pk__in=list(delivery_ids))
            .exclude(status=WebhookDelivery.Status.SENDING)
            .values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=WebhookDelivery.Status.PENDING, attempts=0, last_error="",
            last_status_code=None, delivered_at=None,
        )  # fmt: skip
        for delivery_id in ids:
            deliver_webhook.delay_on_commit(delivery_id)
    return len(ids)
