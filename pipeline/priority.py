"""Queue priority: lead triage (company size × buyer stage), then score, then time left to the SLA.

Lead triage after the lead-prioritization article: a big opportunity deserves more of sales' time
than a small one, and the same action means more the further along the buyer journey a lead is.
So the company is put in a size band (small, medium, large; EU SME definition, 50 and 250
employees, or €10M and €50M revenue when the head count is unknown), the lead in a buyer stage:

- *decision*: a strong buying signal within INTENT_DAYS (demo or trial request, pricing page,
  cart add, store-locator search) or already qualified by sales (SQL);
- *consideration*: engaged within INTENT_DAYS (download, webinar, event, form, chat, e-mail click);
- *awareness*: everything else (reads and visits).

Triage gives 0–60 points: the size band up to 30 plus the buyer stage up to 30 (TRIAGE_MATRIX
spells out every cell). The score adds up to 30 (its share of the MQL threshold, capped at twice
the threshold) and the SLA up to 40 (overdue 40, due soon 30, due within a day 15), so an overdue
handoff outranks a better lead that still has time, and within the same urgency triage decides.

Everything is computed in the database, so the queue is sorted before it is paged. The matrix is
additive on purpose: each part is then a single expression, and the per-lead activity lookup (one
correlated subquery on the lead's recent activities) runs once per row for the column and once
for the sort key, instead of once per matrix cell.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
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
from django.db.models.functions import Cast, Coalesce, Greatest, Least
from django.utils.translation import gettext_lazy as _

from scoring.models import (
    OPEN_HANDOFF_STATUSES,
    Activity,
    Handoff,
    HandoffStatus,
    LeadScore,
    ScoringModel,
)

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
SIZE_POINTS = {"large": 30, "medium": 15, "small": 0, "consumer": 0}
STAGE_POINTS = {"decision": 30, "consideration": 20, "awareness": 0}
# (size band, buyer stage) -> triage points: large/decision 60 ... small/awareness 0.
TRIAGE_MATRIX = {
    (size, stage): size_points + stage_points
    for size, size_points in SIZE_POINTS.items()
    for stage, stage_points in STAGE_POINTS.items()
}
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


def _stage_points(now: datetime) -> Case:
    """The buyer stage's points: qualified leads are deciding; otherwise the strongest signal
    among the lead's activities of the last INTENT_DAYS (one correlated subquery)."""
    intent = Q(kind__in=INTENT_KINDS)
    for prefix in INTENT_URL_PREFIXES:
        intent |= Q(kind="page_view", properties__url__startswith=prefix)
    engaged = Q(kind__in=ENGAGED_KINDS)
    strongest = (
        Activity.objects.filter(
            lead_id=OuterRef("lead_id"),
            occurred_at__gte=now - timedelta(days=INTENT_DAYS),
            occurred_at__lte=now,
        )
        .filter(intent | engaged)
        .annotate(
            stage_points=Case(
                When(intent, then=Value(STAGE_POINTS["decision"])),
                default=Value(STAGE_POINTS["consideration"]),
                output_field=IntegerField(),
            )
        )
        .order_by("-stage_points")
        .values("stage_points")[:1]
    )
    return Case(
        When(status=HandoffStatus.QUALIFIED, then=Value(STAGE_POINTS["decision"])),
        default=Coalesce(Subquery(strongest), Value(STAGE_POINTS["awareness"])),
        output_field=IntegerField(),
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


def mql_thresholds() -> dict[int, float]:
    """Each published model's MQL threshold (of the published version: the draft may differ)."""
    published = ScoringModel.objects.filter(published_version__isnull=False).values_list(
        "pk", "published_version__definition"
    )
    return {pk: float(definition["mql_threshold"]) for pk, definition in published}


def with_priority(handoffs: QuerySet[Handoff], *, now: datetime) -> QuerySet[Handoff]:
    """Annotate size_band, stage_points, sla_state, current score and band, is_open, priority.

    Read `buyer_stage` and `triage_points` from the handoffs through `PriorityReason.of`.
    """
    current = LeadScore.objects.filter(
        lead_id=OuterRef("lead_id"), scoring_model_id=OuterRef("scoring_model_id")
    )
    # Thresholds as constants per model: reading them out of each row's JSON costs more.
    threshold = Case(
        *(When(scoring_model_id=pk, then=Value(value)) for pk, value in mql_thresholds().items()),
        default=Value(None),
        output_field=FloatField(),
    )
    return (
        handoffs.annotate(
            size_band=_size_band(),
            stage_points=_stage_points(now),
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
            size_points=_lookup(SIZE_POINTS, "size_band"),
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
        .annotate(
            priority=F("size_points") + F("stage_points") + F("sla_points") + F("score_points")
        )
    )


_STAGE_BY_POINTS = {points: stage for stage, points in STAGE_POINTS.items()}


@dataclass(frozen=True)
class PriorityReason:
    """Why a handoff sits where it does, for the "why first" hint (from the annotations)."""

    size_band: str
    buyer_stage: str
    triage_points: int
    score_percent: int | None
    score_points: float
    sla_state: str
    sla_points: int
    priority: float

    @property
    def size(self) -> str:
        return str(SIZE_LABELS[self.size_band])

    @property
    def stage(self) -> str:
        return str(STAGE_LABELS[self.buyer_stage])

    @property
    def sla(self) -> str:
        return str(SLA_LABELS[self.sla_state])

    @classmethod
    def of(cls, handoff: Handoff) -> "PriorityReason":
        values = handoff.__dict__  # the annotations of with_priority
        threshold = values["mql_threshold"]
        percent = round(float(values["current_score"]) * 100 / threshold) if threshold else None
        return cls(
            size_band=values["size_band"],
            buyer_stage=_STAGE_BY_POINTS[values["stage_points"]],
            triage_points=values["size_points"] + values["stage_points"],
            score_percent=percent,
            score_points=values["score_points"],
            sla_state=values["sla_state"],
            sla_points=values["sla_points"],
            priority=values["priority"],
        )
