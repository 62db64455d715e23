"""What-if: the draft against the published version on current data, before anything goes live.

Every score and criterion amount comes from the engine (scoring.engine.evaluate over frames read
by scoring.frames); what the preview saves is the reading and evaluating of criteria the draft
does not change. Scoring 100,000 leads from scratch takes longer than an editor can wait, so it
starts from the stored scores of the published version:
- a criterion whose definition is unchanged keeps its stored points (from the score explanation);
- a criterion that only changed its points is rescaled from its stored evidence count, which is
  exact wherever no decay applies (attribute, frequency and inactivity criteria fire for their
  points; undecayed activity points are points x counted occurrences, then capped);
- any other added or changed criterion is evaluated alone over the scored leads, with only what
  it reads: the lead columns of an attribute condition, or the activities of its kinds (every
  activity for a kind-less one) with the properties its conditions test.
The preview is over the leads the published version scores. When the draft changes the audience,
the leads it keeps are previewed so, those it leaves lose their score, and those it takes in are
evaluated in full; when there is no published version, every lead is evaluated from scratch, a
chunk of leads at a time. A sample of affected leads is always evaluated in full with both, for
the before/after explanations.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any, cast

import polars as pl
from django.db import connection
from django.utils import timezone

from scoring.criteria import criterion_type
from scoring.criteria.base import cents
from scoring.definition import (
    AttributeCriterion,
    Criterion,
    DefinitionError,
    ModelSpec,
    Number,
    Problem,
    parse_model,
)
from scoring.engine import (
    LeadScoreResult,
    audience_matches,
    evaluate,
    lead_paths,
    moments_at,
    property_keys,
    results,
    to_decimal,
)
from scoring.frames import activities_frame, leads_frame, read_packed
from scoring.models import Lead, LeadScore, ScoringModel
from scoring.services import scoring_model_draft_spec

HISTOGRAM_BARS = 10
# Leads per evaluation of a full rescore: frames of a few hundred thousand activities at most.
CHUNK = 20_000
# A totals frame: per lead its total in cents with each definition, null outside its audience.
TOTALS_SCHEMA = pl.Schema({"lead_id": pl.Int64, "before": pl.Int64, "after": pl.Int64})
# Per lead what a criterion adds to its total, in cents.
AMOUNTS_SCHEMA = pl.Schema({"lead_id": pl.Int64, "cents": pl.Int64})
# Per lead a criterion's stored points (cents) and evidence count.
EVIDENCE_SCHEMA = pl.Schema({"lead_id": pl.Int64, "cents": pl.Int64, "count": pl.Int64})


@dataclass(frozen=True)
class HistogramBar:
    low: Decimal
    high: Decimal
    before: int
    after: int
    before_percent: int
    after_percent: int


@dataclass(frozen=True)
class AffectedLead:
    lead: Lead
    before: LeadScoreResult
    after: LeadScoreResult

    @property
    def delta(self) -> Decimal:
        return self.after.total - self.before.total

    @property
    def rows(self) -> list[dict[str, Any]]:
        return explanation_rows(self.before, self.after)


@dataclass
class WhatIf:
    problems: list[Problem] = field(default_factory=list)
    has_published: bool = False
    leads: int = 0
    mql_before: int = 0
    mql_after: int = 0
    newly_mql: int = 0
    dropped_mql: int = 0
    changed: int = 0
    changed_criteria: list[str] = field(default_factory=list)
    histogram: list[HistogramBar] = field(default_factory=list)
    sample: list[AffectedLead] = field(default_factory=list)
    full_rescore: bool = False
    seconds: float = 0.0

    @property
    def mql_difference(self) -> int:
        return self.mql_after - self.mql_before


# --- which criteria changed ----------------------------------------------------------------------


def changed_criteria(
    published: ModelSpec, draft: ModelSpec
) -> list[tuple[Criterion | None, Criterion | None]]:
    """(published, draft) pairs by name for every criterion whose scoring differs."""
    old_by_name = {c.name: c for c in published.criteria}
    new_by_name = {c.name: c for c in draft.criteria}
    pairs = []
    for name in dict.fromkeys([*old_by_name, *new_by_name]):
        old, new = old_by_name.get(name), new_by_name.get(name)
        if old is not None and new is not None:
            same = replace(old, description=new.description) == new
            if same and _decay(old, published) == _decay(new, draft):
                continue
        if not (old is None or not old.enabled) or not (new is None or not new.enabled):
            pairs.append((old, new))
    return pairs


def _decay(criterion: Criterion, spec: ModelSpec) -> Number | None:
    # A criterion type is a module, whose functions mypy sees untyped.
    decay: Number | None = criterion_type(criterion).decay(criterion, spec)
    return decay


def _rescaled(
    old: Criterion | None,
    new: Criterion,
    published: ModelSpec,
    draft: ModelSpec,
    evidence: pl.DataFrame,
) -> pl.DataFrame | None:
    """The changed criterion's amounts from its stored evidence counts, when only its points
    changed and the count says exactly what it is worth (None otherwise)."""
    if old is None or not old.enabled:
        return None
    if replace(old, points=new.points, description=new.description) != new:
        return None
    if _decay(old, published) != _decay(new, draft):
        return None
    amount = criterion_type(new).from_evidence(new, draft, pl.col("count"))
    return None if amount is None else evidence.select("lead_id", cents=amount)


# --- the engine over many leads ------------------------------------------------------------------


def _chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    iterator = iter(ids)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _evaluated(
    criterion: Criterion, draft: ModelSpec, lead_ids: Sequence[int], now: datetime
) -> pl.DataFrame:
    """The criterion alone by the engine over these leads, reading only what it needs."""
    mini = replace(draft, criteria=(criterion,), audience=())
    leads = leads_frame(lead_ids, lead_paths([mini]))
    if isinstance(criterion, AttributeCriterion):
        activities = activities_frame([], [])  # a condition on the lead reads none
    else:
        # No kinds: any activity counts (or breaks a lead's inactivity). Nothing older than its
        # window counts now (a second more: the engine decides the edge).
        kind = criterion_type(criterion)
        window = kind.window(criterion)
        activities = activities_frame(
            lead_ids,
            property_keys([mini]),
            kinds=criterion.kinds,
            since=None if window is None else now - timedelta(days=window, seconds=1),
            newest_by=now if kind.NEWEST_ONLY else None,
        )
    moments = moments_at(leads.get_column("lead_id"), now)
    scores = evaluate(mini, leads, activities, moments, timezone.get_default_timezone())
    return scores.totals.select("lead_id", cents="total")


def _totals(
    spec: ModelSpec | None,
    name: str,
    leads: pl.DataFrame,
    activities: pl.DataFrame,
    moments: pl.DataFrame,
) -> pl.DataFrame:
    """lead_id and the spec's total (as `name`) of the leads inside its audience."""
    if spec is None:
        return pl.DataFrame(schema={"lead_id": pl.Int64, name: pl.Int64})
    scores = evaluate(spec, leads, activities, moments, timezone.get_default_timezone())
    return scores.totals.select("lead_id", pl.col("total").alias(name))


def full_totals(published: ModelSpec | None, draft: ModelSpec, now: datetime) -> pl.DataFrame:
    """Both definitions over every lead (no stored scores to start from): lead_id, before,
    after, leads outside both audiences left out."""
    specs = [spec for spec in (published, draft) if spec is not None]
    paths, keys = lead_paths(specs), property_keys(specs)
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    parts = [pl.DataFrame(schema=TOTALS_SCHEMA)]
    for chunk in _chunks(ids, CHUNK):
        leads = leads_frame(chunk, paths)
        frames = (
            leads,
            activities_frame(chunk, keys),
            moments_at(leads.get_column("lead_id"), now),
        )
        before, after = _totals(published, "before", *frames), _totals(draft, "after", *frames)
        parts.append(before.join(after, on="lead_id", how="full", coalesce=True))
    return pl.concat(parts, how="diagonal_relaxed").select(*TOTALS_SCHEMA).sort("lead_id")


def audience_totals(
    scoring_model: ScoringModel, published: ModelSpec, draft: ModelSpec, now: datetime
) -> tuple[pl.DataFrame, list[str]]:
    """delta_totals when the draft changes the audience: the leads it keeps get the draft's
    criteria from their stored scores, those it leaves lose their score, and only those it
    takes in are scored in full."""
    totals, names = delta_totals(scoring_model, published, draft, now)
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    members = leads_frame(ids, lead_paths([replace(draft, criteria=())]))
    inside = members.filter(audience_matches(draft, members)).select("lead_id")
    kept = totals.join(inside.with_columns(stays=pl.lit(True)), on="lead_id", how="left").select(
        "lead_id", "before", after=pl.when(pl.col("stays")).then(pl.col("after"))
    )
    joining = inside.join(totals, on="lead_id", how="anti").get_column("lead_id").to_list()
    parts = [kept]
    for chunk in _chunks(joining, CHUNK):
        leads = leads_frame(chunk, lead_paths([draft]))
        frames = (
            leads,
            activities_frame(chunk, property_keys([draft])),
            moments_at(leads.get_column("lead_id"), now),
        )
        parts.append(_totals(draft, "after", *frames).with_columns(before=pl.lit(None)))
    joined = pl.concat(parts, how="diagonal_relaxed").select(*TOTALS_SCHEMA).cast(TOTALS_SCHEMA)
    return joined.sort("lead_id"), names


# --- the preview ---------------------------------------------------------------------------------


Evidence = dict[str, pl.DataFrame]  # criterion -> its EVIDENCE_SCHEMA frame


def _stored(scoring_model: ScoringModel, names: set[str]) -> tuple[pl.DataFrame, Evidence]:
    """The stored totals in cents (lead_id, before), and the stored points and evidence count
    of the named criteria, by lead."""
    scores = LeadScore.objects.filter(scoring_model=scoring_model)
    rows = scores.values_list("lead_id", "total").iterator(chunk_size=20000)
    before = pl.DataFrame(
        [(lead_id, int(total * 100)) for lead_id, total in rows],
        schema={"lead_id": pl.Int64, "before": pl.Int64},
        orient="row",
    )
    found: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    explained = scores if names else scores.none()
    for lead_id, explanation in explained.values_list("lead_id", "explanation").iterator(
        chunk_size=10000
    ):
        for item in explanation or ():
            if item["criterion"] in names:
                found[item["criterion"]].append(
                    (lead_id, cents(item["points"]), int(item["evidence_count"]))
                )
    evidence = {
        name: pl.DataFrame(rows, schema=EVIDENCE_SCHEMA, orient="row")
        for name, rows in found.items()
    }
    return before, evidence


def _stored_pg(scoring_model: ScoringModel, names: set[str]) -> tuple[pl.DataFrame, Evidence]:
    """`_stored`, with PostgreSQL taking the named items out of the explanations (decoding
    every explanation in Python was most of the preview's time) and sending both packed."""
    table = LeadScore._meta.db_table
    before = read_packed(
        f"SELECT lead_id, (total * 100)::bigint AS cents FROM {table} "  # noqa: S608 - fixed names
        "WHERE scoring_model_id = %s",
        [scoring_model.pk],
        group=None,
        numbers={"lead_id": "int8send(lead_id)", "before": "int8send(cents)"},
        texts={},
    )
    if not names:
        return before, {}
    # Points are stored as JSON numbers of at most two decimals (json.dumps of a float prints
    # its shortest repr, which is what cents reads), so numeric cents are exact. The path picks
    # the items in one pass; taking every item apart (jsonb_array_elements) and filtering them
    # had the planner cache the items by explanation, which took twice as long.
    named = dict(zip((f"n{i}" for i in range(len(names))), sorted(names), strict=True))
    path = "$[*] ? (" + " || ".join(f"@.criterion == ${var}" for var in named) + ")"
    items = read_packed(
        "SELECT item ->> 'criterion' AS criterion, lead_id, "  # noqa: S608 - fixed names
        "((item ->> 'points')::numeric * 100)::bigint AS cents, "
        "(item ->> 'evidence_count')::bigint AS count FROM "
        "(SELECT lead_id, jsonb_path_query(explanation, %s::jsonpath, %s::jsonb) AS item "
        f"FROM {table} WHERE scoring_model_id = %s) s",
        [path, json.dumps(named), scoring_model.pk],
        group="criterion",
        numbers={name: f"int8send({name})" for name in EVIDENCE_SCHEMA},
        texts={},
    )
    return before, {
        name: frame.drop("criterion")
        for (name,), frame in items.partition_by("criterion", as_dict=True).items()
    }


def delta_totals(
    scoring_model: ScoringModel, published: ModelSpec, draft: ModelSpec, now: datetime
) -> tuple[pl.DataFrame, list[str]]:
    """The draft's totals from the published version's stored ones (see the module doc):
    lead_id, before, after; and the names of the criteria that changed."""
    pairs = changed_criteria(published, draft)
    names = {c.name for pair in pairs for c in pair if c is not None}
    stored = _stored_pg if connection.vendor == "postgresql" else _stored
    # Stored points only of what the published version scores (an added criterion has none).
    before, evidence = stored(
        scoring_model, {old.name for old, _new in pairs if old is not None and old.enabled}
    )
    none = pl.DataFrame(schema=EVIDENCE_SCHEMA)
    lead_ids = before.get_column("lead_id").to_list()
    changes = [pl.DataFrame(schema=AMOUNTS_SCHEMA)]
    for old, new in pairs:
        if old is not None and old.enabled:
            changes.append(evidence.get(old.name, none).select("lead_id", cents=-pl.col("cents")))
        if new is None or not new.enabled:
            continue
        old_evidence = none if old is None else evidence.get(old.name, none)
        rescaled = _rescaled(old, new, published, draft, old_evidence)
        changes.append(_evaluated(new, draft, lead_ids, now) if rescaled is None else rescaled)
    delta = pl.concat(changes).group_by("lead_id").agg(pl.col("cents").sum())
    totals = before.join(delta, on="lead_id", how="left").select(
        "lead_id", "before", after=pl.col("before") + pl.col("cents").fill_null(0)
    )
    return totals.sort("lead_id"), sorted(names)


def _histogram(before: pl.Series, after: pl.Series) -> list[HistogramBar]:
    values = pl.concat([before, after])
    if values.is_empty():
        return []
    # Cents: integers, and not empty.
    low, high = cast(int, values.min()) / 100, cast(int, values.max()) / 100
    raw_step = max((high - low) / HISTOGRAM_BARS, 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    start = math.floor(low / step) * step
    count = max(1, math.floor((high - start) / step) + 1)

    def counts(cents: pl.Series) -> list[int]:
        bars = ((cents / 100 - start) // step).cast(pl.Int64).clip(upper_bound=count - 1)
        tally = dict(bars.value_counts().iter_rows())
        return [tally.get(i, 0) for i in range(count)]

    counts_before, counts_after = counts(before), counts(after)
    tallest = max(*counts_before, *counts_after, 1)
    return [
        HistogramBar(
            low=Decimal(str(start + i * step)),
            high=Decimal(str(start + (i + 1) * step)),
            before=counts_before[i],
            after=counts_after[i],
            before_percent=counts_before[i] * 100 // tallest,
            after_percent=counts_after[i] * 100 // tallest,
        )
        for i in range(count)
    ]


def _sample(
    lead_ids: Sequence[int], published: ModelSpec | None, draft: ModelSpec, now: datetime
) -> list[AffectedLead]:
    """Both definitions in full over these leads, whatever their audience (a lead leaving it
    is explained too)."""
    leads = Lead.objects.filter(pk__in=lead_ids).select_related("account").in_bulk()
    specs = [
        replace(spec, audience=()) for spec in (published or replace(draft, criteria=()), draft)
    ]
    frame = leads_frame(lead_ids, lead_paths(specs))
    activities = activities_frame(lead_ids, property_keys(specs))
    moments = moments_at(frame.get_column("lead_id"), now)
    tz = timezone.get_default_timezone()
    before, after = (results(s, evaluate(s, frame, activities, moments, tz)) for s in specs)
    position = {lead_id: m for m, lead_id in enumerate(frame.get_column("lead_id"))}
    return [
        AffectedLead(leads[lead_id], before[position[lead_id]], after[position[lead_id]])
        for lead_id in lead_ids
    ]


def whatif_compute(
    *, scoring_model: ScoringModel, now: datetime | None = None, sample_size: int = 8
) -> WhatIf:
    """Compare the draft with the published version over current data (see the module doc)."""
    started = time.perf_counter()
    now = now or timezone.now()
    try:
        draft = scoring_model_draft_spec(scoring_model=scoring_model)
    except DefinitionError as exc:
        return WhatIf(problems=exc.problems)
    version = scoring_model.published_version
    published = parse_model(version.definition) if version is not None else None
    result = WhatIf(has_published=published is not None)
    if published is None:
        totals = full_totals(published, draft, now)
        result.full_rescore = True
        result.changed_criteria = [c.name for c in draft.criteria]
    elif published.audience != draft.audience:
        totals, result.changed_criteria = audience_totals(scoring_model, published, draft, now)
    else:
        totals, result.changed_criteria = delta_totals(scoring_model, published, draft, now)

    # Thresholds have at most 2 decimals.
    old_threshold = int(to_decimal(published.mql_threshold) * 100) if published else None
    new_threshold = int(to_decimal(draft.mql_threshold) * 100)
    before, after = pl.col("before"), pl.col("after")
    was = pl.lit(False) if old_threshold is None else (before >= old_threshold).fill_null(False)
    is_mql = (after >= new_threshold).fill_null(False)
    flagged = totals.with_columns(was=was, is_mql=is_mql).with_columns(
        changed=before.ne_missing(after) | (pl.col("was") != pl.col("is_mql"))
    )
    summary = flagged.select(
        mql_before=pl.col("was").sum(),
        mql_after=pl.col("is_mql").sum(),
        newly_mql=(pl.col("is_mql") & ~pl.col("was")).sum(),
        dropped_mql=(pl.col("was") & ~pl.col("is_mql")).sum(),
        changed=pl.col("changed").sum(),
    ).row(0, named=True)
    result.leads = totals.height
    for name, count in summary.items():
        setattr(result, name, int(count))
    result.histogram = _histogram(
        totals.get_column("before").drop_nulls(), totals.get_column("after").drop_nulls()
    )
    # Crossings of the MQL threshold first, then the largest moves.
    sample_ids = (
        flagged.filter("changed")
        .with_columns(
            stayed=pl.col("was") == pl.col("is_mql"),
            moved=-(after.fill_null(0) - before.fill_null(0)).abs(),
        )
        .sort("stayed", "moved", "lead_id")
        .head(sample_size)
        .get_column("lead_id")
        .to_list()
    )
    result.sample = _sample(sample_ids, published, draft, now)
    result.seconds = time.perf_counter() - started
    return result


def explanation_rows(before: LeadScoreResult, after: LeadScoreResult) -> list[dict[str, Any]]:
    """Criterion by criterion, the points live and with the draft (None: did not contribute)."""
    rows: dict[str, dict[str, Any]] = {}
    for c in before.contributions:
        rows[c.criterion] = {"criterion": c.criterion, "before": c.points, "after": None}
    for c in after.contributions:
        rows.setdefault(c.criterion, {"criterion": c.criterion, "before": None})["after"] = c.points
    for row in rows.values():
        row["changed"] = row["before"] != row["after"]
    return list(rows.values())
