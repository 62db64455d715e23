"""Read-only aggregates behind the dashboards; every figure is computed by the database.

The funnel and the score charts follow one cohort: leads *created* in the chosen period that have
a score (in the chosen model), and how far they have come since. Weekly charts (MQLs, rejections,
SLA) count what happened in the period. Each query groups in SQL; none loops over leads in Python.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from ..forms import ReportFilters
from .pipeline import FunnelStage, SlaCompliance, funnel_get, sla_compliance
from .scores import BandConversion, Histogram, conversion_by_band, score_histograms
from .weekly import WeeklySeries, mqls_per_week, rejections_per_week

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
    "funnel_get",
    "mqls_per_week",
    "rejections_per_week",
    "score_histograms",
    "sla_compliance",
]


@dataclass(frozen=True)
class Dashboard:
    filters: ReportFilters
    funnel: list[FunnelStage]
    mqls_by_model: WeeklySeries
    mqls_by_source: WeeklySeries
    histograms: list[Histogram]
    band_conversion: list[BandConversion]
    sla: SlaCompliance
    rejections: WeeklySeries


def dashboard_get(*, filters: ReportFilters) -> Dashboard:
    """All dashboard figures, cached briefly: the same filters within a minute or two hit Redis."""
    key = f"reports:dashboard:v1:{filters.cache_key()}"
    seconds = settings.REPORTS_CACHE_SECONDS
    if seconds <= 0:
        return dashboard_compute(filters=filters)
    return cache.get_or_set(key, lambda: dashboard_compute(filters=filters), seconds)


def dashboard_compute(*, filters: ReportFilters) -> Dashboard:
    return Dashboard(
        filters=filters,
        funnel=funnel_get(filters=filters),
        mqls_by_model=mqls_per_week(filters=filters, by="scoring_model__name"),
        mqls_by_source=mqls_per_week(filters=filters, by="lead__source"),
        histograms=score_histograms(filters=filters),
        band_conversion=conversion_by_band(filters=filters),
        sla=sla_compliance(filters=filters),
        rejections=rejections_per_week(filters=filters),
    )
