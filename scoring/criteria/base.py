"""What every criterion type evaluates against: the chunk's frames and the moments to score.

Frames (see scoring.engine for their columns) come in once per evaluation; a criterion type asks
the context for the activities it looks at (`seen`) and answers with one row per moment it
matched: `m` (the moment), `amount` (its points, before rounding) and `evidence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP
from functools import cached_property
from typing import TYPE_CHECKING, cast

import polars as pl

from .conditions import columns_match, to_decimal
from .reading import Condition, Number

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

    from scoring.definition import ModelSpec

MICROSECONDS_PER_DAY = 86_400_000_000
# The shape of every criterion's answer.
AMOUNTS_SCHEMA = {"m": pl.UInt32, "amount": pl.Float64, "evidence": pl.UInt32}


def property_column(key: str) -> str:
    """The activity frame's column of a property (`channel` included)."""
    return f"properties.{key}"


def cents(number: Number) -> int:
    """Points (at most 2 decimals, as definitions hold them) in whole cents."""
    return int((to_decimal(number) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def amounts(frame: pl.DataFrame) -> pl.DataFrame:
    """A criterion's answer in the common shape."""
    return frame.select(
        pl.col("m").cast(pl.UInt32),
        pl.col("amount").cast(pl.Float64),
        pl.col("evidence").cast(pl.UInt32),
    )


def _nulls(length: int, dtype: PolarsDataType) -> pl.Series:
    return pl.repeat(None, length, dtype=dtype, eager=True)


def no_amounts() -> pl.DataFrame:
    return pl.DataFrame(schema=AMOUNTS_SCHEMA)


@dataclass
class Context:
    """One evaluation: the model, the frames, and the moments (leads inside the audience at
    their times)."""

    spec: ModelSpec
    leads: pl.DataFrame
    activities: pl.DataFrame  # with an `activity` column: its position in the frame given
    moments: pl.DataFrame  # m, lead_id, at
    time_zone: str
    _masks: dict[tuple[object, ...], pl.Series] = field(default_factory=dict)

    _distinct: dict[tuple[str, str], list[str | None]] = field(default_factory=dict)

    def _values(self, frame: str, column: str) -> tuple[pl.Series, list[str | None]]:
        """A value column and its distinct values (found once per column)."""
        values = getattr(self, frame).get_column(column)
        key = (frame, column)
        if key not in self._distinct:
            self._distinct[key] = values.unique().to_list()
        return values, self._distinct[key]

    def lead_matches(self, conditions: Sequence[Condition]) -> pl.Series:
        """Per lead (in the leads frame's order), whether every condition holds."""
        found = [self._values("leads", c.field) for c in conditions]
        return columns_match(
            conditions, [f[0] for f in found], self.leads.height, [f[1] for f in found]
        )

    def activity_mask(self, kinds: Sequence[str], where: Sequence[Condition]) -> pl.Series:
        """Per activity, whether it is of these kinds (any when none) and matches `where`."""
        key = (tuple(sorted(set(kinds))), tuple(where))
        mask = self._masks.get(key)
        if mask is None:
            acts = self.activities
            found = [self._values("activities", property_column(c.field)) for c in where]
            mask = columns_match(where, [f[0] for f in found], acts.height, [f[1] for f in found])
            if kinds:
                mask = mask & acts.get_column("kind").is_in(list(kinds))
            self._masks[key] = mask
        return mask

    @cached_property
    def lead_rows(self) -> pl.Series:
        """Per moment, the row of its lead in the leads frame."""
        rows = self.leads.select("lead_id").with_row_index("row")
        return (
            self.moments.select("lead_id")
            .join(rows, on="lead_id", how="left", maintain_order="left")
            .get_column("row")
        )

    @cached_property
    def happened(self) -> pl.DataFrame:
        """Every activity that had happened at each moment of its lead: m, activity,
        occurred_at, age_days (found once, filtered by each criterion)."""
        acts = self.activities.select("lead_id", "activity", "occurred_at")
        moments = self.moments
        lead_ids = moments.get_column("lead_id")
        low, high = cast(int, lead_ids.min()), cast(int, lead_ids.max())
        dense = moments.height and high - low < 4 * moments.height + 1024
        if dense and lead_ids.is_unique().all():
            # One moment per lead over a compact range of ids, the usual case: a lookup by
            # lead, not a join.
            ids = lead_ids - low
            slots = _nulls(high - low + 1, pl.UInt32).scatter(ids, moments.get_column("m"))
            times = _nulls(high - low + 1, moments.schema["at"])
            times = times.scatter(ids, moments.get_column("at"))
            acts = acts.filter(pl.col("lead_id").is_between(low, high))
            offsets = acts.get_column("lead_id") - low
            joined = acts.with_columns(m=slots.gather(offsets), at=times.gather(offsets))
            joined = joined.drop_nulls("m")
        else:
            joined = moments.join(acts, on="lead_id", how="inner")
        # By moment, so that every criterion groups sorted runs rather than hashing.
        if not joined.get_column("m").is_sorted():
            joined = joined.sort("m", maintain_order=True)
        return joined.filter(pl.col("occurred_at") <= pl.col("at")).select(
            pl.col("m").set_sorted(),
            "activity",
            "occurred_at",
            age_days=(pl.col("at") - pl.col("occurred_at")).dt.total_microseconds()
            / MICROSECONDS_PER_DAY,
        )

    def matching(
        self,
        kinds: Sequence[str],
        where: Sequence[Condition] = (),
        window_days: Number | None = None,
    ) -> pl.Series:
        """Per row of `happened`, whether the activity matches (and lies inside the window
        when there is one)."""
        happened = self.happened
        if not kinds and not where:
            keep = pl.repeat(True, happened.height, dtype=pl.Boolean, eager=True)
        else:
            keep = self.activity_mask(kinds, where).gather(happened.get_column("activity"))
        if window_days is not None:
            keep = keep & (happened.get_column("age_days") < window_days)
        return keep

    def seen(
        self,
        kinds: Sequence[str],
        where: Sequence[Condition] = (),
        window_days: Number | None = None,
    ) -> pl.DataFrame:
        """The matching activities that had happened at each moment (and lie inside the window
        when there is one): m, activity, occurred_at, age_days."""
        return self.happened.filter(self.matching(kinds, where, window_days))
