"""Proposals are shown here, never written: the rule editor's proposal pages (/rules/) are where
sales proposes and marketing applies or declines, with the checks of the draft."""

from django.contrib import admin

from leadscoring.admin import ReadOnlyAdminMixin

from .models import Proposal, ProposalComment


class ProposalCommentInline(ReadOnlyAdminMixin, admin.TabularInline[ProposalComment, Proposal]):
    model = ProposalComment
    extra = 0
    fields = readonly_fields = ("author", "text", "created_at")


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Proposal]):
    list_display = ["scoring_model", "author", "status", "created_at", "decided_by"]
    list_filter = ["status", "scoring_model"]
    list_select_related = ["scoring_model", "author", "decided_by"]
    readonly_fields = ["edits"]
    inlines = [ProposalCommentInline]
