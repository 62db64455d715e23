"""Request rate limits: per user, per ingestion token, or per address for anonymous callers."""

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import IngestionToken

if TYPE_CHECKING:
    from rest_framework.views import APIView


class ApiRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        # Read on use, not at import, so that the rate follows settings (and tests) at run time.
        # Annotated: the setting comes from django-environ, which has no type information.
        rate: str = settings.API_THROTTLE_RATE
        return rate

    def __init__(self) -> None:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request: Request, view: "APIView") -> str:
        if isinstance(request.auth, IngestionToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
