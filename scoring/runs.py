"""Full rescore runs: one model's published version applied to every lead, in chunks.

A run is split into id ranges of RUN_CHUNK_SIZE leads; each chunk is an independent task, so
more workers finish sooner. A newer run of the same model supersedes a running one, whose
remaining chunks then do nothing. A chunk counts once even when its task is delivered twice.
"""

from dataclasses import dataclass

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
        status=RescoreRun.Status.RUNNING if ranges else RescoreRun.Status.DONE,
        finished_at=None if ranges else now,
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


def run_chunk(*, run_id: int, chunk: ChunkRange) -> str:
    """Rescore one chunk of a run; returns what happened ("done", "superseded", "repeat")."""
    run = RescoreRun.objects.filter(pk=run_id).values("status", "version_id").first()
    if run is None or run["status"] != RescoreRun.Status.RUNNING:
        return "superseded"
    model = _published(run["version_id"])
    lead_ids = list(
        Lead.objects.filter(pk__gte=chunk.first_id, pk__lte=chunk.last_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        _, created = RescoreChunk.objects.get_or_create(
            run_id=run_id, first_lead_id=chunk.first_id, defaults={"leads": chunk.leads}
        )
        if not created:
            return "repeat"
        leads_rescore_chunk(lead_ids=lead_ids, models=[model], now=timezone.now())
        if connection.vendor == "postgresql":
            # The chunk's references checked now rather than at commit: the run's row, which
            # every worker's chunk updates, then stays locked only for the commit itself.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        RescoreRun.objects.filter(pk=run_id).update(
            done=F("done") + chunk.leads, chunks_finished=F("chunks_finished") + 1
        )
    _finish_if_complete(run_id)
    return "done"


def run_chunk_failed(*, run_id: int, chunk: ChunkRange) -> None:
    """Count a chunk that failed for good, so the run still finishes (as failed)."""
    with transaction.atomic():
        _, created = RescoreChunk.objects.get_or_create(
            run_id=run_id,
            first_lead_id=chunk.first_id,
            defaults={"leads": chunk.leads, "failed": True},
        )
        if created:
            RescoreRun.objects.filter(pk=run_id).update(
                failed=F("failed") + chunk.leads, chunks_finished=F("chunks_finished") + 1
            )
    _finish_if_complete(run_id)
