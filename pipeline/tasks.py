"""Celery tasks of the sales queue: thin, idempotent wrappers around pipeline.services."""

from celery import shared_task

from .services import handoffs_mark_sla_breached, priorities_refresh


@shared_task(  # type: ignore[untyped-decorator]  # celery ships no type information
    acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def mark_sla_breaches() -> int:
    """Mark new handoffs past their follow-up time (each once); safe to run at any time."""
    return handoffs_mark_sla_breached()


@shared_task(  # type: ignore[untyped-decorator]  # celery ships no type information
    acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def refresh_queue_priorities(due_only: bool = True) -> int:
    """Store the queue priority of open handoffs whose buying signal left the window (or, with
    due_only=False, of all of them); safe to run at any time."""
    return priorities_refresh(due_only=due_only)
