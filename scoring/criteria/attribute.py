"""Attribute criteria (fit): points when a condition on the lead or its account holds.

Evidence 1. Nothing about them changes as time passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import polars as pl

from .base import Context, amounts, cents
from .reading import Condition, Field, Number, Reader, Words, gettext_noop

if TYPE_CHECKING:
    from scoring.definition import ModelSpec

TYPE = "attribute"
LABEL = gettext_noop("Profile (fit)")
FIT = True
NEWEST_ONLY = False
READS_ACTIVITIES = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeCriterion:
    type: ClassVar[Literal["attribute"]] = "attribute"
    name: str
    description: str = ""
    condition: Condition  # written flat in rules as code: field, op, value
    points: Number
    enabled: bool = True


SPEC = AttributeCriterion
KEYS: Final = ("field", "op", "value")


def read(data: Mapping[str, Any], prefix: str, reader: Reader) -> dict[str, Any]:
    """Its own keys of a rules-as-code entry; problems go to the reader."""
    return {"condition": reader.condition(data, prefix, "lead")}


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


# --- in the editor -------------------------------------------------------------------------------

FIELDS: Final = ((Field("condition", "condition"),),)


def sentence(item: Mapping[str, Any], words: Words) -> str:
    """ "+20 when the company is on the target-account list"."""
    template = gettext_noop("%(points)s when %(condition)s")
    return words(template, points=words.points(item.get("points")), condition=words.condition(item))
