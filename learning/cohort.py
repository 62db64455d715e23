"""The leads whose outcome is known, scored by a model as they stood just before that outcome.

This is what every lesson from outcomes is drawn from: which criteria convert, suggested points,
backtests. The one engine scores each lead at the moment just before its first decided outcome
(won, converted, lost, disqualified), so an activity after the outcome changes nothing; the
engine's points per criterion are the features.

Two things cannot be looked at as they were then. A lead's fields and its account's are today's
values. And the outcome itself moved the lead's lifecycle stage (a won lead is a customer now),
so the audience's conditions on the stage are set aside: a prospect model would otherwise never
see a lead it won.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl
from django.utils import timezone

from scoring.definition import ModelSpec
from scoring.engine import MOMENT_SCHEMA, evaluate, lead_paths, property_keys
from scoring.frames import activities_frame, leads_frame
from scoring.models import LeadOutcome, OutcomeKind

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

__all__ = ["CONVERTED", "Cohort", "cohort_of", "criterion_column", "points_at", "time_split"]

CONVERTED = frozenset({OutcomeKind.WON.value, OutcomeKind.CONVERTED.value})
STAGE_FIELD = "lead.lifecycle_stage"
CHUNK = 5_000
# An activity at the very instant of the outcome is part of closing it, not a sign before it.
BEFORE = timedelta(microseconds=1)


def criterion_column(position: int) -> str:
    """The cohort's column of a criterion's cents (its evidence is in `e<position>`)."""
    return f"c{position}"


@dataclass(frozen=True)
class Cohort:
    """frame: one row per lead with a decided outcome inside the model's audience, by `at`:
    lead_id, at (just before the outcome), outcome, converted, total (cents), and per enabled
    criterion position p: c<p> (its cents) and e<p> (its evidence: matches or activities counted).
    """

    spec: ModelSpec
    frame: pl.DataFrame

    @property
    def positions(self) -> list[int]:
        return [p for p, criterion in enumerate(self.spec.criteria) if criterion.enabled]

    @property
    def converted(self) -> int:
        return int(self.frame.get_column("converted").sum())

    @property
    def size(self) -> int:
        return self.frame.height


def _first_outcomes() -> pl.DataFrame:
    """lead_id, at, outcome: each lead's first decided outcome (on a tie at that moment a
    conversion wins: the deal that closed it is the news)."""
    rows = LeadOutcome.objects.values_list("lead_id", "outcome", "occurred_at")
    outcomes = pl.DataFrame(
        list(rows),
        schema={"lead_id": pl.Int64, "outcome": pl.String, "at": MOMENT_SCHEMA["at"]},
        orient="row",
    )
    return (
        outcomes.sort("lead_id", "at", pl.col("outcome").is_in(list(CONVERTED)).not_())
        .unique("lead_id", keep="first", maintain_order=True)
        .select("lead_id", pl.col("at") - BEFORE, "outcome")
    )


def _chunks(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)


def points_at(spec: ModelSpec, moments: pl.DataFrame) -> pl.DataFrame:
    """The engine's scores at these moments (lead_id, at) of the leads inside the audience:
    lead_id, at, total and per enabled criterion c<p> (cents) and e<p> (evidence)."""
    ids: Sequence[int] = moments.get_column("lead_id").unique().sort().to_list()
    leads = leads_frame(ids, lead_paths([spec]))
    activities = activities_frame(ids, property_keys([spec]))
    scores = evaluate(spec, leads, activities, moments, timezone.get_default_timezone())
    positions = [p for p, criterion in enumerate(spec.criteria) if criterion.enabled]
    per_criterion = scores.totals.select("m")
    if positions and scores.points.height:
        wide = scores.points.pivot(
            on="position", index="m", values=["cents", "evidence"], aggregate_function="first"
        )
        per_criterion = per_criterion.join(wide, on="m", how="left")
    columns = []
    for p in positions:
        cents, evidence = f"cents_{p}", f"evidence_{p}"
        columns += [
            (pl.col(cents) if cents in per_criterion.columns else pl.lit(None))
            .fill_null(0)
            .cast(pl.Int64)
            .alias(criterion_column(p)),
            (pl.col(evidence) if evidence in per_criterion.columns else pl.lit(None))
            .fill_null(0)
            .cast(pl.UInt32)
            .alias(f"e{p}"),
        ]
    per_criterion = per_criterion.select("m", *columns)
    return (
        scores.totals.select("m", "lead_id", "at", "total")
        .join(per_criterion, on="m", how="left")
        .sort("m")
        .drop("m")
    )


def _scored(spec: ModelSpec, outcomes: pl.DataFrame) -> pl.DataFrame:
    scored = points_at(spec, outcomes.select("lead_id", "at"))
    return scored.join(outcomes.select("lead_id", "outcome"), on="lead_id")


def cohort_of(spec: ModelSpec) -> Cohort:
    """The model's cohort (see the module docstring)."""
    audience = tuple(c for c in spec.audience if c.field != STAGE_FIELD)
    spec = replace(spec, audience=audience)
    outcomes = _first_outcomes()
    parts = [_scored(spec, chunk) for chunk in _chunks(outcomes, CHUNK)]
    positions = [p for p, criterion in enumerate(spec.criteria) if criterion.enabled]
    schema: dict[str, PolarsDataType] = {
        "lead_id": pl.Int64, "at": MOMENT_SCHEMA["at"], "total": pl.Int64,
        **{criterion_column(p): pl.Int64 for p in positions},
        **{f"e{p}": pl.UInt32 for p in positions},
        "outcome": pl.String,
    }  # fmt: skip
    frame = pl.concat(
        [pl.DataFrame(schema=schema), *(part.select(*schema) for part in parts)],
        how="vertical_relaxed",
    )
    frame = frame.with_columns(converted=pl.col("outcome").is_in(list(CONVERTED))).sort(
        "at", "lead_id"
    )
    leading = ["lead_id", "at", "outcome", "converted", "total"]
    return Cohort(spec=spec, frame=frame.select(*leading, pl.exclude(leading)))


def time_split(frame: pl.DataFrame, test_share: float = 0.3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Earlier outcomes to learn from, the latest `test_share` to test on (as it would have gone:
    learn from the past, judged on what came after)."""
    ordered = frame.sort("at", "lead_id")
    cut = ordered.height - round(ordered.height * test_share)
    return ordered.slice(0, cut), ordered.slice(cut)
