"""The funnel and the follow-up SLA: when each lead reached each stage, how handoffs were answered.

Both compute one row per lead (or handoff) in an inner query and classify those rows in an outer
one, so each correlated lookup runs once per row; medians use PostgreSQL's percentile_cont and a
portable ORDER BY/OFFSET form on SQLite.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from scoring.models import Handoff, HandoffAction, Lead, LeadScore, ScoreEvent, ScoreEventKind

from ..forms import ReportFilters
from .weekly import week_date, weeks_in

FUNNEL_STAGES = ("iql", "mql", "sal", "sql", "won")
_RESPONSES = (HandoffAction.Kind.ACCEPTED, HandoffAction.Kind.REJECTED)
# {handoffs} is one row per handoff: week, answered_at (first accept/reject), sla_due_at.
_SLA_BY_WEEK = """
    SELECT week,
        SUM(CASE WHEN answered_at IS NOT NULL AND answered_at <= sla_due_at THEN 1 ELSE 0 END),
        SUM(CASE WHEN answered_at IS NOT NULL AND answered_at > sla_due_at THEN 1 ELSE 0 END),
        SUM(CASE WHEN answered_at IS NULL AND sla_due_at < %s THEN 1 ELSE 0 END),
        SUM(CASE WHEN answered_at IS NULL AND sla_due_at >= %s THEN 1 ELSE 0 END)
    FROM ({handoffs}) AS handoffs GROUP BY week ORDER BY week
"""


@dataclass(frozen=True)
class FunnelStage:
    key: str
    count: int
    # Share of the previous stage that reached this one (None for the first stage or 0 before).
    conversion: float | None
    # Median days spent in this stage by the leads that moved on to the next one.
    median_days: float | None


@dataclass(frozen=True)
class SlaWeek:
    week: date
    in_time: int
    late: int
    overdue: int
    waiting: int


@dataclass(frozen=True)
class SlaCompliance:
    weeks: list[SlaWeek]

    def total(self, name: str) -> int:
        return sum(getattr(w, name) for w in self.weeks)

    @property
    def overdue(self) -> int:
        return self.total("overdue")

    @property
    def rate(self) -> float | None:
        """Share answered in time among handoffs whose deadline is behind us or answered."""
        due = self.total("in_time") + self.total("late") + self.total("overdue")
        return self.total("in_time") / due if due else None


def cohort_leads(*, filters: ReportFilters) -> QuerySet[Lead]:
    """Leads created in the period that have a score (in the chosen model)."""
    scores = LeadScore.objects.filter(lead=OuterRef("pk"))
    if filters.scoring_model_id:
        scores = scores.filter(scoring_model_id=filters.scoring_model_id)
    return Lead.objects.filter(
        Exists(scores), created_at__gte=filters.start, created_at__lt=filters.end
    )


def _first_action_at(filters: ReportFilters, *kinds: str) -> Subquery:
    actions = HandoffAction.objects.filter(handoff__lead=OuterRef("pk"), kind__in=kinds)
    if filters.scoring_model_id:
        actions = actions.filter(handoff__scoring_model_id=filters.scoring_model_id)
    return Subquery(actions.order_by("at").values("at")[:1])


def lead_stage_times(*, filters: ReportFilters) -> QuerySet[Lead]:
    """Per cohort lead: when it first became MQL, was accepted, qualified and won."""
    events = ScoreEvent.objects.filter(lead=OuterRef("pk"), kind=ScoreEventKind.MQL_REACHED)
    if filters.scoring_model_id:
        events = events.filter(scoring_model_id=filters.scoring_model_id)
    return (
        cohort_leads(filters=filters)
        .annotate(
            # A handoff is only ever opened for an MQL, so it dates the MQL when no event does.
            mql_at=Coalesce(
                Subquery(events.order_by("occurred_at").values("occurred_at")[:1]),
                _first_action_at(filters, HandoffAction.Kind.CREATED),
            ),
            sal_at=_first_action_at(filters, HandoffAction.Kind.ACCEPTED),
            sql_at=_first_action_at(filters, HandoffAction.Kind.QUALIFIED),
            won_at=_first_action_at(filters, HandoffAction.Kind.WON),
        )
        .order_by()
        .values("created_at", "mql_at", "sal_at", "sql_at", "won_at")
    )


def _seconds_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


# A stage is reached when its own timestamp or any later one is set: a deal can be won straight
# from "accepted" without being marked qualified first.
_REACHED = {
    "mql": "mql_at IS NOT NULL OR sal_at IS NOT NULL OR sql_at IS NOT NULL OR won_at IS NOT NULL",
    "sal": "sal_at IS NOT NULL OR sql_at IS NOT NULL OR won_at IS NOT NULL",
    "sql": "sql_at IS NOT NULL OR won_at IS NOT NULL",
    "won": "won_at IS NOT NULL",
}
# Time spent in a stage: from entering it to entering the next one.
_STAGE_SPAN = {
    "iql": ("mql_at", "created_at"),
    "mql": ("sal_at", "mql_at"),
    "sal": ("COALESCE(sql_at, won_at)", "sal_at"),
    "sql": ("won_at", "sql_at"),
}


def _median(durations_sql: str, params: list) -> float | None:
    """Median of a one-column query (NULLs ignored), in the database on either backend."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            median_sql = "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) FROM ({}) AS x"
            cursor.execute(median_sql.format(durations_sql), params)
            value = cursor.fetchone()[0]
            return float(value) if value is not None else None
        # Portable fallback: count, then read the middle one or two values in order.
        inner = f"SELECT d FROM ({durations_sql}) AS durations WHERE d IS NOT NULL"  # noqa: S608
        cursor.execute(f"SELECT COUNT(*) FROM ({inner}) AS c", params)  # noqa: S608
        count = cursor.fetchone()[0]
        if not count:
            return None
        cursor.execute(
            f"{inner} ORDER BY d LIMIT %s OFFSET %s", [*params, 2 - count % 2, (count - 1) // 2]
        )
        middle = [row[0] for row in cursor.fetchall()]
        return float(sum(middle) / len(middle))


def funnel_get(*, filters: ReportFilters) -> list[FunnelStage]:
    """IQL → MQL → SAL → SQL → won: how many cohort leads reached each stage, and how fast."""
    stages_sql, params = lead_stage_times(filters=filters).query.sql_with_params()
    reached = ", ".join(
        f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)" for condition in _REACHED.values()
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), {reached} FROM ({stages_sql}) AS stages", params)  # noqa: S608
        counts = [int(value or 0) for value in cursor.fetchone()]
    medians: dict[str, float | None] = {}
    for stage, (later, earlier) in _STAGE_SPAN.items():
        seconds = _seconds_between(later, earlier)
        medians[stage] = _median(
            f"SELECT {seconds} AS d FROM ({stages_sql}) AS stages",  # noqa: S608
            list(params),
        )
    result = []
    for index, (stage, count) in enumerate(zip(FUNNEL_STAGES, counts, strict=True)):
        previous = counts[index - 1] if index else 0
        seconds = medians.get(stage)
        result.append(
            FunnelStage(
                key=stage,
                count=count,
                conversion=count / previous if previous else None,
                median_days=seconds / 86400 if seconds is not None else None,
            )
        )
    return result


def sla_compliance(*, filters: ReportFilters, now: datetime | None = None) -> SlaCompliance:
    """Handoffs opened per week, by whether sales answered (accepted or rejected) in time."""
    now = now or timezone.now()
    handoffs = Handoff.objects.filter(created_at__gte=filters.start, created_at__lt=filters.end)
    if filters.scoring_model_id:
        handoffs = handoffs.filter(scoring_model_id=filters.scoring_model_id)
    first_response = HandoffAction.objects.filter(handoff=OuterRef("pk"), kind__in=_RESPONSES)
    inner = (
        handoffs.annotate(
            week=TruncWeek("created_at"),
            answered_at=Subquery(first_response.order_by("at").values("at")[:1]),
        )
        .order_by()
        .values("week", "answered_at", "sla_due_at")
    )
    inner_sql, params = inner.query.sql_with_params()
    # The first answer is looked up once per handoff in the inner query, then classified.
    now_param = now if connection.vendor == "postgresql" else _sqlite_datetime(now)
    sql = _SLA_BY_WEEK.replace("{handoffs}", inner_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, [now_param, now_param, *params])
        rows = cursor.fetchall()
    by_week = {
        week_date(week): SlaWeek(week_date(week), *(int(v or 0) for v in counts))
        for week, *counts in rows
    }
    return SlaCompliance(
        weeks=[by_week.get(week) or SlaWeek(week, 0, 0, 0, 0) for week in weeks_in(filters)]
    )


def _sqlite_datetime(value: datetime) -> str:
    # How Django stores aware datetimes in SQLite: naive UTC text, comparable as strings.
    return connection.ops.adapt_datetimefield_value(value)
