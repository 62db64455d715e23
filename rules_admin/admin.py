from django.contrib import admin

from leadscoring.forms import CheckedModelForm

from .models import Proposal, ProposalComment


class ProposalCommentInline(admin.TabularInline):
    model = ProposalComment
    extra = 0
    fields = ["author", "text", "created_at"]
    readonly_fields = fields


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    form = CheckedModelForm
    list_display = ["scoring_model", "author", "status", "created_at", "decided_by"]
    list_filter = ["status", "scoring_model"]
    list_select_related = ["scoring_model", "author", "decided_by"]
    readonly_fields = ["edits"]
    inlines = [ProposalCommentInline]
