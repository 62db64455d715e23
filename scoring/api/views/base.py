"""What every API view shares: role permissions, paging, and no login redirect."""

from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from ..parsers import BoundedJSONParser
from ..permissions import RolePermission
from ..throttles import ApiRateThrottle


class ApiPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


if TYPE_CHECKING:
    from rest_framework.views import APIView, AsView, GenericView

    # To mypy the mixin is the view it is mixed into, so that its attributes are checked against
    # DRF's and super().as_view() is known; at run time it stays a plain mixin.
    _ViewBase = APIView
else:
    _ViewBase = object


class ApiView(_ViewBase):
    """Mixin for API view sets: DRF authenticates (session or token), not the login redirect."""

    # JSON only: one request format to document, validate and test.
    parser_classes = [BoundedJSONParser]
    permission_classes = [RolePermission]
    throttle_classes = [ApiRateThrottle]
    pagination_class: type[BasePagination] | None = ApiPagination
    action_permissions: dict[str, str | tuple[str, ...]] = {}
    ingestion_actions: tuple[str, ...] = ()

    @classmethod
    def as_view(cls, *args: Any, **kwargs: Any) -> "AsView[GenericView]":
        return login_not_required(super().as_view(*args, **kwargs))


def acting_user(request: Request) -> User:
    """The user an action is done by.

    Only for actions that ingestion tokens may not run: RolePermission lets those through for
    authenticated users only, which the type of `request.user` cannot know.
    """
    return cast(User, request.user)


def problems_response(detail: str, problems: list[dict[str, str]]) -> Response:
    """A 400 in the documented shape (ProblemsSerializer): what is wrong, and where."""
    return Response({"detail": detail, "problems": problems}, status=status.HTTP_400_BAD_REQUEST)


def body_problems(body: serializers.Serializer[Any]) -> Response:
    """An action's invalid request body as a ProblemsSerializer 400, each error with its path
    (``note``, ``items[2].kind``; the body as a whole has the empty path)."""

    def walk(errors: Any, path: str) -> list[dict[str, str]]:
        if isinstance(errors, dict):
            return [
                found
                for key, value in errors.items()
                for found in walk(value, "" if key == "non_field_errors" else _joined(path, key))
            ]
        if isinstance(errors, list) and errors and not isinstance(errors[0], str):
            return [
                found for i, value in enumerate(errors) for found in walk(value, f"{path}[{i}]")
            ]
        return [{"path": path, "message": str(message)} for message in errors]

    return problems_response(
        _("The request has problems; nothing was done."), walk(body.errors, "")
    )


def _joined(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)
