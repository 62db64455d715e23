"""The tracking beacon (public, CORS limited to a site's origins) and the tracking demo page."""

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import TrackingSite
from .throttles import BeaconThrottle
from .tracking import (
    MAX_BODY_BYTES,
    BeaconError,
    PayloadTooLarge,
    beacon_parse,
    beacon_record,
    origin_of,
    site_origin_allowed,
)


def _error(message: str, status: int, origin: str = "", **details: object) -> JsonResponse:
    response = JsonResponse({"error": message, **details}, status=status)
    if origin:
        _cors(response, origin)
    return response


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    return response


@csrf_exempt  # called from other sites, without cookies; the origin check stands in
@login_not_required
@require_http_methods(["POST", "OPTIONS"])
def beacon(request: HttpRequest, site_key: str) -> HttpResponse:
    site = TrackingSite.objects.filter(site_key=site_key, active=True).first()
    if site is None:
        return _error("unknown site key", 404)
    origin = request.headers.get("Origin", "")
    if not site_origin_allowed(site=site, origin=origin):
        return _error("origin not allowed for this site key", 403)
    if request.method == "OPTIONS":
        response = _cors(HttpResponse(status=204), origin)
        response["Access-Control-Allow-Methods"] = "POST"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "86400"
        return response
    throttle = BeaconThrottle(site.site_key)
    # A plain Django view: BeaconThrottle's get_cache_key takes its request and no DRF view,
    # where the stubs of allow_request ask for DRF's Request and APIView.
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        response = _error("too many requests", 429, origin)
        response["Retry-After"] = str(int(throttle.wait() or 1))
        return response
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        return _error(f"payload larger than {MAX_BODY_BYTES} bytes", 413, origin)
    try:
        parsed = beacon_parse(request.body)
    except BeaconError as error:
        status = 413 if isinstance(error, PayloadTooLarge) else 400
        return _error(str(error), status, origin)
    rejected = [{"index": index, "error": reason} for index, reason in parsed.rejected]
    if not parsed.events and parsed.email is None:  # every event was refused
        first_reason = parsed.rejected[0][1]
        return _error(first_reason, 400, origin, rejected=rejected)
    beacon_record(site=site, beacon=parsed)
    if rejected:  # the others are stored
        return _cors(JsonResponse({"rejected": rejected}), origin)
    return _cors(HttpResponse(status=204), origin)


def snippet(request: HttpRequest, site: TrackingSite) -> str:
    """The tag a website adds, pointing at this server."""
    script = request.build_absolute_uri(static("js/track.js"))
    return f'<script src="{script}" data-site-key="{site.site_key}" defer></script>'


@staff_member_required
def tracking_demo(request: HttpRequest, site_key: str) -> HttpResponse:
    site = get_object_or_404(TrackingSite, site_key=site_key)
    here = origin_of(request.build_absolute_uri("/"))
    return render(
        request,
        "integrations/tracking_demo.html",
        {
            "site": site,
            "snippet": snippet(request, site),
            "here": here,
            "origin_allowed": site_origin_allowed(site=site, origin=here),
            "page": request.GET.get("page", "home"),
            "beacon_url": reverse("tracking-beacon", args=[site.site_key]),
        },
    )
