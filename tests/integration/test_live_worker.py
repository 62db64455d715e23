"""Through Redis: tasks sent by the app run in a separate worker and land in PostgreSQL."""

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from scoring.models import LeadScore
from scoring.tasks import rescore_leads
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
