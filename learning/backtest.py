"""Backtest a draft or a version: how it would have ranked the leads at a past date, against what
became of them afterwards.

The leads are those known at the date without a decided outcome by then. Each is scored by the
one engine as it stood at that date (activities after it do not count); it converted when its
first decided outcome after the date is a win or a conversion (a lead still open counts as not
converted). As in the cohort, today's lifecycle stage is set aside in the audience: the outcomes
since moved it. MQLs per week count the leads whose score crossed the threshold in each week
after the date, scored at the end of each week.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from django.utils import timezone

from scoring.definition import ModelSpec
from scoring.engine import MOMENT_SCHEMA, banded, cents_at_least, moments_at, to_decimal
from scoring.models import Lead, LeadOutcome

from .cohort import CONVERTED, STAGE_FIELD, points_at
from .suggest import auc

__all__ = ["Backtest", "backtest_of"]

CHUNK = 5_000
MAX_WEEKS = 13


@dataclass(frozen=True)
class Group:
    label: str
    leads: int
    converted: int
    base: float

    @property
    def rate(self) -> float | None:
        return self.converted / self.leads if self.leads else None

    @property
    def lift(self) -> float | None:
        rate = self.rate
        return None if rate is None or not self.base else rate / self.base


@dataclass(frozen=True)
class Week:
    ending: datetime
    mqls: int


@dataclass(frozen=True)
class Backtest:
    at: datetime
    leads: int
    converted: int
    auc: float | None
    threshold: float
    mqls: int
    mqls_converted: int
    deciles: list[Group]  # by score, highest first
    bands: list[Group]  # the model's bands, highest first: how well each band's promise held
    weeks: list[Week]

    @property
    def base_rate(self) -> float:
        return self.converted / self.leads if self.leads else 0.0

    @property
    def precision(self) -> float | None:
        return self.mqls_converted / self.mqls if self.mqls else None

    @property
    def recall(self) -> float | None:
        return self.mqls_converted / self.converted if self.converted else None


def _population(at: datetime) -> pl.DataFrame:
    """lead_id, converted: the leads known at `at` and undecided then."""
    outcomes = pl.DataFrame(
        list(LeadOutcome.objects.values_list("lead_id", "outcome", "occurred_at")),
        schema={"lead_id": pl.Int64, "outcome": pl.String, "occurred_at": MOMENT_SCHEMA["at"]},
        orient="row",
    )
    decided_before = outcomes.filter(pl.col("occurred_at") <= at).get_column("lead_id").unique()
    first_after = (
        outcomes.filter(pl.col("occurred_at") > at)
        .sort("lead_id", "occurred_at")
        .unique("lead_id", keep="first", maintain_order=True)
        .select("lead_id", converted=pl.col("outcome").is_in(list(CONVERTED)))
    )
    known = pl.DataFrame(
        {"lead_id": list(Lead.objects.filter(created_at__lte=at).values_list("pk", flat=True))},
        schema={"lead_id": pl.Int64},
    )
    return (
        known.filter(~pl.col("lead_id").is_in(decided_before.implode()))
        .join(first_after, on="lead_id", how="left")
        .with_columns(pl.col("converted").fill_null(False))
        .sort("lead_id")
    )


def _chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for offset in range(0, len(ids), size):
        yield list(ids[offset : offset + size])


def _weeks(spec: ModelSpec, ids: Sequence[int], at: datetime, now: datetime) -> list[Week]:
    count = min(MAX_WEEKS, math.floor((now - at) / timedelta(days=7)))
    if count < 1:
        return []
    ends = [at + timedelta(days=7 * w) for w in range(count + 1)]
    threshold = cents_at_least(spec.mql_threshold)
    crossed = np.zeros(count, dtype=int)
    for chunk in _chunks(ids, max(1, CHUNK // (count + 1))):
        moments = pl.concat([moments_at(chunk, end) for end in ends])
        totals = points_at(spec, moments).select("lead_id", "at", "total")
        above = (
            totals.with_columns(mql=pl.col("total") >= threshold)
            .pivot(on="at", index="lead_id", values="mql")
            .fill_null(False)
        )
        columns = [c for c in above.columns if c != "lead_id"]
        matrix = above.select(columns).to_numpy().astype(bool)
        crossed += (matrix[:, 1:] & ~matrix[:, :-1]).sum(axis=0)
    return [Week(ending=ends[w + 1], mqls=int(crossed[w])) for w in range(count)]


def backtest_of(spec: ModelSpec, at: datetime, *, now: datetime | None = None) -> Backtest:
    at, now = at.astimezone(UTC), (now or timezone.now()).astimezone(UTC)
    spec = replace(spec, audience=tuple(c for c in spec.audience if c.field != STAGE_FIELD))
    population = _population(at)
    ids = population.get_column("lead_id").to_list()
    parts = [
        points_at(spec, moments_at(chunk, at)).select("lead_id", "total")
        for chunk in _chunks(ids, CHUNK)
    ]
    scored = (
        pl.concat([pl.DataFrame(schema={"lead_id": pl.Int64, "total": pl.Int64}), *parts])
        .join(population, on="lead_id")
        .sort("total", "lead_id", descending=[True, False])
    )
    totals = scored.get_column("total").to_numpy()
    labels = scored.get_column("converted").to_numpy()
    converted = int(labels.sum())
    base = converted / len(labels) if len(labels) else 0.0
    threshold = cents_at_least(spec.mql_threshold)
    mql = totals >= threshold
    deciles = [
        Group(str(d + 1), len(part), int(part.sum()), base)
        for d, part in enumerate(np.array_split(labels, 10))
        if len(part)
    ] if len(labels) else []  # fmt: skip
    bands: list[Group] = []
    if spec.bands and len(totals):
        labelled = scored.with_columns(band=banded(spec.bands, scored.get_column("total")))
        for band in sorted(spec.bands, key=lambda b: to_decimal(b.min), reverse=True):
            rows = labelled.filter(pl.col("band") == band.label)
            bands.append(Group(band.label, rows.height, int(rows["converted"].sum()), base))
    known_now = list(Lead.objects.filter(created_at__lte=now).values_list("pk", flat=True))
    return Backtest(
        at=at,
        leads=len(labels),
        converted=converted,
        auc=auc(totals, labels) if len(labels) else None,
        threshold=float(spec.mql_threshold),
        mqls=int(mql.sum()),
        mqls_converted=int((mql & labels).sum()),
        deciles=deciles,
        bands=bands,
        weeks=_weeks(spec, known_now, at, now),
    )
