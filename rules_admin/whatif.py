"""What-if: the draft against the published version on current data, before anything goes live.

Scoring 100,000 leads from scratch takes far longer than an editor can wait, so the preview starts
from the stored scores of the published version and recomputes only the criteria the draft changes:
- a criterion whose definition is unchanged keeps its stored points (from the score explanation);
- a criterion that only changed its points is rescaled from its stored evidence count, which is
  exact wherever no decay applies (attribute, frequency and inactivity criteria fire for their
  points; undecayed activity points are points x counted occurrences, then capped);
- on PostgreSQL, any other added or changed activity, frequency or inactivity criterion is
  evaluated by the database over all leads at once (scoring.sqlengine), exactly as the engine
  would; the few leads it cannot decide, and attribute criteria, go to the engine with just the
  data they read (one column of the leads, or the activities of its kinds with only their time
  and the properties its conditions test).
The preview is over the leads the published version scores. When there is no published version,
or the draft changes the audience, every lead is scored from scratch with both definitions.
A sample of affected leads is always scored in full with both, for the before/after explanations.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from scoring.definition import (
    ActivityCriterion,
    AttributeCriterion,
    Criterion,
    DefinitionError,
    InactivityCriterion,
    ModelSpec,
    Problem,
    parse_model,
)
from scoring.engine import (
    ActivityFact,
    LeadFacts,
    LeadScoreResult,
    applies_to,
    condition_matches,
    round_points,
    score_lead,
    to_decimal,
)
from scoring.models import Activity, Lead, LeadScore, ScoringModel
from scoring.rescoring import activities_by_lead, activity_fact, lead_facts, leads_values
from scoring.services import scoring_model_draft_spec
from scoring.sqlengine import criterion_amounts

HISTOGRAM_BARS = 10


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


def _cents(amount: Decimal | float) -> int:
    return int(round_points(amount) * 100)


# --- which criteria changed ----------------------------------------------------------------------


def _effective_half_life(criterion: Criterion, spec: ModelSpec) -> object:
    if isinstance(criterion, ActivityCriterion):
        return criterion.half_life_days or spec.decay_half_life_days
    return None


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
            if same and _effective_half_life(old, published) == _effective_half_life(new, draft):
                continue
        if not (old is None or not old.enabled) or not (new is None or not new.enabled):
            pairs.append((old, new))
    return pairs


def _rescales_exactly(
    old: Criterion | None, new: Criterion, published: ModelSpec, draft: ModelSpec
) -> bool:
    if old is None or not old.enabled:
        return False
    if replace(old, points=new.points, description=new.description) != new:
        return False
    if _effective_half_life(old, published) != _effective_half_life(new, draft):
        return False
    return not (isinstance(new, ActivityCriterion) and _effective_half_life(new, draft))


def _rescaled_cents(criterion: Criterion, evidence: int) -> int:
    """The engine's amount for a criterion from its evidence count, when no decay applies."""
    if not isinstance(criterion, ActivityCriterion):
        return _cents(to_decimal(criterion.points))
    amount = float(criterion.points) * evidence
    if criterion.cap is not None:
        amount = min(amount, criterion.cap) if criterion.points > 0 else max(amount, -criterion.cap)
    return _cents(amount)


# --- evaluating one criterion over many leads ----------------------------------------------------


def _attribute_cents(criterion: AttributeCriterion, lead_ids: set[int]) -> dict[int, int]:
    condition = criterion.condition
    points = _cents(to_decimal(criterion.points))
    return {
        lead_id: points
        for lead_id, (value,) in leads_values(sorted(lead_ids), [condition.field])
        if condition_matches(condition, value)
    }


# The leads the published version scores, as SQL for scoring.sqlengine.
_SCORED_LEADS = (
    f"SELECT lead_id FROM {LeadScore._meta.db_table} "  # noqa: S608 - fixed names
    "WHERE scoring_model_id = %(model)s"
)


def _activity_cents(
    criterion: Criterion,
    scoring_model: ScoringModel,
    draft: ModelSpec,
    lead_ids: set[int],
    now: datetime,
) -> dict[int, int]:
    """Any non-attribute criterion: on PostgreSQL by the database where it can decide, and by
    the engine over the activities of its kinds elsewhere."""
    tz = timezone.get_default_timezone()
    if connection.vendor == "postgresql":
        decided = criterion_amounts(
            criterion,
            draft,
            leads=_SCORED_LEADS,
            params={"model": scoring_model.pk},
            now=now,
            tz=tz,
        )
        if decided is not None:
            amounts = {
                lead_id: int(amount * 100)
                for lead_id, (amount, _count) in decided.found.items()
                if lead_id in lead_ids
            }
            undecided = decided.undecided & lead_ids
            if undecided:
                amounts |= _engine_cents(criterion, scoring_model, draft, undecided, now, tz)
            return amounts
    return _engine_cents(criterion, scoring_model, draft, lead_ids, now, tz)


def _engine_cents(
    criterion: Criterion,
    scoring_model: ScoringModel,
    draft: ModelSpec,
    lead_ids: set[int],
    now: datetime,
    tz: tzinfo,
) -> dict[int, int]:
    """The engine over what the criterion reads of these leads' activities."""
    mini = replace(draft, criteria=(criterion,), audience=())
    if connection.vendor == "postgresql":
        grouped = _activities_lean(criterion, now, lead_ids)
    else:
        grouped = _activities_orm(criterion, scoring_model)
    created: Mapping[int, datetime] = {}
    if isinstance(criterion, InactivityCriterion):
        created = dict(
            Lead.objects.filter(scores__scoring_model=scoring_model).values_list("pk", "created_at")
        )
        candidates: Iterable[int] = lead_ids
    else:
        candidates = [lead_id for lead_id in grouped if lead_id in lead_ids]
    amounts = {}
    for lead_id in candidates:
        facts = LeadFacts(fields={}, created_at=created.get(lead_id))
        result = score_lead(mini, facts, grouped.get(lead_id, ()), now, tz)
        if result.contributions:
            amounts[lead_id] = _cents(result.total)
    return amounts


def _activities_orm(
    criterion: Criterion, scoring_model: ScoringModel
) -> dict[int, list[ActivityFact]]:
    activities = Activity.objects.filter(lead__scores__scoring_model=scoring_model)
    kinds = getattr(criterion, "kinds", ())
    if kinds:
        activities = activities.filter(kind__in=kinds)
    grouped: dict[int, list[ActivityFact]] = defaultdict(list)
    rows = activities.values_list("lead_id", "kind", "occurred_at", "channel", "properties")
    for lead_id, kind, occurred_at, channel, properties in rows.iterator(chunk_size=20000):
        grouped[lead_id].append(activity_fact(kind, occurred_at, channel, properties or {}))
    return grouped


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _lean_sql(criterion: Criterion, now: datetime, lead_ids: set[int], select: str):  # type: ignore[no-untyped-def]
    """FROM/WHERE over the activities of the criterion's kinds that happened by `now`, of the
    given leads; with the SELECT list given."""
    kinds = list(getattr(criterion, "kinds", ()))
    sql = (
        f"SELECT {select} FROM {Activity._meta.db_table} a "  # noqa: S608 - fixed names
        "WHERE a.lead_id = ANY(%(leads)s) AND a.occurred_at <= %(now)s"
    )
    if kinds:
        sql += " AND a.kind = ANY(%(kinds)s)"
    return sql, {"leads": list(lead_ids), "now": now, "kinds": kinds}


def _activities_lean(
    criterion: Criterion, now: datetime, lead_ids: set[int]
) -> dict[int, list[ActivityFact]]:
    """What the criterion reads of each activity and nothing more: its time (as exact
    microseconds, cheaper to load than a timestamp) and the properties its `where` tests.
    An inactivity criterion only needs each lead's latest activity of its kinds."""
    if isinstance(criterion, InactivityCriterion):
        # Any one of the kinds will do: the criterion looks only at the time.
        select = (
            "a.lead_id, MIN(a.kind), MAX((EXTRACT(EPOCH FROM a.occurred_at) * 1000000)::bigint)"
        )
        sql, params = _lean_sql(criterion, now, lead_ids, select)
        sql += " GROUP BY a.lead_id"
        fields: list[str] = []
    else:
        fields = list(dict.fromkeys(c.field for c in getattr(criterion, "where", ())))
        # JSON text, decoded here; `channel` is a column (see activity_fact).
        values = [
            "to_jsonb(a.channel)::text"
            if name == "channel"
            else f"(a.properties -> %(field_{i})s)::text"
            for i, name in enumerate(fields)
        ]
        select = ", ".join(
            ["a.lead_id", "a.kind", "(EXTRACT(EPOCH FROM a.occurred_at) * 1000000)::bigint"]
            + values
        )
        sql, params = _lean_sql(criterion, now, lead_ids, select)
        params |= {f"field_{i}": name for i, name in enumerate(fields)}
    grouped: dict[int, list[ActivityFact]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(20000):
            for lead_id, kind, micro, *found in rows:
                grouped[lead_id].append(
                    ActivityFact(
                        kind,
                        _EPOCH + timedelta(microseconds=micro),
                        {
                            name: None if value is None else json.loads(value)
                            for name, value in zip(fields, found, strict=True)
                        },
                    )
                )
    return grouped


# --- the preview ---------------------------------------------------------------------------------


@dataclass
class Totals:
    before: dict[int, int]  # lead id -> total in cents
    after: dict[int, int]


Evidence = dict[str, dict[int, tuple[int, int]]]  # criterion -> lead id -> (cents, count)


def _stored(scoring_model: ScoringModel, names: set[str]) -> tuple[dict[int, int], Evidence]:
    """The stored totals in cents, and the stored points and evidence count of the named
    criteria, by lead."""
    scores = LeadScore.objects.filter(scoring_model=scoring_model)
    before = {
        lead_id: int(total * 100)
        for lead_id, total in scores.values_list("lead_id", "total").iterator(chunk_size=20000)
    }
    evidence: Evidence = defaultdict(dict)
    explained = scores if names else scores.none()
    for lead_id, explanation in explained.values_list("lead_id", "explanation").iterator(
        chunk_size=10000
    ):
        for item in explanation or ():
            if item["criterion"] in names:
                evidence[item["criterion"]][lead_id] = (
                    _cents(item["points"]),
                    int(item["evidence_count"]),
                )
    return before, evidence


def _stored_pg(scoring_model: ScoringModel, names: set[str]) -> tuple[dict[int, int], Evidence]:
    """`_stored`, with PostgreSQL taking the named items out of the explanations: decoding
    every explanation in Python was most of the preview's time."""
    table = LeadScore._meta.db_table
    evidence: Evidence = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT lead_id, (total * 100)::bigint FROM {table} "  # noqa: S608 - fixed names
            "WHERE scoring_model_id = %s",
            [scoring_model.pk],
        )
        before = dict(cursor.fetchall())
        if not names:
            return before, evidence
        # Points are stored as JSON numbers of at most two decimals (json.dumps of a float
        # prints its shortest repr, which is what _cents reads), so numeric cents are exact.
        cursor.execute(
            "SELECT s.lead_id, item ->> 'criterion', "  # noqa: S608
            "((item ->> 'points')::numeric * 100)::bigint, "
            f"(item ->> 'evidence_count')::int FROM {table} s "
            "CROSS JOIN LATERAL jsonb_array_elements(s.explanation) AS item "
            "WHERE s.scoring_model_id = %(model)s AND s.explanation @> ANY(%(mentions)s::jsonb[]) "
            "AND item ->> 'criterion' = ANY(%(names)s)",
            {
                "model": scoring_model.pk,
                "mentions": [json.dumps([{"criterion": name}]) for name in names],
                "names": list(names),
            },
        )
        for lead_id, name, cents, count in cursor.fetchall():
            evidence[name][lead_id] = (cents, count)
    return before, evidence


def delta_totals(
    scoring_model: ScoringModel, published: ModelSpec, draft: ModelSpec, now: datetime
) -> tuple[Totals, list[str]]:
    pairs = changed_criteria(published, draft)
    names = {c.name for pair in pairs for c in pair if c is not None}
    stored = _stored_pg if connection.vendor == "postgresql" else _stored
    before, evidence = stored(scoring_model, names)
    after = dict(before)
    lead_ids = set(before)
    for old, new in pairs:
        if old is not None and old.enabled:
            for lead_id, (cents, _count) in evidence[old.name].items():
                after[lead_id] -= cents
        if new is None or not new.enabled:
            continue
        if old is not None and _rescales_exactly(old, new, published, draft):
            amounts = {
                lead_id: _rescaled_cents(new, count)
                for lead_id, (_cents_old, count) in evidence[old.name].items()
            }
        elif isinstance(new, AttributeCriterion):
            amounts = _attribute_cents(new, lead_ids)
        else:
            amounts = _activity_cents(new, scoring_model, draft, lead_ids, now)
        for lead_id, cents in amounts.items():
            after[lead_id] += cents
    return Totals(before, after), sorted(names)


def full_totals(published: ModelSpec | None, draft: ModelSpec, now: datetime) -> Totals:
    """Both definitions over every lead (no stored scores to start from)."""
    totals = Totals({}, {})
    tz = timezone.get_default_timezone()
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        leads = Lead.objects.filter(pk__in=chunk).select_related("account")
        activities = activities_by_lead(chunk)
        for lead in leads:
            facts = lead_facts(lead)
            acts = activities.get(lead.pk, ())
            if published is not None and applies_to(published, facts):
                totals.before[lead.pk] = _cents(score_lead(published, facts, acts, now, tz).total)
            if applies_to(draft, facts):
                totals.after[lead.pk] = _cents(score_lead(draft, facts, acts, now, tz).total)
    return totals


def _histogram(before: Sequence[int], after: Sequence[int]) -> list[HistogramBar]:
    values = [*before, *after]
    if not values:
        return []
    low, high = min(values) / 100, max(values) / 100
    raw_step = max((high - low) / HISTOGRAM_BARS, 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    start = math.floor(low / step) * step
    count = max(1, math.floor((high - start) / step) + 1)
    counts_before, counts_after = [0] * count, [0] * count
    for cents in before:
        counts_before[min(count - 1, int((cents / 100 - start) // step))] += 1
    for cents in after:
        counts_after[min(count - 1, int((cents / 100 - start) // step))] += 1
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
    leads = Lead.objects.filter(pk__in=lead_ids).select_related("account").in_bulk()
    activities = activities_by_lead(list(lead_ids))
    tz = timezone.get_default_timezone()
    empty = replace(draft, criteria=())
    sample = []
    for lead_id in lead_ids:
        lead = leads[lead_id]
        facts, acts = lead_facts(lead), activities.get(lead_id, ())
        before = score_lead(published or empty, facts, acts, now, tz)
        sample.append(AffectedLead(lead, before, score_lead(draft, facts, acts, now, tz)))
    return sample


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
    if published is None or published.audience != draft.audience:
        totals = full_totals(published, draft, now)
        result.full_rescore = True
        result.changed_criteria = [c.name for c in draft.criteria]
    else:
        totals, result.changed_criteria = delta_totals(scoring_model, published, draft, now)

    old_threshold = int(to_decimal(published.mql_threshold) * 100) if published else None
    new_threshold = int(to_decimal(draft.mql_threshold) * 100)
    lead_ids = set(totals.before) | set(totals.after)
    result.leads = len(lead_ids)
    ranked: list[tuple[int, int, int]] = []
    for lead_id in lead_ids:
        before, after = totals.before.get(lead_id), totals.after.get(lead_id)
        was = before is not None and old_threshold is not None and before >= old_threshold
        now_mql = after is not None and after >= new_threshold
        result.mql_before += was
        result.mql_after += now_mql
        result.newly_mql += now_mql and not was
        result.dropped_mql += was and not now_mql
        if before != after or was != now_mql:
            result.changed += 1
            rank = 0 if now_mql != was else 1
            ranked.append((rank, -abs((after or 0) - (before or 0)), lead_id))
    result.histogram = _histogram(list(totals.before.values()), list(totals.after.values()))
    sample_ids = [lead_id for _r, _d, lead_id in sorted(ranked)[:sample_size]]
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
