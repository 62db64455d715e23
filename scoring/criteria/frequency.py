"""Frequency criteria (engagement): a bonus for a burst of activity.

Matching activities as for an activity criterion (no decay); fires once, for its points, when
at_least of them fit in a span of at most within_days between first and last. Evidence = the
largest number of them found within such a span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import polars as pl

from .base import MICROSECONDS_PER_DAY, Context, amounts, cents
from .reading import (
    KINDS_FIELD,
    WHERE_FIELD,
    WINDOW_FIELD,
    Condition,
    Field,
    Number,
    Reader,
    Words,
    at,
    gettext_noop,
)

if TYPE_CHECKING:
    from scoring.definition import ModelSpec

TYPE = "frequency"
LABEL = gettext_noop("Frequency bonus")
FIT = False
NEWEST_ONLY = False
READS_ACTIVITIES = True


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyCriterion:
    type: ClassVar[Literal["frequency"]] = "frequency"
    name: str
    description: str = ""
    kinds: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    at_least: int
    within_days: Number
    window_days: Number | None = None
    points: Number
    enabled: bool = True


SPEC = FrequencyCriterion
KEYS: Final = ("kinds", "where", "at_least", "within_days", "window_days")


def read(data: Mapping[str, Any], prefix: str, reader: Reader) -> dict[str, Any]:
    """Its own keys of a rules-as-code entry; problems go to the reader."""
    found: dict[str, Any] = {
        "kinds": reader.kinds(data.get("kinds"), at(prefix, "kinds")),
        "where": reader.conditions(data.get("where"), at(prefix, "where"), "activity"),
        "window_days": reader.optional_positive(data, "window_days", prefix),
        "at_least": data.get("at_least"),
    }
    at_least = found["at_least"]
    if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 2:
        reader.fail(at(prefix, "at_least"), "must be a whole number of at least 2")
    within = data.get("within_days")
    found["within_days"] = reader.number(within, at(prefix, "within_days"), positive=True)
    return found


def _spans(criterion: FrequencyCriterion, context: Context) -> pl.DataFrame:
    """Per matching activity, how many matching ones lie at most within_days before it (itself
    and those at the same time included): m, activity, occurred_at, age_days, n."""
    seen = context.seen(criterion.kinds, criterion.where, criterion.window_days).sort(
        "m", "occurred_at"
    )
    return _counted_spans(criterion, seen)


def _counted_spans(criterion: FrequencyCriterion, seen: pl.DataFrame) -> pl.DataFrame:
    """The same count over activities sorted by moment and time."""
    n = (
        pl.repeat(1, pl.len(), dtype=pl.UInt32)
        .rolling_sum_by("occurred_at", window_size=f"{_span(criterion)}us", closed="both")
        .over("m")
    )
    return seen.with_columns(n=n)


def _span(criterion: FrequencyCriterion) -> int:
    """The longest span in microseconds that is at most within_days (in days as a float, as
    ages are: 4.4697 days is 386,182,080,000 us, not one less)."""
    within = float(criterion.within_days)
    span = round(within * MICROSECONDS_PER_DAY)
    while span / MICROSECONDS_PER_DAY > within:
        span -= 1
    while (span + 1) / MICROSECONDS_PER_DAY <= within:
        span += 1
    return span


def evaluate(criteria: Sequence[FrequencyCriterion], context: Context) -> list[pl.DataFrame]:
    return [_evaluate(criterion, context) for criterion in criteria]


def _evaluate(criterion: FrequencyCriterion, context: Context) -> pl.DataFrame:
    seen = context.seen(criterion.kinds, criterion.where, criterion.window_days).sort(
        "m", "occurred_at"
    )
    # In time order, at_least of them fit in a span exactly when some one of them and the one
    # at_least - 1 places later (of the same moment) are at most within_days apart; only the
    # moments that fire need the (costlier) count of their busiest span.
    later = criterion.at_least - 1
    fires = (pl.col("m").shift(-later) == pl.col("m")) & (
        pl.col("occurred_at").shift(-later) - pl.col("occurred_at")
        <= pl.duration(microseconds=_span(criterion))
    )
    fired = seen.filter(fires).select("m").unique()
    busiest = (
        _counted_spans(criterion, seen.join(fired, on="m", how="semi"))
        .group_by("m")
        .agg(evidence=pl.col("n").max())
    )
    return amounts(busiest.with_columns(amount=pl.lit(criterion.points)))


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


def window(criterion: FrequencyCriterion) -> Number | None:
    """How far back (in days) it counts activities, None for no limit."""
    return criterion.window_days


def lead_paths(criterion: FrequencyCriterion) -> list[str]:
    """The lead and account values it reads."""
    return []


def property_keys(criterion: FrequencyCriterion) -> list[str]:
    """The activity properties it reads."""
    return [condition.field for condition in criterion.where]


def decay(criterion: FrequencyCriterion, spec: ModelSpec) -> Number | None:
    """The half-life its points decay with: none."""
    return None


def from_evidence(criterion: FrequencyCriterion, spec: ModelSpec, count: pl.Expr) -> pl.Expr | None:
    """Its amount in cents from a stored evidence count: it fires for its points."""
    return pl.lit(cents(criterion.points), dtype=pl.Int64)


# --- in the editor -------------------------------------------------------------------------------

FIELDS: Final = (
    (KINDS_FIELD,),
    (WHERE_FIELD,),
    (
        Field("at_least", "whole", gettext_noop("At least (activities)")),
        Field("within_days", "number", gettext_noop("Within (days)")),
    ),
    (WINDOW_FIELD,),
)


def sentence(item: Mapping[str, Any], words: Words) -> str:
    """ "+15 when at least 3 × page_view happen within 7 days"."""
    text = words(
        gettext_noop("%(points)s when at least %(count)s × %(kinds)s happen within %(days)s days"),
        points=words.points(item.get("points")),
        count=item.get("at_least"),
        kinds=words.kinds(item),
        days=words.number(item.get("within_days")),
    )
    return " ".join(part for part in (text, words.where(item), words.window(item)) if part)
