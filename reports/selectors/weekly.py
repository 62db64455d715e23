"""Counts per calendar week (Monday to Sunday in the project's time zone)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from scoring.models import HandoffAction, ScoreEvent, ScoreEventKind, ScoringModel

from ..forms import ReportFilters

MAX_SERIES = 8
OTHER = "Other"


@dataclass(frozen=True)
class WeeklySeries:
    weeks: list[date]
    # series name -> one count per week, in the order of `weeks`
    series: dict[str, list[int]]

    @property
    def rows(self) -> list[tuple[date, list[int]]]:
        """Week by week, one count per series: the table beside the chart."""
        return [
            (week, [counts[i] for counts in self.series.values()])
            for i, week in enumerate(self.weeks)
        ]


def weeks_in(filters: ReportFilters) -> list[date]:
    """The Mondays of every week that overlaps the period."""
    monday = filters.date_from - timedelta(days=filters.date_from.weekday())
    weeks = []
    while monday <= filters.date_to:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def week_date(value: date | datetime | str) -> date:
    if isinstance(value, str):  # SQLite returns raw SQL values as text
        value = parse_datetime(value) or date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date()
    return value


def _weekly(
    filters: ReportFilters, rows: Iterable[Mapping[str, Any]], name_key: str, blank: str
) -> WeeklySeries:
    weeks = weeks_in(filters)
    position = {week: i for i, week in enumerate(weeks)}
    series: dict[str, list[int]] = {}
    for row in rows:
        name = row[name_key] or blank
        counts = series.setdefault(name, [0] * len(weeks))
        week = week_date(row["week"])
        if week in position:
            counts[position[week]] += row["n"]
    ordered = sorted(series.items(), key=lambda item: (-sum(item[1]), item[0]))
    if len(ordered) > MAX_SERIES:
        # A chart with dozens of colours says nothing: the smallest series become "Other".
        rest = ordered[MAX_SERIES - 1 :]
        other = [sum(counts[i] for _name, counts in rest) for i in range(len(weeks))]
        ordered = [*ordered[: MAX_SERIES - 1], (OTHER, other)]
    return WeeklySeries(weeks=weeks, series=dict(ordered))


def mqls_per_week(*, filters: ReportFilters, by: str) -> WeeklySeries:
    """Leads that became MQL per week, split by model or by the lead's source."""
    events = ScoreEvent.objects.filter(
        kind=ScoreEventKind.MQL_REACHED,
        occurred_at__gte=filters.start,
        occurred_at__lt=filters.end,
    )
    if filters.scoring_model_id:
        events = events.filter(scoring_model_id=filters.scoring_model_id)
    else:
        # Lets the (model, kind, occurred_at) index serve the range for every model.
        events = events.filter(scoring_model_id__in=ScoringModel.objects.values("pk"))
    rows = (
        events.annotate(week=TruncWeek("occurred_at"))
        .values("week", by)
        .annotate(n=Count("id"))
        .order_by()
    )
    return _weekly(filters, rows, by, blank="(unknown)")


def rejections_per_week(*, filters: ReportFilters) -> WeeklySeries:
    """Handoffs rejected by sales per week, split by the reason they gave."""
    actions = HandoffAction.objects.filter(
        kind=HandoffAction.Kind.REJECTED, at__gte=filters.start, at__lt=filters.end
    )
    if filters.scoring_model_id:
        actions = actions.filter(handoff__scoring_model_id=filters.scoring_model_id)
    rows = (
        actions.annotate(week=TruncWeek("at"))
        .values("week", "handoff__reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    return _weekly(filters, rows, "handoff__reason", blank="(no reason)")
