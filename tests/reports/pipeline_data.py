"""A small pipeline whose every dashboard figure can be worked out by hand (see the tests)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from reports.forms import ReportFilters
from scoring.models import (
    Handoff,
    HandoffAction,
    HandoffStatus,
    Lead,
    LeadOutcome,
    LeadScore,
    OutcomeKind,
    ScoreEvent,
    ScoreEventKind,
    ScoringModel,
    ScoringModelVersion,
)
from tests.factories import LeadFactory

BERLIN = ZoneInfo("Europe/Berlin")
# Four whole weeks, Monday 2 March to Sunday 29 March 2026.
PERIOD_FROM, PERIOD_TO = date(2026, 3, 2), date(2026, 3, 29)


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BERLIN)


def scoring_model(slug: str, threshold: int = 100) -> ScoringModel:
    model = ScoringModel.objects.create(slug=slug, name=slug.upper(), mql_threshold=threshold)
    version = ScoringModelVersion.objects.create(scoring_model=model, number=1, definition={})
    model.published_version = version
    model.save(update_fields=["published_version"])
    return model


def band_for(total: int) -> str:
    return "hot" if total >= 100 else "warm" if total >= 50 else "cold"


@dataclass
class Pipeline:
    model_a: ScoringModel
    model_b: ScoringModel
    leads: dict[str, Lead]

    def filters(self, model: ScoringModel | None = None, **dates: date) -> ReportFilters:
        return ReportFilters(
            scoring_model_id=model.pk if model else None,
            date_from=dates.get("date_from", PERIOD_FROM),
            date_to=dates.get("date_to", PERIOD_TO),
        )


def add_lead(
    model: ScoringModel,
    name: str,
    created: datetime,
    total: int | None,
    source: str = "",
    **lead_fields: object,
) -> Lead:
    lead = LeadFactory(external_id=name, created_at=created, source=source, **lead_fields)
    if total is not None:
        LeadScore.objects.create(
            lead=lead,
            scoring_model=model,
            version=model.published_version,
            total=Decimal(total),
            fit=Decimal(total),
            engagement=Decimal(0),
            band=band_for(total),
            mql=total >= model.mql_threshold,
            computed_at=created,
        )
    return lead


def become_mql(lead: Lead, model: ScoringModel, when: datetime) -> None:
    ScoreEvent.objects.create(
        lead=lead,
        scoring_model=model,
        version=model.published_version,
        kind=ScoreEventKind.MQL_REACHED,
        to_total=Decimal(100),
        occurred_at=when,
    )


def hand_over(
    lead: Lead, model: ScoringModel, when: datetime, due: datetime, *steps: tuple[str, datetime]
) -> Handoff:
    """Open a handoff at `when` and log each (action, time) step, moving its status along."""
    handoff = Handoff.objects.create(
        lead=lead,
        scoring_model=model,
        score_at_handoff=Decimal(100),
        sla_due_at=due,
        created_at=when,
    )
    HandoffAction.objects.create(handoff=handoff, kind=HandoffAction.Kind.CREATED, at=when)
    for kind, moment in steps:
        HandoffAction.objects.create(handoff=handoff, kind=kind, at=moment)
        handoff.status = {
            "accepted": HandoffStatus.ACCEPTED,
            "rejected": HandoffStatus.REJECTED,
            "qualified": HandoffStatus.QUALIFIED,
            "won": HandoffStatus.WON,
            "lost": HandoffStatus.LOST,
        }[kind]
        if kind == "rejected":
            handoff.reason = "Not ready to buy"
        if kind in ("won", "lost"):
            LeadOutcome.objects.create(
                lead=lead,
                outcome=OutcomeKind.WON if kind == "won" else OutcomeKind.LOST,
                occurred_at=moment,
            )
    handoff.save()
    return handoff


def pipeline_build() -> Pipeline:
    a, b = scoring_model("a"), scoring_model("b")
    leads = {}
    # L1: MQL after 2 days, accepted 12 h later (in time), qualified 2 days later, won 10 days later.
    leads["L1"] = lead = add_lead(a, "L1", at(2), 120, source="webinar")
    become_mql(lead, a, at(4))
    hand_over(lead, a, at(4), at(5), ("accepted", at(4, 22)), ("qualified", at(6, 22)),
              ("won", at(16, 22)))  # fmt: skip
    # L2: MQL after 4 days, accepted after 2 days (late), qualified 4 days later, lost.
    leads["L2"] = lead = add_lead(a, "L2", at(3), 110, source="webinar")
    become_mql(lead, a, at(7))
    hand_over(lead, a, at(7), at(8), ("accepted", at(9)), ("qualified", at(13)), ("lost", at(20)))
    # L3: MQL after 6 days, rejected within the SLA.
    leads["L3"] = lead = add_lead(a, "L3", at(3, 12), 105)
    become_mql(lead, a, at(9, 12))
    hand_over(lead, a, at(9, 12), at(10, 12), ("rejected", at(9, 18)))
    # L10: MQL 2 hours after creation, never answered (due 21 March).
    leads["L10"] = lead = add_lead(a, "L10", at(20), 100, source="ads")
    become_mql(lead, a, at(20, 12))
    hand_over(lead, a, at(20, 12), at(21, 12))
    # Scored but never MQL.
    leads["L4"] = add_lead(a, "L4", at(10), 60)
    leads["L5"] = add_lead(a, "L5", at(10), 10)
    leads["L6"] = add_lead(a, "L6", at(11), -5)
    # Created before the period but became MQL inside it: counts in the weekly MQLs only.
    leads["L7"] = lead = add_lead(a, "L7", at(1, month=2), 150, source="partner")
    become_mql(lead, a, at(3))
    # Created in the period without any score: not part of the funnel.
    leads["L8"] = add_lead(a, "L8", at(12), None)
    # Model B: one scored lead.
    leads["L9"] = add_lead(b, "L9", at(12), 30)
    return Pipeline(model_a=a, model_b=b, leads=leads)


def more_leads(model: ScoringModel, count: int, start: datetime | None = None) -> None:
    """Extra MQL leads with handoffs in the period, for tests that show counts do not grow."""
    start = start or at(14)
    for i in range(count):
        lead = add_lead(
            model, f"{model.slug}-X{i}", start + timedelta(hours=i), 100 + i, source=f"src{i}"
        )
        become_mql(lead, model, start + timedelta(hours=i + 1))
        hand_over(lead, model, start + timedelta(hours=i + 1), start + timedelta(days=1),
                  ("accepted", start + timedelta(hours=i + 2)))  # fmt: skip
