"""Bulk inserts through COPY give every object its own row and id, as bulk_create would."""

from datetime import UTC, datetime, timedelta

import pytest

from scoring.models import Activity
from scoring.staging import COPY_FROM_ROWS, bulk_insert, insert_rows
from tests.factories import LeadFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_many_objects_get_their_own_ids_in_order():
    lead = LeadFactory()
    at = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    count = COPY_FROM_ROWS + 50
    activities = [
        Activity(
            lead=lead,
            kind=f"kind-{i}",
            occurred_at=at + timedelta(minutes=i),
            properties={"i": i, "url": f"/page/{i}", "tags": ["a", i]},
            source="test",
        )
        for i in range(count)
    ]
    saved = bulk_insert(activities)
    assert saved == activities
    assert len({a.pk for a in saved}) == count
    stored = Activity.objects.in_bulk([a.pk for a in saved])
    for i, activity in enumerate(saved):
        row = stored[activity.pk]
        assert (row.kind, row.occurred_at, row.properties) == (
            f"kind-{i}",
            at + timedelta(minutes=i),
            {"i": i, "url": f"/page/{i}", "tags": ["a", i]},
        )
        assert row.created_at is not None  # auto_now_add filled in as by bulk_create


def test_plain_rows_get_ids_in_order_and_defaults_for_the_rest():
    lead = LeadFactory()
    at = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    count = COPY_FROM_ROWS + 20
    rows = [
        (lead.pk, f"kind-{i}", at + timedelta(minutes=i), {"i": i}, "test") for i in range(count)
    ]
    ids = insert_rows(Activity, ("lead_id", "kind", "occurred_at", "properties", "source"), rows)
    assert len(set(ids)) == count
    stored = Activity.objects.in_bulk(ids)
    for i, pk in enumerate(ids):
        row = stored[pk]
        assert (row.lead_id, row.kind, row.occurred_at, row.properties) == rows[i][:4]
        # Left out: the field defaults, and the creation time set on save.
        assert (row.channel, row.external_id) == ("", None)
        assert row.created_at is not None
