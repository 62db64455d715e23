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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, TypeAlias

import polars as pl

from .base import Context, amounts, cents
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

TYPE = "activity"
LABEL = gettext_noop("Activity (engagement)")
FIT = False
NEWEST_ONLY = False
READS_ACTIVITIES = True
COUNT_MODES: Final = ("each", "once", "per_day")
CountMode: TypeAlias = Literal["each", "once", "per_day"]


# Field order is the canonical dump order, hence kw_only: required and defaulted fields interleave.
@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityCriterion:
    type: ClassVar[Literal["activity"]] = "activity"
    name: str
    description: str = ""
    kinds: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    count: CountMode = "each"
    cap: Number | None = None
    window_days: Number | None = None
    half_life_days: Number | None = None
    points: Number
    enabled: bool = True


SPEC = ActivityCriterion
KEYS: Final = ("kinds", "where", "count", "cap", "window_days", "half_life_days")


def read(data: Mapping[str, Any], prefix: str, reader: Reader) -> dict[str, Any]:
    """Its own keys of a rules-as-code entry; problems go to the reader."""
    found: dict[str, Any] = {
        "kinds": reader.kinds(data.get("kinds"), at(prefix, "kinds")),
        "where": reader.conditions(data.get("where"), at(prefix, "where"), "activity"),
        "window_days": reader.optional_positive(data, "window_days", prefix),
        "count": "each" if data.get("count") is None else data["count"],
    }
    if found["count"] not in COUNT_MODES:
        reader.fail(at(prefix, "count"), f"must be one of {', '.join(COUNT_MODES)}")
    found["cap"] = reader.optional_positive(data, "cap", prefix, points=True)
    found["half_life_days"] = reader.optional_positive(data, "half_life_days", prefix)
    return found


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


def _worth(criterion: ActivityCriterion, context: Context, age: pl.Expr) -> pl.Expr:
    """What one counted occurrence of this age is worth."""
    points = float(criterion.points)
    half_life = decay(criterion, context.spec)
    return points * pl.lit(0.5).pow(age / half_life) if half_life else pl.lit(points)


def _capped(criterion: ActivityCriterion, summed: pl.DataFrame) -> pl.DataFrame:
    if criterion.cap is None:
        return summed
    cap = float(criterion.cap)
    capped = (
        pl.min_horizontal("amount", pl.lit(cap))
        if criterion.points > 0
        else pl.max_horizontal("amount", pl.lit(-cap))
    )
    return summed.with_columns(amount=capped)


def evaluate(criteria: Sequence[ActivityCriterion], context: Context) -> list[pl.DataFrame]:
    return [_evaluate(criterion, context) for criterion in criteria]


def _evaluate(criterion: ActivityCriterion, context: Context) -> pl.DataFrame:
    if criterion.count == "per_day":
        return _per_day(criterion, context)
    seen = context.seen(criterion.kinds, criterion.where, criterion.window_days)
    if criterion.count == "once":
        newest = seen.group_by("m").agg(pl.col("age_days").min())
        found = newest.select("m", amount=_worth(criterion, context, pl.col("age_days")),
                              evidence=pl.lit(1))  # fmt: skip
    elif decay(criterion, context.spec):
        worth = _worth(criterion, context, pl.col("age_days")).sum()
        found = seen.group_by("m").agg(amount=worth, evidence=pl.len())
    else:
        # Exactly n times the points: a sum of n equal floats drifts.
        found = seen.group_by("m").agg(
            amount=float(criterion.points) * pl.len().cast(pl.Float64), evidence=pl.len()
        )
    return amounts(_capped(criterion, found))


def _per_day(criterion: ActivityCriterion, context: Context) -> pl.DataFrame:
    if decay(criterion, context.spec):
        worth = _worth(criterion, context, pl.col("age_days")).sum()
    else:
        worth = float(criterion.points) * pl.len().cast(pl.Float64)
    summed = _counted(criterion, context).group_by("m").agg(amount=worth, evidence=pl.len())
    return amounts(_capped(criterion, summed))


def evidence(criterion: ActivityCriterion, context: Context) -> pl.DataFrame:
    """The counted activities, newest first: m, activity."""
    return _counted(criterion, context).sort("m", "age_days").select("m", "activity")


def time_dependent(criterion: ActivityCriterion, spec: ModelSpec) -> bool:
    return (
        criterion.window_days is not None
        or criterion.half_life_days is not None
        or spec.decay_half_life_days is not None
    )


def window(criterion: ActivityCriterion) -> Number | None:
    """How far back (in days) it counts activities, None for no limit."""
    return criterion.window_days


def lead_paths(criterion: ActivityCriterion) -> list[str]:
    """The lead and account values it reads."""
    return []


def property_keys(criterion: ActivityCriterion) -> list[str]:
    """The activity properties it reads."""
    return [condition.field for condition in criterion.where]


def decay(criterion: ActivityCriterion, spec: ModelSpec) -> Number | None:
    """The half-life its points decay with: its own, else the model's, else none."""
    return criterion.half_life_days or spec.decay_half_life_days


def from_evidence(criterion: ActivityCriterion, spec: ModelSpec, count: pl.Expr) -> pl.Expr | None:
    """Its amount in cents from a stored evidence count (points x count, capped); None when its
    points decay, as the count alone does not say by how much."""
    if decay(criterion, spec):
        return None
    points = cents(criterion.points)
    amount = count * points
    if criterion.cap is not None:
        cap = cents(criterion.cap)
        amount = amount.clip(upper_bound=cap) if points > 0 else amount.clip(lower_bound=-cap)
    return amount.cast(pl.Int64)


# --- in the editor -------------------------------------------------------------------------------

_COUNT_FIELD = Field(
    "count",
    "choice",
    gettext_noop("Count"),
    choices=(
        ("each", gettext_noop("every time")),
        ("once", gettext_noop("once")),
        ("per_day", gettext_noop("once per day")),
    ),
    default="each",
)
FIELDS: Final = (
    (KINDS_FIELD,),
    (WHERE_FIELD,),
    (
        _COUNT_FIELD,
        Field("cap", "number", gettext_noop("At most (points)")),
        Field("half_life_days", "number", gettext_noop("Worth half after (days)")),
    ),
    (WINDOW_FIELD,),
)
_COUNTED: Final = {
    "each": gettext_noop("%(points)s for each %(kinds)s"),
    "once": gettext_noop("%(points)s once for %(kinds)s"),
    "per_day": gettext_noop("%(points)s per day with %(kinds)s"),
}


def sentence(item: Mapping[str, Any], words: Words) -> str:
    """ "+5 for each page_view where its url starts with “/pricing” in the last 30 days"."""
    template = _COUNTED.get(item.get("count") or "each", _COUNTED["each"])
    parts = [
        words(template, points=words.points(item.get("points")), kinds=words.kinds(item)),
        words.where(item),
        words.window(item),
    ]
    if item.get("cap"):
        parts.append(words(gettext_noop("(at most %(cap)s)"), cap=words.number(item["cap"])))
    if item.get("half_life_days"):
        days = words.number(item["half_life_days"])
        parts.append(words(gettext_noop("(worth half after %(days)s days)"), days=days))
    return " ".join(part for part in parts if part)
