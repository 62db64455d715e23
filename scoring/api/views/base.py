"""What every API view shares: role permissions, paging, and no login redirect."""

from typing import Any

from django.contrib.auth.decorators import login_not_required
from rest_framework.pagination import PageNumberPagination

from ..parsers import BoundedJSONParser
from ..permissions import RolePermission
from ..throttles import ApiRateThrottle


class ApiPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class ApiView:
    """Mixin for API view sets: DRF authenticates (session or token), not the login redirect."""

    # JSON only: one request format to document, validate and test.
    parser_classes = [BoundedJSONParser]
    permission_classes = [RolePermission]
    throttle_classes = [ApiRateThrottle]
    pagination_class = ApiPagination
    action_permissions: dict[str, str] = {}
    ingestion_actions: tuple[str, ...] = ()

    @classmethod
    def as_view(cls, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        return login_not_required(super().as_view(*args, **kwargs))  # type: ignore[misc]
