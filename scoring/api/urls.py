from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.include_root_view = False
# JSON only (see ApiView.parser_classes): no `.json` twin of every route.
router.include_format_suffixes = False
router.register("leads", views.LeadViewSet, basename="lead")
router.register("accounts", views.AccountViewSet, basename="account")
router.register("activities", views.ActivityViewSet, basename="activity")
router.register("scoring-models", views.ScoringModelViewSet, basename="scoring-model")
router.register("scores", views.ScoreViewSet, basename="score")
router.register("handoffs", views.HandoffViewSet, basename="handoff")

# The schema and its docs describe the API's shape, which is public like the source code.
urlpatterns = [
    path("v1/", include((router.urls, "api"), namespace="api")),
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "docs/",
        login_not_required(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]
