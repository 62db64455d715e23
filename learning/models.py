"""Trained predictive models and the probabilities they give the leads."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from scoring.models import Lead, ScoringModel


class PredictiveModel(models.Model):
    """One training of a scoring model's predictive score: the classifier (stored by skops,
    which rebuilds only the types the product trusts, never unpickles), the feature plan it was
    trained on, and how well it did on the latest outcomes, which it did not see."""

    scoring_model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="predictive_models"
    )
    number = models.PositiveIntegerField(_("version"))
    trained_at = models.DateTimeField(_("trained at"))
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    artifact = models.BinaryField(_("classifier"))
    plan = models.JSONField(_("features"))
    criteria = models.JSONField(_("criteria used"), default=list)
    kind = models.CharField(_("kind of classifier"), max_length=80)
    test_auc = models.FloatField(_("test AUC"), null=True)
    base_rate = models.FloatField(_("base rate"))
    train_size = models.PositiveIntegerField(_("outcomes learned from"))
    test_size = models.PositiveIntegerField(_("outcomes tested on"))

    class Meta:
        ordering = ["scoring_model", "-number"]
        verbose_name = _("predictive model")
        verbose_name_plural = _("predictive models")
        constraints = [
            models.UniqueConstraint(
                fields=["scoring_model", "number"], name="predictive_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scoring_model} predictive v{self.number}"


class LeadProbability(models.Model):
    """A lead's chance to convert by a scoring model's latest predictive model, with the factors
    that moved it most (as of `computed_at`)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="probabilities")
    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="+")
    predictive_model = models.ForeignKey(
        PredictiveModel, on_delete=models.CASCADE, related_name="+"
    )
    probability = models.FloatField(_("chance to convert"))
    factors = models.JSONField(_("top factors"), default=list)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("chance to convert")
        verbose_name_plural = _("chances to convert")
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "scoring_model"], name="probability_once_per_model"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.scoring_model_id}: {self.probability:.0%}"
