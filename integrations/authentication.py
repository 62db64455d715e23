"""API authentication with ingestion tokens: `Authorization: Bearer lsi_...`.

An ingestion token acts for no user. Views decide what it may do (write leads and activities
only, see scoring.api.permissions); every other endpoint refuses it.
"""

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from .models import INGESTION_TOKEN_PREFIX, IngestionToken, token_digest

# Writing "last used" on every request would turn each API call into an UPDATE.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class IngestionTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, IngestionToken] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].decode(errors="replace") != self.keyword:
            return None
        raw = parts[1].decode(errors="replace")
        if not raw.startswith(INGESTION_TOKEN_PREFIX):
            return None
        token = IngestionToken.objects.filter(
            digest=token_digest(raw), revoked_at__isnull=True
        ).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked ingestion token."))
        now = timezone.now()
        IngestionToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - _LAST_USED_RESOLUTION),
            pk=token.pk,
        ).update(last_used_at=now)
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


# drf-spectacular's extension base has an unannotated __init_subclass__.
class IngestionTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "integrations.authentication.IngestionTokenAuthentication"
    name = "ingestionToken"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An ingestion token (lsi_...): may only write leads and activities.",
        }
