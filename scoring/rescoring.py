"""Apply the engine to leads in bulk: a fixed number of queries per chunk of leads.

A chunk's leads and activities are read in bulk into frames (scoring.frames), every published
model is evaluated over them by the engine, and the scores are upserted in one statement, with
the crossings and handoffs they cause, in the same transaction.

A lead whose data the engine or the database trips on does not stop its chunk: the chunk, tried
whole as ever, is then tried in halves until that lead is alone; it is recorded (UnscorableLead,
in the admin) and skipped, the others stored (leads_rescore_chunk, _unscorable_isolate).
"""

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl
import psycopg
from django.db import DataError, connection, transaction
from django.utils import timezone

from .crossings import StoredScore, crossings_record, scores_lock, stored_explanations
from .definition import ACCOUNT_FIELDS, LEAD_FIELDS, ModelSpec, parse_model
from .engine import (
    MOMENT_SCHEMA,
    UTC_MICROSECONDS,
    ActivityFact,
    LeadFacts,
    Scores,
    cents_decimal,
    evaluate,
    lead_paths,
    moments_at,
    property_keys,
)
from .frames import activities_frame, leads_frame
from .models import (
    Lead,
    LeadScore,
    ScoringModel,
    ScoringModelVersion,
    UnscorableLead,
)
from .signals import scores_stored

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

CHUNK_SIZE = 1000
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedModel:
    scoring_model_id: int
    version: ScoringModelVersion
    spec: ModelSpec


@dataclass
class RescoreSummary:
    leads: int = 0
    scores_written: int = 0
    scores_removed: int = 0
    events: int = 0
    handoffs: int = 0
    per_model: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # leads scoring trips on (see UnscorableLead), left as they were

    def add(self, other: "RescoreSummary") -> None:
        self.leads += other.leads
        self.scores_written += other.scores_written
        self.scores_removed += other.scores_removed
        self.events += other.events
        self.handoffs += other.handoffs
        self.skipped += other.skipped
        for slug, n in other.per_model.items():
            self.per_model[slug] = self.per_model.get(slug, 0) + n


def published_slug_exists(slug: str) -> bool:
    return ScoringModel.objects.filter(slug=slug, published_version__isnull=False).exists()


def published_models(*, slugs: Iterable[str] | None = None) -> list[PublishedModel]:
    models = ScoringModel.objects.filter(published_version__isnull=False).select_related(
        "published_version"
    )
    if slugs is not None:
        models = models.filter(slug__in=list(slugs))
    return [
        PublishedModel(m.pk, m.published_version, version_spec(m.published_version))
        for m in models
        if m.published_version is not None
    ]


# Each distinct definition is parsed once per process (keyed by its text, not the version id:
# ids can come back after a rollback).
_SPECS: dict[str, ModelSpec] = {}


def version_spec(version: ScoringModelVersion) -> ModelSpec:
    key = json.dumps(version.definition, sort_keys=True)
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) > 100:
            _SPECS.clear()
        spec = _SPECS[key] = parse_model(version.definition)
    return spec


def lead_facts(lead: Lead) -> LeadFacts:
    account = lead.account
    return LeadFacts(
        fields={name: getattr(lead, name) for name in LEAD_FIELDS},
        attributes=lead.attributes or {},
        account_fields=None
        if account is None
        else {n: getattr(account, n) for n in ACCOUNT_FIELDS},
        account_attributes=None if account is None else (account.attributes or {}),
        created_at=lead.created_at,
    )


def activity_fact(
    kind: str, occurred_at: datetime, channel: str, properties: Mapping[str, Any]
) -> ActivityFact:
    # `channel` is a column, but criteria filter on it like any other property.
    return ActivityFact(
        kind=kind, occurred_at=occurred_at, properties={**properties, "channel": channel}
    )


@dataclass(slots=True)
class ScoreRow:
    """A computed score on its way to storage (a LeadScore row without the model machinery,
    which costs more than scoring at a million leads)."""

    lead_id: int
    scoring_model_id: int
    version_id: int
    total: Decimal
    fit: Decimal
    engagement: Decimal
    band: str
    grade: str
    mql: bool
    explanation: list[dict[str, Any]]
    computed_at: datetime


def _chunks(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(ids)
    while chunk := list(islice(iterator, size)):
        yield chunk


SCORE_SCHEMA: "dict[str, PolarsDataType]" = {
    "lead_id": pl.Int64, "scoring_model_id": pl.Int64, "version_id": pl.Int64,
    "total": pl.Int64, "fit": pl.Int64, "engagement": pl.Int64,  # in cents
    "band": pl.String, "grade": pl.String, "mql": pl.Boolean, "explanation": pl.String,
    "computed_at": UTC_MICROSECONDS,
}  # fmt: skip


@dataclass
class ChunkScores:
    scores: pl.DataFrame  # SCORE_SCHEMA: one row per lead and model that scores it
    outside: dict[int, list[int]]  # model id -> lead ids outside its audience
    leads: int
    latest: Mapping[int, ActivityFact]  # lead id -> its latest activity (a handoff's trigger)

    @property
    def rows(self) -> list[ScoreRow]:
        return score_rows(self.scores)


def compute_scores(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime | None
) -> ChunkScores:
    """Score the leads by the engine: their rows read in bulk, every model evaluated over them.

    With `now` None each lead is evaluated at its stored score's computed_at (verification).
    """
    specs = [model.spec for model in models]
    leads = leads_frame(lead_ids, lead_paths(specs))
    ids = leads.get_column("lead_id")
    activities = activities_frame(ids.to_list(), property_keys(specs))
    tz = timezone.get_default_timezone()
    parts, outside = [], defaultdict(list)
    for model in models:
        moments = moments_at(ids, now) if now is not None else _stored_moments(ids, model)
        scores = evaluate(model.spec, leads, activities, moments, tz)
        parts.append(_score_frame(model, scores))
        gone = scores.outside.get_column("lead_id").to_list()
        if gone:
            outside[model.scoring_model_id].extend(gone)
    frame = pl.concat(parts) if parts else pl.DataFrame(schema=SCORE_SCHEMA)
    latest = LatestActivities(activities, now or timezone.now())
    return ChunkScores(frame, outside, leads.height, latest)


def _stored_moments(lead_ids: pl.Series, model: PublishedModel) -> pl.DataFrame:
    """Each lead at its stored score's time (now where it has none)."""
    stored = dict(
        LeadScore.objects.filter(
            lead_id__any_of=lead_ids.to_list(), scoring_model_id=model.scoring_model_id
        ).values_list("lead_id", "computed_at")
    )
    fallback = timezone.now()
    return pl.DataFrame(
        {"lead_id": lead_ids, "at": [stored.get(i, fallback) for i in lead_ids.to_list()]},
        schema=MOMENT_SCHEMA,
    )


def _points_json() -> pl.Expr:
    """Cents as json.dumps writes the float nearest them (12.3, 20.0, -0.05)."""
    cents = pl.col("cents")
    whole = (cents.abs() // 100).cast(pl.String)
    rest = cents.abs() % 100
    fraction = (
        pl.when(rest == 0)
        .then(pl.lit("0"))
        .when(rest % 10 == 0)
        .then((rest // 10).cast(pl.String))
        .otherwise(rest.cast(pl.String).str.zfill(2))
    )
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, whole, pl.lit("."), fraction)


def _score_frame(model: PublishedModel, scores: Scores) -> pl.DataFrame:
    """The engine's scores as rows to store, the explanation written column-wise as JSON."""
    criteria = pl.DataFrame(
        {
            "position": list(range(len(model.spec.criteria))),
            "head": [
                '{"criterion": ' + json.dumps(c.name) + ', "type": ' + json.dumps(c.type)
                for c in model.spec.criteria
            ],
        },
        schema={"position": pl.UInt32, "head": pl.String},
    )
    items = (
        scores.points.join(criteria, on="position", how="left")
        .sort("m", "position")
        .select(
            "m",
            item=pl.concat_str(
                "head",
                pl.lit(', "points": '),
                _points_json(),
                pl.lit(', "evidence_count": '),
                pl.col("evidence").cast(pl.String),
                pl.lit("}"),
            ),
        )
        .group_by("m", maintain_order=True)
        .agg(explanation=pl.concat_str(pl.lit("["), pl.col("item").str.join(", "), pl.lit("]")))
    )
    return (
        scores.totals.join(items, on="m", how="left")
        .select(
            "lead_id",
            scoring_model_id=pl.lit(model.scoring_model_id, dtype=pl.Int64),
            version_id=pl.lit(model.version.pk, dtype=pl.Int64),
            total="total",
            fit="fit",
            engagement="engagement",
            band=pl.col("band").fill_null(""),
            grade=pl.col("grade").fill_null(""),
            mql="mql",
            explanation=pl.col("explanation").fill_null("[]"),
            computed_at="at",
        )
        # polars types the keys as an (invariant) Mapping[str | selector | dtype, ...], which
        # a dict keyed by str is at run time.
        .cast(SCORE_SCHEMA)  # type: ignore[arg-type]
    )


def score_rows(scores: pl.DataFrame) -> list[ScoreRow]:
    """Scores as plain objects (a few at a time: a crossing's reason, a verification)."""
    return [
        ScoreRow(
            lead_id=row["lead_id"],
            scoring_model_id=row["scoring_model_id"],
            version_id=row["version_id"],
            total=cents_decimal(row["total"]),
            fit=cents_decimal(row["fit"]),
            engagement=cents_decimal(row["engagement"]),
            band=row["band"],
            grade=row["grade"],
            mql=row["mql"],
            explanation=json.loads(row["explanation"]),
            computed_at=row["computed_at"],
        )
        for row in scores.iter_rows(named=True)
    ]


def _scores_of_rows(rows: Sequence[ScoreRow]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "lead_id": [r.lead_id for r in rows],
            "scoring_model_id": [r.scoring_model_id for r in rows],
            "version_id": [r.version_id for r in rows],
            **{
                name: [int(getattr(r, name) * 100) for r in rows]
                for name in ("total", "fit", "engagement")
            },
            "band": [r.band for r in rows],
            "grade": [r.grade for r in rows],
            "mql": [r.mql for r in rows],
            "explanation": [json.dumps(r.explanation) for r in rows],
            "computed_at": [r.computed_at for r in rows],
        },
        schema=SCORE_SCHEMA,
    )


class LatestActivities(Mapping[int, ActivityFact]):
    """Per lead its latest activity by `cutoff` (a handoff's trigger; of simultaneous ones, the
    kind last in order), found column-wise and made an object only when asked for."""

    def __init__(self, activities: pl.DataFrame, cutoff: datetime) -> None:
        latest = (
            activities.filter(pl.col("occurred_at") <= cutoff)
            .sort("lead_id", "occurred_at", pl.col("kind").cast(pl.String))
            .group_by("lead_id", maintain_order=True)
            .last()
        )
        self._position = {lead_id: i for i, lead_id in enumerate(latest["lead_id"].to_list())}
        self._latest = latest.select("kind", "occurred_at")

    def __getitem__(self, lead_id: int) -> ActivityFact:
        kind, occurred_at = self._latest.row(self._position[lead_id])
        return ActivityFact(kind=kind, occurred_at=occurred_at)

    def __iter__(self) -> Iterator[int]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


_UPSERT_COLUMNS = [
    "lead_id", "scoring_model_id", "version_id", "total", "fit", "engagement", "band", "grade",
    "mql", "explanation", "computed_at",
]  # fmt: skip


def _upsert_sql(table: str, source: str) -> str:
    columns = ", ".join(_UPSERT_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _UPSERT_COLUMNS[2:])
    return (
        f"INSERT INTO {table} ({columns}) {source} "  # noqa: S608 - fixed names
        f"ON CONFLICT (lead_id, scoring_model_id) DO UPDATE SET {updates} "
        f"WHERE {table}.version_id < excluded.version_id "
        f"OR ({table}.version_id = excluded.version_id "
        f"AND {table}.computed_at <= excluded.computed_at) "
        f"RETURNING lead_id, scoring_model_id"
    )


_STAGE_COLUMNS = (
    "lead_id bigint, scoring_model_id bigint, version_id bigint, total bigint, fit bigint, "
    "engagement bigint, band text, grade text, mql boolean, explanation jsonb, "
    "computed_at timestamptz"
)
# The staged amounts are cents; the score's columns hold points.
_STAGED = (
    "SELECT lead_id, scoring_model_id, version_id, total / 100.0, fit / 100.0, "
    "engagement / 100.0, band, grade, mql, explanation, computed_at FROM leadscore_incoming"
)


def _stage(cursor: Any, scores: pl.DataFrame) -> None:
    """PostgreSQL: the scores into a temporary table, in one COPY of CSV written by polars."""
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS leadscore_incoming ({_STAGE_COLUMNS}) "
        "ON COMMIT DELETE ROWS"
    )
    cursor.execute("TRUNCATE leadscore_incoming")
    text = scores.write_csv(include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z")
    with cursor.cursor.copy("COPY leadscore_incoming FROM STDIN (FORMAT csv)") as copy:
        copy.write(text)


def scores_upsert(scores: pl.DataFrame | Sequence[ScoreRow]) -> pl.DataFrame:
    """Insert or update scores; a row never replaces one from a newer version, nor, within the
    same version, one computed at a later time (from newer data).

    Returns the (lead_id, scoring_model_id) pairs written (refused stale writes are left out).
    """
    if not isinstance(scores, pl.DataFrame):
        scores = _scores_of_rows(scores)
    table = LeadScore._meta.db_table
    written: list[tuple[int, int]] = []
    if not scores.is_empty():
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _stage(cursor, scores.select(list(SCORE_SCHEMA)))
                cursor.execute(_upsert_sql(table, _STAGED))
                written = cursor.fetchall()
            else:
                row_marks = "(" + ", ".join(["%s"] * len(_UPSERT_COLUMNS)) + ")"
                for batch in scores.iter_slices(500):
                    values = [
                        value
                        for row in score_rows(batch)
                        for value in (
                            row.lead_id, row.scoring_model_id, row.version_id, row.total,
                            row.fit, row.engagement, row.band, row.grade, row.mql,
                            json.dumps(row.explanation), row.computed_at,
                        )
                    ]  # fmt: skip
                    sql = _upsert_sql(table, "VALUES " + ", ".join([row_marks] * batch.height))
                    cursor.execute(sql, values)
                    written.extend(cursor.fetchall())
    return pl.DataFrame(
        written, schema={"lead_id": pl.Int64, "scoring_model_id": pl.Int64}, orient="row"
    )


@dataclass
class _Stored:
    """Scores written by a chunk, and the pairs (before, after) that cross a threshold."""

    written: int = 0
    removed: int = 0
    crossing: list[tuple[StoredScore | None, ScoreRow]] = field(default_factory=list)


_KEYS = ["lead_id", "scoring_model_id"]


def _scores_store(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime
) -> tuple[ChunkScores, _Stored]:
    """Score the leads and upsert what they got."""
    chunk = compute_scores(lead_ids=lead_ids, models=models, now=now)
    stored = _Stored()
    before = scores_lock(lead_ids=lead_ids, model_ids=[m.scoring_model_id for m in models])
    # Only the scores that reach or leave MQL or change band become events; the rest is done.
    moving = chunk.scores.join(before, on=_KEYS, how="left").filter(
        pl.when(pl.col("version_before").is_null())
        .then(pl.col("mql"))
        .otherwise(
            (pl.col("mql") != pl.col("mql_before")) | (pl.col("band") != pl.col("band_before"))
        )
    )
    # Their explanations as stored, for the reasons: read before they are overwritten.
    explanations = stored_explanations(
        moving.filter(pl.col("version_before").is_not_null()).select(_KEYS).rows()
    )
    written = scores_upsert(chunk.scores)
    stored.written = written.height
    moved = moving.join(written, on=_KEYS, how="semi")
    before_columns = ["total_before", "band_before", "mql_before", "version_before"]
    for row, (total, band, mql, version) in zip(
        score_rows(moved.select(list(SCORE_SCHEMA))),
        moved.select(before_columns).rows(),
        strict=True,
    ):
        previous = None
        if version is not None:
            key = (row.lead_id, row.scoring_model_id)
            previous = StoredScore(
                cents_decimal(total), band, mql, version, explanations.get(key, "[]")
            )
        stored.crossing.append((previous, row))
    had_scores = set(before.select(_KEYS).rows())
    for model_id, ids in chunk.outside.items():
        # A lead that left a model's audience no longer carries its score (the lock above
        # read every stored score of the chunk, so only those that exist are deleted).
        gone = [lead_id for lead_id in ids if (lead_id, model_id) in had_scores]
        if gone:
            removed, _ = LeadScore.objects.filter(
                scoring_model_id=model_id, lead_id__any_of=gone
            ).delete()
            stored.removed += removed
    return chunk, stored


# What "this lead's data" looks like when scoring trips on it: a value the engine cannot read
# or compute with raises one of Python's value errors (a timestamp fromisoformat refuses, a
# property of the wrong type, a number that overflows); one the database cannot, SQLSTATE class
# 22 "data exception" (DataError: out of range, infinite timestamps, invalid text), through
# Django or, from the COPY of staged rows, from psycopg itself. Everything else is about the
# moment, not the lead, and must reach the task so that it retries as before: lost connections,
# deadlocks, serialization failures, cancelled statements (OperationalError), integrity errors
# (a concurrent writer), Celery's soft time limit.
DATA_ERRORS: tuple[type[Exception], ...] = (
    DataError, psycopg.DataError, ValueError, TypeError, ArithmeticError, LookupError,
    AttributeError,
)  # fmt: skip
# A bug, or a model the engine trips on, fails every lead: after this many leads failing alone,
# with no try succeeding, the fault is not theirs, and the first error goes on (a chunk is not
# tried lead by lead, and its leads are not all recorded as unscorable).
SYSTEMATIC_FAILURES = 8
REASON_MAX_CHARS = 1000

Result = TypeVar("Result")


def _try_in_savepoint(
    attempt: Callable[[list[int]], Result], lead_ids: list[int], results: list[Result]
) -> Exception | None:
    """Run one try; its error if the data tripped it. A failed PostgreSQL statement aborts the
    transaction: the savepoint, rolled back, keeps it usable for the next try."""
    try:
        with transaction.atomic():
            result = attempt(lead_ids)
    except DATA_ERRORS as error:
        return error
    results.append(result)
    return None


def _unscorable_isolate(
    lead_ids: Sequence[int], attempt: Callable[[list[int]], Result]
) -> tuple[list[Result], list[tuple[int, Exception]]]:
    """Run `attempt` over the leads, each try in its own savepoint; when their data trips it,
    over the halves of what failed, recursively, until the failing leads are alone.

    Returns what the tries that succeeded returned, and each lead that failed alone with its
    error. Both halves of a failing part are tried before either is split: one bad lead among n
    costs 2 log2(n) more tries, and a success comes early (see SYSTEMATIC_FAILURES).
    """
    ids = list(lead_ids)
    results: list[Result] = []
    first_error = _try_in_savepoint(attempt, ids, results)
    if first_error is None:
        return results, []
    failing, failures = [(ids, first_error)], []
    while failing:
        part, error = failing.pop()
        if len(part) == 1:
            failures.append((part[0], error))
            if not results and len(failures) >= SYSTEMATIC_FAILURES:
                raise first_error
            continue
        middle = len(part) // 2
        tried = [(half, _try_in_savepoint(attempt, half, results))
                 for half in (part[:middle], part[middle:])]  # fmt: skip
        # Last in, first out: the first half is split first.
        failing.extend((half, failed) for half, failed in reversed(tried) if failed is not None)
    return results, failures


def unscorable_reason(error: Exception) -> str:
    """The exception's type and message, storable: the message may quote the bad data itself,
    with what no text column takes (NUL, a lone surrogate)."""
    text = f"{type(error).__name__}: {str(error).strip()}".replace("\x00", "\\x00")
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 1] + "…"


def unscorable_record(failures: Sequence[tuple[int, Exception]]) -> None:
    """One row per lead with why it failed, upserted: first seen kept, times seen counted. Only
    for leads that still exist (one deleted meanwhile fails nothing)."""
    if not failures:
        return
    table, leads = UnscorableLead._meta.db_table, Lead._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        for lead_id, error in failures:
            reason = unscorable_reason(error)
            logger.warning("Lead %s cannot be scored and is skipped: %s", lead_id, reason)
            cursor.execute(
                f"INSERT INTO {table} (lead_id, reason, first_seen, last_seen, times_seen) "  # noqa: S608
                f"SELECT id, %s, %s, %s, 1 FROM {leads} WHERE id = %s "
                "ON CONFLICT (lead_id) DO UPDATE SET reason = excluded.reason, "
                f"last_seen = excluded.last_seen, times_seen = {table}.times_seen + 1",
                [reason, now, now, lead_id],
            )


def leads_rescore_chunk(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime
) -> RescoreSummary:
    """Score a chunk of leads and store it, with the crossings it causes, in one transaction (a
    savepoint of the caller's); a lead whose data scoring trips on is recorded (UnscorableLead)
    and skipped, the others stored.

    The chunk is scored whole, as always; only when that fails are its parts tried
    (_unscorable_isolate).
    """
    parts, failures = _unscorable_isolate(
        lead_ids, lambda ids: _chunk_rescore(lead_ids=ids, models=models, now=now)
    )
    summary = RescoreSummary(skipped=len(failures))
    for part in parts:
        summary.add(part)
    unscorable_record(failures)
    return summary


def _chunk_rescore(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime
) -> RescoreSummary:
    """Score these leads and store them, with the crossings they cause, inside the caller's
    transaction (a savepoint of _unscorable_isolate)."""
    by_id = {model.scoring_model_id: model for model in models}
    chunk, stored = _scores_store(lead_ids=lead_ids, models=models, now=now)
    summary = RescoreSummary(
        leads=chunk.leads, scores_written=stored.written, scores_removed=stored.removed
    )
    for model_id, count in chunk.scores.group_by("scoring_model_id").len().rows():
        slug = by_id[model_id].spec.slug
        summary.per_model[slug] = summary.per_model.get(slug, 0) + count
    summary.events, opened = crossings_record(
        changed=stored.crossing, models=by_id, latest=chunk.latest
    )
    summary.handoffs = len(opened)
    ids = list(lead_ids)
    # They score again: whatever stopped them before is gone.
    UnscorableLead.objects.filter(lead_id__any_of=ids).delete()
    transaction.on_commit(
        lambda: scores_stored.send(sender=LeadScore, lead_ids=ids, opened_handoff_ids=opened)
    )
    return summary


def leads_rescore(
    *,
    lead_ids: Iterable[int] | None = None,
    slugs: Iterable[str] | None = None,
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> RescoreSummary:
    """Rescore the given leads (all leads when None) in every (or the named) published model."""
    now = now or timezone.now()
    models = published_models(slugs=slugs)
    total = RescoreSummary()
    if not models:
        return total
    ids = (
        lead_ids
        if lead_ids is not None
        else Lead.objects.order_by("pk").values_list("pk", flat=True).iterator()
    )
    for chunk in _chunks(ids, chunk_size):
        total.add(leads_rescore_chunk(lead_ids=chunk, models=models, now=now))
    return total


@dataclass(frozen=True)
class Drift:
    lead_id: int
    slug: str
    problem: str


def _verify_scores_compute(
    lead_ids: Sequence[int], models: Sequence[PublishedModel]
) -> tuple[list[ScoreRow], list[tuple[int, PublishedModel, Exception]]]:
    """The scores recomputed (at their stored times), and each lead and model scoring trips on
    with its error: a lead that fails alone is tried again model by model, so that it is
    reported only where it fails, and checked where it does not."""

    def recompute(among: Sequence[PublishedModel]) -> Callable[[list[int]], list[ScoreRow]]:
        return lambda ids: compute_scores(lead_ids=ids, models=among, now=None).rows

    parts, failures = _unscorable_isolate(lead_ids, recompute(models))
    unscorable: list[tuple[int, PublishedModel, Exception]] = []
    for lead_id, _error in failures:
        for model in models:
            found, failed = _unscorable_isolate([lead_id], recompute([model]))
            parts.extend(found)
            unscorable.extend((lead_id, model, error) for _lead_id, error in failed)
    return [row for part in parts for row in part], unscorable


def scores_verify(
    *, slugs: Iterable[str] | None = None, chunk_size: int = CHUNK_SIZE
) -> list[Drift]:
    """Recompute every score from scratch at its own computed_at and list where storage differs
    (and the leads that cannot be scored)."""
    models = published_models(slugs=slugs)
    by_id = {model.scoring_model_id: model for model in models}
    drifts: list[Drift] = []
    ids = Lead.objects.order_by("pk").values_list("pk", flat=True).iterator()
    for chunk in _chunks(ids, chunk_size):
        expected, unscorable = _verify_scores_compute(chunk, models)
        stored = {
            (s.lead_id, s.scoring_model_id): s
            for s in LeadScore.objects.filter(lead_id__in=chunk, scoring_model_id__in=by_id)
        }
        for lead_id, model, error in unscorable:
            # Not "outside the model's audience": what its score should be is not known.
            stored.pop((lead_id, model.scoring_model_id), None)
            problem = f"cannot be scored: {unscorable_reason(error)}"
            drifts.append(Drift(lead_id, model.spec.slug, problem))
        for row in expected:
            slug = by_id[row.scoring_model_id].spec.slug
            have = stored.pop((row.lead_id, row.scoring_model_id), None)
            if have is None:
                drifts.append(Drift(row.lead_id, slug, "no stored score"))
            elif have.version_id != row.version_id:
                drifts.append(
                    Drift(row.lead_id, slug, f"scored with an older version ({have.version_id})")
                )
            else:
                for name in ("total", "fit", "engagement", "band", "grade", "mql"):
                    if getattr(have, name) != getattr(row, name):
                        drifts.append(
                            Drift(row.lead_id, slug, f"{name} stored {getattr(have, name)}, "
                                  f"recomputed {getattr(row, name)}")
                        )  # fmt: skip
        for (lead_id, model_id), _score in stored.items():
            drifts.append(Drift(lead_id, by_id[model_id].spec.slug, "outside the model's audience"))
    return drifts
