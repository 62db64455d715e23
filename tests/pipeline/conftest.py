"""A published model and a way to put handoffs in the queue with chosen size, intent and deadline."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from pipeline.services import handoffs_reprioritize
from scoring.models import Handoff, LeadScore
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MODEL = {
    "slug": "b2b", "name": "B2B", "mql_threshold": 100, "sla_hours": 48,
    "bands": [{"label": "cold", "min": 0}, {"label": "warm", "min": 50}, {"label": "hot", "min": 100}],
    "criteria": [
        {"name": "Target account", "type": "attribute", "field": "account.is_target_account",
         "op": "equals", "value": True, "points": 20},
        {"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 1, "cap": 30,
         "window_days": 90},
        {"name": "Pricing page", "type": "activity", "kinds": ["page_view"],
         "where": [{"field": "url", "op": "starts_with", "value": "/pricing"}], "points": 10,
         "count": "once", "window_days": 30},
        {"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"], "points": 50,
         "count": "once", "half_life_days": 90},
        {"name": "Browsing day", "type": "activity", "kinds": ["page_view"], "points": 2,
         "count": "per_day"},
        {"name": "Busy week", "type": "frequency", "kinds": ["page_view"], "at_least": 3,
         "within_days": 7, "points": 15},
        {"name": "Gone quiet", "type": "inactivity", "days": 30, "points": -10},
    ],
}  # fmt: skip


@pytest.fixture(autouse=True)
def _clock_at_now():  # type: ignore[no-untyped-def]
    """The queue's data is fixed at NOW; the code under test reads the clock, so it is there."""
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def model(db, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model, _ = scoring_model_load(data=MODEL)
    scoring_model.refresh_from_db()
    return scoring_model


@pytest.fixture
def make_handoff(model):  # type: ignore[no-untyped-def]
    """make_handoff(employees=..., intent=..., due_in=hours, score=...) -> Handoff (status new)."""

    def make(
        *,
        employees: int | None = 150,
        consumer: bool = False,
        intent: str | None = None,
        due_in: float = 40,
        score: float = 120,
        band: str = "hot",
        owner=None,  # type: ignore[no-untyped-def]
        source: str = "website",
        country: str = "DE",
        industry: str = "logistics",
        now: datetime = NOW,
        **fields,  # type: ignore[no-untyped-def]
    ) -> Handoff:
        account = None if consumer else AccountFactory(employee_count=employees, industry=industry)
        lead = LeadFactory(account=account, source=source, country=country)
        if intent in ("decision", "decision tracked", "tracked elsewhere"):
            url = {
                "decision": "/pricing/enterprise",
                # As the website snippet stores them: full URLs.
                "decision tracked": "https://www.firma.de/pricing?plan=team",
                "tracked elsewhere": "https://www.firma.de/blog/pricing-tips",
            }[intent]
            ActivityFactory(
                lead=lead, kind="page_view", occurred_at=now - timedelta(days=2),
                properties={"url": url},
            )  # fmt: skip
        elif intent == "consideration":
            ActivityFactory(lead=lead, kind="webinar_attended", occurred_at=now - timedelta(days=3))
        elif intent == "stale":  # a buying signal, but too long ago to count
            ActivityFactory(lead=lead, kind="demo_request", occurred_at=now - timedelta(days=45))
        LeadScore.objects.create(
            lead=lead, scoring_model=model, version=model.published_version,
            total=Decimal(str(score)), fit=0, engagement=Decimal(str(score)), band=band,
            mql=score >= 100, explanation=[], computed_at=now,
        )  # fmt: skip
        handoff = Handoff.objects.create(
            lead=lead, scoring_model=model, owner=owner, score_at_handoff=Decimal(str(score)),
            sla_due_at=now + timedelta(hours=due_in), created_at=now, **fields,
        )  # fmt: skip
        # As the pipeline does once the lead's scores are stored.
        handoffs_reprioritize(Handoff.objects.filter(pk=handoff.pk), now=now)
        handoff.refresh_from_db()
        return handoff

    return make
