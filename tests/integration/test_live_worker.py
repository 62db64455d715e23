"""Through Redis: tasks sent by the app run in a separate worker and land in PostgreSQL."""

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from scoring.ingest import activities_ingest
from scoring.models import Handoff, LeadScore, PendingRescore, RescoreRun, ScoringModel
from scoring.runs import run_start
from scoring.services import scoring_model_draft_definition, scoring_model_load
from scoring.tasks import rescore_leads, rescore_run_chunk
from tests.factories import AccountFactory, ActivityFactory, LeadFactory
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker]
LIBRARY = Path(settings.BASE_DIR) / "scoring" / "model_library"


def test_publishing_a_model_rescores_every_lead_in_the_worker(live_worker):
    account = AccountFactory(is_target_account=True, employee_count=150)
    leads = [LeadFactory(account=account) for _ in range(25)]
    # Publishing enqueues the rescore after commit; the worker fans it out and writes the scores.
    call_command("load_scoring_model", str(LIBRARY / "b2b-saas.yaml"), stdout=StringIO())
    wait_for(lambda: LeadScore.objects.filter(scoring_model__slug="b2b-saas").count() == len(leads))
    assert set(LeadScore.objects.values_list("fit", flat=True)) == {120}


def test_a_sent_task_updates_the_stored_score(live_worker):
    call_command("load_scoring_model", str(LIBRARY / "b2b-saas.yaml"), stdout=StringIO())
    lead = LeadFactory(account=AccountFactory(), created_at=timezone.now())
    ActivityFactory(lead=lead, kind="demo_request", occurred_at=timezone.now() - timedelta(hours=1))
    rescore_leads.delay([lead.pk])
    score = wait_for(lambda: LeadScore.objects.filter(lead=lead, engagement=100).first())
    assert score.mql is True and score.total == 100


def test_imported_leads_are_scored_by_the_worker(live_worker, tmp_path):
    call_command("load_scoring_model", str(LIBRARY / "b2b-saas.yaml"), stdout=StringIO())
    (tmp_path / "accounts.csv").write_text("external_id,name,employee_count\nA-1,Mid GmbH,150\n")
    (tmp_path / "leads.csv").write_text(
        "external_id,email,account_external_id\nL-1,a@mid.de,A-1\nL-2,b@mid.de,A-1\n"
    )
    out = StringIO()
    call_command("import_crm", str(tmp_path), stdout=out)
    assert "2 leads sent for rescoring" in out.getvalue()
    wait_for(lambda: LeadScore.objects.filter(lead__external_id__in=["L-1", "L-2"]).count() == 2)
    assert set(LeadScore.objects.values_list("fit", flat=True)) == {100}


def test_an_ingested_event_reaches_the_score_through_the_worker(live_worker):
    call_command("load_scoring_model", str(LIBRARY / "b2b-saas.yaml"), stdout=StringIO())
    lead = LeadFactory(account=AccountFactory(), created_at=timezone.now())
    result = activities_ingest(
        [{"lead_id": lead.pk, "kind": "demo_request", "external_id": "evt-1"}], source="test"
    )
    assert result.created == 1
    score = wait_for(lambda: LeadScore.objects.filter(lead=lead, engagement=100).first())
    assert score.mql is True
    handoff = wait_for(lambda: Handoff.objects.filter(lead=lead).first())
    assert handoff.trigger.startswith("demo_request at ")
    # The publish's own run may score the lead first; the request is still drained.
    wait_for(lambda: not PendingRescore.objects.exists())


def test_a_publish_run_completes_and_a_superseded_run_stops(live_worker):
    leads = LeadFactory.create_batch(30, account=AccountFactory(employee_count=150))
    call_command("load_scoring_model", str(LIBRARY / "b2b-saas.yaml"), stdout=StringIO())
    first = wait_for(
        lambda: RescoreRun.objects.filter(version__number=1, status=RescoreRun.Status.DONE).first()
    )
    assert (first.total, first.done, first.failed) == (len(leads), len(leads), 0)
    model = ScoringModel.objects.get(slug="b2b-saas")
    # A run of version 1 that has not done its chunk yet, then version 2 is published.
    stale_run, ranges = run_start(scoring_model_id=model.pk, trigger=RescoreRun.Trigger.MANUAL)
    scoring_model_load(
        data={**scoring_model_draft_definition(scoring_model=model), "mql_threshold": 50}
    )
    newest = wait_for(
        lambda: RescoreRun.objects.filter(version__number=2, status=RescoreRun.Status.DONE).first()
    )
    assert newest.done == len(leads)
    rescore_run_chunk.delay(stale_run.pk, ranges[0].first_id, ranges[0].last_id, ranges[0].leads)
    wait_for(lambda: not _queued())
    stale_run.refresh_from_db()
    assert (stale_run.status, stale_run.done) == (RescoreRun.Status.SUPERSEDED, 0)
    assert set(LeadScore.objects.values_list("version__number", flat=True)) == {2}
    out = StringIO()
    call_command("verify_scores", stdout=out)
    assert "0 differences" in out.getvalue()


def _queued() -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.REDIS_KEY_PREFIX
    return client.llen(prefix + "default") + client.llen(prefix + "bulk")
