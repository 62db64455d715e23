"""Role permissions on every endpoint.

Each view maps its actions to the Django permission they need, or the permissions they all need
(`action_permissions`); the roles
in scoring/roles.py grant those permissions. Ingestion tokens act for no user and may only run
the actions a view lists in `ingestion_actions` (writing leads and activities).
"""

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from integrations.models import IngestionToken

if TYPE_CHECKING:
    from rest_framework.views import APIView


def _action(view: "APIView", request: Request) -> str:
    # Only an HttpRequest built by hand lacks a method; one being served always has it.
    assert request.method is not None
    return getattr(view, "action", None) or request.method.lower()


class RolePermission(BasePermission):
    def has_permission(self, request: Request, view: "APIView") -> bool:
        action = _action(view, request)
        if isinstance(request.auth, IngestionToken):
            return action in getattr(view, "ingestion_actions", ())
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if action == "metadata":
            return True
        needed = getattr(view, "action_permissions", {}).get(action)
        # An action without a declared permission is refused rather than left open.
        if needed is None:
            return False
        return user.has_perms([needed] if isinstance(needed, str) else needed)
