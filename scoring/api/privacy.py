"""The shapes of a person's export and of an erasure report (scoring.privacy), for the schema.

The export is built by scoring.privacy.person_export and sent as it is; these serializers only
document it, and tests/api/test_api_privacy.py checks the two agree.
"""

from rest_framework import serializers

from scoring.privacy import ERASED_KINDS

from .serializers import PlainData

# The stubs take a field named `source` for a redefinition of Field.source; it is none:
# SerializerMetaclass moves declared fields off the class (hence ignore[assignment] below).


def _text(**kwargs: object) -> serializers.CharField:
    return serializers.CharField(allow_blank=True, **kwargs)  # type: ignore[arg-type]


def _when(**kwargs: object) -> serializers.DateTimeField:
    return serializers.DateTimeField(**kwargs)  # type: ignore[arg-type]


def _amount(**kwargs: object) -> serializers.CharField:
    return serializers.CharField(help_text="A decimal number as text.", **kwargs)  # type: ignore[arg-type]


class ExportedLeadSerializer(serializers.Serializer[PlainData]):
    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    email = _text()
    first_name = _text()
    last_name = _text()
    job_title = _text()
    seniority = _text()
    phone = _text()
    country = _text()
    birthday = serializers.DateField(allow_null=True)
    source = _text()  # type: ignore[assignment]
    lifecycle_stage = serializers.CharField()
    owner = serializers.CharField(allow_null=True, help_text="The owning user's name.")
    unsubscribed = serializers.BooleanField()
    email_invalid = serializers.BooleanField()
    attributes = serializers.DictField()
    created_at = _when()
    updated_at = _when()


class ExportedAccountSerializer(serializers.Serializer[PlainData]):
    name = serializers.CharField()
    domain = _text()


class ExportedActivitySerializer(serializers.Serializer[PlainData]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    occurred_at = _when()
    channel = _text()
    source = serializers.CharField()  # type: ignore[assignment]
    external_id = serializers.CharField(allow_null=True)
    properties = serializers.DictField()
    received_at = _when()


class ExportedScoreSerializer(serializers.Serializer[PlainData]):
    model = serializers.CharField()
    model_name = serializers.CharField()
    version = serializers.IntegerField()
    total = _amount()
    fit = _amount()
    engagement = _amount()
    band = _text()
    grade = _text()
    mql = serializers.BooleanField()
    explanation = serializers.ListField(child=serializers.DictField())
    computed_at = _when()


class ExportedScoreEventSerializer(serializers.Serializer[PlainData]):
    id = serializers.IntegerField()
    model = serializers.CharField()
    version = serializers.IntegerField()
    kind = serializers.CharField()
    from_total = _amount(allow_null=True)
    to_total = _amount()
    from_band = _text()
    to_band = _text()
    reason = _text()
    occurred_at = _when()


class ExportedHandoffActionSerializer(serializers.Serializer[PlainData]):
    kind = serializers.CharField()
    user = serializers.CharField(allow_null=True)
    at = _when()
    detail = _text()


class ExportedHandoffSerializer(serializers.Serializer[PlainData]):
    id = serializers.IntegerField()
    model = serializers.CharField()
    status = serializers.CharField()
    owner = serializers.CharField(allow_null=True)
    score_at_handoff = _amount()
    trigger = _text()
    sla_due_at = _when()
    sla_breached_at = _when(allow_null=True)
    reason = _text()
    note = _text()
    outcome_value = _amount(allow_null=True)
    created_at = _when()
    updated_at = _when()
    actions = ExportedHandoffActionSerializer(many=True)


class ExportedOutcomeSerializer(serializers.Serializer[PlainData]):
    outcome = serializers.CharField()
    occurred_at = _when()
    value = _amount(allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]


class ExportedPendingVisitSerializer(serializers.Serializer[PlainData]):
    event_id = serializers.CharField()
    kind = serializers.CharField()
    occurred_at = _when()
    properties = serializers.DictField()


class ExportedVisitorSerializer(serializers.Serializer[PlainData]):
    site = serializers.CharField()
    visitor_id = serializers.CharField()
    first_seen_at = _when()
    last_seen_at = _when()
    identified_at = _when(allow_null=True)
    pending_visits = ExportedPendingVisitSerializer(many=True)


class ExportedDeliverySerializer(serializers.Serializer[PlainData]):
    id = serializers.IntegerField()
    endpoint = serializers.CharField()
    event = serializers.CharField()
    event_key = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = _text()
    created_at = _when()
    last_attempt_at = _when(allow_null=True)
    delivered_at = _when(allow_null=True)
    payload = serializers.JSONField()


class ExportedUnscorableSerializer(serializers.Serializer[PlainData]):
    reason = serializers.CharField()
    first_seen = _when()
    last_seen = _when()
    times_seen = serializers.IntegerField()


class PersonalDataSerializer(serializers.Serializer[PlainData]):
    """Everything stored about a lead's person; lists oldest first."""

    format = serializers.CharField()
    exported_at = _when()
    lead = ExportedLeadSerializer()
    account = ExportedAccountSerializer(allow_null=True, help_text="The company: its name only.")
    activities = ExportedActivitySerializer(many=True)
    scores = ExportedScoreSerializer(many=True)
    score_events = ExportedScoreEventSerializer(many=True)
    handoffs = ExportedHandoffSerializer(many=True)
    outcomes = ExportedOutcomeSerializer(many=True)
    visitors = ExportedVisitorSerializer(many=True, help_text="Tracked browsers of the person.")
    webhook_deliveries = ExportedDeliverySerializer(many=True)
    unscorable = ExportedUnscorableSerializer(many=True)


ErasureCountsSerializer = type(
    "ErasureCountsSerializer",
    (serializers.Serializer[PlainData],),
    {
        "__doc__": "How many rows of each kind were deleted (or, for the admin's history, "
        "lost their description).",
        **{kind: serializers.IntegerField(min_value=0) for kind in ERASED_KINDS},
    },
)


class ErasureSerializer(serializers.Serializer[PlainData]):
    lead_id = serializers.IntegerField()
    erased_at = _when()
    by = serializers.CharField(help_text="The user who erased the person.")
    counts = ErasureCountsSerializer()
