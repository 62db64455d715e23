"""Admin screens of the domain.

Leads and accounts are saved through the API's services, activities deleted through
scoring.services: either way the leads behind them are queued for rescoring. Handoffs, outcomes,
scoring models and everything the rescores write are read-only here: the queue's actions, the
rule editor and publishing are the ways to change them, with their checks, log and webhooks.
"""

from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from leadscoring.admin import ReadOnlyAdminMixin
from leadscoring.forms import CheckedModelForm

from .api.services import account_save, lead_save
from .models import (
    Account,
    Activity,
    Criterion,
    Handoff,
    HandoffAction,
    Lead,
    LeadOutcome,
    LeadScore,
    RejectionReason,
    RescoreRun,
    ScoreEvent,
    ScoringModel,
    ScoringModelVersion,
    UnscorableLead,
)
from .services import accounts_delete, activities_delete

_M = TypeVar("_M", bound=Model)


def _changes(form: forms.ModelForm[_M]) -> dict[str, Any]:
    """The fields the form changed; the form has put them on its instance already."""
    return {
        name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data
    }


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    form = CheckedModelForm[Account]
    list_display = [
        "name",
        "domain",
        "industry",
        "employee_count",
        "country",
        "is_target_account",
        "is_competitor",
    ]
    list_filter = ["is_target_account", "is_competitor", "industry", "country"]
    search_fields = ["name", "domain", "external_id"]
    readonly_fields = ["created_at", "updated_at"]  # as in the API

    def save_model(
        self, request: HttpRequest, obj: Account, form: forms.ModelForm[Account], change: bool
    ) -> None:
        account_save(account=obj, data=_changes(form))

    def delete_model(self, request: HttpRequest, obj: Account) -> None:
        accounts_delete(account_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        accounts_delete(account_ids=list(queryset.values_list("pk", flat=True)))


class LeadScoreInline(ReadOnlyAdminMixin, admin.TabularInline[LeadScore, Lead]):
    model = LeadScore
    # One tuple for both: the stubs type the two as different (invariant) lists.
    fields = readonly_fields = (
        "scoring_model", "total", "fit", "engagement", "band", "mql", "computed_at",
    )  # fmt: skip
    extra = 0
    can_delete = False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin[Lead]):
    form = CheckedModelForm[Lead]
    list_display = [
        "__str__",
        "email",
        "job_title",
        "account",
        "lifecycle_stage",
        "source",
        "owner",
        "created_at",
    ]
    list_filter = ["lifecycle_stage", "source", "country", "unsubscribed", "email_invalid"]
    search_fields = [
        "email",
        "first_name",
        "last_name",
        "job_title",
        "account__name",
        "external_id",
    ]
    list_select_related = ["account", "owner"]
    autocomplete_fields = ["account"]
    raw_id_fields = ["owner"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]  # as in the API
    inlines = [LeadScoreInline]

    def save_model(
        self, request: HttpRequest, obj: Lead, form: forms.ModelForm[Lead], change: bool
    ) -> None:
        lead_save(lead=obj, data=_changes(form))

    def has_delete_permission(self, request: HttpRequest, obj: Lead | None = None) -> bool:
        # Erasing a person is the lead page's "erase" (scoring.privacy), which removes what is
        # stored about them elsewhere too and records who did it.
        return False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin[Activity]):
    """Shown and deleted here; they come in through scoring.ingest (API, tracking, import), which
    checks them and stores a re-delivered one once, and are never edited."""

    form = CheckedModelForm[Activity]
    list_display = ["kind", "lead", "occurred_at", "channel", "source"]
    list_filter = ["kind", "channel", "source"]
    search_fields = ["lead__email", "kind", "external_id"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Activity) -> None:
        activities_delete(activity_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Activity]) -> None:
        activities_delete(activity_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(LeadOutcome)
class LeadOutcomeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[LeadOutcome]):
    """Recorded by the queue's outcome action (pipeline.handoffs) and by import_crm."""

    list_display = ["lead", "outcome", "value", "occurred_at"]
    list_filter = ["outcome"]
    search_fields = ["lead__email"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]


class CriterionInline(ReadOnlyAdminMixin, admin.TabularInline[Criterion, ScoringModel]):
    model = Criterion
    fields = ["position", "name", "type", "points", "enabled", "params"]
    extra = 0


@admin.register(ScoringModel)
class ScoringModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ScoringModel]):
    """Changed in the rule editor (/rules/) or by load_scoring_model, which validate the draft."""

    list_display = ["name", "slug", "mql_threshold", "published_version", "updated_at"]
    search_fields = ["name", "slug"]
    inlines = [CriterionInline]


@admin.register(ScoringModelVersion)
class ScoringModelVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ScoringModelVersion]):
    """Published versions are immutable; publishing (scoring.services) makes them."""

    list_display = ["scoring_model", "number", "published_by", "published_at", "note"]
    list_filter = ["scoring_model"]
    list_select_related = ["scoring_model", "published_by"]


@admin.register(LeadScore)
class LeadScoreAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[LeadScore]):
    """Scores are computed by the rescores, never edited by hand."""

    fields = [
        "lead", "scoring_model", "version", "total", "fit", "engagement", "band", "grade", "mql",
        "computed_at", "explained",
    ]  # fmt: skip
    readonly_fields = ["explained"]

    @admin.display(description=_("why these points"))
    def explained(self, obj: LeadScore) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td style='text-align:right'>{}</td><td>{} ×</td></tr>",
            ((c["criterion"], f"{c['points']:+g}", c["evidence_count"]) for c in obj.explanation),
        )
        return format_html("<table>{}</table>", rows) if obj.explanation else "—"

    list_display = [
        "lead",
        "scoring_model",
        "total",
        "fit",
        "engagement",
        "band",
        "grade",
        "mql",
        "computed_at",
    ]
    list_filter = ["scoring_model", "band", "mql"]
    search_fields = ["lead__email", "lead__last_name"]
    list_select_related = ["lead", "scoring_model"]
    raw_id_fields = ["lead"]


class HandoffActionInline(ReadOnlyAdminMixin, admin.TabularInline[HandoffAction, Handoff]):
    model = HandoffAction
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "kind", "user", "detail")


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Handoff]):
    """Worked in the queue (/queue/, pipeline.handoffs), whose actions log who did
    what, record the outcome, move the lead's stage and send the webhooks."""

    list_display = [
        "lead",
        "scoring_model",
        "status",
        "owner",
        "score_at_handoff",
        "sla_due_at",
        "reason",
    ]
    list_filter = ["status", "scoring_model", "reason"]
    search_fields = ["lead__email", "lead__last_name"]
    list_select_related = ["lead", "scoring_model", "owner"]
    raw_id_fields = ["lead"]
    fieldsets = [
        (None, {"fields": ["lead", "scoring_model", "status", "owner"]}),
        (
            _("Follow-up"),
            {
                "fields": [
                    "score_at_handoff",
                    "trigger",
                    "sla_due_at",
                    "sla_breached_at",
                    "reason",
                    "note",
                    "outcome_value",
                ]
            },
        ),
    ]
    inlines = [HandoffActionInline]


@admin.register(RejectionReason)
class RejectionReasonAdmin(admin.ModelAdmin[RejectionReason]):
    list_display = ["label", "code", "position", "active"]
    list_editable = ["position", "active"]


@admin.register(ScoreEvent)
class ScoreEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ScoreEvent]):
    """The record of threshold crossings, written by the rescores."""

    list_display = [
        "occurred_at",
        "lead",
        "scoring_model",
        "kind",
        "from_total",
        "to_total",
        "reason",
    ]
    list_filter = ["kind", "scoring_model"]
    list_select_related = ["lead", "scoring_model"]
    raw_id_fields = ["lead"]
    date_hierarchy = "occurred_at"


@admin.register(RescoreRun)
class RescoreRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[RescoreRun]):
    """Started by publishing and the daily refresh; their chunks update them."""

    list_display = [
        "scoring_model", "version", "trigger", "status", "progress", "total", "failed",
        "started_at", "finished_at",
    ]  # fmt: skip
    list_filter = ["status", "trigger", "scoring_model"]
    list_select_related = ["scoring_model", "version"]

    @admin.display(description=_("progress"))
    def progress(self, run: RescoreRun) -> str:
        return f"{run.percent} %"


@admin.register(UnscorableLead)
class UnscorableLeadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[UnscorableLead]):
    """What the rescores skip and why; written by them alone (scoring.rescoring). A row goes
    when its lead scores again (or is deleted)."""

    list_display = ["lead", "reason", "last_seen", "times_seen", "first_seen"]
    search_fields = ["lead__email"]
    list_select_related = ["lead"]
    date_hierarchy = "last_seen"
