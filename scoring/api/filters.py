"""Query filters for the list endpoints."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from django import forms
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from scoring.models import (
    Account,
    Handoff,
    HandoffStatus,
    Lead,
    LeadScore,
    LifecycleStage,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

_QuerySetT = TypeVar("_QuerySetT", bound=QuerySet[Model])

_BIGINT = 2**63 - 1
# Scores are stored with 12 digits, 2 of them decimals.
_SCORE_LIMIT = 10**10


# django_filters has no type information: its classes are Any to mypy, hence the
# ignore[misc] (subclassing Any) on every class based on one.
class IdFilter(filters.NumberFilter):  # type: ignore[misc]
    field_class = forms.IntegerField


def _id(field_name: str, label: "StrOrPromise") -> IdFilter:
    return IdFilter(field_name=field_name, min_value=1, max_value=_BIGINT, label=label)


def _score(
    label: "StrOrPromise", lookup: str | None = None, **kwargs: object
) -> filters.NumberFilter:
    bounds = {"min_value": -_SCORE_LIMIT, "max_value": _SCORE_LIMIT}
    if lookup:
        return filters.NumberFilter(field_name="total", lookup_expr=lookup, label=label, **bounds)
    return filters.NumberFilter(label=label, **bounds, **kwargs)


class SinceFilter(filters.IsoDateTimeFilter):  # type: ignore[misc]
    """A point in time; any UTC offset is accepted (PostgreSQL itself takes only ±15:59)."""

    def filter(self, qs: _QuerySetT, value: datetime | None) -> _QuerySetT:
        filtered: _QuerySetT = super().filter(
            qs, value.astimezone(UTC) if value is not None else None
        )
        return filtered


class LeadFilter(filters.FilterSet):  # type: ignore[misc]
    stage = filters.MultipleChoiceFilter(
        field_name="lifecycle_stage", choices=LifecycleStage.choices, label=_("Lifecycle stage")
    )
    owner = _id("owner_id", _("Owner (user id)"))
    source = filters.CharFilter(field_name="source", label=_("Source"))
    account = _id("account_id", _("Account id"))
    email = filters.CharFilter(field_name="email", lookup_expr="iexact", label=_("E-mail"))
    updated_since = SinceFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Changed at or after")
    )
    # Score conditions apply to one and the same score row, hence one EXISTS for all of them.
    model = filters.CharFilter(method="_noop", label=_("Scoring model slug"))
    band = filters.CharFilter(method="_noop", label=_("Band (in the given model, or any)"))
    mql = filters.BooleanFilter(method="_noop", label=_("Is an MQL"))
    score_min = _score(_("Score at least"), method="_noop")
    score_max = _score(_("Score at most"), method="_noop")

    class Meta:
        model = Lead
        fields: list[str] = []

    def _noop(self, queryset: QuerySet[Lead], name: str, value: object) -> QuerySet[Lead]:
        return queryset

    def filter_queryset(self, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        conditions = Q()
        for name, lookup in (
            ("model", "scoring_model__slug"),
            ("band", "band"),
            ("mql", "mql"),
            ("score_min", "total__gte"),
            ("score_max", "total__lte"),
        ):
            value = data.get(name)
            if value is not None and value != "":
                conditions &= Q(**{lookup: value})
        if conditions:
            scores = LeadScore.objects.filter(conditions, lead=OuterRef("pk"))
            queryset = queryset.filter(Exists(scores))
        return queryset


class AccountFilter(filters.FilterSet):  # type: ignore[misc]
    industry = filters.CharFilter(field_name="industry", lookup_expr="iexact")
    country = filters.CharFilter(field_name="country", lookup_expr="iexact")
    domain = filters.CharFilter(field_name="domain", lookup_expr="iexact")
    is_target_account = filters.BooleanFilter(field_name="is_target_account")
    updated_since = SinceFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Account
        fields: list[str] = []


class ScoreFilter(filters.FilterSet):  # type: ignore[misc]
    model = filters.CharFilter(field_name="scoring_model__slug")
    lead = _id("lead_id", _("Lead id"))
    band = filters.CharFilter(field_name="band")
    mql = filters.BooleanFilter(field_name="mql")
    score_min = _score(_("Score at least"), "gte")
    score_max = _score(_("Score at most"), "lte")
    computed_since = SinceFilter(field_name="computed_at", lookup_expr="gte")

    class Meta:
        model = LeadScore
        fields: list[str] = []


class HandoffFilter(filters.FilterSet):  # type: ignore[misc]
    status = filters.MultipleChoiceFilter(choices=HandoffStatus.choices)
    model = filters.CharFilter(field_name="scoring_model__slug")
    owner = _id("owner_id", _("Owner (user id)"))
    lead = _id("lead_id", _("Lead id"))

    class Meta:
        model = Handoff
        fields: list[str] = []
