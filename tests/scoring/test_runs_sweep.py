"""Runs plan their chunks, a chunk is claimed once, and the sweep sends again the lost ones."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from scoring import tasks
from scoring.models import LeadScore, RescoreChunk, RescoreRun
from scoring.runs import (
    RUN_STALL_LIMIT,
    ChunkRange,
    _chunk_claim,
    run_chunk,
    run_chunk_failed,
    run_start,
    runs_sweep,
)
from scoring.services import scoring_model_load
from tests.factories import LeadFactory

MODEL = {
    "slug": "m", "name": "M", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "hot", "min": 50}],
    "criteria": [{"name": "Page views", "type": "activity", "kinds": ["page_view"], "points": 5}],
}  # fmt: skip
STALLED = RUN_STALL_LIMIT + timedelta(seconds=1)


@pytest.fixture
def model(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model, _ = scoring_model_load(data=MODEL)
    return scoring_model


def _start(model, chunk_size: int = 2) -> tuple[RescoreRun, list[ChunkRange]]:
    return run_start(scoring_model_id=model.pk, trigger="manual", chunk_size=chunk_size)


def _pending(run: RescoreRun) -> list[int]:
    return list(
        RescoreChunk.objects.filter(run=run, finished_at__isnull=True)
        .order_by("first_lead_id")
        .values_list("first_lead_id", flat=True)
    )


@pytest.mark.django_db
class TestPlannedChunks:
    def test_a_run_records_every_chunk_it_plans_as_pending(self, model):
        LeadFactory.create_batch(5)
        run, ranges = _start(model)
        rows = RescoreChunk.objects.filter(run=run).order_by("first_lead_id")
        assert [(c.first_lead_id, c.last_lead_id, c.leads) for c in rows] == [
            (r.first_id, r.last_id, r.leads) for r in ranges
        ]
        assert len(ranges) == 3 and _pending(run) == [r.first_id for r in ranges]
        assert run.progressed_at == run.started_at

    def test_a_finished_chunk_is_claimed_once_and_a_repeat_does_nothing(self, model):
        LeadFactory.create_batch(3)
        run, ranges = _start(model)
        assert run_chunk(run_id=run.pk, chunk=ranges[0]) == "done"
        run.refresh_from_db()
        progressed, scored = run.progressed_at, list(LeadScore.objects.values("pk", "computed_at"))
        assert progressed > run.started_at
        assert _pending(run) == [ranges[1].first_id]
        assert run_chunk(run_id=run.pk, chunk=ranges[0]) == "repeat"
        run.refresh_from_db()
        assert (run.done, run.chunks_finished, run.progressed_at) == (2, 1, progressed)
        assert list(LeadScore.objects.values("pk", "computed_at")) == scored

    def test_a_chunk_that_failed_for_good_is_finished_and_counted_once(self, model):
        LeadFactory.create_batch(3)
        run, ranges = _start(model)
        run_chunk_failed(run_id=run.pk, chunk=ranges[1])
        run_chunk_failed(run_id=run.pk, chunk=ranges[1])
        assert RescoreChunk.objects.get(run=run, first_lead_id=ranges[1].first_id).failed
        assert run_chunk(run_id=run.pk, chunk=ranges[0]) == "done"
        run.refresh_from_db()
        assert (run.status, run.done, run.failed) == (RescoreRun.Status.FAILED, 2, 1)

    def test_a_run_started_before_chunks_were_planned_still_finishes(self, model):
        LeadFactory.create_batch(3)
        run, ranges = _start(model)
        RescoreChunk.objects.filter(run=run).delete()  # as a run started before migration 0013
        assert run_chunk(run_id=run.pk, chunk=ranges[0]) == "done"
        assert run_chunk(run_id=run.pk, chunk=ranges[0]) == "repeat"
        assert run_chunk(run_id=run.pk, chunk=ranges[1]) == "done"
        run.refresh_from_db()
        assert (run.status, run.done, run.chunks_finished) == (RescoreRun.Status.DONE, 3, 2)


@pytest.mark.django_db
class TestSweep:
    def test_it_sends_again_the_pending_chunks_of_a_stalled_run_once_per_stall(self, model):
        LeadFactory.create_batch(5)
        run, ranges = _start(model)
        run_chunk(run_id=run.pk, chunk=ranges[1])
        run.refresh_from_db()
        later = run.progressed_at + STALLED
        assert runs_sweep(now=later) == [(run.pk, ranges[0]), (run.pk, ranges[2])]
        run.refresh_from_db()
        assert run.progressed_at == later
        # The next minutes' sweeps leave them to the workers, until the run stalls again.
        assert runs_sweep(now=later + timedelta(minutes=1)) == []
        assert len(runs_sweep(now=later + STALLED)) == 2

    def test_it_leaves_a_run_alone_that_progressed_recently(self, model):
        LeadFactory.create_batch(5)
        run, ranges = _start(model)
        run_chunk(run_id=run.pk, chunk=ranges[0])
        run.refresh_from_db()
        assert runs_sweep(now=run.progressed_at + RUN_STALL_LIMIT - timedelta(seconds=1)) == []
        assert _pending(run) == [ranges[1].first_id, ranges[2].first_id]

    def test_it_leaves_superseded_and_finished_runs_alone(self, model):
        LeadFactory.create_batch(3)
        older, _ = _start(model)
        newer, ranges = _start(model)
        for chunk in ranges:
            run_chunk(run_id=newer.pk, chunk=chunk)
        assert runs_sweep(now=timezone.now() + timedelta(days=1)) == []
        older.refresh_from_db()
        assert older.status == RescoreRun.Status.SUPERSEDED and len(_pending(older)) == 2

    def test_it_finishes_a_stalled_run_whose_chunks_all_finished(self, model):
        # A worker killed between a chunk's commit and the run's last step.
        LeadFactory.create_batch(2)
        run, ranges = _start(model)
        RescoreChunk.objects.filter(run=run).update(finished_at=timezone.now())
        RescoreRun.objects.filter(pk=run.pk).update(chunks_finished=1, done=2)
        assert runs_sweep(now=run.progressed_at + STALLED) == []
        run.refresh_from_db()
        assert run.status == RescoreRun.Status.DONE

    def test_the_task_sends_the_lost_chunks_to_the_bulk_queue(self, model, monkeypatch):
        LeadFactory.create_batch(3)
        run, ranges = _start(model)
        sent = []
        monkeypatch.setattr(
            tasks.rescore_run_chunk, "apply_async", lambda **kwargs: sent.append(kwargs)
        )
        assert tasks.rescore_runs_sweep(now=run.progressed_at + STALLED) == 2
        assert sent == [
            {"args": [run.pk, r.first_id, r.last_id, r.leads], "queue": "bulk"} for r in ranges
        ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestLockedChunks:
    """A chunk a worker is on is row-locked by the worker's transaction (another connection)."""

    def test_the_sweep_skips_a_chunk_a_worker_holds_and_sends_it_once_the_worker_died(self, model):
        LeadFactory.create_batch(3)
        run, ranges = _start(model)
        claimed, release = threading.Event(), threading.Event()

        def worker() -> None:
            try:
                with transaction.atomic():
                    assert _chunk_claim(run.pk, ranges[0], now=timezone.now())
                    claimed.set()
                    release.wait(timeout=30)
                    transaction.set_rollback(True)  # dies: its transaction never commits
            finally:
                connection.close()

        thread = threading.Thread(target=worker)
        thread.start()
        try:
            assert claimed.wait(timeout=30)
            later = run.progressed_at + STALLED
            assert runs_sweep(now=later) == [(run.pk, ranges[1])]
        finally:
            release.set()
            thread.join(timeout=30)
        assert runs_sweep(now=later + STALLED) == [(run.pk, ranges[0]), (run.pk, ranges[1])]

    def test_a_second_delivery_waits_for_the_first_and_then_does_nothing(self, model):
        LeadFactory.create_batch(3)
        run, ranges = _start(model)
        outcome: list[str] = []

        def second_delivery() -> None:
            try:
                outcome.append(run_chunk(run_id=run.pk, chunk=ranges[0]))
            finally:
                connection.close()

        with transaction.atomic():
            assert _chunk_claim(run.pk, ranges[0], now=timezone.now())
            thread = threading.Thread(target=second_delivery)
            thread.start()
            _wait_for_a_lock_wait()
            assert outcome == []
        thread.join(timeout=30)
        assert outcome == ["repeat"]


def _wait_for_a_lock_wait() -> None:
    """Until another connection of this database waits for a row lock."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            # Inside a transaction the activity view is read once, unless told to read again.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("no connection waited for the chunk's lock")
