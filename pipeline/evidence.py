"""The evidence behind a score, for the lead page: which activities each criterion counted.

Plain data in, plain data out (no ORM); the matching and counting are the engine's own
(evidence_activities), so the evidence shown numbers the engine's evidence count.
Also the score history: the engine replayed at past times.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from scoring.criteria import criterion_type
from scoring.definition import Criterion, ModelSpec
from scoring.engine import (
    ActivityFact,
    LeadFacts,
    evidence_activities,
    lead_value,
    score_over_time,
)


@dataclass(frozen=True)
class Evidence:
    """What made one criterion count: the activities it counted, or the profile value it saw."""

    activities: tuple[ActivityFact, ...] = ()
    field: str = ""
    value: object = None
    last_activity_at: datetime | None = None


def criterion_evidence(
    criterion: Criterion,
    lead: LeadFacts,
    activities: Sequence[ActivityFact],
    now: datetime,
    tz: tzinfo,
) -> Evidence:
    kind = criterion_type(criterion)
    if not kind.READS_ACTIVITIES:  # the profile value it looked at
        field = kind.lead_paths(criterion)[0]
        return Evidence(field=field, value=lead_value(lead, field))
    found = evidence_activities(criterion, activities, now, tz)
    if kind.NEWEST_ONLY:  # the newest activity decides it, so that is its evidence
        return Evidence(last_activity_at=found[0].occurred_at if found else None)
    return Evidence(activities=tuple(found))


def _counts_activities(criterion: Criterion) -> bool:
    """Whether its evidence count numbers the activities shown."""
    kind = criterion_type(criterion)
    return bool(kind.READS_ACTIVITIES and not kind.NEWEST_ONLY)


@dataclass(frozen=True)
class ExplainedCriterion:
    name: str
    type: str
    points: object
    evidence_count: int
    evidence: Evidence | None  # None: the criterion is no longer in the version's definition
    consistent: bool  # the evidence found here numbers what the engine counted


def explain(
    spec: ModelSpec,
    explanation: Sequence[Mapping[str, Any]],
    lead: LeadFacts,
    activities: Sequence[ActivityFact],
    now: datetime,
    tz: tzinfo,
) -> list[ExplainedCriterion]:
    """The stored explanation with the evidence behind every criterion, recomputed at `now`."""
    by_name = {criterion.name: criterion for criterion in spec.criteria}
    rows = []
    for item in explanation:
        criterion = by_name.get(item["criterion"])
        evidence = None
        consistent = False
        if criterion is not None:
            evidence = criterion_evidence(criterion, lead, activities, now, tz)
            consistent = not _counts_activities(criterion) or len(evidence.activities) == int(
                item["evidence_count"]
            )
        rows.append(
            ExplainedCriterion(
                name=item["criterion"],
                type=item["type"],
                points=item["points"],
                evidence_count=int(item["evidence_count"]),
                evidence=evidence,
                consistent=consistent,
            )
        )
    return rows


@dataclass(frozen=True)
class HistoryPoint:
    at: datetime
    total: float
    mql: bool


def score_history(
    spec: ModelSpec,
    lead: LeadFacts,
    activities: Sequence[ActivityFact],
    *,
    until: datetime,
    days: int,
    tz: tzinfo,
) -> list[HistoryPoint]:
    """The lead's score under `spec` once a day for `days` days up to `until`, oldest first.

    Uses today's profile: past values of the lead's fields are not kept, only its activities.
    """
    moments = [until - timedelta(days=back) for back in range(days, -1, -1)]
    results = score_over_time(spec, lead, activities, moments, tz)
    return [
        HistoryPoint(at=at, total=float(result.total), mql=result.mql)
        for at, result in zip(moments, results, strict=True)
    ]
