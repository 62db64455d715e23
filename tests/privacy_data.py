"""A person with a row of every kind stored about a lead, for the privacy tests.

Scores, score events, the handoff with its log and the webhook deliveries are made the way the
product makes them (a rescore crossing the MQL threshold, sales accepting); the rest directly.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import TestCase
from django.utils import timezone

from integrations.models import (
    PendingVisit,
    TrackingSite,
    Visitor,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from learning.models import LeadProbability, PredictiveModel
from pipeline.handoffs import handoff_accept
from scoring.models import Handoff, Lead, LeadOutcome, PendingRescore, ScoringModel, UnscorableLead
from scoring.rescoring import leads_rescore
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

MODEL = {
    "slug": "privacy", "name": "Privacy", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "hot", "min": 50}],
    "criteria": [
        {"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 5},
        {"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"], "points": 50,
         "count": "once"},
    ],
}  # fmt: skip


def privacy_setup() -> None:
    """The published model, a tracked site and a webhook endpoint for every event (on an address
    webhooks refuse, so nothing leaves the machine: each delivery is logged as failed)."""
    if not ScoringModel.objects.filter(slug=MODEL["slug"]).exists():
        with TestCase.captureOnCommitCallbacks(execute=True):
            scoring_model_load(data=MODEL)
    TrackingSite.objects.get_or_create(name="Shop", defaults={"allowed_origins": []})
    WebhookEndpoint.objects.get_or_create(
        name="CRM", defaults={"url": "http://127.0.0.1:9/hook", "events": list(WebhookEvent.values)}
    )


def person_with_everything(email: str, *, sales_user) -> Lead:  # type: ignore[no-untyped-def]
    privacy_setup()
    now = timezone.now()
    lead = LeadFactory(
        email=email, first_name="Eva", phone="+49 30 1234567", job_title="Einkauf",
        birthday=now.date().replace(year=1985), attributes={"newsletter": "yes", "zip": "10115"},
        account=AccountFactory(name=f"Kunde of {email}", domain="kunde.example"),
    )  # fmt: skip
    ActivityFactory(lead=lead, kind="page_view", occurred_at=now - timedelta(hours=3),
                    properties={"url": "/pricing", "title": "Preise"})  # fmt: skip
    ActivityFactory(lead=lead, kind="webinar_attended", occurred_at=now - timedelta(hours=2),
                    properties={"webinar": "Digitale Beschaffung"})  # fmt: skip
    with TestCase.captureOnCommitCallbacks(execute=True):
        leads_rescore(lead_ids=[lead.pk])
    handoff = Handoff.objects.get(lead=lead)
    with TestCase.captureOnCommitCallbacks(execute=True):
        handoff_accept(handoff_id=handoff.pk, user=sales_user)
    # A receiver that echoed the person in its answer.
    WebhookDelivery.objects.filter(payload__data__lead__id=lead.pk).update(
        last_error=f"HTTP 422: unknown contact {email}"
    )
    LeadOutcome.objects.create(
        lead=lead, outcome="won", occurred_at=now - timedelta(minutes=5), value=Decimal("1200.50")
    )
    # A chance to convert by a trained predictive score (its classifier is not read here).
    scoring_model = ScoringModel.objects.get(pk=handoff.scoring_model_id)
    predictive, _ = PredictiveModel.objects.get_or_create(
        scoring_model=scoring_model, number=1,
        defaults=dict(trained_at=now, artifact=b"", plan={}, kind="test", base_rate=0.2,
                      train_size=70, test_size=30),
    )  # fmt: skip
    LeadProbability.objects.create(
        lead=lead, scoring_model=scoring_model, predictive_model=predictive, probability=0.42,
        factors=[{"factor": "webinar_attended", "effect": 0.1}], computed_at=now,
    )  # fmt: skip
    visitor = Visitor.objects.create(
        site=TrackingSite.objects.get(name="Shop"), visitor_id=f"browser-{lead.pk}", lead=lead,
        identified_at=now - timedelta(hours=1),
    )  # fmt: skip
    PendingVisit.objects.create(
        visitor=visitor, event_id="ev-1", kind="page_view", occurred_at=now - timedelta(hours=4),
        properties={"url": "/jobs"},
    )  # fmt: skip
    PendingRescore.objects.get_or_create(lead=lead)
    UnscorableLead.objects.create(lead=lead, reason=f"could not read a date of {email}")
    LogEntry.objects.create(
        user=sales_user, content_type=ContentType.objects.get_for_model(Lead),
        object_id=str(lead.pk), object_repr=str(lead), action_flag=CHANGE, change_message="[]",
    )  # fmt: skip
    return lead
