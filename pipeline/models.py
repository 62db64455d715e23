"""Who gets a handoff (assignment rules, the round-robin turn); saved queue filters per user."""

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoring.models import Account, ScoringModel


class AssignmentRule(models.Model):
    """Send handoffs of leads from a country, an industry or one account to a sales user.

    Rules are tried in position order and the first match wins; a handoff that matches none goes
    round-robin to the sales team.
    """

    class Match(models.TextChoices):
        COUNTRY = "country", _("Country")
        INDUSTRY = "industry", _("Industry")
        ACCOUNT = "account", _("Account (account owner)")

    position = models.PositiveIntegerField(_("position"), default=0)
    match = models.CharField(_("match on"), max_length=20, choices=Match.choices)
    value = models.CharField(
        _("value"),
        max_length=120,
        blank=True,
        help_text=_("Country ISO code (e.g. DE) or industry (e.g. logistics); not for accounts."),
    )
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    scoring_model = models.ForeignKey(
        ScoringModel,
        verbose_name=_("only for model"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Leave empty to apply to handoffs of every model."),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assign to"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self) -> str:
        target = self.account if self.match == self.Match.ACCOUNT else self.value
        return f"{self.get_match_display()} {target} → {self.assignee}"

    def clean(self) -> None:
        if self.match == self.Match.ACCOUNT:
            if self.account_id is None:
                raise ValidationError({"account": _("Choose the account this rule is for.")})
            self.value = ""
        else:
            if not self.value.strip():
                raise ValidationError({"value": _("Enter the country code or industry.")})
            self.account = None
            self.value = self.value.strip()


class RoundRobinTurn(models.Model):
    """Whose turn it is: the sales user who got the last round-robin handoff.

    One row, locked while the next owner is picked, so concurrent workers never pick the same turn.
    """

    key = models.CharField(max_length=40, unique=True)
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("round-robin turn")
        verbose_name_plural = _("round-robin turns")

    def __str__(self) -> str:
        return f"{self.key}: {self.last_user_id}"


class SavedQueueFilter(models.Model):
    """A named set of queue filters one user keeps for quick access."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queue_filters"
    )
    name = models.CharField(_("name"), max_length=80)
    params = models.JSONField(_("filters"), default=dict)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved queue filter")
        verbose_name_plural = _("saved queue filters")
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_filter_name_per_user"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def querystring(self) -> str:
        return urlencode(self.params)
