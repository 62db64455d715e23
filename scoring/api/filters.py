"""Query filters for the list endpoints."""

from django.db.models import Exists, OuterRef, Q, QuerySet
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


class LeadFilter(filters.FilterSet):
    stage = filters.MultipleChoiceFilter(
        field_name="lifecycle_stage", choices=LifecycleStage.choices, label=_("Lifecycle stage")
    )
    owner = filters.NumberFilter(field_name="owner_id", label=_("Owner (user id)"))
    source = filters.CharFilter(field_name="source", label=_("Source"))
    account = filters.NumberFilter(field_name="account_id", label=_("Account id"))
    email = filters.CharFilter(field_name="email", lookup_expr="iexact", label=_("E-mail"))
    updated_since = filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Changed at or after")
    )
    # Score conditions apply to one and the same score row, hence one EXISTS for all of them.
    model = filters.CharFilter(method="_noop", label=_("Scoring model slug"))
    band = filters.CharFilter(method="_noop", label=_("Band (in the given model, or any)"))
    mql = filters.BooleanFilter(method="_noop", label=_("Is an MQL"))
    score_min = filters.NumberFilter(method="_noop", label=_("Score at least"))
    score_max = filters.NumberFilter(method="_noop", label=_("Score at most"))

    class Meta:
        model = Lead
        fields: list[str] = []

    def _noop(self, queryset: QuerySet, name: str, value: object) -> QuerySet:
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
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


class AccountFilter(filters.FilterSet):
    industry = filters.CharFilter(field_name="industry", lookup_expr="iexact")
    country = filters.CharFilter(field_name="country", lookup_expr="iexact")
    domain = filters.CharFilter(field_name="domain", lookup_expr="iexact")
    is_target_account = filters.BooleanFilter(field_name="is_target_account")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Account
        fields: list[str] = []


class ScoreFilter(filters.FilterSet):
    model = filters.CharFilter(field_name="scoring_model__slug")
    lead = filters.NumberFilter(field_name="lead_id")
    band = filters.CharFilter(field_name="band")
    mql = filters.BooleanFilter(field_name="mql")
    score_min = filters.NumberFilter(field_name="total", lookup_expr="gte")
    score_max = filters.NumberFilter(field_name="total", lookup_expr="lte")
    computed_since = filters.IsoDateTimeFilter(field_name="computed_at", lookup_expr="gte")

    class Meta:
        model = LeadScore
        fields: list[str] = []


class HandoffFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=HandoffStatus.choices)
    model = filters.CharFilter(field_name="scoring_model__slug")
    owner = filters.NumberFilter(field_name="owner_id")
    lead = filters.NumberFilter(field_name="lead_id")

    class Meta:
        model = Handoff
        fields: list[str] = []
