"""The scoring semantics: frames in, scores and their explanations out.

This module and scoring.criteria (one module per criterion type) are *the* definition of a
score; every path (the incremental flush, a publish, the nightly refresh, what-if, the lead page,
verification) evaluates through `evaluate`. Nothing here reads the clock or a database: the
moments to score at are given, and the time zone for calendar days.

Frames
    leads       lead_id (Int64), created_at (Datetime UTC, may be null), and one column per
                field path a condition reads (`lead.job_title`, `account.employee_count`,
                `lead.attributes.plan`...): the value's JSON text (Categorical or String), null
                when missing (a lead without account has every account value missing).
    activities  lead_id, kind (Categorical or String), occurred_at (Datetime UTC), and one
                column per property key a `where` reads, `properties.<key>` (`channel` is one):
                JSON text, like the leads' values.
    moments     lead_id, at (Datetime UTC): each is one evaluation. Several moments of one lead
                (its history, a backtest) are one call.
Conditions on values are described in scoring.criteria.conditions, each criterion type in its
module.

Totals (ages are (at - occurred_at) in days)
    Each criterion's amount is rounded to cents, half away from zero, as written to 15
    significant digits (a decayed 1.005 is 1.01, as round_points rounds it). Contributions list
    every criterion that matched or fired (evidence >= 1), in model order, even when its rounded
    amount is 0. fit = sum of attribute contributions; engagement = sum of the others; total = fit +
    engagement (never floored at zero). band = label of the highest band with min <= total, or
    the lowest band when total is below every min; grade likewise on fit (None without grades).
    mql = total >= mql_threshold. Sums are in whole cents, so an explanation adds up exactly.
    The audience decides whether a model scores a lead at all: moments of leads outside it get
    no score (Scores.outside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone, tzinfo
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any

import polars as pl

from scoring.criteria import criterion_type
from scoring.criteria.base import Context as _Context
from scoring.criteria.base import property_column
from scoring.criteria.conditions import (
    columns_match,
    condition_matches,
    to_decimal,
    value_text,
)
from scoring.definition import Band, Criterion, ModelSpec, Number

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

__all__ = [
    "ActivityFact", "Contribution", "LeadFacts", "LeadScoreResult", "Scores", "applies_to",
    "banded", "cents_at_least", "condition_matches", "evaluate", "evidence_activities",
    "is_time_dependent", "round_points", "score_lead", "score_over_time", "to_decimal",
]  # fmt: skip

CENT = Decimal("0.01")
UTC_MICROSECONDS = pl.Datetime("us", "UTC")
LEAD_SCHEMA: dict[str, PolarsDataType] = {"lead_id": pl.Int64, "created_at": UTC_MICROSECONDS}
ACTIVITY_SCHEMA: dict[str, PolarsDataType] = {
    "lead_id": pl.Int64,
    "kind": pl.Categorical,
    "occurred_at": UTC_MICROSECONDS,
}
MOMENT_SCHEMA: dict[str, PolarsDataType] = {"lead_id": pl.Int64, "at": UTC_MICROSECONDS}
# Fixed precision so a caller's decimal context cannot change a score.
_DECIMALS = Context(prec=34, rounding=ROUND_HALF_UP)


def round_points(amount: Number | Decimal) -> Decimal:
    """An amount as a score holds it: 2 decimals, half away from zero, no negative zero."""
    rounded = to_decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP, context=_DECIMALS)
    return rounded if rounded else Decimal("0.00")


# --- what a model reads ---------------------------------------------------------------------------


def lead_paths(specs: Iterable[ModelSpec]) -> list[str]:
    """The field paths the models' audiences and criteria read (the leads frame's value
    columns)."""
    paths: dict[str, None] = {}
    for spec in specs:
        paths.update(dict.fromkeys(c.field for c in spec.audience))
        for criterion in spec.criteria:
            paths.update(dict.fromkeys(criterion_type(criterion).lead_paths(criterion)))
    return list(paths)


def property_keys(specs: Iterable[ModelSpec]) -> list[str]:
    """The activity properties the models' criteria read."""
    keys: dict[str, None] = {}
    for spec in specs:
        for criterion in spec.criteria:
            keys.update(dict.fromkeys(criterion_type(criterion).property_keys(criterion)))
    return list(keys)


# --- evaluation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """A model's scores at the moments asked for.

    totals: m (the moment's position), lead_id, at, total, fit, engagement (Int64 cents), band,
        grade (null without grades), mql; one row per moment inside the audience.
    points: m, position (of the criterion in the model), cents, evidence; one row per
        contribution, in model order within a moment.
    outside: m, lead_id of the moments outside the audience.
    """

    totals: pl.DataFrame
    points: pl.DataFrame
    outside: pl.DataFrame


def _time_zone_name(time_zone: str | tzinfo) -> str:
    if isinstance(time_zone, str):
        return time_zone
    name: str | None = getattr(time_zone, "key", None) or getattr(time_zone, "zone", None)
    if name is None and isinstance(time_zone, timezone):
        offset = time_zone.utcoffset(None)
        if not offset:
            return "UTC"
        minutes = int(offset.total_seconds()) // 60
        return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if name is None:
        raise ValueError(f"a time zone with a name is needed, not {time_zone!r}")
    return name


def evaluate(
    spec: ModelSpec,
    leads: pl.DataFrame,
    activities: pl.DataFrame,
    moments: pl.DataFrame,
    time_zone: str | tzinfo,
) -> Scores:
    """Score the model at every moment (see the module docstring for the frames)."""
    moments = _numbered(moments)
    inside_ids = leads.filter(audience_matches(spec, leads)).select("lead_id")
    inside = moments.join(inside_ids, on="lead_id", how="semi")
    outside = moments.join(inside_ids, on="lead_id", how="anti").select("m", "lead_id")
    context = _context(spec, leads, activities, inside, time_zone)
    by_type: dict[ModuleType, list[int]] = {}
    for position, criterion in enumerate(spec.criteria):
        if criterion.enabled:
            by_type.setdefault(criterion_type(criterion), []).append(position)
    parts, fit_positions = [], []
    # Each type evaluates all its criteria at once, so that it can share one pass.
    for kind, positions in by_type.items():
        if kind.FIT:
            fit_positions += positions
        found = kind.evaluate([spec.criteria[p] for p in positions], context)
        parts += [
            frame.with_columns(position=pl.lit(position, dtype=pl.UInt32))
            for position, frame in zip(positions, found, strict=True)
        ]
    points = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(
            schema={
                "m": pl.UInt32,
                "amount": pl.Float64,
                "evidence": pl.UInt32,
                "position": pl.UInt32,
            }
        )  # fmt: skip
    )
    points = (
        points.filter(pl.col("evidence") >= 1)
        .select(
            "m",
            "position",
            # At 15 significant digits first: 1.005 is rounded as written (1.01), not as
            # the binary float just below it, as round_points does with the shortest repr.
            cents=(pl.col("amount") * 100)
            .round_sig_figs(15)
            .round(0, mode="half_away_from_zero")
            .cast(pl.Int64),
            evidence=pl.col("evidence"),
        )
        .sort("m", "position")
    )
    sums = points.group_by("m").agg(
        fit=pl.col("cents").filter(pl.col("position").is_in(fit_positions)).sum(),
        total=pl.col("cents").sum(),
    )
    totals = (
        inside.join(sums, on="m", how="left")
        .with_columns(pl.col("fit", "total").fill_null(0).cast(pl.Int64))
        .with_columns(engagement=pl.col("total") - pl.col("fit"))
        .sort("m")
    )
    totals = totals.with_columns(
        band=banded(spec.bands, totals.get_column("total")),
        grade=banded(spec.grades, totals.get_column("fit")),
        mql=pl.col("total") >= cents_at_least(spec.mql_threshold),
    ).select("m", "lead_id", "at", "total", "fit", "engagement", "band", "grade", "mql")
    return Scores(totals=totals, points=points, outside=outside)


def moments_at(lead_ids: pl.Series | Sequence[int], at: datetime) -> pl.DataFrame:
    """Every lead at one moment (the time as one literal: a datetime per lead cost a fifth of a
    second at 100,000 leads)."""
    ids = lead_ids if isinstance(lead_ids, pl.Series) else pl.Series(list(lead_ids), dtype=pl.Int64)
    return pl.DataFrame({"lead_id": ids.cast(pl.Int64)}).select(
        "lead_id", at=pl.lit(at.astimezone(UTC), dtype=MOMENT_SCHEMA["at"])
    )


def _numbered(moments: pl.DataFrame) -> pl.DataFrame:
    """The moments in the engine's types, each numbered (m) by its position."""
    return moments.select(
        pl.col("lead_id").cast(pl.Int64), pl.col("at").cast(UTC_MICROSECONDS)
    ).with_row_index("m")


def _context(
    spec: ModelSpec,
    leads: pl.DataFrame,
    activities: pl.DataFrame,
    moments: pl.DataFrame,
    time_zone: str | tzinfo,
) -> _Context:
    return _Context(
        spec=spec,
        leads=leads,
        activities=activities.with_row_index("activity"),
        moments=moments,
        time_zone=_time_zone_name(time_zone),
    )


def audience_matches(spec: ModelSpec, leads: pl.DataFrame) -> pl.Series:
    """Per lead of the frame, whether the model's audience includes it."""
    columns = [leads.get_column(c.field) for c in spec.audience]
    return columns_match(spec.audience, columns, leads.height)


def cents_at_least(number: Number) -> int:
    """The fewest whole cents that are >= number."""
    return int((to_decimal(number) * 100).to_integral_value(rounding=ROUND_CEILING))


def banded(bands: Sequence[Band], cents: pl.Series) -> pl.Series:
    """Label of the highest band whose min <= value; the lowest band below all; null if no
    bands (ties keep the later band, as a stable sort leaves them)."""
    if not bands:
        return pl.Series(values=[None] * len(cents), dtype=pl.String)
    ordered = sorted(bands, key=lambda band: band.min)
    thresholds = pl.Series([cents_at_least(band.min) for band in ordered], dtype=pl.Int64)
    index = (thresholds.search_sorted(cents, side="right").cast(pl.Int64) - 1).clip(0)
    labels = pl.Series([band.label for band in ordered], dtype=pl.String)
    return labels.gather(index)


def is_time_dependent(spec: ModelSpec) -> bool:
    """Whether the model's scores change as time passes with no new data (decay, windows,
    inactivity), so they need the daily refresh."""
    return any(
        criterion_type(criterion).time_dependent(criterion, spec)
        for criterion in spec.criteria
        if criterion.enabled
    )


def evidence_of(
    spec: ModelSpec,
    position: int,
    leads: pl.DataFrame,
    activities: pl.DataFrame,
    moments: pl.DataFrame,
    time_zone: str | tzinfo,
) -> pl.DataFrame | None:
    """The activities behind one criterion's points (m, activity: the row of `activities`),
    newest first; None for types whose evidence is not activities."""
    context = _context(spec, leads, activities, _numbered(moments), time_zone)
    criterion = spec.criteria[position]
    rows: pl.DataFrame | None = criterion_type(criterion).evidence(criterion, context)
    return rows


# --- one lead at a time: plain facts in, results out ------------------------------------------


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


def cents_decimal(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


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


def facts_frames(
    specs: Sequence[ModelSpec], leads: Sequence[tuple[int, LeadFacts]],
    activities: Iterable[tuple[int, ActivityFact]],
) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    """The leads and activities frames of plain facts, with what the models read."""
    paths, keys = lead_paths(specs), property_keys(specs)
    lead_frame = pl.DataFrame(
        {
            "lead_id": [lead_id for lead_id, _ in leads],
            "created_at": [facts.created_at for _, facts in leads],
            **{path: [value_text(lead_value(f, path)) for _, f in leads] for path in paths},
        },
        schema={**LEAD_SCHEMA, **dict.fromkeys(paths, pl.Categorical)},
    )
    rows = list(activities)
    activity_frame = pl.DataFrame(
        {
            "lead_id": [lead_id for lead_id, _ in rows],
            "kind": [a.kind for _, a in rows],
            "occurred_at": [a.occurred_at for _, a in rows],
            **{
                property_column(key): [value_text(a.properties.get(key)) for _, a in rows]
                for key in keys
            },
        },
        schema={**ACTIVITY_SCHEMA, **dict.fromkeys(map(property_column, keys), pl.Categorical)},
    )
    return lead_frame, activity_frame


def results(spec: ModelSpec, scores: Scores) -> dict[int, LeadScoreResult]:
    """Per moment (m) inside the audience, its result with contributions."""
    contributions: dict[int, list[Contribution]] = {}
    for m, position, cents, evidence in scores.points.iter_rows():
        criterion = spec.criteria[position]
        contributions.setdefault(m, []).append(
            Contribution(criterion.name, criterion.type, cents_decimal(cents), evidence)
        )
    return {
        m: LeadScoreResult(
            total=cents_decimal(total),
            fit=cents_decimal(fit),
            engagement=cents_decimal(engagement),
            band=band or "",
            grade=grade,
            mql=mql,
            contributions=tuple(contributions.get(m, ())),
        )
        for m, _lead, _at, total, fit, engagement, band, grade, mql in scores.totals.iter_rows()
    }


def _checked_aware(moments: Sequence[datetime]) -> None:
    if any(now.utcoffset() is None for now in moments):
        raise ValueError("now must be timezone-aware")


def score_over_time(
    spec: ModelSpec,
    lead: LeadFacts,
    activities: Sequence[ActivityFact],
    moments: Sequence[datetime],
    tz: str | tzinfo,
) -> list[LeadScoreResult]:
    """One lead's score at each of `moments` (one evaluation), whatever its audience."""
    _checked_aware(moments)
    everyone = ModelSpec(**{**_spec_fields(spec), "audience": ()})
    leads, acts = facts_frames([everyone], [(0, lead)], ((0, a) for a in activities))
    moment_frame = pl.DataFrame(
        {"lead_id": [0] * len(moments), "at": list(moments)}, schema=MOMENT_SCHEMA
    )
    found = results(everyone, evaluate(everyone, leads, acts, moment_frame, tz))
    return [found[m] for m in range(len(moments))]


def _spec_fields(spec: ModelSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}


def score_lead(
    spec: ModelSpec,
    lead: LeadFacts,
    activities: Sequence[ActivityFact],
    now: datetime,
    tz: str | tzinfo,
) -> LeadScoreResult:
    """One lead's score at `now` (aware), whatever its audience."""
    return score_over_time(spec, lead, activities, [now], tz)[0]


def evidence_activities(
    criterion: Criterion,
    activities: Sequence[ActivityFact],
    now: datetime,
    tz: str | tzinfo,
) -> list[ActivityFact]:
    """The activities behind a criterion at `now`, newest first, as its type names them (an
    activity criterion's counted ones, a frequency's busiest span, the newest one an inactivity
    counts its silence from); none for a type that reads no activities."""
    _checked_aware([now])
    single = ModelSpec(slug="evidence", name="", mql_threshold=0, bands=(), criteria=(criterion,))
    leads, acts = facts_frames([single], [(0, LeadFacts(fields={}))], ((0, a) for a in activities))
    moment = pl.DataFrame({"lead_id": [0], "at": [now]}, schema=MOMENT_SCHEMA)
    rows = evidence_of(single, 0, leads, acts, moment, tz)
    return [] if rows is None else [activities[i] for i in rows.get_column("activity")]
