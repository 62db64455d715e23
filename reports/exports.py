"""The admin exports: leads with scores, handoffs with outcomes, the activity log.

Each dataset is a column map (file column -> ORM path) and a filtered queryset; rows are read in
chunks and every text value passes through `spreadsheet_safe`, as in scoring.exports.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, Model, OuterRef, QuerySet, Subquery

from scoring.exports import csv_chunks, values_rows
from scoring.models import Activity, Handoff, HandoffAction, LeadScore

from .copy_csv import copy_csv_chunks
from .forms import ReportFilters

_LEAD_SCORE_SOURCES = {
    "lead_id": "lead_id",
    "lead_external_id": "lead__external_id",
    "email": "lead__email",
    "first_name": "lead__first_name",
    "last_name": "lead__last_name",
    "company": "lead__account__name",
    "source": "lead__source",
    "lifecycle_stage": "lead__lifecycle_stage",
    "lead_created_at": "lead__created_at",
    "model": "scoring_model__slug",
    "score": "total",
    "fit": "fit",
    "engagement": "engagement",
    "band": "band",
    "grade": "grade",
    "mql": "mql",
    "computed_at": "computed_at",
}
_HANDOFF_SOURCES = {
    "handoff_id": "id",
    "lead_id": "lead_id",
    "lead_external_id": "lead__external_id",
    "email": "lead__email",
    "model": "scoring_model__slug",
    "status": "status",
    "owner": "owner__username",
    "score_at_handoff": "score_at_handoff",
    "triggered_by": "trigger",
    "handed_over_at": "created_at",
    "follow_up_by": "sla_due_at",
    "first_answer_at": "first_answer_at",
    "sla_breached_at": "sla_breached_at",
    "rejection_reason": "reason",
    "note": "note",
    "deal_value": "outcome_value",
}
_ACTIVITY_SOURCES = {
    "activity_id": "id",
    "lead_id": "lead_id",
    "lead_external_id": "lead__external_id",
    "email": "lead__email",
    "kind": "kind",
    "channel": "channel",
    "occurred_at": "occurred_at",
    "source": "source",
    "external_id": "external_id",
    "properties": "properties",
}


def _lead_scores(filters: ReportFilters) -> QuerySet[LeadScore]:
    scores = LeadScore.objects.filter(
        lead__created_at__gte=filters.start, lead__created_at__lt=filters.end
    )
    if filters.scoring_model_id:
        scores = scores.filter(scoring_model_id=filters.scoring_model_id)
    return scores.order_by("lead_id", "scoring_model_id")


def _handoffs(filters: ReportFilters) -> QuerySet[Handoff]:
    answers = HandoffAction.objects.filter(
        handoff=OuterRef("pk"),
        kind__in=[HandoffAction.Kind.ACCEPTED, HandoffAction.Kind.REJECTED],
    ).order_by("at")
    handoffs = Handoff.objects.filter(created_at__gte=filters.start, created_at__lt=filters.end)
    if filters.scoring_model_id:
        handoffs = handoffs.filter(scoring_model_id=filters.scoring_model_id)
    return handoffs.annotate(first_answer_at=Subquery(answers.values("at")[:1])).order_by("id")


def _activities(filters: ReportFilters) -> QuerySet[Activity]:
    activities = Activity.objects.filter(
        occurred_at__gte=filters.start, occurred_at__lt=filters.end
    )
    if filters.scoring_model_id:
        scored = LeadScore.objects.filter(
            lead=OuterRef("lead_id"), scoring_model_id=filters.scoring_model_id
        )
        activities = activities.filter(Exists(scored))
    # Id order streams from the primary key at once; a time order would sort millions first.
    return activities.order_by("id")


@dataclass(frozen=True)
class Dataset:
    name: str
    sources: dict[str, str]
    queryset: Callable[[ReportFilters], QuerySet[Model]]

    @property
    def columns(self) -> list[str]:
        return list(self.sources)

    def rows(self, filters: ReportFilters) -> Iterator[list[Any]]:
        return values_rows(self.queryset(filters).values_list(*self.sources.values()))

    def csv_bytes(self, filters: ReportFilters) -> Iterator[bytes]:
        """The CSV file in pieces: from COPY on PostgreSQL, row by row elsewhere (SQLite)."""
        if connection.vendor == "postgresql":
            return copy_csv_chunks(self.queryset(filters), self.sources)
        return (chunk.encode("utf-8") for chunk in csv_chunks(self.rows(filters), self.columns))


DATASETS = {
    "leads": Dataset("leads", _LEAD_SCORE_SOURCES, _lead_scores),
    "handoffs": Dataset("handoffs", _HANDOFF_SOURCES, _handoffs),
    "activities": Dataset("activities", _ACTIVITY_SOURCES, _activities),
}
