"""A small world with known outcomes: what converts is decided here, so the tests know the truth.

Directors convert far more often, a demo request more still, the newsletter not at all; the
model's hand-made rules weigh the newsletter most, as hand-made models do.
"""

import random
from datetime import UTC, datetime, timedelta

import pytest

from scoring.models import Activity, Lead, LeadOutcome
from scoring.services import scoring_model_load

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CREATED = START - timedelta(days=30)  # every lead of the world came in then

MODEL = {
    "slug": "learn", "name": "Learning", "mql_threshold": 40,
    "bands": [{"label": "cold", "min": 0}, {"label": "warm", "min": 20}, {"label": "hot", "min": 40}],
    "grades": [{"label": "B", "min": 0}, {"label": "A", "min": 5}],
    "audience": [{"field": "lead.lifecycle_stage", "op": "not_in", "value": ["customer"]}],
    "criteria": [
        {"name": "Director", "type": "attribute", "field": "lead.seniority", "op": "equals",
         "value": "director", "points": 5},
        {"name": "Newsletter", "type": "activity", "kinds": ["newsletter_signup"], "points": 50,
         "count": "once"},
        {"name": "Demo request", "type": "activity", "kinds": ["demo_request"], "points": 10,
         "count": "once"},
        {"name": "Visits", "type": "activity", "kinds": ["page_view"], "points": 1, "cap": 5},
    ],
}  # fmt: skip


def world_build(leads: int = 400, seed: int = 7) -> list[Lead]:
    """Leads over 20 weeks, each decided a few weeks after its activities."""
    rng = random.Random(seed)
    made = Lead.objects.bulk_create(
        Lead(
            external_id=f"W-{i}",
            email=f"w{i}@example.de",
            last_name=f"W{i}",
            seniority="director" if rng.random() < 0.4 else "staff",
        )  # fmt: skip
        for i in range(leads)
    )
    activities, outcomes = [], []
    for i, lead in enumerate(made):
        seen = START + timedelta(days=i * 140 / leads)
        demo = rng.random() < 0.3
        newsletter = rng.random() < 0.5
        if demo:
            activities.append(Activity(lead=lead, kind="demo_request", occurred_at=seen))
        if newsletter:
            activities.append(Activity(lead=lead, kind="newsletter_signup", occurred_at=seen))
        for day in range(rng.randint(0, 6)):
            activities.append(
                Activity(lead=lead, kind="page_view", occurred_at=seen - timedelta(days=day))
            )
        chance = 0.08 + 0.3 * (lead.seniority == "director") + 0.45 * demo
        won = rng.random() < chance
        outcomes.append(
            LeadOutcome(
                lead=lead,
                outcome="won" if won else "lost",
                source="test",
                occurred_at=seen + timedelta(days=14),
            )  # fmt: skip
        )
        if won:  # the winner becomes a customer (outside the audience today)
            lead.lifecycle_stage = "customer"
    Activity.objects.bulk_create(activities)
    LeadOutcome.objects.bulk_create(outcomes)
    Lead.objects.bulk_update(made, ["lifecycle_stage"])
    Lead.objects.filter(pk__in=[lead.pk for lead in made]).update(created_at=CREATED)
    return made


@pytest.fixture
def world(db, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    lead_list = world_build()
    with django_capture_on_commit_callbacks(execute=True):  # the publish scores every lead
        scoring_model, _ = scoring_model_load(data=MODEL)
    return scoring_model, lead_list
