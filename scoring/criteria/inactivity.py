"""Inactivity criteria (engagement, usually negative): points when a lead has gone quiet.

Reference = the latest activity (of `kinds` when given) by the moment, or the lead's created_at
when later; fires, for its points, when there is no reference or the moment is at least `days`
after it. Evidence 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from scoring.definition import InactivityCriterion, ModelSpec, Number

from .base import MICROSECONDS_PER_DAY, Context, amounts, cents

TYPE = "inactivity"
SPEC = InactivityCriterion
FIT = False
# Only each lead's newest activity (of its kinds) by the moment decides it.
NEWEST_ONLY = True


def evaluate(criteria: Sequence[InactivityCriterion], context: Context) -> list[pl.DataFrame]:
    return [_evaluate(criterion, context) for criterion in criteria]


def _evaluate(criterion: InactivityCriterion, context: Context) -> pl.DataFrame:
    latest = context.seen(criterion.kinds).group_by("m").agg(last=pl.col("occurred_at").max())
    moments = context.moments.join(
        context.leads.select("lead_id", "created_at"), on="lead_id", how="left"
    ).join(latest, on="m", how="left")
    reference = pl.max_horizontal("last", "created_at")
    quiet_days = (pl.col("at") - reference).dt.total_microseconds() / MICROSECONDS_PER_DAY
    fired = moments.filter(reference.is_null() | (quiet_days >= criterion.days))
    return amounts(fired.select("m", amount=pl.lit(criterion.points), evidence=pl.lit(1)))


def evidence(criterion: InactivityCriterion, context: Context) -> pl.DataFrame:
    """The newest activity (of its kinds) by the moment, the one its silence is counted from
    unless the lead is younger: m, activity."""
    newest = context.seen(criterion.kinds).sort("m", "occurred_at", descending=[False, True])
    return newest.unique("m", keep="first", maintain_order=True).select("m", "activity")


def time_dependent(criterion: InactivityCriterion, spec: ModelSpec) -> bool:
    return True


def window(criterion: InactivityCriterion) -> Number | None:
    """Any activity breaks a silence, however old."""
    return None


def lead_paths(criterion: InactivityCriterion) -> list[str]:
    """The lead and account values it reads (created_at is always read)."""
    return []


def property_keys(criterion: InactivityCriterion) -> list[str]:
    """The activity properties it reads."""
    return []


def decay(criterion: InactivityCriterion, spec: ModelSpec) -> Number | None:
    """The half-life its points decay with: none."""
    return None


def from_evidence(
    criterion: InactivityCriterion, spec: ModelSpec, count: pl.Expr
) -> pl.Expr | None:
    """Its amount in cents from a stored evidence count: it fires for its points."""
    return pl.lit(cents(criterion.points), dtype=pl.Int64)
