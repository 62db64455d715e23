"""The cohort's current scores: how they spread, and how each band converts."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    Exists,
    FloatField,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Floor, Greatest, Least, NullIf

from scoring.models import LeadOutcome, LeadScore, OutcomeKind

from ..forms import ReportFilters

# Histogram bins are fifths of the model's MQL threshold, from 0 up to twice the threshold;
# bin -1 holds negative scores and bin HISTOGRAM_TOP everything from twice the threshold up.
HISTOGRAM_BINS_PER_THRESHOLD = 5
HISTOGRAM_TOP = 2 * HISTOGRAM_BINS_PER_THRESHOLD


@dataclass(frozen=True)
class Histogram:
    model: str
    mql_threshold: Decimal
    # (lower bound or None for "below 0", upper bound or None for "and more", leads)
    bins: list[tuple[Decimal | None, Decimal | None, int]]


@dataclass(frozen=True)
class BandConversion:
    model: str
    band: str
    lowest_score: Decimal
    leads: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.leads if self.leads else 0.0


def _cohort_scores(filters: ReportFilters) -> QuerySet[LeadScore]:
    scores = LeadScore.objects.filter(
        lead__created_at__gte=filters.start, lead__created_at__lt=filters.end
    )
    if filters.scoring_model_id:
        scores = scores.filter(scoring_model_id=filters.scoring_model_id)
    return scores


def _score_bin() -> Coalesce:
    # Floats, because SQLite divides whole-numbered decimals as integers (-25 / 100 = 0).
    raw_bin = Floor(
        Cast("total", FloatField())
        * HISTOGRAM_BINS_PER_THRESHOLD
        / NullIf(Cast("scoring_model__mql_threshold", FloatField()), 0.0)
    )
    return Coalesce(
        Least(Greatest(raw_bin, Value(-1)), Value(HISTOGRAM_TOP)),
        Value(HISTOGRAM_TOP),
        output_field=IntegerField(),
    )


def score_breakdown(*, filters: ReportFilters) -> tuple[list[Histogram], list[BandConversion]]:
    """Histograms and conversion by band from one pass over the cohort's scores.

    Grouped by model, band and histogram bin, with the leads of each group and how many of them
    were won or converted; both charts are sums over these few groups.
    """
    converted = LeadOutcome.objects.filter(
        lead=OuterRef("lead_id"), outcome__in=[OutcomeKind.WON, OutcomeKind.CONVERTED]
    )
    rows = (
        _cohort_scores(filters)
        .annotate(bin=_score_bin(), has_converted=Exists(converted))
        .values("scoring_model__name", "scoring_model__mql_threshold", "band", "bin")
        .annotate(
            leads=Count("id"),
            converted=Count("id", filter=Q(has_converted=True)),
            lowest=Min("total"),
        )
        .order_by()
    )
    thresholds: dict[str, Decimal] = {}
    bin_counts: dict[str, dict[int, int]] = {}
    bands: dict[tuple[str, str], list[Any]] = {}  # (model, band) -> [lowest, leads, converted]
    for row in rows:
        model = row["scoring_model__name"]
        thresholds[model] = row["scoring_model__mql_threshold"]
        counts = bin_counts.setdefault(model, {})
        counts[int(row["bin"])] = counts.get(int(row["bin"]), 0) + row["leads"]
        band = bands.setdefault((model, row["band"] or "—"), [row["lowest"], 0, 0])
        band[0] = min(band[0], row["lowest"])
        band[1] += row["leads"]
        band[2] += row["converted"]
    histograms = [
        _histogram(model, thresholds[model], bin_counts[model]) for model in sorted(thresholds)
    ]
    conversion = [
        BandConversion(model=model, band=band, lowest_score=low, leads=leads, converted=won)
        for (model, band), (low, leads, won) in sorted(
            bands.items(), key=lambda item: (item[0][0], item[1][0])
        )
    ]
    return histograms, conversion


def _histogram(model: str, threshold: Decimal, counts: dict[int, int]) -> Histogram:
    width = Decimal(threshold) / HISTOGRAM_BINS_PER_THRESHOLD
    bins: list[tuple[Decimal | None, Decimal | None, int]] = [(None, Decimal(0), counts.get(-1, 0))]
    for index in range(HISTOGRAM_TOP):
        bins.append((width * index, width * (index + 1), counts.get(index, 0)))
    bins.append((width * HISTOGRAM_TOP, None, counts.get(HISTOGRAM_TOP, 0)))
    return Histogram(model=model, mql_threshold=threshold, bins=bins)


def score_histograms(*, filters: ReportFilters) -> list[Histogram]:
    """How the cohort's current scores spread, per model, in fifths of the MQL threshold."""
    return score_breakdown(filters=filters)[0]


def conversion_by_band(*, filters: ReportFilters) -> list[BandConversion]:
    """Per model and band, lowest band first: cohort leads, and how many were won or converted."""
    return score_breakdown(filters=filters)[1]
