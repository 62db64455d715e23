from django.contrib import admin

from leadscoring.forms import CheckedModelForm

from .models import AssignmentRule, SavedQueueFilter


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(admin.ModelAdmin[AssignmentRule]):
    form = CheckedModelForm[AssignmentRule]
    list_display = ["position", "match", "value", "account", "scoring_model", "assignee", "active"]
    list_display_links = ["match"]
    list_editable = ["position", "active"]
    list_filter = ["match", "active", "scoring_model"]
    list_select_related = ["account", "scoring_model", "assignee"]
    raw_id_fields = ["account"]
    search_fields = ["value", "account__name", "assignee__username"]


@admin.register(SavedQueueFilter)
class SavedQueueFilterAdmin(admin.ModelAdmin[SavedQueueFilter]):
    form = CheckedModelForm[SavedQueueFilter]
    list_display = ["name", "user", "params", "created_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username"]
