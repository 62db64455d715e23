"""A real Celery worker process against Redis and the test database in PostgreSQL."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from scoring import tasks
from scoring.models import Account, Activity, Lead, RescoreRun
from scoring.services import scoring_model_draft_definition, scoring_model_load

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def worker_start(name: str, log_path: Path) -> subprocess.Popen:
    """A Celery worker process on both queues, against the test database, on the suite's clock
    (see tests.integration.worker), named `name` and writing its log to `log_path`."""
    env = {**os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": settings.REDIS_URL}
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.worker", "-A", "leadscoring", "worker",
             "-Q", "default,bulk", "--pool=solo", "--without-gossip", "--without-mingle",
             "--loglevel=INFO", "-n", name],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def worker_stop(worker: subprocess.Popen) -> None:
    """Ask the worker to stop, and kill it if it has not within 20 s."""
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.fixture
def live_worker(tmp_path, transactional_db):  # type: ignore[no-untyped-def]
    from leadscoring.celery import app

    # Tasks left in the queues by an earlier run refer to rows that no longer exist.
    prefix = settings.REDIS_KEY_PREFIX
    redis.Redis.from_url(settings.REDIS_URL).delete(prefix + "default", prefix + "bulk")
    log_path = tmp_path / "worker.log"
    worker = worker_start(f"test-{os.getpid()}@%h", log_path)
    try:
        wait_for(lambda: worker.poll() is not None or app.control.ping(timeout=0.5), timeout=60)
        if worker.poll() is not None:
            raise AssertionError("worker exited:\n" + log_path.read_text())
        yield worker
    finally:
        worker_stop(worker)
        if os.environ.get("SHOW_WORKER_LOG"):
            print(log_path.read_text())


def leads_with_activities(count: int) -> None:
    """`count` leads at mid-sized companies, most with some recent activity (bulk inserted)."""
    accounts = Account.objects.bulk_create(
        Account(name=f"Firma {i}", employee_count=150, is_target_account=i % 2 == 0)
        for i in range(10)
    )
    leads = Lead.objects.bulk_create(
        Lead(external_id=f"K-{i}", email=f"k{i}@example.de", account=accounts[i % 10])
        for i in range(count)
    )
    now = timezone.now()
    Activity.objects.bulk_create(
        Activity(
            lead=lead,
            kind="webinar_attended" if j == 0 and i % 7 == 0 else "page_view",
            occurred_at=now - timedelta(days=(i + j) % 60, hours=j),
            channel="web",
            properties={"url": "/pricing" if j == 1 else "/blog"},
            source="test",
        )
        for i, lead in enumerate(leads)
        for j in range(i % 4)
    )


def publish_in_small_chunks(chunk_size: int) -> None:
    """Publish version 2 (MQL at 50), its run in chunks of `chunk_size` rather than the default."""
    rescore_model = tasks.rescore_model
    model = run_of(version__number=1).scoring_model

    def delay_on_commit(scoring_model_id: int) -> None:
        rescore_model.delay_on_commit(scoring_model_id, RescoreRun.Trigger.PUBLISH, chunk_size)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tasks, "rescore_model", SimpleNamespace(delay_on_commit=delay_on_commit))
        scoring_model_load(
            data={**scoring_model_draft_definition(scoring_model=model), "mql_threshold": 50}
        )


def run_of(**lookups: object) -> RescoreRun | None:
    return RescoreRun.objects.filter(**lookups).select_related("scoring_model").first()
