"""Reading dates and timestamps that PostgreSQL holds and Python cannot represent.

A value before year 1 (stored as BC), after year 9999 or infinite makes psycopg fail the whole
query, so one such row would stop every page, export and rescore that reads it. It is read as
the earliest or latest representable value instead: the row is shown and scored (as very old,
or far ahead), and `manage.py find_bad_rows` lists it. No way in stores such values any more
(leadscoring.inputs); this is for rows written before, or by hand.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.datetime import DateLoader, TimestampLoader

# A day inside the representable range, so that converting to any time zone cannot overflow.
EARLIEST_READABLE = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST_READABLE = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def _early(data: Any) -> bool:
    text = bytes(data)
    return text.endswith(b"BC") or text.startswith(b"-")


class _ClampedTimestampLoader(TimestampLoader):
    def load(self, data: Any) -> datetime:
        try:
            return super().load(data)
        except psycopg.DataError:
            edge = EARLIEST_READABLE if _early(data) else LATEST_READABLE
            return edge.replace(tzinfo=None)


class _ClampedDateLoader(DateLoader):
    def load(self, data: Any) -> date:
        try:
            return super().load(data)
        except psycopg.DataError:
            return date.min if _early(data) else date.max


def install_out_of_range_readers() -> None:
    """Make every new connection read such values at the edge (before the first one opens)."""
    # Django's module for psycopg 3 has no stub in django-stubs.
    from django.db.backends.postgresql import psycopg_any  # type: ignore[attr-defined]

    psycopg.adapters.register_loader("timestamp", _ClampedTimestampLoader)
    psycopg.adapters.register_loader("date", _ClampedDateLoader)
    # Django loads timestamptz with a loader of its own, for the connection's time zone.
    tz_loader = psycopg_any.BaseTzLoader
    if getattr(tz_loader, "reads_out_of_range", False):
        return
    load = tz_loader.load

    def load_or_clamp(self, data):  # type: ignore[no-untyped-def]
        try:
            return load(self, data)
        except psycopg.DataError:
            edge = EARLIEST_READABLE if _early(data) else LATEST_READABLE
            return edge.astimezone(self.timezone) if self.timezone else edge.replace(tzinfo=None)

    tz_loader.load = load_or_clamp
    tz_loader.reads_out_of_range = True
