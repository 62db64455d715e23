"""Outbound webhooks follow scoring's and the pipeline's after-commit signals."""

from typing import Any

from django.dispatch import receiver

from pipeline.signals import handoff_changed
from scoring.signals import score_events_recorded

from . import webhooks


@receiver(score_events_recorded, dispatch_uid="integrations.webhooks.score_events")
def score_events_to_webhooks(sender: object, event_ids: list[int], **kwargs: Any) -> None:
    webhooks.deliveries_for_score_events(event_ids=event_ids)


@receiver(handoff_changed, dispatch_uid="integrations.webhooks.handoff")
def handoff_to_webhooks(sender: object, handoff_ids: list[int], action: str, **kwargs: Any) -> None:
    webhooks.deliveries_for_handoffs(handoff_ids=handoff_ids, action=action)
