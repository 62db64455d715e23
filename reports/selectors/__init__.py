"""Read-only aggregates behind the dashboards; every figure is computed by the database.

The funnel and the score charts follow one cohort: leads *created* in the chosen period that have
a score (in the chosen model), and how far they have come since. Weekly charts (MQLs, rejections,
SLA) count what happened in the period. Each query groups in SQL; none loops over leads in Python.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from scoring.models import ScoringModel

from ..forms import DEFAULT_DAYS, ReportFilters
from .pipeline import FunnelStage, SlaCompliance, funnel_get, sla_compliance
from .scores import (
    BandConversion,
    Histogram,
    conversion_by_band,
    score_breakdown,
    score_histograms,
)
from .weekly import WeeklySeries, mqls_per_week, rejections_per_week

# A computation that takes longer than this is assumed dead; waiting requests then compute.
COMPUTE_LOCK_SECONDS = 60

__all__ = [
    "BandConversion",
    "Dashboard",
    "FunnelStage",
    "Histogram",
    "SlaCompliance",
    "WeeklySeries",
    "conversion_by_band",
    "dashboard_compute",
    "dashboard_get",
    "dashboard_refresh",
    "default_filters",
    "funnel_get",
    "mqls_per_week",
    "rejections_per_week",
    "score_breakdown",
    "score_histograms",
    "sla_compliance",
]


@dataclass(frozen=True)
class Dashboard:
    filters: ReportFilters
    computed_at: datetime
    funnel: list[FunnelStage]
    mqls_by_model: WeeklySeries
    mqls_by_source: WeeklySeries
    histograms: list[Histogram]
    band_conversion: list[BandConversion]
    sla: SlaCompliance
    rejections: WeeklySeries


def _cache_key(filters: ReportFilters) -> str:
    return f"reports:dashboard:v2:{filters.cache_key()}"


def dashboard_get(*, filters: ReportFilters) -> Dashboard:
    """All dashboard figures, from the cache when they are at most REPORTS_CACHE_SECONDS old.

    On a miss one request computes while concurrent ones for the same filters wait for its
    result, so twenty managers opening the same report do not run twenty heavy aggregates.
    """
    seconds = settings.REPORTS_CACHE_SECONDS
    if seconds <= 0:
        return dashboard_compute(filters=filters)
    key = _cache_key(filters)
    cached: Dashboard | None = cache.get(key)  # only dashboard_refresh sets this key
    if cached is not None:
        return cached
    lock = f"{key}:computing"
    if cache.add(lock, 1, timeout=COMPUTE_LOCK_SECONDS):
        try:
            return dashboard_refresh(filters=filters)
        finally:
            cache.delete(lock)
    deadline = time.monotonic() + COMPUTE_LOCK_SECONDS
    while time.monotonic() < deadline and cache.get(lock) is not None:
        time.sleep(0.05)
        cached = cache.get(key)
        if cached is not None:
            return cached
    return dashboard_refresh(filters=filters)


def dashboard_refresh(*, filters: ReportFilters) -> Dashboard:
    """Compute the figures now and keep them for the next REPORTS_CACHE_SECONDS."""
    dashboard = dashboard_compute(filters=filters)
    cache.set(_cache_key(filters), dashboard, settings.REPORTS_CACHE_SECONDS)
    return dashboard


def dashboard_compute(*, filters: ReportFilters) -> Dashboard:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # These are short aggregates whose joins PostgreSQL over-estimates by orders of
            # magnitude; JIT compilation then costs seconds more than the query itself.
            cursor.execute("SET LOCAL jit = off")
        histograms, band_conversion = score_breakdown(filters=filters)
        return Dashboard(
            filters=filters,
            computed_at=timezone.now(),
            funnel=funnel_get(filters=filters),
            mqls_by_model=mqls_per_week(filters=filters, by="scoring_model__name"),
            mqls_by_source=mqls_per_week(filters=filters, by="lead__source"),
            histograms=histograms,
            band_conversion=band_conversion,
            sla=sla_compliance(filters=filters),
            rejections=rejections_per_week(filters=filters),
        )


def default_filters() -> list[ReportFilters]:
    """What the page shows without parameters (all models, and each model alone)."""
    period_end = timezone.localdate()
    period_start = period_end - timedelta(days=DEFAULT_DAYS - 1)
    model_ids = [None, *ScoringModel.objects.order_by("name").values_list("pk", flat=True)]
    return [ReportFilters(model_id, period_start, period_end) for model_id in model_ids]
