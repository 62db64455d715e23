"""A worker killed (SIGKILL) in the middle of a publish's chunk: the run finishes anyway.

The killed worker's chunk stays unacknowledged in Redis for the visibility timeout (half an
hour); a fresh worker drains the rest of the queue and the run stays "running". The runs sweep
finds the chunk (pending, and no longer locked by the dead worker's transaction), sends it
again, and the run ends with every lead on the new version.
"""

import os
import signal
import socket
import subprocess
from datetime import timedelta
from io import StringIO
from itertools import count
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from leadscoring.celery import app
from scoring import tasks
from scoring.models import LeadScore, RescoreChunk, RescoreRun
from scoring.runs import RUN_STALL_LIMIT, chunk_ranges
from tests.integration.conftest import (
    _database_url,
    leads_with_activities,
    publish_in_small_chunks,
    run_of,
    wait_for,
    worker_start,
    worker_stop,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker]
LIBRARY = Path(settings.BASE_DIR) / "scoring" / "model_library"
LEADS = 3000
CHUNK_SIZE = 300  # ten chunks
SLOW = 180.0  # seconds; a 2-core machine running the whole suite is slow, never this slow


@pytest.fixture
def start_worker(live_worker, tmp_path):  # type: ignore[no-untyped-def]
    """Start another worker like live_worker's (which this test kills), named `name`."""
    started: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(name: str) -> subprocess.Popen:
        logs.append(tmp_path / f"{name}.log")
        worker = worker_start(f"{name}@%h", logs[-1])
        started.append(worker)
        wait_for(lambda: worker.poll() is not None or _ping(worker_name(name)), timeout=SLOW)
        assert worker.poll() is None, "worker exited:\n" + logs[-1].read_text()
        return worker

    yield start
    for worker in started:
        worker_stop(worker)
    if os.environ.get("SHOW_WORKER_LOG"):
        for path in logs:
            print(path.read_text())
    # The dead worker's chunk would stay in the broker for the visibility timeout.
    _redis().delete(*(settings.REDIS_KEY_PREFIX + key for key in ("unacked", "unacked_index")))


def test_a_run_whose_worker_was_killed_finishes_after_the_sweep(live_worker, start_worker):
    leads_with_activities(LEADS)
    call_command("load_scoring_model", str(LIBRARY / "b2b-saas.yaml"), stdout=StringIO())
    first = wait_for(lambda: run_of(version__number=1, status=RescoreRun.Status.DONE), timeout=SLOW)
    ranges = chunk_ranges(CHUNK_SIZE)  # the chunks version 2's run will plan
    lost = ranges[2]

    # The worker gets stuck in the third chunk (its scores are locked here), so it dies there.
    with _locked_scores(lead_id=lost.first_id):
        publish_in_small_chunks(CHUNK_SIZE)
        run = wait_for(lambda: run_of(version__number=2), timeout=SLOW)
        wait_for(_a_worker_waits_for_a_lock, timeout=SLOW)
        os.kill(live_worker.pid, signal.SIGKILL)
        live_worker.wait(timeout=30)
    run.refresh_from_db()
    assert run.chunks == len(ranges) and 1 <= run.chunks_finished < run.chunks

    # A fresh worker drains the queue; the killed worker's chunk is not among what it gets.
    name = f"second-{os.getpid()}"
    start_worker(name)
    wait_for(lambda: _drained(run, worker_name(name)), timeout=SLOW)
    run.refresh_from_db()
    assert run.status == RescoreRun.Status.RUNNING
    assert lost.first_id in _pending(run)
    assert LeadScore.objects.filter(
        lead_id__gte=lost.first_id, lead_id__lte=lost.last_id, version=first.version
    ).count() == lost.leads  # fmt: skip
    assert _redis().hlen(settings.REDIS_KEY_PREFIX + "unacked") >= 1  # until the timeout

    # The sweep, as if the stall limit had passed (each call later than the last one's bump).
    later = (timezone.now() + (RUN_STALL_LIMIT + timedelta(seconds=1)) * n for n in count(1))
    wait_for(lambda: tasks.rescore_runs_sweep(now=next(later)), timeout=SLOW, interval=1.0)
    run = wait_for(lambda: run_of(pk=run.pk, status=RescoreRun.Status.DONE), timeout=SLOW)

    assert (run.done, run.failed, run.total) == (LEADS, 0, LEADS)
    assert _pending(run) == []
    versions = LeadScore.objects.filter(scoring_model=run.scoring_model).values_list(
        "version_id", flat=True
    )
    assert len(versions) == LEADS and set(versions) == {run.version_id}
    out = StringIO()
    call_command("verify_scores", stdout=out)
    assert "0 differences" in out.getvalue()


class _locked_scores:  # noqa: N801 - used as a context manager
    """Hold the stored scores of a lead locked from another connection, as a long write would."""

    def __init__(self, *, lead_id: int) -> None:
        self.lead_id = lead_id

    def __enter__(self) -> None:
        self.connection = psycopg.connect(_database_url())
        self.connection.execute(
            "SELECT 1 FROM scoring_leadscore WHERE lead_id = %s FOR UPDATE", [self.lead_id]
        )

    def __exit__(self, *exc: object) -> None:
        self.connection.rollback()
        self.connection.close()


def _a_worker_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            ["%scoring_leadscore%"],
        )
        return cursor.fetchone()[0] > 0


def _drained(run: RescoreRun, name: str) -> bool:
    """Nothing left in the queue, the worker idle, and no connection on a chunk of the run."""
    if _redis().llen(settings.REDIS_KEY_PREFIX + "bulk"):
        return False
    if app.control.inspect([name], timeout=1.0).active() != {name: []}:
        return False
    with connection.cursor() as cursor:  # autocommit: each statement sees the latest commits
        cursor.execute(
            "SELECT count(*) FROM scoring_rescorechunk WHERE run_id = %s "
            "AND finished_at IS NULL AND id NOT IN (SELECT id FROM scoring_rescorechunk "
            "WHERE run_id = %s AND finished_at IS NULL FOR UPDATE SKIP LOCKED)",
            [run.pk, run.pk],
        )
        return cursor.fetchone()[0] == 0


def _pending(run: RescoreRun) -> list[int]:
    return list(
        RescoreChunk.objects.filter(run=run, finished_at__isnull=True).values_list(
            "first_lead_id", flat=True
        )
    )


def _ping(name: str) -> bool:
    return bool(app.control.ping([name], timeout=0.5))


def worker_name(name: str) -> str:
    return f"{name}@{socket.gethostname()}"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)
