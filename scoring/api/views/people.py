"""Leads and accounts: list with filters, retrieve with scores, create, update, upsert.

An ingestion token may create and upsert leads but gets back ids and status only
(IngestedRecordSerializer): it sends data and must not read a person's record by e-mail.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from integrations.models import IngestionToken
from scoring.models import Account, Lead, LeadScore
from scoring.privacy import PERMISSION as PERSONAL_DATA
from scoring.privacy import person_erase, person_export

from .. import services
from ..filters import AccountFilter, LeadFilter
from ..privacy import ErasureSerializer, PersonalDataSerializer
from ..serializers import (
    AccountMatchSerializer,
    AccountSerializer,
    ErrorSerializer,
    IngestedRecordSerializer,
    LeadMatchSerializer,
    LeadSerializer,
    PlainData,
)
from .base import ApiView, acting_user

_Record = TypeVar("_Record", Lead, Account)

_CONFLICT = OpenApiResponse(ErrorSerializer, description="Changed concurrently; send again.")
# A person's data is for admins only: sales, marketing and ingestion tokens are refused.
_PERSONAL_DATA_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Not an admin."),
    404: OpenApiResponse(ErrorSerializer, description="No lead with this id."),
}
# A user gets the whole lead; an ingestion token only ids and status. "created" is required in
# one and absent from the other, so every answer matches exactly one of the two.
_LEAD_OR_RECORD = OpenApiResponse(
    PolymorphicProxySerializer(
        component_name="LeadOrIngestedRecord",
        serializers=[LeadSerializer, IngestedRecordSerializer],
        resource_type_field_name=None,
    ),
    description="The lead; only id, external_id and created for an ingestion token.",
)


def _conflict() -> Response:
    return Response(
        {"detail": _("Another request changed the same record at the same time; send again.")},
        status=status.HTTP_409_CONFLICT,
    )


class _WritableViewSet(
    ApiView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[_Record],
):
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "created_at", "updated_at"]

    def _save(self, instance: _Record | None, serializer: BaseSerializer[_Record]) -> _Record:
        raise NotImplementedError

    def perform_update(self, serializer: BaseSerializer[_Record]) -> None:
        serializer.instance = self._save(serializer.instance, serializer)

    def _answer(self, instance: _Record, *, created: bool) -> dict[str, Any]:
        if isinstance(self.request.auth, IngestionToken):
            record = {"id": instance.pk, "external_id": instance.external_id, "created": created}
            return IngestedRecordSerializer(record).data
        # Annotated: to the stubs a view's serializer is any BaseSerializer, whose data is untyped.
        answer: dict[str, Any] = self.get_serializer(instance).data
        return answer

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            instance = self._save(None, serializer)
        except IntegrityError:
            return _conflict()
        return Response(self._answer(instance, created=True), status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: object, **kwargs: object) -> Response:
        try:
            return super().update(request, *args, **kwargs)
        except IntegrityError:
            return _conflict()

    def _upsert(
        self,
        request: Request,
        find: Callable[[dict[str, Any]], _Record | None],
        serializer_class: type[BaseSerializer[PlainData]],
    ) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": _("Send a JSON object.")})
        serializer_class(data=request.data).is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                instance = find(request.data)
                serializer = self.get_serializer(
                    instance, data=request.data, partial=instance is not None
                )
                serializer.is_valid(raise_exception=True)
                saved = self._save(instance, serializer)
        except IntegrityError:
            return _conflict()
        created = instance is None
        return Response(
            self._answer(saved, created=created),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema_view(
    create=extend_schema(responses={201: _LEAD_OR_RECORD, 409: _CONFLICT}),
)
class LeadViewSet(_WritableViewSet[Lead]):
    """Leads with every score, band and explanation."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    ordering_fields = ["id", "created_at", "updated_at", "email", "last_name"]
    ordering = ["-created_at", "-id"]
    action_permissions = {
        "list": "scoring.view_lead",
        "retrieve": "scoring.view_lead",
        "create": "scoring.add_lead",
        "update": "scoring.change_lead",
        "partial_update": "scoring.change_lead",
        # It may create the lead: whoever may not add leads may not upsert them.
        "upsert": ("scoring.add_lead", "scoring.change_lead"),
        "personal_data": PERSONAL_DATA,
        "erase": PERSONAL_DATA,
    }
    ingestion_actions = ("create", "upsert")

    def get_queryset(self) -> QuerySet[Lead]:
        scores = (
            LeadScore.objects.select_related("scoring_model", "version")
            .with_probability()
            .order_by("scoring_model__slug")
        )
        # Through get_queryset(), which the manager does anyway: the stubs cannot check a Prefetch
        # given to a manager made by as_manager() (typeddjango/django-stubs#3263).
        return Lead.objects.get_queryset().prefetch_related(Prefetch("scores", queryset=scores))

    def _save(self, instance: Lead | None, serializer: BaseSerializer[Lead]) -> Lead:
        return services.lead_save(lead=instance, data=serializer.validated_data)

    @extend_schema(
        request=LeadSerializer,
        responses={200: _LEAD_OR_RECORD, 201: _LEAD_OR_RECORD, 409: _CONFLICT},
        description="Update the lead matched by external_id (else e-mail), or create it. "
        "Only the fields sent are changed.",
    )
    @action(detail=False, methods=["post"])
    def upsert(self, request: Request) -> Response:
        def find(data: dict[str, Any]) -> Lead | None:
            return services.lead_for_upsert(
                external_id=data.get("external_id"), email=data.get("email")
            )

        return self._upsert(request, find, LeadMatchSerializer)

    @extend_schema(
        responses={
            200: OpenApiResponse(PersonalDataSerializer, description="The export, as a file."),
            **_PERSONAL_DATA_ERRORS,
        },
        description="Everything stored about the lead's person, as a JSON attachment (admins).",
    )
    # JSON only, also for a browser: the answer is a file, not a page of the browsable API.
    # Named with an underscore: route names are "<basename>-<action>" (api:lead-personal_data).
    @action(
        detail=True,
        methods=["get"],
        url_path="personal-data",
        url_name="personal_data",
        renderer_classes=[JSONRenderer],
    )
    def personal_data(self, request: Request, pk: str) -> Response:
        lead = self.get_object()
        return Response(
            person_export(lead=lead),
            headers={
                "Content-Disposition": f'attachment; filename="lead-{lead.pk}-personal-data.json"',
                "Cache-Control": "no-store",
            },
        )

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(ErasureSerializer, description="What was erased."),
            **_PERSONAL_DATA_ERRORS,
        },
        description="Delete the lead and everything about its person (activities, scores, "
        "events, handoffs, outcomes, tracked visitors, webhook deliveries); answers the counts. "
        "Admins only; cannot be undone.",
    )
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: str) -> Response:
        try:
            report = person_erase(lead=self.get_object(), by=acting_user(request))
        except Lead.DoesNotExist:  # erased meanwhile by another request
            raise NotFound from None
        body = {
            "lead_id": report.lead_id,
            "erased_at": report.erased_at,
            "by": report.by,
            "counts": report.counts,
        }
        return Response(ErasureSerializer(body).data)


class AccountViewSet(_WritableViewSet[Account]):
    """Companies; a change rescores their leads."""

    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    ordering_fields = ["id", "name", "created_at", "updated_at", "employee_count"]
    ordering = ["name", "id"]
    queryset = Account.objects.all()
    action_permissions = {
        "list": "scoring.view_account",
        "retrieve": "scoring.view_account",
        "create": "scoring.add_account",
        "update": "scoring.change_account",
        "partial_update": "scoring.change_account",
        "upsert": ("scoring.add_account", "scoring.change_account"),
    }

    def _save(self, instance: Account | None, serializer: BaseSerializer[Account]) -> Account:
        return services.account_save(account=instance, data=serializer.validated_data)

    @extend_schema(
        request=AccountSerializer,
        responses={200: AccountSerializer, 201: AccountSerializer, 409: _CONFLICT},
        description="Update the account with this external_id, or create it.",
    )
    @action(detail=False, methods=["post"])
    def upsert(self, request: Request) -> Response:
        def find(data: dict[str, Any]) -> Account | None:
            return services.account_for_upsert(external_id=data["external_id"])

        return self._upsert(request, find, AccountMatchSerializer)
