"""Frequency criteria (engagement): a bonus for a burst of activity.

Matching activities as for an activity criterion (no decay); fires once, for its points, when
at_least of them fit in a span of at most within_days between first and last. Evidence = the
largest number of them found within such a span.
"""

from __future__ import annotations

import polars as pl

from scoring.definition import FrequencyCriterion, ModelSpec

from .base import MICROSECONDS_PER_DAY, Context, amounts

TYPE = "frequency"
SPEC = FrequencyCriterion
FIT = False


def _spans(criterion: FrequencyCriterion, context: Context) -> pl.DataFrame:
    """Per matching activity, how many matching ones lie at most within_days before it (itself
    and those at the same time included): m, activity, occurred_at, age_days, n."""
    seen = context.seen(criterion.kinds, criterion.where, criterion.window_days).sort(
        "m", "occurred_at"
    )
    counts = (
        seen.rolling(
            index_column="occurred_at", period=f"{_span(criterion)}us", closed="both", group_by="m"
        )
        .agg(n=pl.len())
        .unique(subset=["m", "occurred_at"])
    )
    return seen.join(counts, on=["m", "occurred_at"], how="left")


def _span(criterion: FrequencyCriterion) -> int:
    return int(criterion.within_days * MICROSECONDS_PER_DAY)


def evaluate(criterion: FrequencyCriterion, context: Context) -> pl.DataFrame:
    busiest = _spans(criterion, context).group_by("m").agg(evidence=pl.col("n").max())
    fired = busiest.filter(pl.col("evidence") >= criterion.at_least)
    return amounts(fired.with_columns(amount=pl.lit(criterion.points)))


def evidence(criterion: FrequencyCriterion, context: Context) -> pl.DataFrame:
    """The activities of the busiest span (the earliest of equal ones), newest first."""
    spans = _spans(criterion, context)
    ends = (
        spans.sort("m", "n", "occurred_at", descending=[False, True, False])
        .unique(subset="m", keep="first")
        .select("m", end=pl.col("occurred_at"))
    )
    start = pl.col("end") - pl.duration(microseconds=_span(criterion))
    return (
        spans.join(ends, on="m")
        .filter(pl.col("occurred_at").is_between(start, pl.col("end")))
        .sort("m", "occurred_at", "activity", descending=[False, True, True])
        .select("m", "activity")
    )


def time_dependent(criterion: FrequencyCriterion, spec: ModelSpec) -> bool:
    return criterion.window_days is not None
