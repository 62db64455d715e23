"""Celery tasks: thin, id-based, idempotent wrappers around the rescoring services.

Queues: "default" for fresh activities (kept fast), "bulk" for the chunks of full runs.
"""

from datetime import datetime

from celery import Task, shared_task
from django.db import transaction
from django.utils import timezone

from .engine import is_time_dependent
from .ingest import flush_flag_clear, flush_schedule, pending_done, pending_take, pending_waiting
from .models import RescoreRun
from .rescoring import leads_rescore, published_models
from .runs import RUN_CHUNK_SIZE, ChunkRange, run_chunk, run_chunk_failed, run_start, runs_sweep

# Leads rescored per transaction when draining the pending queue, and transactions per task.
PENDING_BATCH = 500
PENDING_ROUNDS = 20
_TASK = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}
# celery ships no type information: to mypy its decorators are untyped (hence the ignores).


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def rescore_leads(lead_ids: list[int], slugs: list[str] | None = None) -> int:
    """Rescore some leads; safe to run twice (it recomputes from the data, then upserts)."""
    return leads_rescore(lead_ids=lead_ids, slugs=slugs).scores_written


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def rescore_pending() -> int:
    """Rescore the leads waiting in PendingRescore, a batch per transaction.

    A failed batch goes back into the queue and a crashed one is taken again after
    PENDING_STALE, so no request is lost; a busy queue is handed on to a fresh task instead of
    one task running forever.
    """
    flush_flag_clear()
    rescored = 0
    for _ in range(PENDING_ROUNDS):
        token, lead_ids = pending_take(PENDING_BATCH)
        if not lead_ids:
            return rescored
        try:
            with transaction.atomic():
                leads_rescore(lead_ids=lead_ids)
        except Exception:
            pending_done(token, rescored=False)
            raise
        pending_done(token, rescored=True)
        rescored += len(lead_ids)
    flush_schedule()
    return rescored


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def rescore_pending_sweep() -> None:
    """Safety net: start a flush when requests wait but their task was lost (e.g. a restart)."""
    if pending_waiting():
        flush_flag_clear()
        flush_schedule()


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def rescore_model(
    scoring_model_id: int,
    trigger: str = RescoreRun.Trigger.PUBLISH,
    chunk_size: int = RUN_CHUNK_SIZE,
) -> int | None:
    """Start a full run of the model's published version, fanned out in chunks on "bulk"."""
    run, ranges = run_start(
        scoring_model_id=scoring_model_id, trigger=trigger, chunk_size=chunk_size
    )
    if run is None:
        return None
    for chunk in ranges:
        _chunk_send(run.pk, chunk)
    return run.pk


def _chunk_send(run_id: int, chunk: ChunkRange) -> None:
    rescore_run_chunk.apply_async(
        args=[run_id, chunk.first_id, chunk.last_id, chunk.leads], queue="bulk"
    )


@shared_task(bind=True, max_retries=3, **_TASK)  # type: ignore[untyped-decorator]
def rescore_run_chunk(self: Task, run_id: int, first_id: int, last_id: int, leads: int) -> str:
    chunk = ChunkRange(first_id, last_id, leads)
    try:
        return run_chunk(run_id=run_id, chunk=chunk)
    except Exception as exc:
        # Inline (eager) execution has nobody to retry later; give up at once there.
        if self.request.is_eager or self.request.retries >= self.max_retries:
            run_chunk_failed(run_id=run_id, chunk=chunk)
            raise
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def rescore_runs_sweep(now: datetime | None = None) -> int:
    """Every minute: send again the chunks of stalled runs that no worker holds (a killed
    worker's), rather than wait for the broker's visibility timeout. `now` is for tests."""
    lost = runs_sweep(now=now or timezone.now())
    for run_id, chunk in lost:
        _chunk_send(run_id, chunk)
    return len(lost)


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def refresh_time_dependent_scores() -> list[int]:
    """Daily: rescore the models whose scores move with time alone (decay, windows, inactivity)."""
    started = []
    for model in published_models():
        if is_time_dependent(model.spec):
            rescore_model.apply_async(
                args=[model.scoring_model_id, RescoreRun.Trigger.DAILY], queue="bulk"
            )
            started.append(model.scoring_model_id)
    return started
