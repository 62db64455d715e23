"""Read-only queries for the pages; each answers one screen in a fixed number of queries."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from .models import Handoff, HandoffStatus, Lead, LeadScore, ScoringModel


@dataclass(frozen=True)
class Overview:
    lead_count: int
    open_handoffs: int
    models: QuerySet[ScoringModel]
    top_scores: QuerySet[LeadScore]


def overview_get(*, top: int = 10) -> Overview:
    models = ScoringModel.objects.select_related("published_version").annotate(
        scored=Count("scores"), mqls=Count("scores", filter=Q(scores__mql=True))
    )
    top_scores = LeadScore.objects.select_related(
        "lead", "lead__account", "scoring_model"
    ).order_by("-total")[:top]
    return Overview(
        lead_count=Lead.objects.count(),
        open_handoffs=Handoff.objects.filter(
            status__in=[HandoffStatus.NEW, HandoffStatus.ACCEPTED]
        ).count(),
        models=models,
        top_scores=top_scores,
    )
