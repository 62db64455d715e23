"""A published B2B-style model over a few dozen varied leads, scored at a fixed time."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scoring.models import ScoringModel
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
MODEL = {
    "slug": "b2b", "name": "B2B", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "warm", "min": 30}, {"label": "hot", "min": 50}],
    "criteria": [
        {"name": "Target account", "type": "attribute", "field": "account.is_target_account",
         "op": "equals", "value": True, "points": 20},
        {"name": "Mid-sized", "type": "attribute", "field": "account.employee_count",
         "op": "between", "value": [100, 200], "points": 30},
        {"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 1, "cap": 10},
        {"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"], "points": 25,
         "count": "once", "half_life_days": 30},
        {"name": "Jobs page", "type": "activity", "kinds": ["page_view"],
         "where": [{"field": "url", "op": "contains", "value": "/jobs"}], "points": -10,
         "count": "once"},
        {"name": "Busy week", "type": "frequency", "kinds": ["page_view"], "at_least": 3,
         "within_days": 7, "points": 10},
        {"name": "Gone quiet", "type": "inactivity", "days": 60, "points": -15},
    ],
}  # fmt: skip


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def published(frozen, django_capture_on_commit_callbacks) -> ScoringModel:
    """The model published (and every lead scored) at NOW."""
    rng = random.Random(7)
    for i in range(40):
        account = AccountFactory(
            is_target_account=rng.random() < 0.3, employee_count=rng.choice([10, 120, 150, 900])
        )
        lead = LeadFactory(account=account, job_title=rng.choice(["CTO", "Student", "Buyer"]))
        for _ in range(rng.randint(0, 8)):
            ActivityFactory(
                lead=lead,
                kind=rng.choice(["page_view", "page_view", "webinar_attended", "download"]),
                occurred_at=NOW - timedelta(days=rng.random() * 90),
                properties={"url": rng.choice(["/", "/pricing", "/jobs/dev"])},
            )
        if i == 0:
            lead.account = None
            lead.save()
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model, _version = scoring_model_load(data=MODEL)
    scoring_model.refresh_from_db()
    return scoring_model
