"""Reads of the sales queue (the filtered, prioritised page of handoffs and its filter options)
and of the list of every lead."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import OrderBy, Q, QuerySet
from django.db.models.functions import Lower

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
from .priority import PriorityReason, due_soon_hours, sla_levels, with_priority
from .services import sales_team

PAGE_SIZE = 25
# A longer queue reads as "more than COUNT_LIMIT": counting every row would cost more than the
# page itself, and nobody pages that far.
COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class QueueOptions:
    models: list[ScoringModel]
    owners: list[User]
    bands: list[str]
    sources: list[str]


def lead_sources() -> list[str]:
    """Every lead source in use, alphabetically: one step along the source index per source
    (a loose index scan), not a pass over every lead."""
    table = Lead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE found(source) AS ("  # noqa: S608 - fixed names
            f"SELECT MIN(source) FROM {table} WHERE source > '' UNION ALL "
            f"SELECT (SELECT MIN(source) FROM {table} WHERE source > found.source) FROM found "
            f"WHERE found.source IS NOT NULL) "
            f"SELECT source FROM found WHERE source IS NOT NULL"
        )
        return [source for (source,) in cursor.fetchall()]


def queue_options() -> QueueOptions:
    """Everything the filter bar offers, in a fixed number of queries.

    The bands are those of the published models, lowest first.
    """
    models = list(
        ScoringModel.objects.filter(published_version__isnull=False)
        .select_related("published_version")
        .order_by("name")
    )
    # Filtered on above: every one has a published version.
    definitions = [
        m.published_version.definition for m in models if m.published_version is not None
    ]
    bands = [
        band["label"]
        for definition in definitions
        for band in sorted(definition.get("bands", []), key=_band_min)
    ]
    return QueueOptions(
        models=models,
        owners=list(sales_team()),
        bands=list(dict.fromkeys(bands)),
        sources=lead_sources(),
    )


def rejection_reasons() -> list[RejectionReason]:
    return list(RejectionReason.objects.filter(active=True))


def _band_min(band: dict[str, Any]) -> float:
    return float(band.get("min", 0))


def _base() -> QuerySet[Handoff]:
    return Handoff.objects.select_related("lead", "lead__account", "scoring_model", "owner")


def _filtered(
    handoffs: QuerySet[Handoff], values: dict[str, str], user: User, now: datetime
) -> QuerySet[Handoff]:
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
        handoffs = handoffs.filter(owner_id=int(owner))  # a pk among the form's choices
    if values["source"]:
        handoffs = handoffs.filter(lead__source=values["source"])
    if values["band"]:
        handoffs = handoffs.filter(score_band=values["band"])
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


class PrioritizedIds:
    """The ids of the selected handoffs, highest priority first, sliceable (for a Paginator).

    The priority is the stored part plus the SLA's points, and the SLA's points are the same
    within each urgency (`sla_levels`); so each urgency's first rows are read in the order of
    the priority index and the parts merged. A page costs a few index reads, however many
    handoffs wait.
    """

    def __init__(self, handoffs: QuerySet[Handoff], *, now: datetime) -> None:
        self.handoffs = handoffs
        self.levels = sla_levels(now)

    def count(self) -> int:
        """How many, counted up to COUNT_LIMIT + 1."""
        return self.handoffs.order_by()[: COUNT_LIMIT + 1].count()

    def __getitem__(self, wanted: slice) -> list[int]:
        start, stop = wanted.start or 0, wanted.stop
        ranked = []
        for condition, points in self.levels:
            rows = (
                self.handoffs.filter(condition)
                .order_by("-priority_base", "sla_due_at", "pk")
                .values_list("priority_base", "sla_due_at", "pk")
            )
            ranked += [(-(base + points), due, pk) for base, due, pk in rows[:stop]]
        ranked.sort()
        return [pk for *_, pk in ranked[start:stop]]


def queue_handoffs(*, values: dict[str, str], user: User, now: datetime) -> PrioritizedIds:
    """The ids of the handoffs matching the filters, highest priority first."""
    return PrioritizedIds(_filtered(Handoff.objects.all(), values, user, now), now=now)


def _with_reason(handoff: Handoff) -> Handoff:
    """The row with its PriorityReason as `why`, for the table's "why first" hint."""
    handoff.why = PriorityReason.of(handoff)  # type: ignore[attr-defined]  # not a field: for views
    return handoff


def queue_page(
    *, values: dict[str, str], user: User, now: datetime, page: int | str | None
) -> Page[Handoff]:
    """One page of the queue: a count, the page's ids (one index read per SLA urgency), then
    the page's rows with everything the table shows."""
    ids = queue_handoffs(values=values, user=user, now=now)
    # Paginator needs only count() and slicing, as documented; the stubs' protocol also asks
    # for len() and iteration, which PrioritizedIds has no use for.
    paginator: Paginator[int] = Paginator(ids, PAGE_SIZE)  # type: ignore[arg-type]
    ids_page = paginator.get_page(page)
    page_ids = list(ids_page.object_list)
    rows = {h.pk: h for h in with_priority(_base(), now=now).filter(pk__in=page_ids)}
    # The page of ids becomes the page of their rows, keeping its number and paginator.
    result = cast("Page[Handoff]", ids_page)
    result.object_list = [_with_reason(rows[pk]) for pk in page_ids if pk in rows]
    return result


def queue_row(*, handoff_id: int, now: datetime) -> Handoff:
    """One handoff with the same annotations as the queue (for re-rendering a row)."""
    return _with_reason(with_priority(_base(), now=now).get(pk=handoff_id))


def saved_filters(*, user: User) -> list[SavedQueueFilter]:
    return list(SavedQueueFilter.objects.filter(user=user))


# --- the list of every lead ---------------------------------------------------------------------

LEADS_PAGE_SIZE = 50


@dataclass(frozen=True)
class LeadsQuery:
    """What the leads list asks for (pipeline.forms.LeadSearchForm.query)."""

    text: str = ""
    model: ScoringModel | None = None
    band: str = ""
    stage: str = ""
    owner: str = ""  # "", "me", "none" or a user's id
    sort: str = "score"  # "score" (needs a model), "name" or "newest"


@dataclass(frozen=True)
class LeadRow:
    lead: Lead
    score: LeadScore | None


def _text_matches(text: str, prefix: str) -> Q:
    """Every word of the text in the lead's first or last name, e-mail or company."""
    found = Q()
    for word in text.split()[:5]:
        found &= (
            Q(**{f"{prefix}first_name__icontains": word})
            | Q(**{f"{prefix}last_name__icontains": word})
            | Q(**{f"{prefix}email__icontains": word})
            | Q(**{f"{prefix}account__name__icontains": word})
        )
    return found


def _lead_filters(query: LeadsQuery, user: User, prefix: str) -> Q:
    found = _text_matches(query.text, prefix)
    if query.stage:
        found &= Q(**{f"{prefix}lifecycle_stage": query.stage})
    if query.owner == "me":
        found &= Q(**{f"{prefix}owner": user})
    elif query.owner == "none":
        found &= Q(**{f"{prefix}owner__isnull": True})
    elif query.owner.isdigit():
        found &= Q(**{f"{prefix}owner_id": int(query.owner)})
    return found


def leads_page(query: LeadsQuery, *, user: User, page: str | int | None) -> "Page[LeadRow]":
    """One page of leads matching the query. In a model, its scored leads (by score along the
    model's total index, or by name or newest), with their score; otherwise every lead."""
    rows: QuerySet[Any]
    if query.model is not None:
        rows = (
            LeadScore.objects.filter(
                _lead_filters(query, user, "lead__"), scoring_model=query.model
            )
            .filter(Q(band=query.band) if query.band else Q())
            .select_related("lead__account", "lead__owner")
            .order_by(*_SCORE_ORDER[query.sort])
        )
    else:
        rows = (
            Lead.objects.filter(_lead_filters(query, user, ""))
            .select_related("account", "owner")
            .order_by(*_LEAD_ORDER["name" if query.sort == "score" else query.sort])
        )
    found = Paginator(rows, LEADS_PAGE_SIZE).get_page(page)
    return Page(
        [
            LeadRow(row.lead, row) if isinstance(row, LeadScore) else LeadRow(row, None)
            for row in found.object_list
        ],
        found.number,
        # Its count and page numbers are those of the rows each LeadRow stands for.
        cast("Paginator[LeadRow]", found.paginator),
    )


# Names in any case alike on both databases ("de Vries" among the Ds).
_SCORE_ORDER: dict[str, tuple[str | OrderBy | Lower, ...]] = {
    "score": ("-total", "lead_id"),
    "name": (Lower("lead__last_name"), Lower("lead__first_name"), "lead_id"),
    "newest": ("-lead__created_at", "-lead_id"),
}
_LEAD_ORDER: dict[str, tuple[str | OrderBy | Lower, ...]] = {
    "name": (Lower("last_name"), Lower("first_name"), "id"),
    "newest": ("-created_at", "-id"),
}
