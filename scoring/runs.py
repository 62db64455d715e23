"""Full rescore runs: one model's published version applied to every lead, in chunks.

A run is split into id ranges of RUN_CHUNK_SIZE leads; each chunk is an independent task, so
more workers finish sooner. A newer run of the same model supersedes a running one, whose
remaining chunks then do nothing. A chunk counts once even when its task is delivered twice.

Every chunk of a run is planned (a RescoreChunk row, pending) when the run starts, and its
worker claims the row for the chunk's whole transaction. A chunk whose worker died is therefore
pending and unlocked; runs_sweep, every minute, sends such chunks of runs that stopped moving
again, instead of leaving them to the broker's visibility timeout (half an hour).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from .models import (
    Handoff,
    HandoffAction,
    Lead,
    LeadScore,
    RescoreChunk,
    RescoreRun,
    ScoreEvent,
    ScoringModel,
    ScoringModelVersion,
)
from .rescoring import PublishedModel, leads_rescore_chunk, version_spec

# Larger than the rescoring of fresh activities: each chunk costs a dozen statements whatever
# its size, and one range of 25,000 leads finds its activities in fewer page reads than five
# ranges of 5,000 (a lead's activities lie all over the table); a million leads still make
# forty chunks for the workers to share, and the progress bar moves every 2.5%.
RUN_CHUNK_SIZE = 25000

# A running run that finished no chunk for this long has lost one (its worker was killed) or
# waits behind other bulk work. A chunk takes seconds, not minutes, so a healthy run moves well
# within it; a longer limit leaves leads on the old version longer, a shorter one sends more
# chunks that merely wait in the queue again (harmless: a duplicate does nothing). A chunk
# still being worked on is never sent again, however long it takes (its row is locked).
RUN_STALL_LIMIT = timedelta(minutes=2)


@dataclass(frozen=True)
class ChunkRange:
    first_id: int
    last_id: int
    leads: int


def chunk_ranges(chunk_size: int = RUN_CHUNK_SIZE) -> list[ChunkRange]:
    """Consecutive id ranges holding chunk_size leads each (the last one fewer), in one query."""
    table = Lead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MIN(id), MAX(id), COUNT(*) FROM (SELECT id, "  # noqa: S608 - fixed names
            f"(ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS chunk FROM {table}) numbered "
            "GROUP BY chunk ORDER BY 1",
            [chunk_size],
        )
        return [ChunkRange(*row) for row in cursor.fetchall()]


@transaction.atomic
def run_start(
    *, scoring_model_id: int, trigger: str, chunk_size: int = RUN_CHUNK_SIZE
) -> tuple[RescoreRun | None, list[ChunkRange]]:
    """Open a run of the model's published version, superseding any run still going."""
    model = ScoringModel.objects.select_for_update().filter(pk=scoring_model_id).first()
    if model is None or model.published_version_id is None:
        return None, []
    now = timezone.now()
    RescoreRun.objects.filter(scoring_model=model, status=RescoreRun.Status.RUNNING).update(
        status=RescoreRun.Status.SUPERSEDED, finished_at=now
    )
    ranges = chunk_ranges(chunk_size)
    run = RescoreRun.objects.create(
        scoring_model=model,
        version_id=model.published_version_id,
        trigger=trigger,
        total=sum(r.leads for r in ranges),
        chunks=len(ranges),
        started_at=now,
        progressed_at=now,
        status=RescoreRun.Status.RUNNING if ranges else RescoreRun.Status.DONE,
        finished_at=None if ranges else now,
    )
    RescoreChunk.objects.bulk_create(
        RescoreChunk(run=run, first_lead_id=r.first_id, last_lead_id=r.last_id, leads=r.leads)
        for r in ranges
    )
    return run, ranges


def _published(version_id: int) -> PublishedModel:
    version = ScoringModelVersion.objects.get(pk=version_id)
    return PublishedModel(version.scoring_model_id, version, version_spec(version))


# What a run rewrites: its model's scores, and the events, handoffs and stages of crossings.
_WRITTEN_BY_RUNS = (LeadScore, ScoreEvent, Handoff, HandoffAction, Lead)


def _finish_if_complete(run_id: int) -> None:
    finished = RescoreRun.objects.filter(
        pk=run_id, status=RescoreRun.Status.RUNNING, chunks_finished__gte=F("chunks")
    ).update(
        status=Case(
            When(failed__gt=0, then=Value(RescoreRun.Status.FAILED)),
            default=Value(RescoreRun.Status.DONE),
        ),
        finished_at=timezone.now(),
    )
    if finished and connection.vendor == "postgresql":
        statistics_refresh()


def statistics_refresh() -> None:
    """Let the planner know what a run wrote. Statistics from before it (a model without
    scores, no handoffs yet) mislead the pages and rescores that follow until autovacuum
    analyzes the tables, and where autovacuum is off, for good."""
    tables = ", ".join(model._meta.db_table for model in _WRITTEN_BY_RUNS)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def _chunk_claim(run_id: int, chunk: ChunkRange, *, now: datetime, failed: bool = False) -> bool:
    """Mark the chunk finished, inside the caller's transaction; False if it already was.

    The updated row stays locked until the caller commits: a second delivery of the chunk waits
    for it, then finds it finished, and the sweep (which skips locked rows) leaves it alone.
    """
    claimed = RescoreChunk.objects.filter(
        run_id=run_id, first_lead_id=chunk.first_id, finished_at__isnull=True
    ).update(finished_at=now, failed=failed)
    if claimed:
        return True
    # Runs started before chunks were planned (migration 0013) have no row for the chunk: its
    # first delivery records it, as it always did. A planned chunk finds its row here.
    _, created = RescoreChunk.objects.get_or_create(
        run_id=run_id,
        first_lead_id=chunk.first_id,
        defaults={
            "last_lead_id": chunk.last_id,
            "leads": chunk.leads,
            "failed": failed,
            "finished_at": now,
        },
    )
    return created


def run_chunk(*, run_id: int, chunk: ChunkRange) -> str:
    """Rescore one chunk of a run; returns what happened ("done", "superseded", "repeat")."""
    run = RescoreRun.objects.filter(pk=run_id).values("status", "version_id").first()
    if run is None or run["status"] != RescoreRun.Status.RUNNING:
        return "superseded"
    with transaction.atomic():
        now = timezone.now()
        # Claimed first, so that a duplicate (the sweep sends a chunk that merely waited in the
        # queue again) costs a couple of statements.
        if not _chunk_claim(run_id, chunk, now=now):
            return "repeat"
        model = _published(run["version_id"])
        lead_ids = list(
            Lead.objects.filter(pk__gte=chunk.first_id, pk__lte=chunk.last_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        leads_rescore_chunk(lead_ids=lead_ids, models=[model], now=now)
        if connection.vendor == "postgresql":
            # The chunk's references checked now rather than at commit: the run's row, which
            # every worker's chunk updates, then stays locked only for the commit itself.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        RescoreRun.objects.filter(pk=run_id).update(
            done=F("done") + chunk.leads,
            chunks_finished=F("chunks_finished") + 1,
            progressed_at=now,
        )
    _finish_if_complete(run_id)
    return "done"


def run_chunk_failed(*, run_id: int, chunk: ChunkRange) -> None:
    """Count a chunk that failed for good, so the run still finishes (as failed)."""
    with transaction.atomic():
        now = timezone.now()
        if _chunk_claim(run_id, chunk, now=now, failed=True):
            RescoreRun.objects.filter(pk=run_id).update(
                failed=F("failed") + chunk.leads,
                chunks_finished=F("chunks_finished") + 1,
                progressed_at=now,
            )
    _finish_if_complete(run_id)


def runs_sweep(*, now: datetime) -> list[tuple[int, ChunkRange]]:
    """The chunks to send again: those of stalled runs that are pending and nobody works on.

    A stalled run with no such chunk may only lack its last step (a worker killed between a
    chunk's commit and _finish_if_complete); it is finished here.
    """
    stalled = RescoreRun.objects.filter(
        status=RescoreRun.Status.RUNNING, progressed_at__lt=now - RUN_STALL_LIMIT
    ).values_list("pk", flat=True)
    lost: list[tuple[int, ChunkRange]] = []
    for run_id in list(stalled):
        _finish_if_complete(run_id)
        lost.extend((run_id, chunk) for chunk in _chunks_unheld(run_id, now=now))
    return lost


@transaction.atomic
def _chunks_unheld(run_id: int, *, now: datetime) -> list[ChunkRange]:
    """The run's pending chunks that no open transaction holds, marking the run as moved.

    A chunk being worked on is locked by its worker's transaction, so SKIP LOCKED passes over
    it; a killed worker's connection is gone, and its lock with it. Moving progressed_at on
    keeps the next sweeps from sending the same chunks every minute. (SQLite, without row
    locks, sees every pending chunk; it runs with eager tasks, which lose none.)
    """
    rows = (
        RescoreChunk.objects.select_for_update(skip_locked=True)
        .filter(run_id=run_id, finished_at__isnull=True, last_lead_id__isnull=False)
        .order_by("first_lead_id")
        .values_list("first_lead_id", "last_lead_id", "leads")
    )
    # `last is not None` again for the type checker: the query leaves out chunks without one.
    chunks = [ChunkRange(first, last, leads) for first, last, leads in rows if last is not None]
    if not chunks:
        return []
    moved = RescoreRun.objects.filter(pk=run_id, status=RescoreRun.Status.RUNNING).update(
        progressed_at=now
    )
    return chunks if moved else []
