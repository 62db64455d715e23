"""Rate limit of the tracking beacon: per site and sending address."""

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle


class BeaconThrottle(SimpleRateThrottle):
    scope = "tracking"

    def __init__(self, site_key: str) -> None:
        self.site_key = site_key
        self.rate = settings.TRACKING_THROTTLE_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request: HttpRequest, view: object) -> str:
        # get_ident reads only request.META, which the beacon's Django request has as well; the
        # stubs ask for DRF's Request.
        ident = f"{self.site_key}-{self.get_ident(request)}"  # type: ignore[arg-type]
        return self.cache_format % {"scope": self.scope, "ident": ident}
