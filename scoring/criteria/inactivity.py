"""Inactivity criteria (engagement, usually negative): points when a lead has gone quiet.

Reference = the latest activity (of `kinds` when given) by the moment, or the lead's created_at
when later; fires, for its points, when there is no reference or the moment is at least `days`
after it. Evidence 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import polars as pl

from .base import MICROSECONDS_PER_DAY, Context, amounts, cents
from .reading import KINDS_FIELD, Field, Number, Reader, Words, at, gettext_noop

if TYPE_CHECKING:
    from scoring.definition import ModelSpec

TYPE = "inactivity"
LABEL = gettext_noop("Inactivity")
FIT = False
# Only each lead's newest activity (of its kinds) by the moment decides it.
NEWEST_ONLY = True
READS_ACTIVITIES = True


@dataclass(frozen=True, slots=True, kw_only=True)
class InactivityCriterion:
    type: ClassVar[Literal["inactivity"]] = "inactivity"
    name: str
    description: str = ""
    kinds: tuple[str, ...] = ()
    days: Number
    points: Number
    enabled: bool = True


SPEC = InactivityCriterion
KEYS: Final = ("days", "kinds")


def read(data: Mapping[str, Any], prefix: str, reader: Reader) -> dict[str, Any]:
    """Its own keys of a rules-as-code entry; problems go to the reader."""
    return {
        "kinds": reader.kinds(data.get("kinds"), at(prefix, "kinds")),
        "days": reader.number(data.get("days"), at(prefix, "days"), positive=True),
    }


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


# --- in the editor -------------------------------------------------------------------------------

FIELDS: Final = ((KINDS_FIELD,), (Field("days", "number", gettext_noop("No activity for (days)")),))


def sentence(item: Mapping[str, Any], words: Words) -> str:
    """ "-10 when there was no activity for 90 days"."""
    points, days = words.points(item.get("points")), words.number(item.get("days"))
    if not item.get("kinds"):
        template = gettext_noop("%(points)s when there was no activity for %(days)s days")
        return words(template, points=points, days=days)
    template = gettext_noop("%(points)s when there was no %(kinds)s for %(days)s days")
    return words(template, points=points, kinds=words.kinds(item), days=days)
