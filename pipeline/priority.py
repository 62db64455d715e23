"""Queue priority: lead triage (company size × buyer stage), then score, then time left to the SLA.

Lead triage after the lead-prioritization article: a big opportunity deserves more of sales' time
than a small one, and the same action means more the further along the buyer journey a lead is.
So the company is put in a size band (small, medium, large; EU SME definition, 50 and 250
employees, or €10M and €50M revenue when the head count is unknown), the lead in a buyer stage:

- *decision*: a strong buying signal within INTENT_DAYS (demo or trial request, pricing page,
  cart add, store-locator search) or already qualified by sales (SQL);
- *consideration*: engaged within INTENT_DAYS (download, webinar, event, form, chat, e-mail click);
- *awareness*: everything else (reads and visits).

The matrix gives 0–60 triage points, the score up to 30 (its share of the MQL threshold, capped at
twice the threshold) and the SLA up to 40 (overdue 40, due soon 30, due within a day 15), so an
overdue handoff outranks a better lead that still has time, and within the same urgency the triage
cell decides. Everything is computed in the database, so the queue is sorted before it is paged.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Greatest, Least
from django.utils.translation import gettext_lazy as _

from scoring.models import OPEN_HANDOFF_STATUSES, Activity, Handoff, HandoffStatus, LeadScore

INTENT_DAYS = 30
INTENT_KINDS = ("demo_request", "trial_signup", "cart_add", "store_locator")
INTENT_URL_PREFIXES = ("/pricing",)
ENGAGED_KINDS = (
    "content_download", "webinar_attended", "event_attended", "form_submit", "live_chat",
    "email_click",
)  # fmt: skip

SMALL_BELOW_EMPLOYEES, LARGE_FROM_EMPLOYEES = 50, 250
SMALL_UP_TO_REVENUE, LARGE_ABOVE_REVENUE = Decimal(10_000_000), Decimal(50_000_000)

SIZE_LABELS = {
    "large": _("Large company"),
    "medium": _("Mid-sized company"),
    "small": _("Small company"),
    "consumer": _("Consumer"),
}
STAGE_LABELS = {
    "decision": _("ready to buy"),
    "consideration": _("comparing options"),
    "awareness": _("just looking"),
}
# (size band, buyer stage) -> triage points; consumers are triaged like small companies.
TRIAGE_MATRIX = {
    ("large", "decision"): 60, ("large", "consideration"): 50, ("large", "awareness"): 30,
    ("medium", "decision"): 50, ("medium", "consideration"): 35, ("medium", "awareness"): 15,
    ("small", "decision"): 30, ("small", "consideration"): 15, ("small", "awareness"): 0,
    ("consumer", "decision"): 30, ("consumer", "consideration"): 15, ("consumer", "awareness"): 0,
}  # fmt: skip
SCORE_POINTS_PER_THRESHOLD = 15  # at the MQL threshold 15, at twice the threshold (the cap) 30
SLA_POINTS = {"overdue": 40, "due_soon": 30, "due_today": 15, "later": 0, "met": 0}
SLA_LABELS = {
    "overdue": _("overdue"),
    "due_soon": _("due soon"),
    "due_today": _("due today"),
    "later": _("on track"),
    "met": _("responded"),
}


def due_soon_hours() -> float:
    return float(getattr(settings, "PIPELINE_DUE_SOON_HOURS", 4))


def _size_band() -> Case:
    employees, revenue = "lead__account__employee_count", "lead__account__annual_revenue"
    return Case(
        When(lead__account__isnull=True, then=Value("consumer")),
        When(**{f"{employees}__gte": LARGE_FROM_EMPLOYEES}, then=Value("large")),
        When(**{f"{employees}__gte": SMALL_BELOW_EMPLOYEES}, then=Value("medium")),
        When(**{f"{employees}__isnull": False}, then=Value("small")),
        When(**{f"{revenue}__gt": LARGE_ABOVE_REVENUE}, then=Value("large")),
        When(**{f"{revenue}__gt": SMALL_UP_TO_REVENUE}, then=Value("medium")),
        default=Value("small"),
    )


def _recent_activity(now: datetime, signal: Q) -> Exists:
    return Exists(
        Activity.objects.filter(
            lead_id=OuterRef("lead_id"),
            occurred_at__gte=now - timedelta(days=INTENT_DAYS),
            occurred_at__lte=now,
        ).filter(signal)
    )


def _buyer_stage(now: datetime) -> Case:
    intent = Q(kind__in=INTENT_KINDS)
    for prefix in INTENT_URL_PREFIXES:
        intent |= Q(kind="page_view", properties__url__startswith=prefix)
    return Case(
        When(status=HandoffStatus.QUALIFIED, then=Value("decision")),
        When(_recent_activity(now, intent), then=Value("decision")),
        When(_recent_activity(now, Q(kind__in=ENGAGED_KINDS)), then=Value("consideration")),
        default=Value("awareness"),
    )


def _sla_state(now: datetime) -> Case:
    return Case(
        When(~Q(status=HandoffStatus.NEW), then=Value("met")),
        When(sla_due_at__lte=now, then=Value("overdue")),
        When(sla_due_at__lte=now + timedelta(hours=due_soon_hours()), then=Value("due_soon")),
        When(sla_due_at__lte=now + timedelta(hours=24), then=Value("due_today")),
        default=Value("later"),
    )


def _lookup(mapping: dict, *fields: str) -> Case:
    """A Case that maps annotated values (one per field) to mapping's value for that tuple."""
    whens = [
        When(Q(**dict(zip(fields, key if isinstance(key, tuple) else (key,), strict=True))),
             then=Value(points))
        for key, points in mapping.items()
    ]  # fmt: skip
    return Case(*whens, default=Value(0), output_field=IntegerField())


def with_priority(handoffs: QuerySet[Handoff], *, now: datetime) -> QuerySet[Handoff]:
    """Annotate size_band, buyer_stage, sla_state, current score and band, is_open, `priority`."""
    current = LeadScore.objects.filter(
        lead_id=OuterRef("lead_id"), scoring_model_id=OuterRef("scoring_model_id")
    )
    # The published version's threshold (the draft's may already have moved on).
    threshold = Cast(
        KeyTextTransform("mql_threshold", "scoring_model__published_version__definition"),
        FloatField(),
    )
    return (
        handoffs.annotate(
            size_band=_size_band(),
            buyer_stage=_buyer_stage(now),
            sla_state=_sla_state(now),
            current_score=Coalesce(Subquery(current.values("total")[:1]), F("score_at_handoff")),
            current_band=Subquery(current.values("band")[:1]),
            mql_threshold=threshold,
            is_open=Case(
                When(status__in=OPEN_HANDOFF_STATUSES, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .annotate(
            triage_points=_lookup(TRIAGE_MATRIX, "size_band", "buyer_stage"),
            sla_points=_lookup(SLA_POINTS, "sla_state"),
            score_points=Case(
                When(
                    mql_threshold__gt=0,
                    then=Least(
                        Greatest(
                            Cast("current_score", FloatField()) / F("mql_threshold"), Value(0.0)
                        ),
                        Value(2.0),
                    )
                    * SCORE_POINTS_PER_THRESHOLD,
                ),
                default=Value(0.0),
                output_field=FloatField(),
            ),  # fmt: skip
        )
        .annotate(priority=F("triage_points") + F("sla_points") + F("score_points"))
    )


@dataclass(frozen=True)
class PriorityReason:
    """Why a handoff sits where it does, for the "why first" hint."""

    size: str
    stage: str
    triage_points: int
    score_percent: int | None
    score_points: float
    sla: str
    sla_points: int
    priority: float

    @classmethod
    def of(cls, handoff: Handoff) -> "PriorityReason":
        threshold = getattr(handoff, "mql_threshold", None)
        percent = None
        if threshold:
            percent = round(float(handoff.current_score) * 100 / threshold)  # type: ignore[attr-defined]
        return cls(
            size=str(SIZE_LABELS[handoff.size_band]),  # type: ignore[attr-defined]
            stage=str(STAGE_LABELS[handoff.buyer_stage]),  # type: ignore[attr-defined]
            triage_points=handoff.triage_points,  # type: ignore[attr-defined]
            score_percent=percent,
            score_points=handoff.score_points,  # type: ignore[attr-defined]
            sla=str(SLA_LABELS[handoff.sla_state]),  # type: ignore[attr-defined]
            sla_points=handoff.sla_points,  # type: ignore[attr-defined]
            priority=handoff.priority,  # type: ignore[attr-defined]
        )
