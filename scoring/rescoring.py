"""Apply the engine to leads in bulk: a fixed number of queries per chunk of leads.

Each chunk loads its leads (with accounts) and all their activities in two queries, scores every
lead against every published model it belongs to, and upserts the LeadScore rows in one statement.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.db import transaction
from django.utils import timezone

from .definition import ACCOUNT_FIELDS, LEAD_FIELDS, ModelSpec, parse_model
from .engine import ActivityFact, LeadFacts, LeadScoreResult, applies_to, score_lead
from .models import Activity, Lead, LeadScore, ScoringModel, ScoringModelVersion

CHUNK_SIZE = 1000
_SCORE_FIELDS = ["version", "total", "fit", "engagement", "band", "grade", "mql", "explanation"]


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
    per_model: dict[str, int] = field(default_factory=dict)


def published_models(*, slugs: Iterable[str] | None = None) -> list[PublishedModel]:
    models = ScoringModel.objects.filter(published_version__isnull=False).select_related(
        "published_version"
    )
    if slugs is not None:
        models = models.filter(slug__in=list(slugs))
    return [
        PublishedModel(m.pk, m.published_version, parse_model(m.published_version.definition))
        for m in models
        if m.published_version is not None
    ]


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


def activities_by_lead(lead_ids: Sequence[int]) -> dict[int, list[ActivityFact]]:
    rows = Activity.objects.filter(lead_id__in=lead_ids).values_list(
        "lead_id", "kind", "occurred_at", "channel", "properties"
    )
    grouped: dict[int, list[ActivityFact]] = defaultdict(list)
    for lead_id, kind, occurred_at, channel, properties in rows.iterator(chunk_size=20000):
        grouped[lead_id].append(activity_fact(kind, occurred_at, channel, properties or {}))
    return grouped


def _score_row(
    lead_id: int, model: PublishedModel, result: LeadScoreResult, now: datetime
) -> LeadScore:
    return LeadScore(
        lead_id=lead_id,
        scoring_model_id=model.scoring_model_id,
        version=model.version,
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


def leads_rescore_chunk(
    *, lead_ids: Sequence[int], models: Sequence[PublishedModel], now: datetime
) -> RescoreSummary:
    summary = RescoreSummary()
    leads = list(Lead.objects.filter(pk__in=lead_ids).select_related("account"))
    activities = activities_by_lead([lead.pk for lead in leads])
    tz = timezone.get_default_timezone()
    rows: list[LeadScore] = []
    outside: dict[int, list[int]] = defaultdict(list)
    for lead in leads:
        facts = lead_facts(lead)
        for model in models:
            if not applies_to(model.spec, facts):
                outside[model.scoring_model_id].append(lead.pk)
                continue
            result = score_lead(model.spec, facts, activities.get(lead.pk, ()), now, tz)
            rows.append(_score_row(lead.pk, model, result, now))
            summary.per_model[model.spec.slug] = summary.per_model.get(model.spec.slug, 0) + 1
    with transaction.atomic():
        LeadScore.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["lead", "scoring_model"],
            update_fields=[*_SCORE_FIELDS, "computed_at"],
            batch_size=1000,
        )
        for model_id, ids in outside.items():
            # A lead that left a model's audience no longer carries its score.
            removed, _ = LeadScore.objects.filter(
                scoring_model_id=model_id, lead_id__in=ids
            ).delete()
            summary.scores_removed += removed
    summary.leads = len(leads)
    summary.scores_written = len(rows)
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
        part = leads_rescore_chunk(lead_ids=chunk, models=models, now=now)
        total.leads += part.leads
        total.scores_written += part.scores_written
        total.scores_removed += part.scores_removed
        for slug, n in part.per_model.items():
            total.per_model[slug] = total.per_model.get(slug, 0) + n
    return total
