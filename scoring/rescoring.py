"""Apply the engine to leads in bulk: a fixed number of queries per chunk of leads.

On PostgreSQL each model scores and stores a chunk in one statement (scoring.sqlscores); a model
the database cannot evaluate, and the leads it leaves undecided, go the engine's way: their
values and activities loaded in a few queries, scored in Python, upserted in one statement.
Elsewhere (SQLite) every lead goes the engine's way.

A lead whose data the engine or the database trips on does not stop its chunk: the chunk, tried
whole as ever, is then tried in halves until that lead is alone; it is recorded (UnscorableLead,
in the admin) and skipped, the others stored (leads_rescore_chunk, _unscorable_isolate).
"""

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

import psycopg
from django.db import DataError, connection, transaction
from django.utils import timezone

from . import sqlscores
from .crossings import StoredScore, crossings_record, scores_lock
from .definition import (
    ACCOUNT_FIELDS,
    LEAD_FIELDS,
    AttributeCriterion,
    Condition,
    ModelSpec,
    parse_model,
)
from .engine import (
    ActivityFact,
    Contribution,
    LeadFacts,
    LeadScoreResult,
    applies_to,
    condition_matches,
    round_points,
    score_lead,
    score_of,
)
from .lookups import int_array
from .models import (
    Activity,
    Lead,
    LeadScore,
    ScoringModel,
    ScoringModelVersion,
    UnscorableLead,
)
from .signals import scores_stored
from .sqlengine import criteria_amounts
from .staging import copy_to_stage

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


def activity_fact(kind: str, occurred_at: datetime, channel: str, properties: dict) -> ActivityFact:
    # `channel` is a column, but criteria filter on it like any other property.
    return ActivityFact(
        kind=kind, occurred_at=occurred_at, properties={**properties, "channel": channel}
    )


def _aware(value: datetime) -> datetime:
    # SQLite keeps timestamps as naive UTC text; PostgreSQL's carry their offset.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def activities_by_lead(lead_ids: Sequence[int]) -> dict[int, list[ActivityFact]]:
    """Every activity of these leads, grouped by lead, in one query.

    A raw cursor: this is the hot path of a full rescore, and the ORM's per-value converters
    cost more than the scoring itself.
    """
    grouped: dict[int, list[ActivityFact]] = defaultdict(list)
    if not lead_ids:
        return grouped
    table = Activity._meta.db_table
    if connection.vendor == "postgresql":
        where, params = "lead_id = ANY(%s::bigint[])", [int_array(lead_ids)]
    else:
        where, params = f"lead_id IN ({', '.join(['%s'] * len(lead_ids))})", list(lead_ids)
    loads, parse_time = json.loads, datetime.fromisoformat
    with connection.cursor() as cursor:
        # Text casts: parsing them here is several times faster than the driver's converters.
        cursor.execute(
            "SELECT lead_id, kind, CAST(occurred_at AS text), channel, "  # noqa: S608
            f"CAST(properties AS text) FROM {table} WHERE {where}",
            params,
        )
        for lead_id, kind, occurred_at, channel, properties in cursor.fetchall():
            grouped[lead_id].append(
                activity_fact(kind, _aware(parse_time(occurred_at)), channel, loads(properties))
            )
    return grouped


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


def _score_row(
    lead_id: int, model: PublishedModel, result: LeadScoreResult, now: datetime
) -> ScoreRow:
    return ScoreRow(
        lead_id=lead_id,
        scoring_model_id=model.scoring_model_id,
        version_id=model.version.pk,
        total=result.total,
        fit=result.fit,
        engagement=result.engagement,
        band=result.band,
        grade=result.grade or "",
        mql=result.mql,
        explanation=[c.to_dict() for c in result.contributions],
        computed_at=now,
    )


def _chunks(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(ids)
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass
class ChunkScores:
    rows: list[ScoreRow]
    outside: dict[int, list[int]]  # model id -> lead ids outside its audience
    leads: int
    # lead id -> its latest activity: the handoff's trigger where handoffs are opened row by row
    # (elsewhere than PostgreSQL, whose statement finds it)
    latest: dict[int, ActivityFact]


def compute_scores(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime | None
) -> ChunkScores:
    """Score the leads: on PostgreSQL the database evaluates the activity criteria, elsewhere
    the engine everything.

    With `now` None each lead is evaluated at its stored score's computed_at (for verification,
    always by the engine).
    """
    if now is not None and connection.vendor == "postgresql":
        return _compute_scores_sql(lead_ids=lead_ids, models=models, now=now)
    return _compute_scores_engine(lead_ids=lead_ids, models=models, now=now)


def _compute_scores_engine(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime | None
) -> ChunkScores:
    """`compute_scores` by the engine alone (`now` None: at each stored score's time)."""
    leads = list(Lead.objects.filter(pk__in=lead_ids).select_related("account"))
    stored_at: dict[tuple[int, int], datetime] = {}
    if now is None:
        stored_at = {
            (lead_id, model_id): at
            for lead_id, model_id, at in LeadScore.objects.filter(lead_id__in=lead_ids).values_list(
                "lead_id", "scoring_model_id", "computed_at"
            )
        }
    tz, cutoff = timezone.get_default_timezone(), now or timezone.now()
    chunk = ChunkScores([], defaultdict(list), len(leads), {})
    audiences: list[tuple[int, LeadFacts, list[PublishedModel]]] = []
    for lead in leads:
        facts = lead_facts(lead)
        inside = []
        for model in models:
            if applies_to(model.spec, facts):
                inside.append(model)
            else:
                chunk.outside[model.scoring_model_id].append(lead.pk)
        if inside:
            audiences.append((lead.pk, facts, inside))
    # Only leads some model scores need their activities.
    activities = activities_by_lead([lead_id for lead_id, _, _ in audiences])
    for lead_id, facts, inside in audiences:
        lead_activities = activities.get(lead_id, ())
        for model in inside:
            at = now or stored_at.get((lead_id, model.scoring_model_id)) or timezone.now()
            result = score_lead(model.spec, facts, lead_activities, at, tz)
            chunk.rows.append(_score_row(lead_id, model, result, at))
        # The handoff's trigger: the latest activity by the time of scoring (of simultaneous
        # ones, the kind last in order, as the database picks it).
        happened = [a for a in lead_activities if a.occurred_at <= cutoff]
        if happened:
            chunk.latest[lead_id] = max(happened, key=lambda a: (a.occurred_at, a.kind))
    return chunk


_LEAD_COLUMNS = (
    "pk", *LEAD_FIELDS, "attributes", "account_id",
    *(f"account__{name}" for name in ACCOUNT_FIELDS), "account__attributes",
)  # fmt: skip


def leads_facts(lead_ids: Sequence[int]) -> list[tuple[int, LeadFacts]]:
    """`lead_facts` of many leads from one query of plain values (no model instances)."""
    n = len(LEAD_FIELDS)
    created = LEAD_FIELDS.index("created_at")
    facts = []
    for row in Lead.objects.filter(pk__any_of=lead_ids).values_list(*_LEAD_COLUMNS):
        fields, account_id, account = row[1 : n + 1], row[n + 2], row[n + 3 :]
        facts.append(
            (
                row[0],
                LeadFacts(
                    fields=dict(zip(LEAD_FIELDS, fields, strict=True)),
                    attributes=row[n + 1] or {},
                    account_fields=None
                    if account_id is None
                    else dict(zip(ACCOUNT_FIELDS, account[:-1], strict=True)),
                    account_attributes=None if account_id is None else (account[-1] or {}),
                    created_at=fields[created],
                ),
            )
        )
    return facts


def _path_column(path: str) -> tuple[str, str | None]:
    """The values_list column that holds a field path, and the key inside it (attributes)."""
    owner, _dot, name = path.partition(".")
    prefix = "" if owner == "lead" else "account__"
    if name.startswith("attributes."):
        return prefix + "attributes", name.removeprefix("attributes.")
    return prefix + name, None


def leads_values(lead_ids: Sequence[int], paths: Sequence[str]) -> list[tuple[int, tuple]]:
    """Per lead, the values of these field paths as `lead_value` reads them from its facts,
    from a query (per 10,000 leads) of only the columns they need."""
    columns = list(dict.fromkeys(_path_column(path)[0] for path in paths))
    readers = []
    for path in paths:
        column, key = _path_column(path)
        readers.append((columns.index(column), key, path.startswith("account.")))
    rows = []
    # In batches: SQLite takes at most 32,766 parameters per statement.
    for batch in _chunks(lead_ids, 10000):
        query = Lead.objects.filter(pk__any_of=batch).values_list("pk", "account_id", *columns)
        for lead_id, account_id, *found in query:
            values = []
            for position, key, of_account in readers:
                value = None if of_account and account_id is None else found[position]
                if key is not None:
                    value = (value or {}).get(key)
                values.append(value)
            rows.append((lead_id, tuple(values)))
    return rows


class _ConditionMemo:
    """One condition over many leads, decided once per distinct value: most fields hold a few
    values (a seniority, an employee count), so a chunk asks the same question thousands of
    times. Only for types whose equal values behave alike: 0.0 == -0.0 and
    Decimal("1.0") == Decimal("1.00"), yet their texts differ."""

    _PLAIN = frozenset({str, int, bool, type(None)})

    def __init__(self, condition: Condition, position: int) -> None:
        self.condition = condition
        self.position = position  # of its field in the lead's values
        self.known: dict[tuple[type, object], bool] = {}

    def matches(self, values: tuple) -> bool:
        value = values[self.position]
        kind = type(value)
        if kind not in self._PLAIN:
            return condition_matches(self.condition, value)
        key = (kind, value)
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = condition_matches(self.condition, value)
        return found


def _compute_scores_sql(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime
) -> ChunkScores:
    """`compute_scores` with the activity, frequency and inactivity criteria of each model
    evaluated by PostgreSQL in one statement per model (scoring.sqlengine), attribute criteria
    and audiences by the engine's conditions, and whatever the database leaves undecided by the
    engine itself."""
    tz = timezone.get_default_timezone()
    # Only the fields the models' conditions read: the engine gets full facts where needed.
    paths = list(
        dict.fromkeys(
            condition.field
            for model in models
            for condition in (
                *model.spec.audience,
                *(c.condition for c in model.spec.criteria if isinstance(c, AttributeCriterion)),
            )
        )
    )
    leads = leads_values(lead_ids, paths)
    values_by_id = dict(leads)
    chunk = ChunkScores([], defaultdict(list), len(leads), {})
    by_engine: dict[int, list[PublishedModel]] = defaultdict(list)
    for model in models:
        spec = model.spec
        audience = [_ConditionMemo(c, paths.index(c.field)) for c in spec.audience]
        inside = []
        for lead_id, values in leads:
            if all(memo.matches(values) for memo in audience):
                inside.append(lead_id)
            else:
                chunk.outside[model.scoring_model_id].append(lead_id)
        if not inside:
            continue
        enabled = [c for c in spec.criteria if c.enabled]
        others = [c for c in enabled if not isinstance(c, AttributeCriterion)]
        results = criteria_amounts(
            others,
            spec,
            leads="SELECT unnest(%(ids)s::bigint[]) AS lead_id",
            params={"ids": int_array(inside)},
            now=now,
            tz=tz,
            lead_range=(min(inside), max(inside)),
        )
        if any(result is None for result in results):
            for lead_id in inside:
                by_engine[lead_id].append(model)
            continue
        undecided = set().union(*(result.undecided for result in results if result))
        found = iter(result.found for result in results if result)
        # Per enabled criterion: an attribute's condition and its contribution, or what the
        # database found.
        slots = [
            (
                _ConditionMemo(c.condition, paths.index(c.condition.field)),
                Contribution(c.name, c.type, round_points(c.points), 1),
            )
            if isinstance(c, AttributeCriterion)
            else (None, (c, next(found)))
            for c in enabled
        ]
        for lead_id in inside:
            if lead_id in undecided:
                by_engine[lead_id].append(model)
                continue
            values = values_by_id[lead_id]
            contributions = []
            for memo, slot in slots:
                if memo is not None:
                    if memo.matches(values):
                        contributions.append(slot)
                elif (amount := slot[1].get(lead_id)) is not None:
                    criterion = slot[0]
                    contributions.append(Contribution(criterion.name, criterion.type, *amount))
            chunk.rows.append(_score_row(lead_id, model, score_of(spec, contributions), now))
    if by_engine:
        facts_by_id = dict(leads_facts(list(by_engine)))
        activities = activities_by_lead(list(by_engine))
        for lead_id, inside_models in by_engine.items():
            facts, lead_activities = facts_by_id[lead_id], activities.get(lead_id, ())
            for model in inside_models:
                result = score_lead(model.spec, facts, lead_activities, now, tz)
                chunk.rows.append(_score_row(lead_id, model, result, now))
    return chunk


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
    "lead_id bigint, scoring_model_id bigint, version_id bigint, total numeric, fit numeric, "
    "engagement numeric, band text, grade text, mql boolean, explanation jsonb, "
    "computed_at timestamptz"
)


def _upsert_values(row: ScoreRow) -> tuple[object, ...]:
    return (
        row.lead_id, row.scoring_model_id, row.version_id, row.total, row.fit, row.engagement,
        row.band, row.grade, row.mql, json.dumps(row.explanation), row.computed_at,
    )  # fmt: skip


def scores_upsert(rows: Sequence[ScoreRow]) -> set[tuple[int, int]]:
    """Insert or update scores; a row never replaces one from a newer version, nor, within the
    same version, one computed at a later time (from newer data).

    Returns the (lead id, model id) pairs written (refused stale writes are left out).
    """
    table = LeadScore._meta.db_table
    written: set[tuple[int, int]] = set()
    if not rows:
        return written
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            staged = copy_to_stage(
                cursor,
                name="leadscore_incoming",
                columns=_STAGE_COLUMNS,
                rows=map(_upsert_values, rows),
            )
            cursor.execute(_upsert_sql(table, staged))
            return set(map(tuple, cursor.fetchall()))
        row_marks = "(" + ", ".join(["%s"] * len(_UPSERT_COLUMNS)) + ")"
        for start in range(0, len(rows), 500):
            batch = rows[start : start + 500]
            cursor.execute(
                _upsert_sql(table, "VALUES " + ", ".join([row_marks] * len(batch))),
                [value for row in batch for value in _upsert_values(row)],
            )
            written.update(map(tuple, cursor.fetchall()))
    return written


@dataclass
class _Stored:
    """Scores written by one path of a chunk, and the pairs (before, after) they changed."""

    written: int = 0
    removed: int = 0
    changed: list[tuple[StoredScore | None, ScoreRow]] = field(default_factory=list)
    latest: dict[int, ActivityFact] = field(default_factory=dict)


def _scores_store(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime, engine: bool
) -> tuple[ChunkScores, _Stored]:
    """Score the leads here (`engine`: by the engine alone) and upsert what they got."""
    if engine:
        chunk = _compute_scores_engine(lead_ids=lead_ids, models=models, now=now)
    else:
        chunk = compute_scores(lead_ids=lead_ids, models=models, now=now)
    stored = _Stored(latest=chunk.latest)
    before = scores_lock(lead_ids=lead_ids, model_ids=[m.scoring_model_id for m in models])
    written = scores_upsert(chunk.rows)
    stored.written = len(written)
    stored.changed = [
        (before.get(key), row)
        for row in chunk.rows
        if (key := (row.lead_id, row.scoring_model_id)) in written
    ]
    for model_id, ids in chunk.outside.items():
        # A lead that left a model's audience no longer carries its score (the lock above
        # read every stored score of the chunk, so only those that exist are deleted).
        gone = [lead_id for lead_id in ids if (lead_id, model_id) in before]
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
    transaction (a savepoint of _unscorable_isolate).

    On PostgreSQL each model's scores are computed and stored by the database
    (scoring.sqlscores); the engine scores what the database cannot decide, and every other
    database's leads.
    """
    summary = RescoreSummary()
    by_id = {model.scoring_model_id: model for model in models}
    compiled = (
        sqlscores.statements(models, lead_ids=lead_ids, now=now, tz=timezone.get_default_timezone())
        if connection.vendor == "postgresql"
        else {}
    )
    in_database = [m for m in models if compiled.get(m.scoring_model_id)]
    elsewhere = [m for m in models if not compiled.get(m.scoring_model_id)]
    parts: list[_Stored] = []
    in_sql = sqlscores.StoredChunk()
    if in_database:
        sqlscores.scores_lock_all(lead_ids=lead_ids, model_ids=list(by_id))
        in_sql = sqlscores.chunk_store(
            lead_ids=lead_ids, models=in_database, compiled=compiled, now=now
        )
        summary.leads = in_sql.leads
        for model_id, scored in in_sql.scored.items():
            summary.per_model[by_id[model_id].spec.slug] = scored
        parts.append(_Stored(in_sql.written, in_sql.removed))
        for model_id, undecided in in_sql.undecided.items():
            chunk, stored = _scores_store(
                lead_ids=undecided, models=[by_id[model_id]], now=now, engine=True
            )
            parts.append(stored)
            _count_rows(summary, chunk.rows, by_id)
    if elsewhere:
        chunk, stored = _scores_store(lead_ids=lead_ids, models=elsewhere, now=now, engine=False)
        summary.leads = max(summary.leads, chunk.leads)
        parts.append(stored)
        _count_rows(summary, chunk.rows, by_id)
    latest = {lead_id: fact for part in parts for lead_id, fact in part.latest.items()}
    summary.scores_written = sum(part.written for part in parts)
    summary.scores_removed = sum(part.removed for part in parts)
    summary.events, opened = crossings_record(
        changed=[pair for part in parts for pair in part.changed],
        models=by_id,
        latest=latest,
        recorded=in_sql.events,
        reached=in_sql.reached,
    )
    summary.handoffs = len(opened)
    ids = list(lead_ids)
    # They score again: whatever stopped them before is gone.
    UnscorableLead.objects.filter(lead_id__any_of=ids).delete()
    transaction.on_commit(
        lambda: scores_stored.send(sender=LeadScore, lead_ids=ids, opened_handoff_ids=opened)
    )
    return summary


def _count_rows(
    summary: RescoreSummary, rows: Sequence[ScoreRow], by_id: dict[int, PublishedModel]
) -> None:
    for row in rows:
        slug = by_id[row.scoring_model_id].spec.slug
        summary.per_model[slug] = summary.per_model.get(slug, 0) + 1


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
    unscorable = []
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
