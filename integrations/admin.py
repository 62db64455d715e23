"""Admin screens for integrations: API keys, tracked websites, webhook endpoints and their log."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from leadscoring.forms import CheckedModelForm

from .addresses import webhook_address_problem
from .models import (
    IngestionToken,
    TrackingSite,
    Visitor,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from .tokens import ingestion_token_create, ingestion_tokens_revoke
from .webhooks import webhook_deliveries_resend


@admin.register(IngestionToken)
class IngestionTokenAdmin(admin.ModelAdmin[IngestionToken]):
    form = CheckedModelForm[IngestionToken]
    list_display = ["name", "prefix", "source", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "source", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def save_model(
        self,
        request: HttpRequest,
        obj: IngestionToken,
        form: forms.ModelForm[IngestionToken],
        change: bool,
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = ingestion_token_create(name=obj.name, source=obj.source, user=request.user)
        obj.pk, obj.prefix, obj.digest = token.pk, token.prefix, token.digest
        messages.warning(
            request,
            _("Copy the key now, it is not shown again: %(key)s") % {"key": raw},
        )

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[IngestionToken]) -> None:
        count = ingestion_tokens_revoke(token_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, _("%(count)d token(s) revoked.") % {"count": count})


@admin.register(TrackingSite)
class TrackingSiteAdmin(admin.ModelAdmin[TrackingSite]):
    form = CheckedModelForm[TrackingSite]
    list_display = ["name", "site_key", "origins", "active", "demo"]
    readonly_fields = ["site_key", "demo"]
    fields = ["name", "allowed_origins", "active", "site_key", "demo"]

    @admin.display(description=_("allowed origins"))
    def origins(self, site: TrackingSite) -> str:
        return ", ".join(site.allowed_origins)

    @admin.display(description=_("try it"))
    def demo(self, site: TrackingSite) -> str:
        if not site.pk:
            return "-"
        url = reverse("tracking-demo", args=[site.site_key])
        return format_html('<a href="{}">{}</a>', url, _("Open the demo page"))


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin[Visitor]):
    """Written by the tracking beacon: linking a visitor to a lead is its identify step, which
    also turns the visits into the lead's activities; here they are shown and deleted only."""

    list_display = ["visitor_id", "site", "lead", "first_seen_at", "last_seen_at", "identified_at"]
    list_filter = ["site"]
    list_select_related = ["site", "lead"]
    raw_id_fields = ["lead"]
    readonly_fields = ["site", "visitor_id", "first_seen_at", "last_seen_at", "identified_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Visitor | None = None) -> bool:
        return False


class WebhookEndpointForm(CheckedModelForm[WebhookEndpoint]):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"), choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "active", "secret"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if problem := webhook_address_problem(url):
            raise forms.ValidationError(problem)
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    form = WebhookEndpointForm
    list_display = ["name", "url", "event_list", "active"]

    @admin.display(description=_("events"))
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        labels = dict(WebhookEvent.choices)
        return ", ".join(str(labels.get(e, e)) for e in endpoint.events)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = [
        "event", "endpoint", "status", "attempts", "last_status_code", "last_attempt_at",
        "created_at",
    ]  # fmt: skip
    list_filter = ["status", "event", "endpoint"]
    list_select_related = ["endpoint"]
    readonly_fields = [
        "endpoint", "event", "event_key", "payload", "status", "attempts", "last_status_code",
        "last_error", "created_at", "last_attempt_at", "delivered_at",
    ]  # fmt: skip
    actions = ["resend"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WebhookDelivery | None = None
    ) -> bool:
        return False  # the worker's log; resent from the list's action

    @admin.action(description=_("Resend the selected deliveries"))
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = webhook_deliveries_resend(delivery_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, _("%(count)d deliveries queued again.") % {"count": count})
