"""Reads of the sales queue: the filtered, prioritised page of handoffs and its filter options."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from scoring.models import (
    OPEN_HANDOFF_STATUSES,
    Handoff,
    HandoffStatus,
    Lead,
    LeadScore,
    RejectionReason,
    ScoringModel,
)

from .models import SavedQueueFilter
from .priority import PriorityReason, due_soon_hours, with_priority
from .services import sales_team

PAGE_SIZE = 25


@dataclass(frozen=True)
class QueueOptions:
    models: list[ScoringModel]
    owners: list[AbstractBaseUser]
    bands: list[str]
    sources: list[str]
    reasons: list[RejectionReason]


def queue_options() -> QueueOptions:
    """Everything the filter bar and the row forms offer, in a fixed number of queries."""
    return QueueOptions(
        models=list(ScoringModel.objects.filter(published_version__isnull=False).order_by("name")),
        owners=list(sales_team()),
        bands=sorted(set(LeadScore.objects.values_list("band", flat=True).distinct()) - {""}),
        sources=list(
            Lead.objects.filter(handoffs__isnull=False)
            .exclude(source="")
            .values_list("source", flat=True)
            .distinct()
            .order_by("source")
        ),
        reasons=list(RejectionReason.objects.filter(active=True)),
    )


def _base() -> QuerySet[Handoff]:
    return Handoff.objects.select_related("lead", "lead__account", "scoring_model", "owner")


def _filtered(handoffs: QuerySet[Handoff], values: dict[str, str], user, now) -> QuerySet[Handoff]:  # type: ignore[no-untyped-def]
    status = values["status"]
    if status == "open":
        handoffs = handoffs.filter(status__in=OPEN_HANDOFF_STATUSES)
    elif status != "all":
        handoffs = handoffs.filter(status=status)
    if values["model"]:
        handoffs = handoffs.filter(scoring_model__slug=values["model"])
    owner = values["owner"]
    if owner == "me":
        handoffs = handoffs.filter(owner=user)
    elif owner == "none":
        handoffs = handoffs.filter(owner__isnull=True)
    elif owner:
        handoffs = handoffs.filter(owner_id=owner)
    if values["source"]:
        handoffs = handoffs.filter(lead__source=values["source"])
    if values["band"]:
        handoffs = handoffs.filter(current_band=values["band"])
    sla = values["sla"]
    waiting = Q(status=HandoffStatus.NEW)
    soon = now + timedelta(hours=due_soon_hours())
    if sla == "overdue":
        handoffs = handoffs.filter(waiting & Q(sla_due_at__lte=now))
    elif sla == "due_soon":
        handoffs = handoffs.filter(waiting & Q(sla_due_at__gt=now, sla_due_at__lte=soon))
    elif sla == "on_track":
        handoffs = handoffs.filter(waiting & Q(sla_due_at__gt=soon))
    elif sla == "met":
        handoffs = handoffs.exclude(waiting)
    return handoffs


def queue_handoffs(*, values: dict[str, str], user: AbstractBaseUser, now: datetime):  # type: ignore[no-untyped-def]
    """The handoffs matching the filters, highest priority first (ordered in the database)."""
    handoffs = _filtered(with_priority(Handoff.objects.all(), now=now), values, user, now)
    return handoffs.order_by("-priority", "sla_due_at", "pk")


def queue_page(
    *, values: dict[str, str], user: AbstractBaseUser, now: datetime, page: object
) -> Page:
    """One page of the queue.

    The database sorts the ids alone (narrow rows), then the page's rows are loaded with
    everything the table shows: four queries however long the queue is.
    """
    ordered_ids = queue_handoffs(values=values, user=user, now=now).values_list("pk", flat=True)
    result = Paginator(ordered_ids, PAGE_SIZE).get_page(page)
    ids = list(result.object_list)
    rows = {h.pk: h for h in with_priority(_base(), now=now).filter(pk__in=ids)}
    result.object_list = [rows[pk] for pk in ids if pk in rows]
    for handoff in result.object_list:
        handoff.why = PriorityReason.of(handoff)
    return result


def queue_row(*, handoff_id: int, now: datetime) -> Handoff:
    """One handoff with the same annotations as the queue (for re-rendering a row)."""
    handoff = with_priority(_base(), now=now).get(pk=handoff_id)
    handoff.why = PriorityReason.of(handoff)
    return handoff


def saved_filters(*, user: AbstractBaseUser) -> list[SavedQueueFilter]:
    return list(SavedQueueFilter.objects.filter(user=user))
