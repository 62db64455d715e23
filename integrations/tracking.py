"""Website tracking: what the beacon accepts, and how anonymous visits become a lead's activities.

A visitor's page views and events wait in PendingVisit while the visitor is anonymous. When the
visitor identifies (an `identify` call or a tracked form with an e-mail), they are handed to
scoring.ingest as the lead's activities, idempotent by (site, visitor, event id), so a re-sent
beacon never counts twice. Events of an identified visitor go straight to the lead.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from leadscoring.inputs import MAX_DOCUMENT_DEPTH, json_problem, nesting_depth_exceeds
from scoring.ingest import MAX_BATCH, MAX_PROPERTIES_BYTES, IngestResult, activities_ingest
from scoring.models import Lead

from .models import PendingVisit, TrackingSite, Visitor

ACTIVITY_SOURCE = "tracking"
MAX_BODY_BYTES = 32_768
MAX_EVENTS = 50
PAGE_VIEW = "page_view"
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
# Longer values are cut, so that a page's fields stay well within an activity's properties
# (MAX_PROPERTIES_BYTES), whatever the characters of its title.
_PAGE_FIELDS = {"url": 1000, "title": 120, "referrer": 400}


class BeaconError(ValueError):
    """The payload is malformed; the message says what is wrong."""


class PayloadTooLarge(BeaconError):
    """The payload is larger than MAX_BODY_BYTES."""


@dataclass(frozen=True)
class TrackedEvent:
    event_id: str
    kind: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Beacon:
    visitor_id: str
    events: list[TrackedEvent]
    email: str | None  # the last identify in the batch
    # Events refused, each with its index and why; the others are kept.
    rejected: list[tuple[int, str]] = field(default_factory=list)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` in lower case, as browsers send it in the Origin header."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def site_origin_allowed(*, site: TrackingSite, origin: str) -> bool:
    wanted = origin_of(origin)
    return bool(wanted) and wanted in {origin_of(o) for o in site.allowed_origins}


def _text(event: dict[str, Any], key: str, limit: int, index: int) -> str:
    value = event.get(key, "")
    if not isinstance(value, str):
        raise BeaconError(f"events[{index}].{key}: must be a string")
    return value[:limit]


def _event_parse(index: int, event: object) -> TrackedEvent | str:
    """One event of a beacon: a page view or custom event, or the e-mail of an identify."""
    if not isinstance(event, dict):
        raise BeaconError(f"events[{index}]: must be an object")
    if problem := json_problem(event, path=f"events[{index}]"):
        raise BeaconError(problem)
    event_id = event.get("id")
    if not isinstance(event_id, str) or not _ID.match(event_id):
        raise BeaconError(f"events[{index}].id: 8-64 letters, digits, '-' or '_'")
    kind = event.get("type")
    if kind == "identify":
        email = _text(event, "email", 254, index).strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise BeaconError(f"events[{index}].email: not an e-mail address") from None
        return email
    page = {k: _text(event, k, limit, index) for k, limit in _PAGE_FIELDS.items()}
    if kind == "page_view":
        return TrackedEvent(event_id, PAGE_VIEW, page)
    if kind != "event":
        raise BeaconError(f"events[{index}].type: page_view, event or identify")
    name = event.get("name")
    if not isinstance(name, str) or not _EVENT_NAME.match(name):
        raise BeaconError(f"events[{index}].name: lower-case letters, digits, _ . -")
    extra = event.get("properties") or {}
    if not isinstance(extra, dict):
        raise BeaconError(f"events[{index}].properties: must be an object")
    properties = {**extra, **page}
    if len(json.dumps(properties, ensure_ascii=False).encode()) > MAX_PROPERTIES_BYTES:
        raise BeaconError(
            f"events[{index}].properties: larger than {MAX_PROPERTIES_BYTES} bytes "
            "with the page's url, title and referrer"
        )
    return TrackedEvent(event_id, name, properties)


def beacon_parse(body: bytes) -> Beacon:
    """Read and check a beacon body. Raises BeaconError when the payload as a whole is malformed
    or oversized; a bad event is only refused (Beacon.rejected), the others are kept."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"payload larger than {MAX_BODY_BYTES} bytes")
    if nesting_depth_exceeds(body):
        raise BeaconError(f"payload nested deeper than {MAX_DOCUMENT_DEPTH} levels")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BeaconError("payload is not JSON") from None
    if not isinstance(data, dict):
        raise BeaconError("payload must be a JSON object")
    visitor_id = data.get("visitor_id")
    if not isinstance(visitor_id, str) or not _ID.match(visitor_id):
        raise BeaconError("visitor_id: 8-64 letters, digits, '-' or '_'")
    raw_events = data.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        raise BeaconError("events: must be a non-empty list")
    if len(raw_events) > MAX_EVENTS:
        raise BeaconError(f"events: at most {MAX_EVENTS} per request")
    events: list[TrackedEvent] = []
    email = None
    rejected = []
    for index, event in enumerate(raw_events):
        try:
            parsed = _event_parse(index, event)
        except BeaconError as error:
            rejected.append((index, str(error)))
            continue
        if isinstance(parsed, str):
            email = parsed
        else:
            events.append(parsed)
    return Beacon(visitor_id, events, email, rejected)


def _lead_for_email(email: str) -> Lead:
    lead = Lead.objects.with_emails([email]).first()
    if lead is not None:
        return lead
    try:
        with transaction.atomic():
            return Lead.objects.create(email=email, source="website")
    except IntegrityError:  # created by a concurrent request a moment ago
        return Lead.objects.with_emails([email]).get()


def _activity(site: TrackingSite, visitor: Visitor, event_id: str, kind: str,
              occurred_at: datetime, properties: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "lead_id": visitor.lead_id,
        "kind": kind,
        "occurred_at": occurred_at.isoformat(),
        "channel": "web",
        "properties": properties,
        "external_id": f"{site.pk}:{visitor.visitor_id}:{event_id}",
    }


@transaction.atomic
def beacon_record(*, site: TrackingSite, beacon: Beacon, now: datetime | None = None) -> (
    IngestResult | None
):  # fmt: skip
    """Store a beacon's events; the ingest result once they became a lead's activities."""
    # The server's clock, not the browser's: beacons are sent as events happen.
    now = now or timezone.now()
    visitor, _ = Visitor.objects.get_or_create(
        site=site, visitor_id=beacon.visitor_id, defaults={"first_seen_at": now}
    )
    visitor.last_seen_at = now
    fields = ["last_seen_at"]
    if beacon.email:
        visitor.lead = _lead_for_email(beacon.email)
        visitor.identified_at = now
        fields += ["lead", "identified_at"]
    visitor.save(update_fields=fields)
    if visitor.lead_id is None:
        PendingVisit.objects.bulk_create(
            [PendingVisit(visitor=visitor, event_id=e.event_id, kind=e.kind, occurred_at=now,
                          properties=e.properties) for e in beacon.events],
            ignore_conflicts=True,
        )  # fmt: skip
        return None
    pending = list(visitor.pending.all())
    items = [_activity(site, visitor, p.event_id, p.kind, p.occurred_at, p.properties)
             for p in pending]  # fmt: skip
    items += [_activity(site, visitor, e.event_id, e.kind, now, e.properties)
              for e in beacon.events]  # fmt: skip
    if not items:
        return None
    result = IngestResult()
    for start in range(0, len(items), MAX_BATCH):
        part = activities_ingest(items[start : start + MAX_BATCH], source=ACTIVITY_SOURCE, now=now)
        result.created += part.created
        result.duplicates += part.duplicates
        result.rejected += part.rejected
        result.lead_ids |= part.lead_ids
    PendingVisit.objects.filter(pk__in=[p.pk for p in pending]).delete()
    return result


def anonymous_visits_purge(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Forget page views of visitors who never identified themselves (privacy, table size)."""
    cutoff = (now or timezone.now()) - older_than
    deleted, _ = PendingVisit.objects.filter(occurred_at__lt=cutoff).delete()
    Visitor.objects.filter(lead__isnull=True, last_seen_at__lt=cutoff).delete()
    return deleted
