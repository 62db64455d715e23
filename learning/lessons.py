"""Which criteria convert: per criterion, the leads it matched and how many of them converted,
against the cohort's base rate, with a 95 % interval, and a verdict in plain words.

Also the activity kinds the model does not look at yet whose leads convert clearly better or worse
than the rest: candidates for a new criterion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

import polars as pl
from django.utils.translation import gettext_lazy as _

from scoring.criteria.activity import ActivityCriterion
from scoring.engine import lead_paths, to_decimal
from scoring.frames import activities_frame, leads_frame

from .cohort import Cohort
from .features import fields_plan, sample_of, words_of

__all__ = [
    "CriterionLesson", "KindCandidate", "ValueCandidate", "Verdict", "criterion_lessons",
    "kind_candidates", "value_candidates",
]  # fmt: skip

# Fewer matched leads than this: a rate whose interval includes the base rate is "too few to
# tell", and an activity kind is not offered as a new criterion however its interval lies.
MIN_MATCHED = 30
_Z = 1.96  # 95 %


_R = TypeVar("_R", bound="Rate")


class Verdict(StrEnum):
    BETTER = "better"
    WORSE = "worse"
    UNCLEAR = "unclear"
    THIN = "thin"
    NEVER = "never"


VERDICT_WORDS = {
    Verdict.BETTER: _("converts better than average"),
    Verdict.WORSE: _("converts worse than average"),
    Verdict.UNCLEAR: _("no clear difference"),
    Verdict.THIN: _("too few leads to tell"),
    Verdict.NEVER: _("matched no lead with an outcome"),
}


def wilson(hits: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson interval of a rate (sound near 0 and 1 and for small n)."""
    if n == 0:
        return 0.0, 1.0
    rate = hits / n
    centre = rate + _Z**2 / (2 * n)
    spread = _Z * math.sqrt(rate * (1 - rate) / n + _Z**2 / (4 * n * n))
    scale = 1 + _Z**2 / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def _verdict(hits: int, n: int, base: float) -> Verdict:
    """The interval decides when it lies clear of the base rate (sound for small n too);
    otherwise few leads say little and many say there is no difference."""
    if n == 0:
        return Verdict.NEVER
    low, high = wilson(hits, n)
    if low > base:
        return Verdict.BETTER
    if high < base:
        return Verdict.WORSE
    return Verdict.THIN if n < MIN_MATCHED else Verdict.UNCLEAR


@dataclass(frozen=True)
class Rate:
    matched: int
    converted: int
    base: float

    @property
    def rate(self) -> float | None:
        return self.converted / self.matched if self.matched else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.converted, self.matched)

    @property
    def lift(self) -> float | None:
        rate = self.rate
        return None if rate is None or not self.base else rate / self.base

    @property
    def verdict(self) -> Verdict:
        return _verdict(self.converted, self.matched, self.base)

    @property
    def verdict_words(self) -> str:
        return str(VERDICT_WORDS[self.verdict])


@dataclass(frozen=True)
class CriterionLesson(Rate):
    position: int = 0
    name: str = ""
    points: Decimal = Decimal(0)

    @property
    def disagrees(self) -> bool:
        """Its points push one way and its leads' outcomes the other."""
        return (self.points > 0 and self.verdict == Verdict.WORSE) or (
            self.points < 0 and self.verdict == Verdict.BETTER
        )


def base_rate(cohort: Cohort) -> float:
    return cohort.converted / cohort.size if cohort.size else 0.0


def criterion_lessons(cohort: Cohort) -> list[CriterionLesson]:
    """One lesson per enabled criterion, in model order."""
    base = base_rate(cohort)
    converted = pl.col("converted")
    found = (
        cohort.frame.select(
            *((pl.col(f"e{p}") > 0).sum().alias(f"n{p}") for p in cohort.positions),
            *(((pl.col(f"e{p}") > 0) & converted).sum().alias(f"k{p}") for p in cohort.positions),
        ).row(0, named=True)
        if cohort.positions
        else {}
    )
    return [
        CriterionLesson(
            matched=int(found[f"n{p}"] or 0),
            converted=int(found[f"k{p}"] or 0),
            base=base,
            position=p,
            name=cohort.spec.criteria[p].name,
            points=to_decimal(cohort.spec.criteria[p].points),
        )
        for p in cohort.positions
    ]


@dataclass(frozen=True)
class KindCandidate(Rate):
    kind: str = ""


def kind_candidates(cohort: Cohort) -> list[KindCandidate]:
    """Activity kinds no criterion reads whose leads (with one before their outcome) convert
    clearly better or worse than the cohort, strongest first."""
    used: set[str] = set()
    any_kind = False
    for criterion in cohort.spec.criteria:
        kinds = getattr(criterion, "kinds", None)
        if isinstance(criterion, ActivityCriterion) and not kinds:
            any_kind = True
        used.update(kinds or ())
    if any_kind or cohort.size == 0:
        return []
    moments = cohort.frame.select("lead_id", "at", "converted")
    activities = activities_frame(moments.get_column("lead_id").to_list(), [])
    seen = (
        activities.join(moments, on="lead_id")
        .filter(pl.col("occurred_at") <= pl.col("at"))
        .with_columns(pl.col("kind").cast(pl.String))
        .filter(~pl.col("kind").is_in(sorted(used)))
        .unique(["lead_id", "kind"])
        .group_by("kind")
        .agg(matched=pl.len(), converted=pl.col("converted").sum())
    )
    base = base_rate(cohort)
    candidates = [
        KindCandidate(
            matched=row["matched"], converted=row["converted"], base=base, kind=row["kind"]
        )
        for row in seen.iter_rows(named=True)
    ]
    return _strongest(candidates)


@dataclass(frozen=True)
class ValueCandidate(Rate):
    path: str = ""
    value: str = ""


def value_candidates(cohort: Cohort, *, most: int = 8) -> list[ValueCandidate]:
    """Frequent values of fields and attributes no criterion or audience reads whose leads
    convert clearly better or worse than the cohort, strongest first (today's values: a field
    does not keep its history)."""
    if cohort.size == 0:
        return []
    ids = cohort.frame.get_column("lead_id").to_list()
    used = set(lead_paths([cohort.spec]))
    _numeric, words = fields_plan(sample_of(ids))
    paths = [path for path in words if path not in used]
    if not paths:
        return []
    leads = leads_frame(ids, paths)
    joined = cohort.frame.select("lead_id", "converted").join(leads, on="lead_id")
    converted = joined.get_column("converted")
    base = base_rate(cohort)
    found = []
    for path in paths:
        plain = words_of(joined.get_column(path))
        for value in words[path]:
            matches = (plain == value).fill_null(False)
            found.append(
                ValueCandidate(
                    matched=int(matches.sum()),
                    converted=int((matches & converted).sum()),
                    base=base,
                    path=path,
                    value=value,
                )
            )
    clear = [
        c
        for c in found
        if c.matched >= MIN_MATCHED and c.verdict in (Verdict.BETTER, Verdict.WORSE)
    ]
    return sorted(clear, key=lambda c: -abs(math.log(max(c.lift or 1e-9, 1e-9))))[:most]


def _strongest(candidates: Sequence[_R]) -> list[_R]:
    """The candidates with enough leads and a clear verdict, the strongest lift (up or down)
    first."""
    clear = [
        c
        for c in candidates
        if c.matched >= MIN_MATCHED and c.verdict in (Verdict.BETTER, Verdict.WORSE)
    ]
    return sorted(clear, key=lambda c: -abs(math.log(max(c.lift or 1e-9, 1e-9))))
