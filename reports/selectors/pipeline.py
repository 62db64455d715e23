"""The funnel and the follow-up SLA: when each lead reached each stage, how handoffs were answered.

Both compute one row per lead (or handoff) in an inner query and classify those rows in an outer
one, so each correlated lookup runs once per row; medians use PostgreSQL's percentile_cont and a
portable ORDER BY/OFFSET form on SQLite.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Exists, Min, OuterRef, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from scoring.models import Handoff, HandoffAction, Lead, LeadScore, ScoreEvent, ScoreEventKind

from ..forms import ReportFilters
from .weekly import week_date, weeks_in

FUNNEL_STAGES = ("iql", "mql", "sal", "sql", "won")
Kind = HandoffAction.Kind
_RESPONSES = (Kind.ACCEPTED, Kind.REJECTED)
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


def _stage_times_cte(filters: ReportFilters) -> tuple[str, list[Any]]:
    """`WITH ... stages AS (...)`: per cohort lead, when it was created, first became MQL, was
    accepted, qualified and won (NULL when not).

    Set-based on purpose: events and handoff actions are grouped once per lead through hash
    joins, instead of correlated look-ups per lead that the planner may run in time order.
    """
    cohort_sql, cohort_params = (
        cohort_leads(filters=filters).order_by().values("id", "created_at").query.sql_with_params()
    )
    model_id = filters.scoring_model_id
    params: list[Any] = [*cohort_params, ScoreEventKind.MQL_REACHED]
    if model_id:
        params.append(model_id)
    kinds = [Kind.CREATED, Kind.ACCEPTED, Kind.QUALIFIED, Kind.WON]
    params += [*kinds, *kinds]
    if model_id:
        params.append(model_id)
    same_model = "AND {}.scoring_model_id = %s" if model_id else ""
    sql = f"""
        WITH cohort AS ({cohort_sql}),
        mql AS (
            SELECT e.lead_id, MIN(e.occurred_at) AS at
            FROM {ScoreEvent._meta.db_table} e JOIN cohort c ON c.id = e.lead_id
            WHERE e.kind = %s {same_model.format("e")}
            GROUP BY e.lead_id
        ),
        steps AS (
            SELECT h.lead_id,
                MIN(CASE WHEN a.kind = %s THEN a.at END) AS handed_over_at,
                MIN(CASE WHEN a.kind = %s THEN a.at END) AS sal_at,
                MIN(CASE WHEN a.kind = %s THEN a.at END) AS sql_at,
                MIN(CASE WHEN a.kind = %s THEN a.at END) AS won_at
            FROM {Handoff._meta.db_table} h
            JOIN cohort c ON c.id = h.lead_id
            JOIN {HandoffAction._meta.db_table} a ON a.handoff_id = h.id
            WHERE a.kind IN (%s, %s, %s, %s) {same_model.format("h")}
            GROUP BY h.lead_id
        ),
        stages AS (
            -- A handoff is only ever opened for an MQL, so it dates the MQL when no event does.
            SELECT c.created_at, COALESCE(m.at, s.handed_over_at) AS mql_at,
                s.sal_at, s.sql_at, s.won_at
            FROM cohort c
            LEFT JOIN mql m ON m.lead_id = c.id
            LEFT JOIN steps s ON s.lead_id = c.id
        )
    """  # noqa: S608 - table names from our models, values bound as parameters
    return sql, params


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


def _portable_median(
    cursor: CursorWrapper, with_sql: str, params: list[Any], seconds: str
) -> float | None:
    """Median without percentile functions (SQLite): count, then read the middle value(s)."""
    durations = f"{with_sql} SELECT {seconds} AS d FROM stages WHERE {seconds} IS NOT NULL"  # noqa: S608
    cursor.execute(f"SELECT COUNT(*) FROM ({durations}) AS x", params)  # noqa: S608
    count = cursor.fetchone()[0]
    if not count:
        return None
    cursor.execute(
        f"{durations} ORDER BY d LIMIT %s OFFSET %s", [*params, 2 - count % 2, (count - 1) // 2]
    )
    middle = [row[0] for row in cursor.fetchall()]
    return float(sum(middle) / len(middle))


def funnel_get(*, filters: ReportFilters) -> list[FunnelStage]:
    """IQL → MQL → SAL → SQL → won: how many cohort leads reached each stage, and how fast."""
    with_sql, params = _stage_times_cte(filters)
    reached = [f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)" for condition in _REACHED.values()]
    spans = [_seconds_between(later, earlier) for later, earlier in _STAGE_SPAN.values()]
    postgres = connection.vendor == "postgresql"
    medians_sql = [f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {span})" for span in spans]
    columns = ", ".join(["COUNT(*)", *reached, *(medians_sql if postgres else [])])
    with connection.cursor() as cursor:
        cursor.execute(f"{with_sql} SELECT {columns} FROM stages", params)  # noqa: S608
        row = cursor.fetchone()
        counts = [int(value or 0) for value in row[: len(FUNNEL_STAGES)]]
        if postgres:
            seconds_per_stage = [float(v) if v is not None else None for v in row[len(counts) :]]
        else:
            seconds_per_stage = [_portable_median(cursor, with_sql, params, span) for span in spans]
    medians = dict(zip(_STAGE_SPAN, seconds_per_stage, strict=True))
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
    # One row per handoff (grouped by its id) with its first answer, joined rather than looked
    # up per handoff; the outer query then classifies and counts per week.
    inner = (
        handoffs.order_by()
        .values("id", "sla_due_at")
        .annotate(
            week=TruncWeek("created_at"),
            answered_at=Min("actions__at", filter=Q(actions__kind__in=_RESPONSES)),
        )
        .values("week", "answered_at", "sla_due_at")
    )
    inner_sql, params = inner.query.sql_with_params()
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
    adapted = connection.ops.adapt_datetimefield_value(value)
    assert adapted is not None  # only None is adapted to None
    return adapted
