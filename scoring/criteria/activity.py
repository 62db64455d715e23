"""Activity criteria (engagement): points for what a lead did.

Matching activities: kind in kinds (any kind when kinds is empty), every `where` condition on its
properties holds, it happened by the moment, and its age (in days) is below window_days when a
window is set. Counted: each = all of them; once = the most recent; per_day = the most recent one
of each calendar day in the time zone. Every counted occurrence is worth points * 0.5 ** (age /
half_life), half_life being the criterion's half_life_days, else the model's decay_half_life_days,
else no decay. The worths are summed, then a cap limits the sum in the direction of the points:
min(sum, cap) for positive points, max(sum, -cap) for negative. Evidence = the number counted.
"""

from __future__ import annotations

import polars as pl

from scoring.definition import ActivityCriterion, ModelSpec

from .base import Context, amounts

TYPE = "activity"
SPEC = ActivityCriterion
FIT = False


def _counted(criterion: ActivityCriterion, context: Context) -> pl.DataFrame:
    """The counted occurrences: m, activity, age_days."""
    seen = context.seen(criterion.kinds, criterion.where, criterion.window_days)
    if criterion.count == "each":
        return seen.select("m", "activity", "age_days")
    by = ["m"]
    if criterion.count == "per_day":
        day = pl.col("occurred_at").dt.convert_time_zone(context.time_zone).dt.date()
        seen, by = seen.with_columns(day=day), ["m", "day"]
    newest = pl.col("age_days").arg_min()
    return (
        seen.group_by(by)
        .agg(activity=pl.col("activity").get(newest), age_days=pl.col("age_days").min())
        .select("m", "activity", "age_days")
    )


def evaluate(criterion: ActivityCriterion, context: Context) -> pl.DataFrame:
    counted = _counted(criterion, context)
    points = float(criterion.points)
    half_life = criterion.half_life_days or context.spec.decay_half_life_days
    if half_life:
        worth = (points * pl.lit(0.5).pow(pl.col("age_days") / half_life)).sum()
    else:
        # Exactly n times the points: a sum of n equal floats drifts.
        worth = points * pl.len().cast(pl.Float64)
    summed = counted.group_by("m").agg(amount=worth, evidence=pl.len())
    if criterion.cap is not None:
        cap = float(criterion.cap)
        capped = (
            pl.min_horizontal("amount", pl.lit(cap))
            if points > 0
            else pl.max_horizontal("amount", pl.lit(-cap))
        )
        summed = summed.with_columns(amount=capped)
    return amounts(summed)


def evidence(criterion: ActivityCriterion, context: Context) -> pl.DataFrame:
    """The counted activities, newest first: m, activity."""
    return _counted(criterion, context).sort("m", "age_days").select("m", "activity")


def time_dependent(criterion: ActivityCriterion, spec: ModelSpec) -> bool:
    return (
        criterion.window_days is not None
        or criterion.half_life_days is not None
        or spec.decay_half_life_days is not None
    )
