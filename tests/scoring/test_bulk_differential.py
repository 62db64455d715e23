"""The bulk path (raw fetches, set-based upserts) stores exactly what the pure engine computes.

Random leads, accounts and activities are stored, rescored in bulk, and every stored score is
compared with score_lead() run on the very objects the test generated, not on what the database
gives back, so any loss in storage or fetching (time zones, JSON, decimals) shows.
"""

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from django.conf import settings
from django.utils import timezone

from scoring.definition import loads_model
from scoring.engine import ActivityFact, LeadFacts, applies_to, score_lead
from scoring.models import LeadScore
from scoring.rescoring import leads_rescore
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

NOW = datetime(2026, 6, 1, 10, 30, tzinfo=UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]
LIBRARY = Path(settings.BASE_DIR) / "scoring" / "model_library"
ZONES = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
KINDS = ["page_view", "email_open", "content_download", "webinar_attended", "event_attended",
         "newsletter_signup", "demo_request", "trial_signup", "store_visit", "purchase"]  # fmt: skip
URLS = ["/", "/pricing", "/pricing/enterprise", "/jobs/dev", "/blog/a", "/products/x"]


def _generate(rng: random.Random, count: int) -> list[tuple[object, list[ActivityFact]]]:
    leads = []
    for _ in range(count):
        account = None
        if rng.random() < 0.7:
            account = AccountFactory(
                employee_count=rng.choice([None, 5, 19, 20, 99, 100, 150, 200, 201, 5000]),
                is_target_account=rng.random() < 0.3,
                is_competitor=rng.random() < 0.05,
            )
        lead = LeadFactory(
            account=account,
            job_title=rng.choice(["", "CTO", "Werkstudent", "STUDENT assistant", "Einkauf"]),
            seniority=rng.choice(["", "executive", "director", "manager", "student"]),
            lifecycle_stage=rng.choice(["lead", "lead", "mql", "customer", "disqualified"]),
            unsubscribed=rng.random() < 0.1,
            email_invalid=rng.random() < 0.1,
            created_at=NOW - timedelta(days=rng.uniform(0, 400)),
            attributes={"spend": rng.choice([None, 0, 49.99, "120", 500])},
        )
        facts = []
        for _ in range(int(rng.paretovariate(1.3) * 2) - 1):
            occurred = NOW - timedelta(seconds=rng.uniform(-86400, 200 * 86400))
            kind = rng.choice(KINDS)
            properties = {"url": rng.choice(URLS)} if rng.random() < 0.8 else {}
            channel = rng.choice(["web", "email", "store"])
            ActivityFactory(
                lead=lead,
                kind=kind,
                occurred_at=occurred.astimezone(rng.choice(ZONES)),
                channel=channel,
                properties=properties,
            )
            facts.append(ActivityFact(kind, occurred, {**properties, "channel": channel}))
        leads.append((lead, facts))
    return leads


def _facts(lead) -> LeadFacts:  # type: ignore[no-untyped-def]
    from scoring.definition import ACCOUNT_FIELDS, LEAD_FIELDS

    account = lead.account
    return LeadFacts(
        fields={name: getattr(lead, name) for name in LEAD_FIELDS},
        attributes=lead.attributes,
        account_fields=None
        if account is None
        else {n: getattr(account, n) for n in ACCOUNT_FIELDS},
        account_attributes=None if account is None else account.attributes,
        created_at=lead.created_at,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_rescoring_stores_exactly_what_the_engine_computes(seed):
    rng = random.Random(seed)
    specs = []
    for path in ("b2b-saas.yaml", "b2c-retail.yaml"):
        scoring_model_load(data=yaml.safe_load((LIBRARY / path).read_text()))
        specs.append(loads_model((LIBRARY / path).read_text()))
    generated = _generate(rng, 60)
    # Small chunks, so leads of one chunk never see another chunk's activities.
    leads_rescore(now=NOW, chunk_size=7)
    stored = {
        (s.lead_id, s.scoring_model.slug): s
        for s in LeadScore.objects.select_related("scoring_model")
    }
    tz = timezone.get_default_timezone()
    compared = 0
    for lead, activities in generated:
        facts = _facts(lead)
        for spec in specs:
            score = stored.get((lead.pk, spec.slug))
            if not applies_to(spec, facts):
                assert score is None
                continue
            expected = score_lead(spec, facts, activities, NOW, tz)
            assert score is not None
            assert (score.total, score.fit, score.engagement, score.band, score.mql) == (
                expected.total,
                expected.fit,
                expected.engagement,
                expected.band,
                expected.mql,
            ), (lead.pk, spec.slug)
            assert score.grade == (expected.grade or "")
            assert score.explanation == [c.to_dict() for c in expected.contributions]
            compared += 1
    assert compared > 40
