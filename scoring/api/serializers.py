"""Serializers: what the API shows and accepts. Writes go through services, not `save()`."""

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from leadscoring.inputs import birthday_problem, datetime_problem, json_problem
from scoring.ingest import MAX_BATCH
from scoring.models import (
    Account,
    Handoff,
    HandoffAction,
    Lead,
    LeadScore,
    ScoringModel,
    ScoringModelVersion,
)

# What a serializer of plain data (not of a model) is given to show, if anything: a mapping.
PlainData: TypeAlias = Mapping[str, Any]

if TYPE_CHECKING:
    # To mypy the mixin is the serializer it is mixed into; at run time it stays a plain mixin.
    _CheckedBase = serializers.Serializer[Any]
else:
    _CheckedBase = object


class CheckedInput(_CheckedBase):
    """Serializer mixin: refuses, field by field, what every way in refuses (leadscoring.inputs):
    a NUL or lone surrogate in any text or JSON value before any field looks at it (a query
    with one fails), an implausible timestamp once parsed."""

    def to_internal_value(self, data: object) -> dict[str, Any]:
        if isinstance(data, Mapping):
            problems = {
                name: [problem.removeprefix(f"{name}: ")]
                for name, value in data.items()
                if (problem := json_problem(value, path=str(name)))
            }
            if problems:
                raise serializers.ValidationError(problems)
        internal: dict[str, Any] = super().to_internal_value(data)
        return internal

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        now = timezone.now()
        problems = {
            name: [problem]
            for name, value in attrs.items()
            if isinstance(value, datetime) and (problem := datetime_problem(value, now=now))
        }
        if problems:
            raise serializers.ValidationError(problems)
        validated: dict[str, Any] = super().validate(attrs)
        return validated


class ExplanationItemSerializer(serializers.Serializer[PlainData]):
    criterion = serializers.CharField()
    type = serializers.CharField()
    points = serializers.FloatField()
    evidence_count = serializers.IntegerField()


class LeadScoreSerializer(serializers.ModelSerializer[LeadScore]):
    lead = serializers.IntegerField(source="lead_id", read_only=True)
    model = serializers.SlugField(source="scoring_model.slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    explanation = ExplanationItemSerializer(many=True, read_only=True)
    probability = serializers.FloatField(
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The chance to convert (0-1) by the model's predictive score; null before one "
        "is trained.",
    )

    class Meta:
        model = LeadScore
        fields = [
            "lead", "model", "version", "total", "fit", "engagement", "band", "grade", "mql",
            "probability", "explanation", "computed_at",
        ]  # fmt: skip
        read_only_fields = fields


class AccountSerializer(CheckedInput, serializers.ModelSerializer[Account]):
    class Meta:
        model = Account
        fields = [
            "id", "external_id", "name", "domain", "industry", "employee_count",
            "annual_revenue", "country", "is_target_account", "is_competitor", "attributes",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]


class LeadSerializer(CheckedInput, serializers.ModelSerializer[Lead]):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), allow_null=True, required=False
    )
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), allow_null=True, required=False
    )
    scores = LeadScoreSerializer(many=True, read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id", "external_id", "email", "first_name", "last_name", "job_title", "seniority",
            "phone", "country", "birthday", "source", "lifecycle_stage", "owner", "account",
            "unsubscribed", "email_invalid", "attributes", "created_at", "updated_at", "scores",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at", "scores"]

    def validate_email(self, value: str) -> str:
        value = value.strip()
        if value:
            clash = Lead.objects.with_emails([value])
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError(
                    _("Another lead has this e-mail address; use upsert to update it.")
                )
        return value

    def validate_attributes(self, value: object) -> object:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Must be an object."))
        return value

    def validate_birthday(self, value: date | None) -> date | None:
        if value is not None and (problem := birthday_problem(value, today=timezone.localdate())):
            raise serializers.ValidationError(problem)
        return value


class AccountMatchSerializer(CheckedInput, serializers.Serializer[PlainData]):
    """The key an account upsert matches on."""

    external_id = serializers.CharField(max_length=255)


class LeadMatchSerializer(CheckedInput, serializers.Serializer[PlainData]):
    """The keys a lead upsert matches on: `external_id`, else `email`."""

    external_id = serializers.CharField(max_length=255, required=False)
    email = serializers.EmailField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not attrs.get("external_id") and not attrs.get("email"):
            raise serializers.ValidationError(_("Give external_id or email to match the lead."))
        return attrs


class ActivityItemSerializer(serializers.Serializer[PlainData]):
    """One activity; exactly one of lead_id, email or lead_external_id names its lead."""

    lead_id = serializers.IntegerField(required=False)
    email = serializers.EmailField(required=False)
    lead_external_id = serializers.CharField(required=False, max_length=255)
    kind = serializers.CharField(max_length=64, help_text=_("e.g. page_view, webinar_attended"))
    occurred_at = serializers.DateTimeField(
        required=False, help_text=_("ISO 8601; now when absent")
    )
    channel = serializers.CharField(required=False, max_length=64)
    properties = serializers.DictField(required=False, help_text=_("url, product, campaign…"))
    external_id = serializers.CharField(
        required=False,
        max_length=255,
        help_text=_("The sender's id; a re-delivered activity with the same id is stored once."),
    )


class ActivityBatchSerializer(serializers.Serializer[PlainData]):
    activities = serializers.ListField(
        child=serializers.JSONField(), min_length=1, max_length=MAX_BATCH
    )
    create_leads = serializers.BooleanField(
        default=False, help_text=_("Create a lead for an unknown e-mail instead of rejecting.")
    )
    # The stubs take a field named `source` for a redefinition of Field.source; it is none:
    # SerializerMetaclass moves declared fields off the class.
    source = serializers.SlugField(  # type: ignore[assignment]
        max_length=64,
        required=False,
        help_text=_("Where the activities come from (default: api, or the token's source)."),
    )


class ActivityBatchDocSerializer(ActivityBatchSerializer):
    activities = ActivityItemSerializer(many=True)  # type: ignore[assignment]


class RejectedItemSerializer(serializers.Serializer[PlainData]):
    index = serializers.IntegerField()
    reason = serializers.CharField()


class IngestResultSerializer(serializers.Serializer[PlainData]):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = RejectedItemSerializer(many=True)
    leads_created = serializers.IntegerField()


class IngestRefusedSerializer(serializers.Serializer[PlainData]):
    """A refused single activity: `rejected` says why, or `detail` when the body is unreadable."""

    detail = serializers.CharField(required=False)
    created = serializers.IntegerField(required=False)
    duplicates = serializers.IntegerField(required=False)
    rejected = RejectedItemSerializer(many=True, required=False)
    leads_created = serializers.IntegerField(required=False)


class VersionSerializer(serializers.ModelSerializer[ScoringModelVersion]):
    published_by = serializers.CharField(
        source="published_by.get_username", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = ScoringModelVersion
        fields = ["number", "published_at", "published_by", "note", "definition"]
        read_only_fields = fields


class ScoringModelSerializer(serializers.ModelSerializer[ScoringModel]):
    published_version = VersionSerializer(read_only=True)

    class Meta:
        model = ScoringModel
        fields = [
            "slug", "name", "description", "mql_threshold", "bands", "grades", "updated_at",
            "published_version",
        ]  # fmt: skip
        read_only_fields = fields


class ScoringModelDetailSerializer(ScoringModelSerializer):
    draft = serializers.SerializerMethodField(
        help_text=_("The draft in the rules-as-code format (see docs/scoring-models.md).")
    )

    class Meta(ScoringModelSerializer.Meta):
        fields = [*ScoringModelSerializer.Meta.fields, "draft"]
        read_only_fields = fields

    def get_draft(self, obj: ScoringModel) -> dict[str, Any]:
        draft: dict[str, Any] = self.context["draft"]
        return draft


class DefinitionSerializer(serializers.Serializer[PlainData]):
    """A whole model in the rules-as-code format; validated by scoring.definition."""

    definition = serializers.DictField(help_text=_("slug, name, mql_threshold, bands, criteria…"))


class PublishSerializer(CheckedInput, serializers.Serializer[PlainData]):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ProblemSerializer(serializers.Serializer[PlainData]):
    path = serializers.CharField()
    message = serializers.CharField()


class ProblemsSerializer(serializers.Serializer[PlainData]):
    detail = serializers.CharField()
    problems = ProblemSerializer(many=True, required=False)


class HandoffActionSerializer(serializers.ModelSerializer[HandoffAction]):
    user = serializers.CharField(
        source="user.get_username", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = HandoffAction
        fields = ["kind", "user", "at", "detail"]
        read_only_fields = fields


class HandoffSerializer(serializers.ModelSerializer[Handoff]):
    model = serializers.SlugField(source="scoring_model.slug", read_only=True)
    lead_email = serializers.CharField(source="lead.email", read_only=True)
    actions = HandoffActionSerializer(many=True, read_only=True)

    class Meta:
        model = Handoff
        fields = [
            "id", "lead", "lead_email", "model", "status", "owner", "score_at_handoff",
            "trigger", "sla_due_at", "sla_breached_at", "reason", "note", "outcome_value",
            "created_at", "updated_at", "actions",
        ]  # fmt: skip
        read_only_fields = fields


class NoteSerializer(CheckedInput, serializers.Serializer[PlainData]):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class RejectSerializer(NoteSerializer):
    reason = serializers.SlugField(max_length=40, help_text=_("A rejection reason code."))


class OutcomeSerializer(NoteSerializer):
    won = serializers.BooleanField()
    value = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True
    )


class ErrorSerializer(serializers.Serializer[PlainData]):
    detail = serializers.CharField()


# A token only sends data; echoing the record (e-mail, names, scores) would let whoever holds
# one read a person's data by upserting a known e-mail address.
class IngestedRecordSerializer(serializers.Serializer[PlainData]):
    """What an ingestion token gets back for a record it wrote: ids and status, no personal data."""

    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    created = serializers.BooleanField()
