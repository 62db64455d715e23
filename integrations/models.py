"""Ways in and out of the product: ingestion tokens, tracked websites and outbound webhooks."""

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoring.models import Lead

INGESTION_TOKEN_PREFIX = "lsi_"  # noqa: S105 - a marker, not a secret


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class IngestionToken(models.Model):
    """A key for a system that only sends leads and activities (a form tool, a shop, a CRM sync).

    Only the SHA-256 digest is stored; the key itself is shown once, when it is created.
    """

    name = models.CharField(_("name"), max_length=120, help_text=_("Which system uses it."))
    prefix = models.CharField(_("key starts with"), max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    source = models.SlugField(
        _("activity source"),
        max_length=64,
        default="api",
        help_text=_("Activities sent with this key are stored under this source."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("ingestion token")
        verbose_name_plural = _("ingestion tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate_key() -> str:
        return INGESTION_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _site_key() -> str:
    return secrets.token_urlsafe(16)


class TrackingSite(models.Model):
    """A website that includes the tracking snippet; only its registered origins may send."""

    name = models.CharField(_("name"), max_length=120)
    site_key = models.CharField(
        _("site key"), max_length=64, unique=True, default=_site_key, editable=False
    )
    allowed_origins = models.JSONField(
        _("allowed origins"),
        default=list,
        help_text=_('Where the site is served from, e.g. ["https://www.example.com"].'),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tracked website")
        verbose_name_plural = _("tracked websites")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .tracking import origin_of

        origins = self.allowed_origins
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ValidationError({"allowed_origins": _("Give a list of origins.")})
        bad = [o for o in origins if origin_of(o) != o.strip().rstrip("/").lower()]
        if bad:
            raise ValidationError(
                {
                    "allowed_origins": _(
                        "%(origin)s is not an origin; write scheme and host only, "
                        "e.g. https://www.example.com"
                    )
                    % {"origin": bad[0]}
                }
            )
        self.allowed_origins = [o.strip().rstrip("/").lower() for o in origins]


class Visitor(models.Model):
    """A browser seen on a tracked site, anonymous until it identifies itself as a lead."""

    site = models.ForeignKey(TrackingSite, on_delete=models.CASCADE, related_name="visitors")
    visitor_id = models.CharField(_("visitor id"), max_length=64)
    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visitors",
    )
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    identified_at = models.DateTimeField(_("identified"), null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        constraints = [
            models.UniqueConstraint(fields=["site", "visitor_id"], name="visitor_once_per_site"),
        ]

    def __str__(self) -> str:
        return self.visitor_id


class PendingVisit(models.Model):
    """A page view or event of a visitor not yet linked to a lead; it becomes an activity then."""

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="pending")
    event_id = models.CharField(max_length=64)
    kind = models.CharField(_("kind"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"))
    properties = models.JSONField(_("properties"), default=dict, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("anonymous page view or event")
        verbose_name_plural = _("anonymous page views and events")
        constraints = [
            models.UniqueConstraint(fields=["visitor", "event_id"], name="pending_event_once"),
        ]
        indexes = [models.Index(fields=["occurred_at"], name="pending_visit_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class WebhookEvent(models.TextChoices):
    LEAD_MQL = "lead.mql", _("Lead became MQL")
    LEAD_BAND_CHANGED = "lead.band_changed", _("Lead's band changed")
    HANDOFF_CREATED = "handoff.created", _("Handoff created")
    HANDOFF_ACCEPTED = "handoff.accepted", _("Handoff accepted")
    HANDOFF_REJECTED = "handoff.rejected", _("Handoff rejected")


def _webhook_secret() -> str:
    return secrets.token_hex(32)


class WebhookEndpoint(models.Model):
    """A URL that receives chosen events as signed JSON."""

    name = models.CharField(_("name"), max_length=120)
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(
        _("events"), default=list, help_text=_("Which events are sent to this URL.")
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=128,
        default=_webhook_secret,
        help_text=_("Deliveries carry an HMAC-SHA256 of the body made with this secret."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint, with the log of its attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        RETRYING = "retrying", _("Will retry")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(_("event"), max_length=40, choices=WebhookEvent.choices)
    # What caused it, e.g. "score_event:42"; the same cause is delivered to an endpoint once.
    event_key = models.CharField(max_length=120)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_key"], name="delivery_once"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="delivery_status_idx")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"
