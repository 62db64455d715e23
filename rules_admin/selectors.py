"""Read-only queries of the rule editor; each answers one screen in a fixed number of queries."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from scoring.criteria import TYPES
from scoring.definition import ACCOUNT_FIELDS, LEAD_FIELDS
from scoring.models import (
    Activity,
    Criterion,
    Handoff,
    HandoffStatus,
    RejectionReason,
    RescoreRun,
    ScoringModel,
    ScoringModelVersion,
)

from .describe import criterion_sentence
from .models import Proposal, ProposalComment


def models_list() -> QuerySet[ScoringModel]:
    return (
        ScoringModel.objects.select_related("published_version__published_by")
        .annotate(
            scored=Count("scores", distinct=True),
            mqls=Count("scores", filter=Q(scores__mql=True), distinct=True),
            open_proposals=Count(
                "proposals", filter=Q(proposals__status=Proposal.Status.OPEN), distinct=True
            ),
        )
        .order_by("name")
    )


@dataclass(frozen=True)
class CriterionRow:
    criterion: Criterion
    sentence: str
    definition: dict[str, Any]


def criterion_definition(criterion: Criterion) -> dict[str, Any]:
    item: dict[str, Any] = {"name": criterion.name, "type": criterion.type}
    item.update(criterion.params)
    item["points"] = float(criterion.points)
    return item


def criteria_grouped(*, scoring_model: ScoringModel) -> dict[str, list[CriterionRow]]:
    """The draft's criteria as fit / engagement / negative (anything worth less than nothing)."""
    groups: dict[str, list[CriterionRow]] = {"fit": [], "engagement": [], "negative": []}
    for criterion in scoring_model.criteria.all():
        definition = criterion_definition(criterion)
        if criterion.points < 0:
            group = "negative"
        elif criterion.type in TYPES and TYPES[criterion.type].FIT:
            group = "fit"
        else:
            group = "engagement"
        groups[group].append(CriterionRow(criterion, criterion_sentence(definition), definition))
    return groups


@dataclass(frozen=True)
class Suggestions:
    fields: list[str]
    kinds: list[str]
    property_keys: list[str]


def suggestions(*, limit: int = 200) -> Suggestions:
    """Fields, activity kinds and property keys seen in the data, for the form's pick lists."""
    kinds = list(
        Activity.objects.order_by("kind").values_list("kind", flat=True).distinct()[:limit]
    )
    keys: set[str] = {"url", "channel", "product", "campaign"}
    for properties in Activity.objects.order_by("-occurred_at").values_list(
        "properties", flat=True
    )[:2000]:
        keys.update((properties or {}).keys())
    fields = [f"lead.{f}" for f in LEAD_FIELDS] + [f"account.{f}" for f in ACCOUNT_FIELDS]
    return Suggestions(fields=fields, kinds=kinds, property_keys=sorted(keys))


def versions_list(*, scoring_model: ScoringModel) -> QuerySet[ScoringModelVersion]:
    return scoring_model.versions.select_related("published_by").order_by("-number")


def latest_run(*, scoring_model: ScoringModel) -> RescoreRun | None:
    return (
        scoring_model.rescore_runs.select_related("version").order_by("-started_at", "-id").first()
    )


@dataclass(frozen=True)
class VersionDiff:
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[tuple[dict[str, Any], dict[str, Any], list[str]]]
    settings: list[tuple[str, Any, Any]]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.settings)


def definitions_diff(old: dict[str, Any], new: dict[str, Any]) -> VersionDiff:
    """What changed from one definition to another: criteria by name, then the model settings."""
    old_by_name = {c["name"]: c for c in old.get("criteria", [])}
    new_by_name = {c["name"]: c for c in new.get("criteria", [])}
    changed = []
    for name in new_by_name.keys() & old_by_name.keys():
        a, b = old_by_name[name], new_by_name[name]
        keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
        if keys:
            changed.append((a, b, keys))
    settings = [
        (key, old.get(key), new.get(key))
        for key in ("mql_threshold", "bands", "grades", "audience", "decay_half_life_days")
        if old.get(key) != new.get(key)
    ]
    return VersionDiff(
        added=[c for n, c in new_by_name.items() if n not in old_by_name],
        removed=[c for n, c in old_by_name.items() if n not in new_by_name],
        changed=sorted(changed, key=lambda t: t[0]["name"]),
        settings=settings,
    )


def proposals_for(*, scoring_model: ScoringModel) -> QuerySet[Proposal]:
    comments = ProposalComment.objects.select_related("author")
    return (
        scoring_model.proposals.select_related("author", "decided_by")
        .prefetch_related(Prefetch("comments", queryset=comments))
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class RejectionCount:
    reason: str
    label: str
    count: int


def rejections_by_reason(*, scoring_model: ScoringModel) -> list[RejectionCount]:
    """Why sales rejected this model's handoffs: the evidence behind a proposal."""
    labels = dict(RejectionReason.objects.values_list("code", "label"))
    rows = (
        Handoff.objects.filter(scoring_model=scoring_model, status=HandoffStatus.REJECTED)
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")
    )
    return [RejectionCount(r["reason"], labels.get(r["reason"], r["reason"]), r["n"]) for r in rows]
