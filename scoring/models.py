"""The domain: accounts, leads, their activities, scoring models, scores and handoffs to sales."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict, cast

from django.conf import settings
from django.db import models
from django.db.models import F, FilteredRelation, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoring.criteria import TYPES

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable
    from django_stubs_ext import StrOrPromise, WithAnnotations


class TimestampedModel(models.Model):
    # A default rather than auto_now_add, so imports can carry the CRM's own creation time.
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class Account(TimestampedModel):
    """A company; its leads inherit its fit (size, industry, target-account list)."""

    external_id = models.CharField(
        _("external id"), max_length=255, null=True, blank=True, unique=True
    )
    name = models.CharField(_("name"), max_length=255)
    domain = models.CharField(_("domain"), max_length=255, blank=True, db_index=True)
    industry = models.CharField(_("industry"), max_length=120, blank=True)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_revenue = models.DecimalField(
        _("annual revenue"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    country = models.CharField(
        _("country"), max_length=2, blank=True, help_text=_("ISO code, e.g. DE")
    )
    is_target_account = models.BooleanField(_("target account"), default=False)
    is_competitor = models.BooleanField(_("competitor"), default=False)
    attributes = models.JSONField(_("other attributes"), default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return self.name


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    LEAD = "lead", _("Lead (IQL)")
    MQL = "mql", _("Marketing qualified (MQL)")
    SAL = "sal", _("Sales accepted (SAL)")
    SQL = "sql", _("Sales qualified (SQL)")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    DISQUALIFIED = "disqualified", _("Disqualified")
    RECYCLED = "recycled", _("Recycled (back to nurturing)")


class _EmailCi(TypedDict):
    email_ci: str


class LeadQuerySet(models.QuerySet["Lead"]):
    def with_emails(
        self, emails: Iterable[str]
    ) -> "models.QuerySet[WithAnnotations[Lead, _EmailCi]]":
        """The leads with one of these e-mail addresses, ignoring case, annotated `email_ci`.

        Along the unique index on lower(email), which covers only leads that have an address:
        without `email <> ''` the planner cannot use it (nor with iexact, which compares
        upper()), and every lookup reads every lead.
        """
        wanted = sorted({email.strip().lower() for email in emails if email and email.strip()})
        # The stubs type what Lower() gives as Any; it is the address, lower-cased.
        return cast(
            "models.QuerySet[WithAnnotations[Lead, _EmailCi]]",
            self.annotate(email_ci=Lower("email")).filter(~models.Q(email=""), email_ci__in=wanted),
        )


class Lead(TimestampedModel):
    """A person who may buy; optionally working for an account."""

    external_id = models.CharField(
        _("external id"), max_length=255, null=True, blank=True, unique=True
    )
    email = models.EmailField(_("e-mail"), max_length=254, blank=True)
    first_name = models.CharField(_("first name"), max_length=120, blank=True)
    last_name = models.CharField(_("last name"), max_length=120, blank=True)
    job_title = models.CharField(_("job title"), max_length=200, blank=True)
    seniority = models.CharField(_("seniority"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=60, blank=True)
    country = models.CharField(
        _("country"), max_length=2, blank=True, help_text=_("ISO code, e.g. NL")
    )
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=80, blank=True)
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=20,
        choices=LifecycleStage.choices,
        default=LifecycleStage.LEAD,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
        db_index=False,  # lead_owner_stage_idx starts with it
    )
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    unsubscribed = models.BooleanField(_("unsubscribed"), default=False)
    email_invalid = models.BooleanField(_("e-mail bounced / invalid"), default=False)
    attributes = models.JSONField(_("other attributes"), default=dict, blank=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="lead_email_ci_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["lifecycle_stage"], name="lead_stage_idx"),
            models.Index(fields=["owner", "lifecycle_stage"], name="lead_owner_stage_idx"),
            models.Index(fields=["updated_at"], name="lead_updated_idx"),
            # Exact matches only: no pattern index beside it (every lead write maintains both).
            models.Index(fields=["source"], name="lead_source_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or f"Lead {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Activity(models.Model):
    """One thing a lead did: a page view, a newsletter open, a webinar, a demo request..."""

    # No index of its own: activity_lead_time_idx starts with the lead and serves every lookup.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"))
    channel = models.CharField(_("channel"), max_length=64, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=64, default="api")
    external_id = models.CharField(_("external id"), max_length=255, null=True, blank=True)
    # What identifies an activity sent without external_id (scoring.ingest): a retry is stored once.
    fingerprint = models.UUIDField(_("fingerprint"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            # A re-delivered event (same source, same id) is stored once.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="activity_source_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=models.Q(fingerprint__isnull=False),
                name="activity_fingerprint_unique",
            ),
        ]
        indexes = [
            # Covering (on PostgreSQL): scoring, triggers and queue priority read a lead's
            # activities from the index alone, not from table pages spread over the whole
            # table in arrival order. Hence the cap on properties (MAX_PROPERTIES_BYTES).
            models.Index(
                fields=["lead", "occurred_at"],
                include=["kind", "channel", "properties"],
                name="activity_lead_time_idx",
            ),
            models.Index(fields=["kind", "occurred_at"], name="activity_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class OutcomeKind(models.TextChoices):
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    CONVERTED = "converted", _("Converted")
    DISQUALIFIED = "disqualified", _("Disqualified")


class LeadOutcome(models.Model):
    """What finally became of a lead: the evidence that tells whether the score predicts sales."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="outcomes")
    outcome = models.CharField(_("outcome"), max_length=20, choices=OutcomeKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=2, null=True, blank=True)
    source = models.CharField(_("source"), max_length=64, default="crm")

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")
        constraints = [
            models.UniqueConstraint(fields=["lead", "outcome", "occurred_at"], name="outcome_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.occurred_at:%Y-%m-%d})"


class ScoringModel(TimestampedModel):
    """A named score (per product line, journey or customer base) edited as a draft.

    The draft is the model's own fields plus its Criterion rows; publishing freezes them into an
    immutable ScoringModelVersion, and only published versions score leads.
    """

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    audience = models.JSONField(
        _("audience"),
        default=list,
        blank=True,
        help_text=_("Conditions a lead must meet to be scored."),
    )
    mql_threshold = models.DecimalField(
        _("MQL threshold"), max_digits=10, decimal_places=2, default=100
    )
    bands = models.JSONField(_("bands"), default=list, blank=True)
    grades = models.JSONField(_("grades (on the fit part)"), default=list, blank=True)
    decay_half_life_days = models.FloatField(
        _("default decay half-life (days)"), null=True, blank=True
    )
    sla_hours = models.FloatField(_("follow up within (hours)"), default=48)
    sla_by_kind = models.JSONField(
        _("follow-up time by triggering activity"),
        default=list,
        blank=True,
        help_text=_('For example [{"kind": "webinar_attended", "hours": 12}].'),
    )
    published_version = models.ForeignKey(
        "ScoringModelVersion",
        verbose_name=_("published version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("scoring model")
        verbose_name_plural = _("scoring models")
        permissions = [
            ("publish_scoringmodel", "Can publish a scoring model"),
            ("propose_scoringmodel", "Can propose changes to a scoring model"),
        ]

    def __str__(self) -> str:
        return self.name


def criterion_types() -> "list[tuple[str, StrOrPromise]]":
    """The criterion types and their names (a callable, so a new type needs no migration)."""
    return [(key, _(kind.LABEL)) for key, kind in TYPES.items()]


class Criterion(models.Model):
    """One rule of a draft model; `params` holds the type's keys as in the rules-as-code format."""

    scoring_model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="criteria"
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    type = models.CharField(_("type"), max_length=20, choices=criterion_types)
    points = models.DecimalField(_("points"), max_digits=10, decimal_places=2)
    enabled = models.BooleanField(_("enabled"), default=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)

    class Meta:
        ordering = ["scoring_model", "position", "id"]
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")
        constraints = [
            models.UniqueConstraint(fields=["scoring_model", "name"], name="criterion_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class ScoringModelVersion(models.Model):
    """An immutable published snapshot of a model's definition (the rules-as-code document)."""

    scoring_model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"))
    note = models.TextField(_("change note"), blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(_("published at"), auto_now_add=True)

    class Meta:
        ordering = ["scoring_model", "-number"]
        verbose_name = _("published version")
        verbose_name_plural = _("published versions")
        constraints = [
            models.UniqueConstraint(
                fields=["scoring_model", "number"], name="version_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scoring_model} v{self.number}"


# Scores, score events and handoffs, the rows a publish writes by the hundred thousand, carry
# the same model (and version) in every row: the database checking them row by row cost a tenth
# of a publish. Models and versions are removed only through the ORM, which deletes their rows
# first (CASCADE) or refuses (PROTECT); nothing else looks these rows up by version, so that rare
# check may scan rather than every write keep an index.
def _model_of_many(
    related_name: str,
) -> "models.ForeignKey[ScoringModel | Combinable, ScoringModel]":
    return models.ForeignKey(
        ScoringModel,
        on_delete=models.CASCADE,
        related_name=related_name,
        db_index=False,  # the composite indexes of the table start with it or the lead
        db_constraint=False,
    )


def _version_of_many() -> (
    "models.ForeignKey[ScoringModelVersion | Combinable, ScoringModelVersion]"
):
    return models.ForeignKey(
        ScoringModelVersion,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )


class _Chance(TypedDict):
    probability: float | None
    probability_factors: list[dict[str, object]] | None


class LeadScoreQuerySet(models.QuerySet["LeadScore"]):
    def with_probability(self) -> "models.QuerySet[WithAnnotations[LeadScore, _Chance]]":
        """Each score with `probability`: its lead's chance to convert by the same model, as the
        learning app keeps it (Lead.probabilities), None before a predictive model is trained;
        and `probability_factors`, what moved it most."""
        chance = FilteredRelation(
            "lead__probabilities",
            condition=Q(lead__probabilities__scoring_model=F("scoring_model")),
        )
        return cast(
            "models.QuerySet[WithAnnotations[LeadScore, _Chance]]",
            self.annotate(_chance=chance).annotate(
                probability=F("_chance__probability"), probability_factors=F("_chance__factors")
            ),
        )


class LeadScore(models.Model):
    """A lead's current score in one model, with the explanation of every point."""

    # Both lead the indexes below; a second index per column would only cost every write.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="scores", db_index=False)
    scoring_model = _model_of_many("scores")
    version = _version_of_many()
    total = models.DecimalField(_("score"), max_digits=12, decimal_places=2)
    fit = models.DecimalField(_("fit"), max_digits=12, decimal_places=2)
    engagement = models.DecimalField(_("engagement"), max_digits=12, decimal_places=2)
    band = models.CharField(_("band"), max_length=40, blank=True)
    grade = models.CharField(_("grade"), max_length=40, blank=True)
    mql = models.BooleanField(_("MQL"), default=False)
    explanation = models.JSONField(_("explanation"), default=list)
    computed_at = models.DateTimeField(_("computed at"))

    objects = LeadScoreQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead score")
        verbose_name_plural = _("lead scores")
        constraints = [
            models.UniqueConstraint(fields=["lead", "scoring_model"], name="one_score_per_model"),
        ]
        indexes = [
            # With the lead: a model's totals are read from the index alone (what-if, reports),
            # not from the rows, which the explanations make wide.
            models.Index(
                fields=["scoring_model", "-total"], include=["lead"], name="score_model_total_idx"
            ),
            models.Index(fields=["scoring_model", "band"], name="score_model_band_idx"),
            models.Index(fields=["scoring_model", "mql"], name="score_model_mql_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} · {self.scoring_model}: {self.total}"


class HandoffStatus(models.TextChoices):
    NEW = "new", _("New")
    ACCEPTED = "accepted", _("Accepted (SAL)")
    REJECTED = "rejected", _("Rejected")
    QUALIFIED = "qualified", _("Qualified (SQL)")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


OPEN_HANDOFF_STATUSES = (HandoffStatus.NEW, HandoffStatus.ACCEPTED, HandoffStatus.QUALIFIED)


def priority_not_computed() -> datetime:
    """A moment long past: the queue priority of a handoff with this is due for computing."""
    return datetime(2000, 1, 1, tzinfo=UTC)


class Handoff(TimestampedModel):
    """A lead passed to sales after crossing a model's MQL threshold, with an SLA to follow up."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="handoffs")
    scoring_model = _model_of_many("handoffs")  # handoff_model_status_idx starts with it
    status = models.CharField(
        _("status"), max_length=20, choices=HandoffStatus.choices, default=HandoffStatus.NEW
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handoffs",
        db_index=False,  # handoff_owner_status_idx starts with it
    )
    score_at_handoff = models.DecimalField(_("score at handoff"), max_digits=12, decimal_places=2)
    trigger = models.CharField(
        _("triggered by"),
        max_length=200,
        blank=True,
        help_text=_("The latest activity when the lead crossed the threshold."),
    )
    sla_due_at = models.DateTimeField(_("follow up by"))
    sla_breached_at = models.DateTimeField(_("SLA breached at"), null=True, blank=True)
    reason = models.CharField(_("rejection reason"), max_length=120, blank=True)
    note = models.TextField(_("note"), blank=True)
    outcome_value = models.DecimalField(
        _("deal value"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    # The lead's current band in this model and the queue's priority without its SLA part
    # (pipeline.priority): kept current by the sales pipeline as scores, activities and statuses
    # change, so the queue filters and sorts by an index.
    score_band = models.CharField(_("band"), max_length=40, blank=True)
    size_band = models.CharField(_("company size"), max_length=10, blank=True)
    buyer_stage = models.CharField(_("buyer stage"), max_length=15, blank=True)
    score_points = models.FloatField(_("score points"), default=0)
    priority_base = models.FloatField(_("priority before SLA"), default=0)
    # When the stored parts stop being right by time alone (a buying signal leaves the window);
    # none when only a change can alter them. A new handoff starts out due.
    priority_until = models.DateTimeField(
        _("priority due for refresh at"), null=True, blank=True, default=priority_not_computed
    )

    class Meta:
        ordering = ["sla_due_at"]
        verbose_name = _("handoff")
        verbose_name_plural = _("handoffs")
        permissions = [("work_handoff", "Can accept, reject and qualify handoffs")]
        indexes = [
            models.Index(fields=["status", "sla_due_at"], name="handoff_status_sla_idx"),
            models.Index(fields=["scoring_model", "status"], name="handoff_model_status_idx"),
            models.Index(fields=["owner", "status"], name="handoff_owner_status_idx"),
            # The queue reads the open handoffs in this order, one SLA urgency at a time.
            models.Index(
                fields=["-priority_base", "sla_due_at", "id"],
                name="handoff_open_priority_idx",
                condition=models.Q(status__in=OPEN_HANDOFF_STATUSES),
            ),
            models.Index(
                fields=["priority_until"],
                name="handoff_open_refresh_idx",
                condition=models.Q(status__in=OPEN_HANDOFF_STATUSES),
            ),
        ]
        constraints = [
            # A lead already with sales in this model is not handed over a second time.
            models.UniqueConstraint(
                fields=["lead", "scoring_model"],
                condition=models.Q(status__in=OPEN_HANDOFF_STATUSES),
                name="one_open_handoff_per_model",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead} → {self.get_status_display()}"


class HandoffAction(models.Model):
    """The log of a handoff: who did what and when (created, accepted, rejected, ...)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Handed over")
        ASSIGNED = "assigned", _("Assigned")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        QUALIFIED = "qualified", _("Qualified")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")
        SLA_BREACHED = "sla_breached", _("SLA breached")

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(_("action"), max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        ordering = ["handoff", "at", "id"]
        verbose_name = _("handoff action")
        verbose_name_plural = _("handoff actions")
        indexes = [models.Index(fields=["kind", "at"], name="handoff_action_kind_at_idx")]

    def __str__(self) -> str:
        return f"{self.handoff_id}: {self.kind}"


class RejectionReason(models.Model):
    """A reason sales may give for rejecting a handoff; the list is kept in the admin."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("offered"), default=True)

    class Meta:
        ordering = ["position", "label"]
        verbose_name = _("rejection reason")
        verbose_name_plural = _("rejection reasons")

    def __str__(self) -> str:
        return self.label


class ScoreEventKind(models.TextChoices):
    MQL_REACHED = "mql_reached", _("Became MQL")
    MQL_LOST = "mql_lost", _("Fell below the MQL threshold")
    BAND_CHANGED = "band_changed", _("Band changed")


class ScoreEvent(models.Model):
    """A threshold crossing of a lead's score, with when and why."""

    # Both lead the indexes below.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="score_events", db_index=False
    )
    scoring_model = _model_of_many("score_events")
    version = _version_of_many()
    kind = models.CharField(_("event"), max_length=20, choices=ScoreEventKind.choices)
    from_total = models.DecimalField(
        _("score before"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    to_total = models.DecimalField(_("score after"), max_digits=12, decimal_places=2)
    from_band = models.CharField(_("band before"), max_length=40, blank=True)
    to_band = models.CharField(_("band after"), max_length=40, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    occurred_at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("score event")
        verbose_name_plural = _("score events")
        indexes = [
            models.Index(
                fields=["scoring_model", "kind", "occurred_at"], name="event_model_kind_idx"
            ),
            models.Index(fields=["lead", "occurred_at"], name="event_lead_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.kind} in {self.scoring_model_id}"


class RescoreRun(models.Model):
    """One full rescore of a model (after a publish, or the daily refresh), with its progress."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        SUPERSEDED = "superseded", _("Superseded by a newer run")
        FAILED = "failed", _("Finished with failures")

    class Trigger(models.TextChoices):
        PUBLISH = "publish", _("Publish")
        DAILY = "daily", _("Daily refresh")
        MANUAL = "manual", _("Manual")

    scoring_model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="rescore_runs"
    )
    version = models.ForeignKey(ScoringModelVersion, on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RUNNING
    )
    total = models.PositiveIntegerField(_("leads"), default=0)
    done = models.PositiveIntegerField(_("leads done"), default=0)
    failed = models.PositiveIntegerField(_("leads failed"), default=0)
    chunks = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_finished = models.PositiveIntegerField(_("chunks finished"), default=0)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    # Set at the start and whenever a chunk finishes (or is sent again): a running run whose
    # progress stopped has lost chunks, which the sweep (runs_sweep) sends again.
    progressed_at = models.DateTimeField(_("last progress"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("rescore run")
        verbose_name_plural = _("rescore runs")
        indexes = [models.Index(fields=["scoring_model", "status"], name="run_model_status_idx")]

    def __str__(self) -> str:
        return f"{self.scoring_model} v{self.version_id} {self.status}"

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.finished_at else 0
        return min(100, (self.done + self.failed) * 100 // self.total)


class RescoreChunk(models.Model):
    """A planned chunk of a run (an id range), pending until a worker finishes it.

    Its worker claims the row at the start of the chunk's transaction (pending to finished), so
    a redelivered chunk task counts only once, and the row stays locked while the chunk is
    worked on: a pending row nobody holds is a chunk whose task was lost.
    """

    run = models.ForeignKey(RescoreRun, on_delete=models.CASCADE, related_name="+")
    first_lead_id = models.BigIntegerField()
    # Null only for chunks recorded before runs planned theirs (when finished).
    last_lead_id = models.BigIntegerField(null=True, blank=True)
    leads = models.PositiveIntegerField(default=0)
    failed = models.BooleanField(default=False)
    # Null while pending; a chunk counted as failed is finished too.
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "first_lead_id"], name="chunk_once_per_run"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} from lead {self.first_lead_id}"


class PendingRescore(models.Model):
    """A lead whose data changed and waits to be rescored; bursts collapse into one row.

    A flush task marks the rows it takes (taken_by) and deletes them once their leads are
    stored; a new request meanwhile clears the mark, so the row stays for another round.
    """

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    taken_by = models.UUIDField(null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["requested_at"], name="pending_requested_idx"),
            # A flush finds its own rows by mark; a big import can leave thousands waiting.
            models.Index(
                fields=["taken_by"],
                name="pending_taken_idx",
                condition=models.Q(taken_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"lead {self.lead_id} since {self.requested_at:%Y-%m-%d %H:%M:%S}"


class UnscorableLead(models.Model):
    """A lead that scoring trips on (its data: e.g. an activity time nobody can read), skipped
    by every rescore so that the other leads of its chunk are scored; the row goes once the lead
    scores again, so the list shows what is broken now."""

    lead = models.OneToOneField(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="+"
    )
    reason = models.TextField(_("reason"))
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    times_seen = models.PositiveIntegerField(_("times seen"), default=1)

    class Meta:
        ordering = ["-last_seen", "-id"]
        verbose_name = _("unscorable lead")
        verbose_name_plural = _("unscorable leads")

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.reason[:80]}"
