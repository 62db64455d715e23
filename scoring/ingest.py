"""Taking activities in (API, tracking, imports) and asking for the affected leads to be rescored.

`activities_ingest` validates a batch item by item, keeps the good items and reports the bad ones
with their index; it is idempotent by (source, external_id), and for an item without an
external_id but with its time, by what it says (its fingerprint: lead, kind, time to the
microsecond, channel, properties and source), so a retried post counts once either way.
`rescore_request` records leads whose data changed in PendingRescore, where a burst of events for
one lead collapses into one row, and makes sure one flush task is on its way.
"""

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from leadscoring.inputs import INT64, datetime_problem, integer_problem, json_problem, text_problem

from .models import Activity, Lead, PendingRescore
from .staging import copy_to_stage

MAX_BATCH = 1000
# An activity's properties travel in the activity index beside its lead, time, kind and channel,
# so scoring reads a lead's activities from the index alone. An index entry holds at most about
# 2.7 kB, hence the cap on their JSON text, and on the size PostgreSQL stores them in: a little
# more than the text for an object of strings, up to 6 times more for a list of small numbers.
MAX_PROPERTIES_BYTES = 2_000
MAX_PROPERTIES_STORED_BYTES = 2_100
# Properties of fewer bytes surely fit once stored (8 times their text at most); only longer
# ones are measured by the database.
_SURELY_FITS = MAX_PROPERTIES_STORED_BYTES // 8
# Clocks of senders drift; an activity further ahead than this is a mistake, not a clock skew.
FUTURE_TOLERANCE = timedelta(hours=1)
_FLUSH_FLAG = "scoring:rescore-flush-scheduled"
# The namespace of activity fingerprints (uuid5): fixed, so a fingerprint never changes.
_FINGERPRINTS = uuid.UUID("7f1c3a52-6a0e-4d8e-9b1f-2f4c5e6a7b80")
_ITEM_KEYS = frozenset(
    {"lead_id", "email", "lead_external_id", "kind", "occurred_at", "channel", "properties",
     "external_id"}
)  # fmt: skip


@dataclass(frozen=True)
class Rejected:
    index: int
    reason: str


@dataclass
class IngestResult:
    created: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    leads_created: int = 0
    lead_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Item:
    index: int
    lead_key: tuple[str, Any]
    kind: str
    occurred_at: datetime
    channel: str
    properties_json: str
    external_id: str | None
    timed: bool  # its time was given, not taken as now

    def fingerprint(self, lead_id: int, source: str) -> uuid.UUID | None:
        """What identifies it when it has no external_id: the same event delivered again has
        the same one. None when it has an external_id, or no time of its own (a retry would
        carry another "now")."""
        if self.external_id is not None or not self.timed:
            return None
        properties = json.dumps(
            json.loads(self.properties_json), sort_keys=True, ensure_ascii=False
        )
        at = self.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
        text = "\x1f".join((str(lead_id), self.kind, at, self.channel, properties, source))
        return uuid.uuid5(_FINGERPRINTS, text)


def _text(item: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f"{key}: is required")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be a string")
    if len(value) > limit:
        raise ValueError(f"{key}: must be at most {limit} characters")
    if problem := text_problem(value):
        raise ValueError(f"{key}: {problem}")
    return value.strip()


def _parse(index: int, item: object, now: datetime) -> _Item:
    if not isinstance(item, Mapping):
        raise ValueError("must be an object")
    unknown = sorted(set(item) - _ITEM_KEYS)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field")
    lead_id = item.get("lead_id")
    email = _text(item, "email", 254).lower()
    lead_external_id = _text(item, "lead_external_id", 255)
    given = [k for k, v in (("lead_id", lead_id), ("email", email), ("lead_external_id",
             lead_external_id)) if v not in (None, "")]  # fmt: skip
    if len(given) != 1:
        raise ValueError("lead: give exactly one of lead_id, email or lead_external_id")
    if lead_id is not None and (isinstance(lead_id, bool) or not isinstance(lead_id, int)):
        raise ValueError("lead_id: must be an integer")
    if lead_id is not None and (problem := integer_problem(lead_id, INT64)):
        raise ValueError(f"lead_id: {problem}")
    if email and ("@" not in email or email.startswith("@") or email.endswith("@")):
        raise ValueError("email: is not an e-mail address")
    lead_key = (given[0], lead_id if given[0] == "lead_id" else email or lead_external_id)
    kind = _text(item, "kind", 64, required=True)
    raw_time = item.get("occurred_at")
    if raw_time in (None, ""):
        occurred_at = now
    else:
        parsed = parse_datetime(raw_time) if isinstance(raw_time, str) else None
        if parsed is None:
            raise ValueError("occurred_at: must be an ISO 8601 timestamp")
        occurred_at = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        if occurred_at > now + FUTURE_TOLERANCE:
            raise ValueError("occurred_at: lies in the future")
        if problem := datetime_problem(occurred_at, now=now):
            raise ValueError(f"occurred_at: {problem}")
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        raise ValueError("properties: must be an object")
    properties_json = json.dumps(properties, ensure_ascii=False)
    if problem := json_problem(properties, path="properties", text=properties_json):
        raise ValueError(problem)
    if len(properties_json.encode()) > MAX_PROPERTIES_BYTES:
        raise ValueError(f"properties: larger than {MAX_PROPERTIES_BYTES} bytes")
    external_id = _text(item, "external_id", 255) or None
    channel = _text(item, "channel", 64)
    return _Item(
        index, lead_key, kind, occurred_at, channel, properties_json, external_id,
        timed=raw_time not in (None, ""),
    )  # fmt: skip


def properties_stored_too_large(texts: Sequence[str]) -> list[bool]:
    """For each properties JSON text (within MAX_PROPERTIES_BYTES), whether PostgreSQL would
    store it in more than MAX_PROPERTIES_STORED_BYTES; one query for all that may."""
    large = [False] * len(texts)
    doubtful = [i for i, text in enumerate(texts) if len(text.encode()) > _SURELY_FITS]
    if not doubtful or connection.vendor != "postgresql":
        return large
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(t::jsonb) > %s FROM unnest(%s::text[]) WITH ORDINALITY "
            "AS u(t, n) ORDER BY n",
            [MAX_PROPERTIES_STORED_BYTES, [texts[i] for i in doubtful]],
        )
        for i, (too_large,) in zip(doubtful, cursor.fetchall(), strict=True):
            large[i] = too_large
    return large


def _resolve_leads(
    items: Sequence[_Item], *, source: str, create_leads: bool, result: IngestResult
) -> dict[tuple[str, Any], int]:
    """Lead ids for every lead key, in one query per key type (plus one insert for new leads)."""
    wanted: dict[str, set[Any]] = {}
    for item in items:
        wanted.setdefault(item.lead_key[0], set()).add(item.lead_key[1])
    found: dict[tuple[str, Any], int] = {}
    if ids := wanted.get("lead_id"):
        found.update(
            (("lead_id", pk), pk)
            for pk in Lead.objects.filter(pk__any_of=list(ids)).values_list("pk", flat=True)
        )
    if refs := wanted.get("lead_external_id"):
        found.update(
            (("lead_external_id", ref), pk)
            for ref, pk in Lead.objects.filter(external_id__any_of=list(refs)).values_list(
                "external_id", "pk"
            )
        )
    if emails := wanted.get("email"):

        def by_email() -> dict[str, int]:
            return dict(Lead.objects.with_emails(emails).values_list("email_ci", "pk"))

        known = by_email()
        missing = emails - set(known)
        if missing and create_leads:
            # ignore_conflicts: a concurrent batch may create the same lead first.
            Lead.objects.bulk_create(
                [Lead(email=email, source=source) for email in sorted(missing)],
                ignore_conflicts=True,
            )
            known = by_email()
            result.leads_created = len(missing & set(known))
        found.update((("email", email), pk) for email, pk in known.items())
    return found


_INSERT_COLUMNS = ("lead_id", "kind", "occurred_at", "channel", "properties", "source",
                   "external_id", "fingerprint", "created_at")  # fmt: skip


_STAGE_COLUMNS = (
    "lead_id bigint, kind text, occurred_at timestamptz, channel text, properties jsonb, "
    "source text, external_id text, fingerprint uuid, created_at timestamptz"
)


def _insert(rows: Sequence[tuple[Any, ...]]) -> list[int]:
    """Insert activities, skipping duplicates (by external_id or fingerprint); the lead ids of
    new rows."""
    table = Activity._meta.db_table
    head = f"INSERT INTO {table} ({', '.join(_INSERT_COLUMNS)}) "  # noqa: S608 - fixed names
    tail = " ON CONFLICT DO NOTHING RETURNING lead_id"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            staged = copy_to_stage(
                cursor, name="activity_incoming", columns=_STAGE_COLUMNS, rows=rows
            )
            cursor.execute(f"{head}{staged}{tail}")
            return [lead_id for (lead_id,) in cursor.fetchall()]
        placeholders = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
        lead_ids: list[int] = []
        for start in range(0, len(rows), 500):
            batch = rows[start : start + 500]
            cursor.execute(
                f"{head}VALUES {', '.join([placeholders] * len(batch))}{tail}",
                [value for row in batch for value in row],
            )
            lead_ids += [lead_id for (lead_id,) in cursor.fetchall()]
        return lead_ids


@transaction.atomic
def activities_ingest(
    items: Sequence[object],
    *,
    source: str = "api",
    create_leads: bool = False,
    now: datetime | None = None,
) -> IngestResult:
    """Store a batch of activities; bad items are reported by index, good ones kept.

    An item names its lead by exactly one of `lead_id`, `email` or `lead_external_id`, and
    carries `kind`, optional `occurred_at` (ISO 8601; now when absent), `channel`, `properties`
    and `external_id`. With `create_leads`, an unknown e-mail creates the lead.
    """
    if len(items) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} activities per batch, got {len(items)}")
    now = now or timezone.now()
    result = IngestResult()
    parsed: list[_Item] = []
    for index, item in enumerate(items):
        try:
            parsed.append(_parse(index, item, now))
        except ValueError as exc:
            result.rejected.append(Rejected(index, str(exc)))
    fitting = []
    for item, too_large in zip(
        parsed, properties_stored_too_large([item.properties_json for item in parsed]), strict=True
    ):
        if too_large:
            reason = f"properties: larger than {MAX_PROPERTIES_STORED_BYTES} bytes as stored"
            result.rejected.append(Rejected(item.index, reason))
        else:
            fitting.append(item)
    parsed = fitting
    leads = _resolve_leads(parsed, source=source, create_leads=create_leads, result=result)
    rows = []
    fingerprint = Activity._meta.get_field("fingerprint")
    for item in parsed:
        lead_id = leads.get(item.lead_key)
        if lead_id is None:
            name, value = item.lead_key
            result.rejected.append(Rejected(item.index, f"{name}: no lead {value!r}"))
            continue
        key = fingerprint.get_db_prep_value(item.fingerprint(lead_id, source), connection)
        rows.append(
            (lead_id, item.kind, item.occurred_at, item.channel,
             item.properties_json, source, item.external_id, key, now)
        )  # fmt: skip
    created_for = _insert(rows)
    result.created = len(created_for)
    result.duplicates = len(rows) - result.created
    result.rejected.sort(key=lambda r: r.index)
    result.lead_ids = set(created_for)
    rescore_request(result.lead_ids)
    return result


def rescore_request(lead_ids: Iterable[int]) -> None:
    """Ask for these leads to be rescored soon, once however many times they are asked for."""
    ids = sorted(set(lead_ids))
    if not ids:
        return
    table = PendingRescore._meta.db_table
    now = timezone.now()
    insert = f"INSERT INTO {table} (lead_id, requested_at) "  # noqa: S608 - fixed names
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 1000):
            batch = ids[start : start + 1000]
            params: list[list[int] | int | datetime]
            if connection.vendor == "postgresql":
                source, params = "SELECT unnest(%s::bigint[]), %s", [batch, now]
            else:
                source = f"VALUES {', '.join(['(%s, %s)'] * len(batch))}"
                params = [value for lead_id in batch for value in (lead_id, now)]
            # A lead being rescored right now is asked for again: its flush may have read the
            # data before this change. One still waiting keeps its place (and is not written).
            cursor.execute(
                f"{insert}{source} ON CONFLICT (lead_id) DO UPDATE SET "
                "requested_at = excluded.requested_at, taken_by = NULL, taken_at = NULL "
                f"WHERE {table}.taken_by IS NOT NULL",
                params,
            )
    transaction.on_commit(flush_schedule)


def flush_schedule() -> None:
    """Send one flush task unless one is already waiting (the flag is cleared when it starts).

    With the broker down the send fails after one quick retry and is only logged, never fails
    the request: the requests are committed in PendingRescore, and beat's rescore_pending_sweep
    clears the flag and sends a flush for them once the broker is back.
    """
    import logging

    from kombu.exceptions import OperationalError

    from .tasks import rescore_pending

    if cache.add(_FLUSH_FLAG, 1, timeout=30):
        try:
            # One retry at once: Celery's default policy, and even retry=False, wait seconds
            # for the connection, too long to hold an API call for a broker outage.
            rescore_pending.apply_async(
                queue="default", retry_policy={"max_retries": 1, "interval_start": 0}
            )
        except OperationalError as error:
            logging.getLogger(__name__).warning(
                "Rescore flush not sent (%s); the pending sweep sends it later", error
            )


# A flush that has not finished its leads after this long is taken for dead; others take them.
PENDING_STALE = timedelta(minutes=10)


def pending_take(limit: int) -> tuple[str, list[int]]:
    """Mark up to `limit` waiting leads, oldest first, as taken; returns the mark and the leads.

    Commits at once: the rows stay locked only until then, so requests for the same leads never
    wait for their rescoring (they clear the mark instead).
    """
    table = PendingRescore._meta.db_table
    lock = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    token, now = uuid.uuid4(), timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        # Two statements: as one (UPDATE ... WHERE lead_id IN (SELECT ... LIMIT)) the planner,
        # misled by a queue that was empty when last analyzed, may redo the pick for every
        # waiting row, which takes seconds once thousands wait.
        cursor.execute(
            f"SELECT lead_id FROM {table} WHERE taken_by IS NULL OR taken_at < %s "  # noqa: S608
            f"ORDER BY requested_at LIMIT %s{lock}",
            [now - PENDING_STALE, limit],
        )
        picked = [lead_id for (lead_id,) in cursor.fetchall()]
        if not picked:
            return token.hex, []
        marks = ", ".join(["%s"] * len(picked))
        cursor.execute(
            f"UPDATE {table} SET taken_by = %s, taken_at = %s "  # noqa: S608
            f"WHERE lead_id IN ({marks}) RETURNING lead_id",
            [token.hex if connection.vendor == "sqlite" else token, now, *picked],
        )
        return token.hex, sorted(lead_id for (lead_id,) in cursor.fetchall())


def pending_done(token: str, *, rescored: bool) -> None:
    """Delete the rescored rows of this mark (those asked for again meanwhile stay), or hand
    them back when the rescore failed."""
    mark = uuid.UUID(token)
    with transaction.atomic():
        # Locked in lead order first, the order rescore_request writes in: deleting in table
        # order instead deadlocks with a request for the same leads.
        ids = list(
            PendingRescore.objects.filter(taken_by=mark)
            .order_by("lead_id")
            .select_for_update()
            .values_list("lead_id", flat=True)
        )
        taken = PendingRescore.objects.filter(lead_id__in=ids, taken_by=mark)
        if rescored:
            taken.delete()
        else:
            taken.update(taken_by=None, taken_at=None)


def pending_waiting() -> bool:
    """Whether leads wait that no live flush has taken."""
    stale = timezone.now() - PENDING_STALE
    return PendingRescore.objects.filter(Q(taken_by__isnull=True) | Q(taken_at__lt=stale)).exists()


def flush_flag_clear() -> None:
    cache.delete(_FLUSH_FLAG)
