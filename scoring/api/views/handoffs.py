"""Handoffs to sales: list, and the sales actions accept, reject, qualify, record outcome."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from pipeline.handoffs import (
    HandoffError,
    handoff_accept,
    handoff_qualify,
    handoff_record_outcome,
    handoff_reject,
)
from scoring.models import Handoff, RejectionReason

from ..filters import HandoffFilter
from ..serializers import (
    ErrorSerializer,
    HandoffSerializer,
    NoteSerializer,
    OutcomeSerializer,
    ProblemsSerializer,
    RejectSerializer,
)
from .base import ApiView, acting_user, body_problems, problems_response

_F = TypeVar("_F", bound=Callable[..., Any])

_CONFLICT = OpenApiResponse(ErrorSerializer, description="Not allowed in the current status.")
_PROBLEMS = OpenApiResponse(ProblemsSerializer, description="The request has problems.")


def _act_schema(body: type | None) -> Callable[[_F], _F]:
    # Annotated: drf_spectacular has no type information.
    decorator: Callable[[_F], _F] = extend_schema(
        request=body, responses={200: HandoffSerializer, 400: _PROBLEMS, 409: _CONFLICT}
    )
    return decorator


class HandoffViewSet(
    ApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Handoff]
):
    serializer_class = HandoffSerializer
    filterset_class = HandoffFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["sla_due_at", "created_at", "score_at_handoff", "id"]
    ordering = ["sla_due_at", "id"]
    action_permissions = {
        "list": "scoring.view_handoff",
        "retrieve": "scoring.view_handoff",
        **dict.fromkeys(("accept", "reject", "qualify", "outcome"), "scoring.work_handoff"),
    }

    def get_queryset(self) -> QuerySet[Handoff]:
        return Handoff.objects.select_related("lead", "scoring_model").prefetch_related(
            "actions__user"
        )

    def _run(self, do: Callable[[int], Handoff]) -> Response:
        handoff = self.get_object()
        try:
            do(handoff.pk)
        except HandoffError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(self.get_queryset().get(pk=handoff.pk)).data)

    @_act_schema(None)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        return self._run(lambda hid: handoff_accept(handoff_id=hid, user=acting_user(request)))

    @_act_schema(RejectSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        body = RejectSerializer(data=request.data)
        if not body.is_valid():
            return body_problems(body)
        code = body.validated_data["reason"]
        if not RejectionReason.objects.filter(code=code, active=True).exists():
            message = _("Unknown rejection reason %(code)r.") % {"code": code}
            return problems_response(message, [{"path": "reason", "message": message}])
        return self._run(
            lambda hid: handoff_reject(
                handoff_id=hid, user=acting_user(request), reason_code=code,
                note=body.validated_data["note"],
            )
        )  # fmt: skip

    @_act_schema(NoteSerializer)
    @action(detail=True, methods=["post"])
    def qualify(self, request: Request, pk: str) -> Response:
        body = NoteSerializer(data=request.data)
        if not body.is_valid():
            return body_problems(body)
        return self._run(
            lambda hid: handoff_qualify(
                handoff_id=hid, user=acting_user(request), note=body.validated_data["note"]
            )
        )

    @_act_schema(OutcomeSerializer)
    @action(detail=True, methods=["post"])
    def outcome(self, request: Request, pk: str) -> Response:
        body = OutcomeSerializer(data=request.data)
        if not body.is_valid():
            return body_problems(body)
        data = body.validated_data
        return self._run(
            lambda hid: handoff_record_outcome(
                handoff_id=hid, user=acting_user(request), won=data["won"], value=data.get("value"),
                note=data["note"],
            )
        )  # fmt: skip
