"""Scoring models (read; draft edits and publish for marketing) and lead scores (read)."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from scoring.definition import DefinitionError
from scoring.models import LeadScore, ScoringModel
from scoring.services import (
    scoring_model_draft_definition,
    scoring_model_load,
    scoring_model_publish,
)

from ..filters import ScoreFilter
from ..serializers import (
    ErrorSerializer,
    LeadScoreSerializer,
    ProblemsSerializer,
    PublishSerializer,
    ScoringModelDetailSerializer,
    ScoringModelSerializer,
    VersionSerializer,
)
from .base import ApiView, acting_user, body_problems

_PROBLEMS = OpenApiResponse(ProblemsSerializer, description="The definition has problems.")


def _problems(error: DefinitionError) -> Response:
    return Response(
        {
            "detail": _("The scoring model has problems; nothing was saved."),
            "problems": [{"path": p.path, "message": p.message} for p in error.problems],
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


class ScoringModelViewSet(
    ApiView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[ScoringModel],
):
    lookup_field = "slug"
    action_permissions = {
        "list": "scoring.view_scoringmodel",
        "retrieve": "scoring.view_scoringmodel",
        "create": "scoring.add_scoringmodel",
        "draft": "scoring.change_scoringmodel",
        "publish": "scoring.publish_scoringmodel",
    }

    def get_queryset(self) -> QuerySet[ScoringModel]:
        return ScoringModel.objects.select_related(
            "published_version", "published_version__published_by"
        ).order_by("name", "slug")

    def get_serializer_class(self) -> type[ScoringModelSerializer]:
        return ScoringModelDetailSerializer if self.action != "list" else ScoringModelSerializer

    def _detail(self, scoring_model: ScoringModel, code: int = status.HTTP_200_OK) -> Response:
        scoring_model = self.get_queryset().get(pk=scoring_model.pk)
        draft = scoring_model_draft_definition(scoring_model=scoring_model)
        serializer = ScoringModelDetailSerializer(scoring_model, context={"draft": draft})
        return Response(serializer.data, status=code)

    def retrieve(self, request: Request, *args: object, **kwargs: object) -> Response:
        return self._detail(self.get_object())

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: ScoringModelDetailSerializer, 400: _PROBLEMS},
        description="Create a model's draft from a rules-as-code document (not published).",
    )
    def create(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            return Response({"detail": _("Send a JSON object.")}, status=400)
        slug = request.data.get("slug")
        if isinstance(slug, str) and ScoringModel.objects.filter(slug=slug).exists():
            return Response(
                {"detail": _("A scoring model with this slug exists; edit its draft instead.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            scoring_model, _version = scoring_model_load(
                data=request.data, user=acting_user(request), publish=False
            )
        except DefinitionError as error:
            return _problems(error)
        return self._detail(scoring_model, status.HTTP_201_CREATED)

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: ScoringModelDetailSerializer, 400: _PROBLEMS},
        description="Replace the draft with a whole rules-as-code document; the published "
        "version is unchanged until publish.",
    )
    @action(detail=True, methods=["put"])
    def draft(self, request: Request, slug: str) -> Response:
        scoring_model = self.get_object()
        if not isinstance(request.data, dict):
            return Response({"detail": _("Send a JSON object.")}, status=400)
        data = {**request.data, "slug": scoring_model.slug}
        try:
            scoring_model, _version = scoring_model_load(
                data=data, user=acting_user(request), publish=False
            )
        except DefinitionError as error:
            return _problems(error)
        return self._detail(scoring_model)

    @extend_schema(
        request=PublishSerializer,
        responses={200: VersionSerializer, 400: _PROBLEMS, 404: ErrorSerializer},
        description="Freeze the draft into a new version and rescore every lead.",
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, slug: str) -> Response:
        scoring_model = self.get_object()
        body = PublishSerializer(data=request.data)
        if not body.is_valid():
            return body_problems(body)
        try:
            version = scoring_model_publish(
                scoring_model=scoring_model,
                user=acting_user(request),
                note=body.validated_data.get("note", ""),
            )
        except DefinitionError as error:
            return _problems(error)
        return Response(VersionSerializer(version).data)


class ScoreViewSet(ApiView, mixins.ListModelMixin, viewsets.GenericViewSet[LeadScore]):
    """Every lead's current score per model, with its explanation."""

    serializer_class = LeadScoreSerializer
    filterset_class = ScoreFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["total", "fit", "engagement", "computed_at", "id"]
    ordering = ["-total", "id"]
    action_permissions = {"list": "scoring.view_leadscore"}

    def get_queryset(self) -> QuerySet[LeadScore]:
        return LeadScore.objects.select_related("scoring_model", "version").with_probability()
