"""Attribute criteria (fit): points when a condition on the lead or its account holds.

Evidence 1. Nothing about them changes as time passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from scoring.definition import AttributeCriterion, ModelSpec, Number

from .base import Context, amounts, cents

TYPE = "attribute"
SPEC = AttributeCriterion
FIT = True
NEWEST_ONLY = False


def evaluate(criteria: Sequence[AttributeCriterion], context: Context) -> list[pl.DataFrame]:
    return [_evaluate(criterion, context) for criterion in criteria]


def _evaluate(criterion: AttributeCriterion, context: Context) -> pl.DataFrame:
    matches = context.lead_matches([criterion.condition]).gather(context.lead_rows)
    hits = context.moments.filter(matches)
    return amounts(hits.select("m", amount=pl.lit(criterion.points), evidence=pl.lit(1)))


def evidence(criterion: AttributeCriterion, context: Context) -> pl.DataFrame | None:
    return None


def time_dependent(criterion: AttributeCriterion, spec: ModelSpec) -> bool:
    return False


def window(criterion: AttributeCriterion) -> Number | None:
    """It reads no activities."""
    return None


def lead_paths(criterion: AttributeCriterion) -> list[str]:
    """The lead and account values it reads."""
    return [criterion.condition.field]


def property_keys(criterion: AttributeCriterion) -> list[str]:
    """The activity properties it reads."""
    return []


def decay(criterion: AttributeCriterion, spec: ModelSpec) -> Number | None:
    """The half-life its points decay with: none."""
    return None


def from_evidence(criterion: AttributeCriterion, spec: ModelSpec, count: pl.Expr) -> pl.Expr | None:
    """Its amount in cents from a stored evidence count: it fires for its points."""
    return pl.lit(cents(criterion.points), dtype=pl.Int64)
