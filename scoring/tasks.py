"""Celery tasks: thin, id-based, idempotent wrappers around the rescoring services."""

from collections.abc import Iterable

from celery import shared_task

from .models import Lead
from .rescoring import CHUNK_SIZE, leads_rescore


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def rescore_leads(lead_ids: list[int], slugs: list[str] | None = None) -> int:
    """Rescore some leads; safe to run twice (it recomputes from the data, then upserts)."""
    return leads_rescore(lead_ids=lead_ids, slugs=slugs).scores_written


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def rescore_model(scoring_model_id: int) -> int:
    """Fan a full rescore of one model out into chunks on the bulk queue."""
    from .models import ScoringModel

    slug = ScoringModel.objects.filter(pk=scoring_model_id).values_list("slug", flat=True).first()
    if slug is None:
        return 0
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK_SIZE):
        rescore_leads.apply_async(args=[ids[start : start + CHUNK_SIZE], [slug]], queue="bulk")
    return len(ids)


def enqueue_rescore(lead_ids: Iterable[int], *, queue: str = "default") -> int:
    """Send rescoring of these leads to the workers in chunks (run inline when tasks are eager)."""
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), CHUNK_SIZE):
        rescore_leads.apply_async(args=[ids[start : start + CHUNK_SIZE]], queue=queue)
    return len(ids)
