from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from leadscoring.forms import CheckedModelForm

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


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = CheckedModelForm
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


class LeadScoreInline(admin.TabularInline):
    model = LeadScore
    fields = ["scoring_model", "total", "fit", "engagement", "band", "mql", "computed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    form = CheckedModelForm
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
    inlines = [LeadScoreInline]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    form = CheckedModelForm
    list_display = ["kind", "lead", "occurred_at", "channel", "source"]
    list_filter = ["kind", "channel", "source"]
    search_fields = ["lead__email", "kind", "external_id"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]
    date_hierarchy = "occurred_at"


@admin.register(LeadOutcome)
class LeadOutcomeAdmin(admin.ModelAdmin):
    form = CheckedModelForm
    list_display = ["lead", "outcome", "value", "occurred_at"]
    list_filter = ["outcome"]
    search_fields = ["lead__email"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]


class CriterionInline(admin.TabularInline):
    model = Criterion
    fields = ["position", "name", "type", "points", "enabled", "params"]
    extra = 0


@admin.register(ScoringModel)
class ScoringModelAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "mql_threshold", "published_version", "updated_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["published_version"]
    inlines = [CriterionInline]


@admin.register(ScoringModelVersion)
class ScoringModelVersionAdmin(admin.ModelAdmin):
    list_display = ["scoring_model", "number", "published_by", "published_at", "note"]
    list_filter = ["scoring_model"]
    list_select_related = ["scoring_model", "published_by"]

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # published versions are immutable


@admin.register(LeadScore)
class LeadScoreAdmin(admin.ModelAdmin):
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

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # scores are computed, never edited by hand


class HandoffActionInline(admin.TabularInline):
    model = HandoffAction
    extra = 0
    can_delete = False
    fields = ["at", "kind", "user", "detail"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    form = CheckedModelForm
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
class RejectionReasonAdmin(admin.ModelAdmin):
    list_display = ["label", "code", "position", "active"]
    list_editable = ["position", "active"]


@admin.register(ScoreEvent)
class ScoreEventAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(RescoreRun)
class RescoreRunAdmin(admin.ModelAdmin):
    list_display = [
        "scoring_model", "version", "trigger", "status", "progress", "total", "failed",
        "started_at", "finished_at",
    ]  # fmt: skip
    list_filter = ["status", "trigger", "scoring_model"]
    list_select_related = ["scoring_model", "version"]

    @admin.display(description=_("progress"))
    def progress(self, run: RescoreRun) -> str:
        return f"{run.percent} %"

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(UnscorableLead)
class UnscorableLeadAdmin(admin.ModelAdmin):
    """What the rescores skip and why; written by them alone (scoring.rescoring)."""

    list_display = ["lead", "reason", "last_seen", "times_seen", "first_seen"]
    search_fields = ["lead__email"]
    list_select_related = ["lead"]
    date_hierarchy = "last_seen"

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # a row goes when its lead scores again (or is deleted)
