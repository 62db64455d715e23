"""Celery tasks of the integrations: webhook delivery with backoff, and tracking housekeeping."""

from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from .models import WebhookDelivery
from .tracking import anonymous_visits_purge
from .webhooks import retry_delay, webhook_deliver

_TASK = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}
# celery ships no type information: to mypy its decorators are untyped (hence the ignores).


@shared_task(bind=True, **_TASK)  # type: ignore[untyped-decorator]
def deliver_webhook(self: Task, delivery_id: int) -> str | None:
    """One attempt; a failure schedules the next with exponential backoff.

    Without a broker (tasks run in-process) there is nothing to wait with, so a failed delivery
    is marked failed at once and can be resent from the admin.
    """
    delivery = webhook_deliver(delivery_id=delivery_id, may_retry=not self.request.is_eager)
    if delivery is None:
        return None
    if delivery.status == WebhookDelivery.Status.RETRYING:
        deliver_webhook.apply_async((delivery_id,), countdown=retry_delay(delivery.attempts))
    return delivery.status


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def purge_anonymous_visits() -> int:
    return anonymous_visits_purge(
        older_than=timedelta(days=settings.TRACKING_ANONYMOUS_RETENTION_DAYS)
    )
