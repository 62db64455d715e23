"""Activities in: one at a time or up to 1,000 per request, through scoring.ingest."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.models import IngestionToken
from scoring.ingest import IngestResult, Rejected, activities_ingest

from ..serializers import (
    ActivityBatchDocSerializer,
    ActivityBatchSerializer,
    ActivityItemSerializer,
    IngestRefusedSerializer,
    IngestResultSerializer,
)
from .base import ApiView


class ActivitySingleSerializer(ActivityItemSerializer):
    create_leads = serializers.BooleanField(default=False, required=False)
    # The stubs take a field named `source` for a redefinition of Field.source; it is none:
    # SerializerMetaclass moves declared fields off the class.
    source = serializers.SlugField(max_length=64, required=False)  # type: ignore[assignment]


_OPTIONS = ("create_leads", "source")


def _result(result: IngestResult) -> dict[str, Any]:
    return IngestResultSerializer(
        {
            "created": result.created,
            "duplicates": result.duplicates,
            "rejected": [{"index": r.index, "reason": r.reason} for r in result.rejected],
            "leads_created": result.leads_created,
        }
    ).data


class ActivityViewSet(ApiView, viewsets.ViewSet):
    """Activities are idempotent by (source, external_id): a re-delivered one is stored once."""

    action_permissions = {"create": "scoring.add_activity", "bulk": "scoring.add_activity"}
    ingestion_actions = ("create", "bulk")

    def _source(self, request: Request, asked: str | None) -> str:
        # A token writes under its own source, so one system cannot shadow another's ids.
        if isinstance(request.auth, IngestionToken):
            return request.auth.source
        return asked or "api"

    def _refused(self, reason: str) -> Response:
        result = IngestResult(rejected=[Rejected(0, reason)])
        return Response(_result(result), status=status.HTTP_400_BAD_REQUEST)

    @extend_schema(
        request=ActivitySingleSerializer,
        responses={
            201: IngestResultSerializer,
            200: OpenApiResponse(IngestResultSerializer, description="Already stored."),
            400: OpenApiResponse(IngestRefusedSerializer, description="Rejected, with reason."),
        },
    )
    def create(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            return self._refused(_("Send one activity as a JSON object."))
        options = ActivitySingleSerializer(data=request.data, partial=True)
        options.is_valid(raise_exception=False)
        for name in _OPTIONS:
            if name in options.errors:
                return self._refused(f"{name}: {options.errors[name][0]}")
        item = {k: v for k, v in request.data.items() if k not in _OPTIONS}
        result = activities_ingest(
            [item],
            source=self._source(request, options.validated_data.get("source")),
            create_leads=options.validated_data.get("create_leads", False),
        )
        code = (
            status.HTTP_400_BAD_REQUEST
            if result.rejected
            else status.HTTP_201_CREATED
            if result.created
            else status.HTTP_200_OK
        )
        return Response(_result(result), status=code)

    @extend_schema(
        request=ActivityBatchDocSerializer,
        responses={200: IngestResultSerializer},
        description="Up to 1,000 activities. Good items are kept; each rejected one is listed "
        "with its index and reason.",
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        batch = ActivityBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        result = activities_ingest(
            batch.validated_data["activities"],
            source=self._source(request, batch.validated_data.get("source")),
            create_leads=batch.validated_data["create_leads"],
        )
        return Response(_result(result))
