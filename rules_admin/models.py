"""Proposals from sales to change a model's rules, and the discussion around them."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoring.models import ScoringModel


class Proposal(models.Model):
    """A set of criterion edits someone asks marketing to make, with the reason why.

    `edits` is a list of {"action": "add" | "change" | "remove", "name": <criterion name>,
    "criterion": <rules-as-code dict, absent for remove>}, applied in order to the draft.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        APPLIED = "applied", _("Applied to the draft")
        DECLINED = "declined", _("Declined")

    scoring_model = models.ForeignKey(
        ScoringModel,
        verbose_name=_("scoring model"),
        on_delete=models.CASCADE,
        related_name="proposals",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("reason"))
    edits = models.JSONField(_("edits"), default=list)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")
        indexes = [models.Index(fields=["scoring_model", "status"], name="proposal_model_status")]

    def __str__(self) -> str:
        return f"{self.scoring_model} #{self.pk}"

    @property
    def edit_rows(self) -> list[dict[str, str]]:
        """The edits with a plain sentence of each proposed criterion, for the pages."""
        from .describe import criterion_sentence

        return [
            {
                "action": edit.get("action", ""),
                "name": edit.get("name", ""),
                "sentence": criterion_sentence(edit["criterion"]) if edit.get("criterion") else "",
            }
            for edit in self.edits
        ]


class ProposalComment(models.Model):
    proposal = models.ForeignKey(
        Proposal, on_delete=models.CASCADE, related_name="comments", verbose_name=_("proposal")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(_("comment"))
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")

    def __str__(self) -> str:
        return f"#{self.proposal_id}: {self.text[:40]}"
