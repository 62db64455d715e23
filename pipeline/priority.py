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

The SLA part moves with the clock, the rest only when something happens (a new score or
activity, a status change, a buying signal leaving the window). So the rest is computed here from
each handoff's facts (`priority_facts`, one query for any number of handoffs, then the pure
`priority_parts`) and stored on the handoff by pipeline.services; the queue reads the open
handoffs one SLA urgency at a time (`sla_levels`), each part in the order of an index, and merges
them (pipeline.selectors): the cost of a page does not grow with the queue.
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
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
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from scoring.models import (
    OPEN_HANDOFF_STATUSES,
    Account,
    Activity,
    Handoff,
    HandoffStatus,
    Lead,
    LeadScore,
    ScoringModel,
)

if TYPE_CHECKING:
    from .handoffs import MqlCrossing

INTENT_DAYS = 30
INTENT_KINDS = ("demo_request", "trial_signup", "cart_add", "store_locator")
# Paths, as rules write them; a page view's url may be a path or a full URL (the snippet's).
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


# --- the stored part: facts from the database, points from pure functions ------------------------


@dataclass(frozen=True)
class PriorityFacts:
    """What the stored part of one handoff's priority depends on."""

    handoff_id: int
    status: str
    has_company: bool
    employees: int | None
    revenue: Decimal | None
    score: Decimal  # the current score, or the one at handoff when the lead has none now
    band: str  # the current score's band
    mql_threshold: float | None
    intent_at: datetime | None  # the latest buying signal within INTENT_DAYS
    engaged_at: datetime | None  # the latest engagement within INTENT_DAYS


@dataclass(frozen=True)
class PriorityParts:
    size_band: str
    buyer_stage: str
    score_points: float
    until: datetime | None  # when a buying signal leaves the window and the stage drops

    @property
    def base(self) -> float:
        """The priority before the SLA's points."""
        return TRIAGE_MATRIX[self.size_band, self.buyer_stage] + self.score_points


def size_band(*, has_company: bool, employees: int | None, revenue: Decimal | None) -> str:
    if not has_company:
        return "consumer"
    if employees is not None:
        if employees >= LARGE_FROM_EMPLOYEES:
            return "large"
        return "medium" if employees >= SMALL_BELOW_EMPLOYEES else "small"
    if revenue is not None and revenue > LARGE_ABOVE_REVENUE:
        return "large"
    if revenue is not None and revenue > SMALL_UP_TO_REVENUE:
        return "medium"
    return "small"


def score_points(score: Decimal, mql_threshold: float | None) -> float:
    """The score's share of the MQL threshold, capped at twice the threshold."""
    if not mql_threshold or mql_threshold <= 0:
        return 0.0
    return min(max(float(score) / mql_threshold, 0.0), 2.0) * SCORE_POINTS_PER_THRESHOLD


def priority_parts(facts: PriorityFacts) -> PriorityParts:
    window = timedelta(days=INTENT_DAYS)
    if facts.status == HandoffStatus.QUALIFIED:
        stage, until = "decision", None
    elif facts.intent_at is not None:
        stage, until = "decision", facts.intent_at + window
    elif facts.engaged_at is not None:
        stage, until = "consideration", facts.engaged_at + window
    else:
        stage, until = "awareness", None
    return PriorityParts(
        size_band=size_band(
            has_company=facts.has_company, employees=facts.employees, revenue=facts.revenue
        ),
        buyer_stage=stage,
        score_points=score_points(facts.score, facts.mql_threshold),
        until=until,
    )


def full_url_pattern(path_prefix: str) -> str:
    """A regular expression for a full URL whose path starts with `path_prefix` (the scheme,
    host and port before it), read alike by PostgreSQL and Python."""
    return r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*" + re.escape(path_prefix)


def _intent() -> Q:
    intent = Q(kind__in=INTENT_KINDS)
    for prefix in INTENT_URL_PREFIXES:
        intent |= Q(kind="page_view", properties__url__startswith=prefix)
        intent |= Q(kind="page_view", properties__url__regex=full_url_pattern(prefix))
    return intent


def _latest(now: datetime, signals: Q, *, lead: str) -> Subquery:
    """When the lead (the outer query's `lead` field) last showed one of these signals within
    INTENT_DAYS (along the lead's activity index, newest first, so it stops at the first
    match)."""
    return Subquery(
        Activity.objects.filter(
            signals,
            lead_id=OuterRef(lead),
            occurred_at__gte=now - timedelta(days=INTENT_DAYS),
            occurred_at__lte=now,
        )
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )


def _current(field: str) -> Subquery:
    return Subquery(
        LeadScore.objects.filter(
            lead_id=OuterRef("lead_id"), scoring_model_id=OuterRef("scoring_model_id")
        ).values(field)[:1]
    )


def mql_thresholds() -> dict[int, float]:
    """Each published model's MQL threshold (of the published version: the draft may differ)."""
    published = ScoringModel.objects.filter(published_version__isnull=False).values_list(
        "pk", "published_version__definition"
    )
    return {pk: float(definition["mql_threshold"]) for pk, definition in published}


def _lead_columns(now: datetime, *, path: str, lead: str) -> tuple[str | Combinable, ...]:
    """values_list columns of the lead's side of PriorityFacts, reached by `path` ("lead__"
    from a handoff, "" from a lead) with its id in the field `lead`: account id, head count,
    revenue, latest buying signal, latest engagement."""
    return (
        f"{path}account_id",
        f"{path}account__employee_count",
        f"{path}account__annual_revenue",
        _latest(now, _intent(), lead=lead),
        _latest(now, Q(kind__in=ENGAGED_KINDS), lead=lead),
    )


def priority_facts(handoffs: QuerySet[Handoff], *, now: datetime) -> Iterator[PriorityFacts]:
    """The facts of these handoffs as of `now`, in one query."""
    thresholds = mql_thresholds()
    rows = handoffs.order_by().values_list(
        "pk",
        "status",
        Coalesce(_current("total"), F("score_at_handoff")),
        Coalesce(_current("band"), Value("")),
        "scoring_model_id",
        *_lead_columns(now, path="lead__", lead="lead_id"),
    )
    for pk, status, score, band, model, account, employees, revenue, intent_at, engaged_at in rows:
        yield PriorityFacts(
            handoff_id=pk,
            status=status,
            has_company=account is not None,
            employees=employees,
            revenue=revenue,
            score=Decimal(score),
            band=band,
            mql_threshold=thresholds.get(model),
            intent_at=intent_at,
            engaged_at=engaged_at,
        )


def opening_facts(crossings: "Sequence[MqlCrossing]", *, now: datetime) -> list[PriorityFacts]:
    """The facts of handoffs about to be opened for these crossings (their scores stored in
    the same transaction): what `priority_facts` will read once they exist, in one query."""
    thresholds = mql_thresholds()
    leads = {
        pk: rest
        for pk, *rest in Lead.objects.filter(pk__any_of=sorted({c.lead_id for c in crossings}))
        .order_by()
        .values_list("pk", *_lead_columns(now, path="", lead="pk"))
    }
    facts = []
    for c in crossings:
        account, employees, revenue, intent_at, engaged_at = leads[c.lead_id]
        facts.append(
            PriorityFacts(
                handoff_id=0,
                status=HandoffStatus.NEW,
                has_company=account is not None,
                employees=employees,
                revenue=revenue,
                score=c.total,
                band=c.band,
                mql_threshold=thresholds.get(c.scoring_model_id),
                intent_at=intent_at,
                engaged_at=engaged_at,
            )
        )
    return facts


PRIORITY_FIELDS = (
    "score_band", "size_band", "buyer_stage", "score_points", "priority_base", "priority_until",
)  # fmt: skip


def stored_priority(facts: PriorityFacts) -> tuple[str, str, str, float, float, datetime | None]:
    """The values of PRIORITY_FIELDS for a handoff with these facts."""
    part = priority_parts(facts)
    return (facts.band, part.size_band, part.buyer_stage, part.score_points, part.base, part.until)


def opening_priorities(
    crossings: "Sequence[MqlCrossing]", *, now: datetime
) -> list[dict[str, object]]:
    """The stored priority fields of the handoffs about to be opened for these crossings, so a
    publish that hands thousands of leads to sales writes each handoff once."""
    return [
        dict(zip(PRIORITY_FIELDS, stored_priority(facts), strict=True))
        for facts in opening_facts(crossings, now=now)
    ]


@dataclass(frozen=True)
class OpeningColumns:
    """The stored priority fields for the statement that opens handoffs on PostgreSQL:
    `joins` follow `FROM opening f`, whose columns are lead_id, scoring_model_id, total, band,
    at and account_id; `columns` hold an SQL expression per field; `params` their named
    parameters."""

    joins: str
    columns: dict[str, str]
    params: dict[str, object]


def opening_columns(*, now: datetime) -> OpeningColumns:
    """`opening_priorities` as SQL over the rows of handoffs being opened."""
    params: dict[str, object] = {}

    def add(value: object) -> str:
        name = f"p_{len(params)}"
        params[name] = value
        return f"%({name})s"

    activity, account = Activity._meta.db_table, Account._meta.db_table

    def latest(signals: str, alias: str) -> str:
        # Newest first along the lead's activity index within the window, as `_latest` (a
        # LIMIT keeps the planner from copying the lookup into every use of its value).
        return (
            f"LEFT JOIN LATERAL (SELECT a.occurred_at AS at FROM {activity} a "  # noqa: S608
            f"WHERE a.lead_id = f.lead_id AND a.occurred_at >= "
            f"{add(now - timedelta(days=INTENT_DAYS))} AND a.occurred_at <= {add(now)} "
            f"AND ({signals}) ORDER BY a.occurred_at DESC LIMIT 1) {alias} ON true"
        )

    like = connection.ops.prep_for_like_query
    intent = " OR ".join(
        [
            f"a.kind = ANY({add(list(INTENT_KINDS))})",
            *(
                f"(a.kind = 'page_view' AND ((a.properties ->> 'url') LIKE {add(like(p) + '%')} "
                f"OR (a.properties ->> 'url') ~ {add(full_url_pattern(p))}))"
                for p in INTENT_URL_PREFIXES
            ),
        ]
    )
    engaged = f"a.kind = ANY({add(list(ENGAGED_KINDS))})"
    thresholds = " ".join(
        f"WHEN {add(pk)}::bigint THEN {add(value)}::float8"
        for pk, value in mql_thresholds().items()
    )
    threshold = f"(CASE f.scoring_model_id {thresholds} END)" if thresholds else "NULL::float8"
    employees, revenue = "p_ac.employee_count", "p_ac.annual_revenue"
    size = (
        "CASE WHEN f.account_id IS NULL THEN 'consumer' "
        f"WHEN {employees} IS NOT NULL THEN CASE WHEN {employees} >= {LARGE_FROM_EMPLOYEES} "
        f"THEN 'large' WHEN {employees} >= {SMALL_BELOW_EMPLOYEES} THEN 'medium' ELSE 'small' END "
        f"WHEN {revenue} > {add(LARGE_ABOVE_REVENUE)} THEN 'large' "
        f"WHEN {revenue} > {add(SMALL_UP_TO_REVENUE)} THEN 'medium' ELSE 'small' END"
    )
    # As timedelta(days=...) adds, whatever the session's time zone.
    window = f"make_interval(hours => {INTENT_DAYS * 24})"
    triage = " ".join(
        f"WHEN p.size_band = '{size_band}' AND p.buyer_stage = '{stage}' THEN {points}"
        for (size_band, stage), points in TRIAGE_MATRIX.items()
    )
    joins = (
        f"LEFT JOIN {account} p_ac ON p_ac.id = f.account_id "
        f"{latest(intent, 'p_i')} {latest(engaged, 'p_e')} CROSS JOIN LATERAL (SELECT "
        f"{size} AS size_band, CASE WHEN p_i.at IS NOT NULL THEN 'decision' "
        "WHEN p_e.at IS NOT NULL THEN 'consideration' ELSE 'awareness' END AS buyer_stage, "
        f"CASE WHEN {threshold} > 0 THEN least(greatest(f.total::float8 / {threshold}, 0), 2) "
        f"* {SCORE_POINTS_PER_THRESHOLD} ELSE 0 END AS score_points) p"
    )
    return OpeningColumns(
        joins=joins,
        columns={
            "score_band": "f.band",
            "size_band": "p.size_band",
            "buyer_stage": "p.buyer_stage",
            "score_points": "p.score_points",
            "priority_base": f"(CASE {triage} END) + p.score_points",
            "priority_until": f"coalesce(p_i.at, p_e.at) + {window}",
        },
        params=params,
    )


# --- reading the queue ---------------------------------------------------------------------------


def _sla_state(now: datetime) -> Case:
    return Case(
        When(~Q(status=HandoffStatus.NEW), then=Value("met")),
        When(sla_due_at__lte=now, then=Value("overdue")),
        When(sla_due_at__lte=now + timedelta(hours=due_soon_hours()), then=Value("due_soon")),
        When(sla_due_at__lte=now + timedelta(hours=24), then=Value("due_today")),
        default=Value("later"),
    )


def sla_levels(now: datetime) -> list[tuple[Q, int]]:
    """The handoffs split by SLA urgency (the same cuts as the sla_state annotation), each part
    with the points it adds: within one part the stored priority alone decides the order."""
    waiting = Q(status=HandoffStatus.NEW)
    soon, day = now + timedelta(hours=due_soon_hours()), now + timedelta(hours=24)
    return [
        (waiting & Q(sla_due_at__lte=now), SLA_POINTS["overdue"]),
        (waiting & Q(sla_due_at__gt=now, sla_due_at__lte=soon), SLA_POINTS["due_soon"]),
        (waiting & Q(sla_due_at__gt=soon, sla_due_at__lte=day), SLA_POINTS["due_today"]),
        (~waiting | Q(sla_due_at__gt=day), SLA_POINTS["later"]),
    ]


def with_priority(handoffs: QuerySet[Handoff], *, now: datetime) -> QuerySet[Handoff]:
    """Annotate the rows on show: sla_state and sla_points (by the clock), the current score and
    band, the MQL threshold, is_open and priority (the stored part plus the SLA's points).

    For a page of rows, not for sorting (the queue sorts through `sla_levels`); read the reason
    from each row through `PriorityReason.of`.
    """
    threshold = Case(
        *(When(scoring_model_id=pk, then=Value(value)) for pk, value in mql_thresholds().items()),
        default=Value(None),
        output_field=FloatField(),
    )
    sla_points = Case(
        *(When(sla_state=state, then=Value(points)) for state, points in SLA_POINTS.items()),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        handoffs.annotate(
            sla_state=_sla_state(now),
            current_score=Coalesce(_current("total"), F("score_at_handoff")),
            current_band=_current("band"),
            mql_threshold=threshold,
            is_open=Case(
                When(status__in=OPEN_HANDOFF_STATUSES, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .annotate(sla_points=sla_points)
        .annotate(priority=F("priority_base") + F("sla_points"))
    )


@dataclass(frozen=True)
class PriorityReason:
    """Why a handoff sits where it does, for the "why first" hint."""

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
        """From the stored parts and the annotations of `with_priority`."""
        values = handoff.__dict__
        threshold = values["mql_threshold"]
        percent = round(float(values["current_score"]) * 100 / threshold) if threshold else None
        # A handoff whose parts are not computed yet (they are within moments) ranks as the least.
        size, stage = handoff.size_band or "consumer", handoff.buyer_stage or "awareness"
        return cls(
            size_band=size,
            buyer_stage=stage,
            triage_points=TRIAGE_MATRIX[size, stage],
            score_percent=percent,
            score_points=handoff.score_points,
            sla_state=values["sla_state"],
            sla_points=values["sla_points"],
            priority=values["priority"],
        )
