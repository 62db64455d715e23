"""The cohort's current scores: how they spread, and how each band converts."""

from dataclasses import dataclass
from decimal import Decimal

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


def score_histograms(*, filters: ReportFilters) -> list[Histogram]:
    """How the cohort's current scores spread, per model, in fifths of the MQL threshold."""
    # Floats, because SQLite divides whole-numbered decimals as integers (-25 / 100 = 0).
    raw_bin = Floor(
        Cast("total", FloatField())
        * HISTOGRAM_BINS_PER_THRESHOLD
        / NullIf(Cast("scoring_model__mql_threshold", FloatField()), 0.0)
    )
    bin_expr = Coalesce(
        Least(Greatest(raw_bin, Value(-1)), Value(HISTOGRAM_TOP)),
        Value(HISTOGRAM_TOP),
        output_field=IntegerField(),
    )
    rows = (
        _cohort_scores(filters)
        .annotate(bin=bin_expr)
        .values("scoring_model__name", "scoring_model__mql_threshold", "bin")
        .annotate(n=Count("id"))
        .order_by("scoring_model__name")
    )
    per_model: dict[str, tuple[Decimal, dict[int, int]]] = {}
    for row in rows:
        _, counts = per_model.setdefault(
            row["scoring_model__name"], (row["scoring_model__mql_threshold"], {})
        )
        counts[int(row["bin"])] = row["n"]
    histograms = []
    for name, (threshold, counts) in per_model.items():
        width = Decimal(threshold) / HISTOGRAM_BINS_PER_THRESHOLD
        bins: list[tuple[Decimal | None, Decimal | None, int]] = [
            (None, Decimal(0), counts.get(-1, 0))
        ]
        for index in range(HISTOGRAM_TOP):
            bins.append((width * index, width * (index + 1), counts.get(index, 0)))
        bins.append((width * HISTOGRAM_TOP, None, counts.get(HISTOGRAM_TOP, 0)))
        histograms.append(Histogram(model=name, mql_threshold=threshold, bins=bins))
    return histograms


def conversion_by_band(*, filters: ReportFilters) -> list[BandConversion]:
    """Per model and band: cohort leads, and how many of them were won or converted."""
    converted = LeadOutcome.objects.filter(
        lead=OuterRef("lead_id"), outcome__in=[OutcomeKind.WON, OutcomeKind.CONVERTED]
    )
    rows = (
        _cohort_scores(filters)
        .annotate(has_converted=Exists(converted))
        .values("scoring_model__name", "band")
        .annotate(
            leads=Count("id"),
            converted=Count("id", filter=Q(has_converted=True)),
            lowest=Min("total"),
        )
        .order_by("scoring_model__name", "lowest")
    )
    return [
        BandConversion(
            model=row["scoring_model__name"],
            band=row["band"] or "—",
            lowest_score=row["lowest"],
            leads=row["leads"],
            converted=row["converted"],
        )
        for row in rows
    ]
