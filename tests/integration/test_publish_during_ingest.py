"""A publish while activities keep arriving ends with the scores a recompute from scratch gives.

Two workers take the publish's chunks and the flushes of the arriving activities side by side, so
a chunk may read a lead before its new activity and store after the flush that counted it: the
stale-write guard must keep the newer data, and every lead must end on the new version.
"""

import os
import random
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from scoring.ingest import activities_ingest
from scoring.models import Lead, LeadScore, PendingRescore, RescoreRun
from tests.integration.conftest import (
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
CHUNK_SIZE = 150  # twenty chunks, so that batches arrive between them
SLOW = 180.0


@pytest.fixture
def second_worker(live_worker, tmp_path):  # type: ignore[no-untyped-def]
    worker = worker_start(f"second-{os.getpid()}@%h", tmp_path / "second.log")
    yield worker
    worker_stop(worker)


def test_a_publish_concurrent_with_ingestion_ends_as_a_recompute(live_worker, second_worker):
    leads_with_activities(LEADS)
    call_command("load_scoring_model", str(LIBRARY / "b2b-saas.yaml"), stdout=StringIO())
    wait_for(lambda: run_of(version__number=1, status=RescoreRun.Status.DONE), timeout=SLOW)
    ids = list(Lead.objects.values_list("pk", flat=True))
    rng = random.Random(7)

    publish_in_small_chunks(CHUNK_SIZE)
    run = wait_for(lambda: run_of(version__number=2), timeout=SLOW)
    during, sent = 0, 0
    while sent < 40:
        running = run_of(pk=run.pk).status == RescoreRun.Status.RUNNING
        # Events that score: a webinar (+50, so some leads cross the new MQL threshold of 50)
        # and pricing views, just before now, for leads all over the id range.
        at = (timezone.now() - timedelta(seconds=30)).isoformat()
        batch = [
            {"lead_id": rng.choice(ids), "kind": kind, "occurred_at": at,
             "properties": {"url": "/pricing"}, "external_id": f"e{sent}-{n}"}
            for n, kind in enumerate(["webinar_attended", "page_view", "page_view"] * 10)
        ]  # fmt: skip
        assert activities_ingest(batch, source="test").created == len(batch)
        sent += 1
        during += running and run_of(pk=run.pk).status == RescoreRun.Status.RUNNING
    assert during >= 3, "the batches arrived after the publish, not during it"

    wait_for(lambda: run_of(pk=run.pk, status=RescoreRun.Status.DONE), timeout=SLOW)
    wait_for(lambda: not PendingRescore.objects.exists(), timeout=SLOW)
    versions = set(LeadScore.objects.values_list("version_id", flat=True))
    assert LeadScore.objects.count() == LEADS and versions == {run.version_id}
    out = StringIO()
    call_command("verify_scores", stdout=out)
    assert "0 differences" in out.getvalue(), out.getvalue()
