"""The scoring semantics: plain facts in, totals and explanations out.

This module is *the* definition of a score. Any faster path (SQL aggregates, bulk rescoring) must
reproduce it exactly, so every rule is spelled out here. The evaluation time `now` and the time zone
for calendar days are parameters; nothing reads the clock.

Values and conditions
    A condition coerces the actual value (of the lead or the activity) to the type of the
    criterion's value:
    - bool: a bool; a string true/false, 1/0, yes/no (any case, blanks around ignored); int 0/1.
    - number: an int, float or Decimal (not bool), or a numeric string; compared as Decimal, floats
      via their shortest repr (so 0.1 == "0.1").
    - string: a string as is; numbers via str(); bools as "true"/"false"; dates and datetimes via
      isoformat(). Lists and mappings never coerce.
    A value is *unset* when it is missing, None, a blank string, or an empty list or mapping.
    equals, in, contains, icontains, starts_with, gte, lte and between never match an unset value or
    one that fails to coerce; not_equals and not_in are their plain negations (so they do match an
    unset value). String comparisons are case-sensitive except icontains (casefold). between
    includes both ends. is_set / is_not_set only look at set-ness.
    A field path `lead.<field>` reads LeadFacts.fields (`lead.created_at` falls back to
    LeadFacts.created_at), `account.<field>` reads account_fields, `lead.attributes.<key>` and
    `account.attributes.<key>` read the attribute mappings; a lead without account has every account
    value unset. In an activity's `where`, the field is a key of ActivityFact.properties.

Criteria (disabled ones are skipped; ages are (now - occurred_at).total_seconds() / 86400 days)
    attribute   its points when its condition matches (evidence 1).
    activity    matching activities: kind in kinds (any kind when kinds is empty), every `where`
                condition matches, occurred_at <= now, and age < window_days when a window is set.
                Counted: each = all of them; once = the most recent; per_day = the most recent
                one of each calendar day in `tz`. Every counted occurrence is worth points * 0.5 **
                (age / half_life), half_life being the criterion's half_life_days, else the model's
                decay_half_life_days, else no decay. The worths are summed exactly (math.fsum), then
                a cap limits the sum in the direction of the points: min(sum, cap) for positive
                points, max(sum, -cap) for negative. Evidence = number of counted occurrences.
    frequency   matching activities as above (no decay); fires once, for its points, when at_least
                of them fit in a span of at most within_days between first and last. Evidence = the
                largest number of them found within such a span.
    inactivity  reference = the latest activity (of `kinds` when given) with occurred_at <= now, or
                the lead's created_at when later; fires, for its points, when there is no reference
                or now - reference >= days. Evidence 1.
    Each criterion's amount goes through `round_points`: Decimal(repr(float)) quantized to 0.01,
    ROUND_HALF_UP. Contributions list every criterion that matched or fired (evidence >= 1), in
    model order, even when its rounded amount is 0.

Totals
    fit = sum of attribute contributions; engagement = sum of the others; total = fit + engagement
    (never floored at zero). band = label of the highest band with min <= total, or the lowest band
    when total is below every min; grade likewise on fit (None without grades). mql = total >=
    mql_threshold. Thresholds are compared as Decimal(repr(number)).
    The audience (`applies_to`) decides whether a model scores a lead at all; `score_lead` itself
    scores whatever it is given. `to_dict` stores amounts as JSON floats; with at most 2 decimals
    they come back exactly through `from_dict` (which re-applies `round_points`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any

from scoring.definition import (
    ActivityCriterion,
    AttributeCriterion,
    Band,
    Condition,
    ConditionValue,
    Criterion,
    FrequencyCriterion,
    InactivityCriterion,
    ModelSpec,
    Number,
    Scalar,
)

CENT = Decimal("0.01")
_SECONDS_PER_DAY = 86400.0
# Fixed precision so a caller's decimal context cannot change a score.
_CONTEXT = Context(prec=34, rounding=ROUND_HALF_UP)
_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})


@dataclass(frozen=True, slots=True)
class LeadFacts:
    fields: Mapping[str, Any]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    account_fields: Mapping[str, Any] | None = None
    account_attributes: Mapping[str, Any] | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.created_at is not None and self.created_at.utcoffset() is None:
            raise ValueError("LeadFacts.created_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class ActivityFact:
    kind: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.occurred_at.utcoffset() is None:
            raise ValueError("ActivityFact.occurred_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Contribution:
    criterion: str
    type: str
    points: Decimal
    evidence_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "type": self.type,
            "points": float(self.points),
            "evidence_count": self.evidence_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contribution:
        return cls(
            data["criterion"],
            data["type"],
            round_points(data["points"]),
            int(data["evidence_count"]),
        )


@dataclass(frozen=True, slots=True)
class LeadScoreResult:
    total: Decimal
    fit: Decimal
    engagement: Decimal
    band: str
    grade: str | None
    mql: bool
    contributions: tuple[Contribution, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; amounts are floats, exact because they carry at most 2 decimals."""
        return {
            "total": float(self.total),
            "fit": float(self.fit),
            "engagement": float(self.engagement),
            "band": self.band,
            "grade": self.grade,
            "mql": self.mql,
            "contributions": [c.to_dict() for c in self.contributions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeadScoreResult:
        return cls(
            total=round_points(data["total"]),
            fit=round_points(data["fit"]),
            engagement=round_points(data["engagement"]),
            band=data["band"],
            grade=data["grade"],
            mql=bool(data["mql"]),
            contributions=tuple(Contribution.from_dict(c) for c in data["contributions"]),
        )


def to_decimal(number: Number | Decimal) -> Decimal:
    """Exact for ints and Decimals; floats via their shortest repr (0.1 -> Decimal("0.1"))."""
    if isinstance(number, float):
        return Decimal(repr(number))
    return Decimal(number)


def round_points(amount: Number | Decimal) -> Decimal:
    """The single rounding rule: 2 decimals, ROUND_HALF_UP, no negative zero."""
    rounded = to_decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP, context=_CONTEXT)
    return rounded if rounded else Decimal("0.00")


# --- conditions ----------------------------------------------------------------------------------


def is_set(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict | set | frozenset):
        return bool(value)
    return True


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
    return None


def _as_number(value: object) -> Decimal | None:
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, int | float | Decimal):
        number = to_decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return None


def _equals(actual: object, expected: Scalar) -> bool:
    # bool first: bool is a subclass of int.
    if isinstance(expected, bool):
        return _as_bool(actual) is expected
    if isinstance(expected, int | float):
        number = _as_number(actual)
        return number is not None and number == to_decimal(expected)
    return _as_text(actual) == expected


def condition_matches(condition: Condition, actual: object) -> bool:
    """Whether an actual value satisfies a condition (see "Values and conditions" above)."""
    if condition.op in ("not_equals", "not_in"):
        return not _matches(condition.op.removeprefix("not_"), condition.value, actual)
    return _matches(condition.op, condition.value, actual)


def _matches(op: str, expected: ConditionValue, actual: object) -> bool:
    if op in ("is_set", "is_not_set"):
        return is_set(actual) == (op == "is_set")
    if expected is None or not is_set(actual):
        return False
    # `in` and `between` carry a tuple, every other operator a single scalar.
    items = expected if isinstance(expected, tuple) else (expected,)
    if op in ("equals", "in"):
        return any(_equals(actual, item) for item in items)
    if op in ("contains", "icontains", "starts_with"):
        text, needle = _as_text(actual), str(items[0])
        if text is None:
            return False
        if op == "icontains":
            return needle.casefold() in text.casefold()
        return needle in text if op == "contains" else text.startswith(needle)
    number, low, high = _as_number(actual), _as_number(items[0]), _as_number(items[-1])
    if number is None or low is None or high is None:
        return False
    if op == "gte":
        return number >= low
    if op == "lte":
        return number <= high
    return op == "between" and low <= number <= high


def lead_value(lead: LeadFacts, path: str) -> Any:
    owner, _, name = path.partition(".")
    if owner == "lead":
        values: Mapping[str, Any] | None = lead.fields
        if name.startswith("attributes."):
            values, name = lead.attributes, name.removeprefix("attributes.")
        elif name == "created_at" and name not in lead.fields:
            return lead.created_at
    else:
        values = lead.account_fields
        if name.startswith("attributes."):
            values, name = lead.account_attributes, name.removeprefix("attributes.")
    return None if values is None else values.get(name)


def applies_to(spec: ModelSpec, lead: LeadFacts) -> bool:
    """Whether the model's audience includes the lead (an empty audience includes everyone)."""
    return all(condition_matches(c, lead_value(lead, c.field)) for c in spec.audience)


# --- criteria ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Seen:
    """An activity that happened by `now`, with its age in days computed once."""

    activity: ActivityFact
    age_days: float


def _matching(
    criterion: Criterion, seen: Sequence[_Seen], by_kind: Mapping[str, Sequence[_Seen]]
) -> list[_Seen]:
    """What a criterion looks at among the activities seen by now: for activity and frequency
    criteria, those of its kinds (in the order given) in its window whose properties match;
    for inactivity criteria, those of its kinds; for attribute criteria, none."""
    if isinstance(criterion, InactivityCriterion):
        kinds = set(criterion.kinds)
        return [s for s in seen if not kinds or s.activity.kind in kinds]
    if isinstance(criterion, AttributeCriterion):
        return []
    kinds, where, window_days = criterion.kinds, criterion.where, criterion.window_days
    candidates: Iterable[_Seen] = (
        [s for kind in dict.fromkeys(kinds) for s in by_kind.get(kind, ())] if kinds else seen
    )
    return [
        s
        for s in candidates
        if (window_days is None or s.age_days < window_days)
        and all(condition_matches(c, s.activity.properties.get(c.field)) for c in where)
    ]


def _counted(criterion: ActivityCriterion, matches: list[_Seen], tz: tzinfo) -> list[_Seen]:
    """The matches the criterion's `count` mode counts (each, once = newest, per_day)."""
    if criterion.count == "once":
        return [min(matches, key=lambda s: s.age_days)]
    if criterion.count == "per_day":
        latest_per_day: dict[date, _Seen] = {}
        for s in matches:
            day = s.activity.occurred_at.astimezone(tz).date()
            if day not in latest_per_day or s.age_days < latest_per_day[day].age_days:
                latest_per_day[day] = s
        return list(latest_per_day.values())
    return matches


def _activity_amount(
    criterion: ActivityCriterion, matches: list[_Seen], default_half_life: Number | None, tz: tzinfo
) -> tuple[Decimal, int]:
    matches = _counted(criterion, matches, tz)
    half_life = criterion.half_life_days or default_half_life
    points = criterion.points
    if half_life:
        amount = math.fsum(points * 0.5 ** (s.age_days / half_life) for s in matches)
    else:
        amount = float(points) * len(matches)
    return capped_points(criterion, amount), len(matches)


def capped_points(criterion: ActivityCriterion, amount: float) -> Decimal:
    """An activity criterion's summed worth, capped in the direction of its points, rounded."""
    if criterion.cap is not None:
        points = criterion.points
        amount = min(amount, criterion.cap) if points > 0 else max(amount, -criterion.cap)
    return round_points(amount)


def _burst(matches: list[_Seen], within_days: Number) -> list[_Seen]:
    """The most matches whose first and last lie at most within_days apart (the earliest such
    span; sliding window over the sorted times)."""
    ordered = sorted(matches, key=lambda s: s.activity.occurred_at)
    best = (0, 0)
    start = 0
    for end, last in enumerate(ordered):
        while (
            last.activity.occurred_at - ordered[start].activity.occurred_at
        ).total_seconds() / _SECONDS_PER_DAY > within_days:
            start += 1
        if end + 1 - start > best[1] - best[0]:
            best = (start, end + 1)
    return ordered[best[0] : best[1]]


def _is_inactive(
    criterion: InactivityCriterion, matches: Sequence[_Seen], lead: LeadFacts, now: datetime
) -> bool:
    ages = [s.age_days for s in matches]
    if lead.created_at is not None:
        ages.append((now - lead.created_at).total_seconds() / _SECONDS_PER_DAY)
    return not ages or min(ages) >= criterion.days


def _seen(
    activities: Sequence[ActivityFact], now: datetime
) -> tuple[list[_Seen], dict[str, list[_Seen]]]:
    seen = [
        _Seen(a, (now - a.occurred_at).total_seconds() / _SECONDS_PER_DAY)
        for a in activities
        if a.occurred_at <= now
    ]
    by_kind: dict[str, list[_Seen]] = {}
    for s in seen:
        by_kind.setdefault(s.activity.kind, []).append(s)
    return seen, by_kind


def _selected(spec: ModelSpec, activities: Sequence[ActivityFact]) -> list[list[int]]:
    """Per criterion of `spec`, the positions of the activities `_matching` would look at if
    every activity had happened and no window applied (kinds and `where` only), in its order."""
    by_kind: dict[str, list[int]] = {}
    for i, activity in enumerate(activities):
        by_kind.setdefault(activity.kind, []).append(i)
    selected: list[list[int]] = []
    for criterion in spec.criteria:
        if not criterion.enabled or isinstance(criterion, AttributeCriterion):
            selected.append([])
        elif isinstance(criterion, InactivityCriterion):
            kinds = set(criterion.kinds)
            selected.append([i for i, a in enumerate(activities) if not kinds or a.kind in kinds])
        else:
            kinds, where = criterion.kinds, criterion.where
            candidates: Iterable[int] = (
                [i for kind in dict.fromkeys(kinds) for i in by_kind.get(kind, ())]
                if kinds
                else range(len(activities))
            )
            selected.append(
                [
                    i
                    for i in candidates
                    if all(
                        condition_matches(c, activities[i].properties.get(c.field)) for c in where
                    )
                ]
            )
    return selected


def _seen_at(activities: Sequence[ActivityFact], now: datetime) -> list[_Seen | None]:
    """Each activity with its age at `now`; None where it had not happened by then."""
    return [
        _Seen(a, (now - a.occurred_at).total_seconds() / _SECONDS_PER_DAY)
        if a.occurred_at <= now
        else None
        for a in activities
    ]


def _pick(
    seen: Sequence[_Seen | None], positions: Iterable[int], window_days: Number | None
) -> list[_Seen]:
    picked = [s for s in (seen[i] for i in positions) if s is not None]
    if window_days is None:
        return picked
    return [s for s in picked if s.age_days < window_days]


def counted_activities(
    criterion: ActivityCriterion, activities: Sequence[ActivityFact], now: datetime, tz: tzinfo
) -> list[ActivityFact]:
    """The activities an activity criterion counts at `now` (its evidence), newest first."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    seen, by_kind = _seen(activities, now)
    matches = _matching(criterion, seen, by_kind)
    counted = _counted(criterion, matches, tz) if matches else []
    return [s.activity for s in sorted(counted, key=lambda s: s.age_days)]


def busiest_span(
    criterion: FrequencyCriterion, activities: Sequence[ActivityFact], now: datetime
) -> list[ActivityFact]:
    """The activities of a frequency criterion's largest span at `now` (its evidence), newest
    first."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    seen, by_kind = _seen(activities, now)
    burst = _burst(_matching(criterion, seen, by_kind), criterion.within_days)
    return [s.activity for s in reversed(burst)]


def score_lead(
    spec: ModelSpec,
    lead: LeadFacts,
    activities: Sequence[ActivityFact],
    now: datetime,
    tz: tzinfo,
) -> LeadScoreResult:
    """Score one lead under one model at time `now` (aware); see the module docstring."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    seen, by_kind = _seen(activities, now)
    return _score(spec, lead, now, tz, lambda _i, criterion: _matching(criterion, seen, by_kind))


def score_over_time(
    spec: ModelSpec,
    lead: LeadFacts,
    activities: Sequence[ActivityFact],
    moments: Sequence[datetime],
    tz: tzinfo,
) -> list[LeadScoreResult]:
    """`score_lead` at each of `moments`. What each criterion looks at, time aside, is worked
    out once (`_selected`), then only the ages change from moment to moment."""
    if any(now.utcoffset() is None for now in moments):
        raise ValueError("moments must be timezone-aware")
    selected = _selected(spec, activities)
    results = []
    for now in moments:
        seen = _seen_at(activities, now)
        results.append(
            _score(
                spec,
                lead,
                now,
                tz,
                lambda i, criterion, seen=seen: _pick(  # type: ignore[misc]
                    seen, selected[i], getattr(criterion, "window_days", None)
                ),
            )
        )
    return results


def _score(
    spec: ModelSpec,
    lead: LeadFacts,
    now: datetime,
    tz: tzinfo,
    matching: Callable[[int, Criterion], list[_Seen]],
) -> LeadScoreResult:
    """The criteria and totals at `now`; `matching(position, criterion)` gives the activities
    the criterion at that position of the model looks at (see `_matching`)."""
    contributions: list[Contribution] = []
    for position, criterion in enumerate(spec.criteria):
        if not criterion.enabled:
            continue
        amount, evidence = Decimal("0.00"), 0
        if isinstance(criterion, AttributeCriterion):
            condition = criterion.condition
            if condition_matches(condition, lead_value(lead, condition.field)):
                amount, evidence = round_points(criterion.points), 1
        elif isinstance(criterion, ActivityCriterion):
            matches = matching(position, criterion)
            if matches:
                amount, evidence = _activity_amount(
                    criterion, matches, spec.decay_half_life_days, tz
                )
        elif isinstance(criterion, FrequencyCriterion):
            burst = len(_burst(matching(position, criterion), criterion.within_days))
            if burst >= criterion.at_least:
                amount, evidence = round_points(criterion.points), burst
        elif _is_inactive(criterion, matching(position, criterion), lead, now):
            amount, evidence = round_points(criterion.points), 1
        if evidence:
            contributions.append(Contribution(criterion.name, criterion.type, amount, evidence))
    return score_of(spec, contributions)


def score_of(spec: ModelSpec, contributions: Sequence[Contribution]) -> LeadScoreResult:
    """Totals, band, grade and MQL from a lead's contributions (in model order)."""
    with localcontext(_CONTEXT):
        fit = sum((c.points for c in contributions if c.type == "attribute"), Decimal("0.00"))
        engagement = sum(
            (c.points for c in contributions if c.type != "attribute"), Decimal("0.00")
        )
        total = fit + engagement
    return LeadScoreResult(
        total=total,
        fit=fit,
        engagement=engagement,
        band=band_for(spec.bands, total) or "",
        grade=band_for(spec.grades, fit),
        mql=total >= to_decimal(spec.mql_threshold),
        contributions=tuple(contributions),
    )


def band_for(bands: Sequence[Band], value: Decimal) -> str | None:
    """Label of the highest band whose min <= value; the lowest band below all; None if no bands."""
    ordered = _ordered_bands(tuple(bands))
    label = ordered[0][1] if ordered else None
    for low, band_label in ordered:
        if low > value:
            break
        label = band_label
    return label


@lru_cache(maxsize=256)
def _ordered_bands(bands: tuple[Band, ...]) -> tuple[tuple[Decimal, str], ...]:
    # Scored a million times per publish with the same few bands: sort them once.
    ordered = sorted(bands, key=lambda band: band.min)
    return tuple((to_decimal(band.min), band.label) for band in ordered)


def is_time_dependent(spec: ModelSpec) -> bool:
    """Whether the model's scores change as time passes with no new data (decay, windows,
    inactivity), so they need the daily refresh."""
    for criterion in spec.criteria:
        if not criterion.enabled:
            continue
        if isinstance(criterion, InactivityCriterion):
            return True
        if isinstance(criterion, FrequencyCriterion) and criterion.window_days is not None:
            return True
        if isinstance(criterion, ActivityCriterion) and (
            criterion.window_days is not None
            or criterion.half_life_days is not None
            or spec.decay_half_life_days is not None
        ):
            return True
    return False
