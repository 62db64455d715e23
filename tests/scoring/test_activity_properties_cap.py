"""Activity properties are capped (MAX_PROPERTIES_BYTES) so that they fit the covering activity
index: every way in reports an oversized item where it is and keeps the others."""

import json
import secrets
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from integrations.tracking import beacon_parse
from scoring.csv_import import crm_import
from scoring.ingest import MAX_PROPERTIES_BYTES, MAX_PROPERTIES_STORED_BYTES, activities_ingest
from scoring.models import Activity
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _text_of_size(size: int, char: str = "x") -> dict[str, str]:
    """Properties whose JSON text (as ingest writes it) takes exactly `size` bytes."""
    overhead = len(json.dumps({"note": ""}).encode())
    return {"note": char * ((size - overhead) // len(char.encode()))}


def test_properties_at_the_cap_are_kept_and_larger_ones_reported_by_index():
    lead = LeadFactory()
    at_cap = _text_of_size(MAX_PROPERTIES_BYTES)
    assert len(json.dumps(at_cap).encode()) == MAX_PROPERTIES_BYTES
    # The cap counts bytes, not characters: 700 euro signs are 2,100 bytes.
    multibyte = {"note": "€" * 700}
    items = [
        {"lead_id": lead.pk, "kind": "form_submitted", "external_id": "a", "properties": at_cap},
        {"lead_id": lead.pk, "kind": "form_submitted", "external_id": "b",
         "properties": _text_of_size(MAX_PROPERTIES_BYTES + 1)},
        {"lead_id": lead.pk, "kind": "form_submitted", "external_id": "c", "properties": multibyte},
        {"lead_id": lead.pk, "kind": "page_view", "external_id": "d", "properties": {"url": "/"}},
    ]  # fmt: skip
    result = activities_ingest(items)
    assert [(r.index, r.reason) for r in result.rejected] == [
        (1, f"properties: larger than {MAX_PROPERTIES_BYTES} bytes"),
        (2, f"properties: larger than {MAX_PROPERTIES_BYTES} bytes"),
    ]
    assert sorted(Activity.objects.values_list("external_id", flat=True)) == ["a", "d"]
    assert Activity.objects.get(external_id="a").properties == at_cap


@pytest.mark.postgres
def test_properties_that_postgresql_stores_larger_than_the_cap_are_reported():
    """A list of small numbers takes several times its text once stored: measured, not guessed."""
    lead = LeadFactory()
    dense = {"scores": [1] * 500}  # about 1,500 bytes of text, some 6,000 stored
    assert len(json.dumps(dense).encode()) < MAX_PROPERTIES_BYTES
    items = [
        {"lead_id": lead.pk, "kind": "quiz", "external_id": "dense", "properties": dense},
        {"lead_id": lead.pk, "kind": "quiz", "external_id": "fine",
         "properties": {"scores": [1] * 100}},
    ]  # fmt: skip
    result = activities_ingest(items)
    assert [(r.index, r.reason) for r in result.rejected] == [
        (0, f"properties: larger than {MAX_PROPERTIES_STORED_BYTES} bytes as stored")
    ]
    assert list(Activity.objects.values_list("external_id", flat=True)) == ["fine"]


@pytest.mark.postgres
def test_the_largest_activity_allowed_fits_the_covering_index():
    """Kind and channel at their longest in four-byte characters and properties stored at the
    stored cap: PostgreSQL takes the index entry (it refuses entries over about 2.7 kB)."""
    lead = LeadFactory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_size(%s::jsonb)", [json.dumps({"note": ""})])
        (empty,) = cursor.fetchone()
    # Random letters: nothing for PostgreSQL to compress.
    properties = {
        "note": secrets.token_hex(MAX_PROPERTIES_STORED_BYTES)[
            : MAX_PROPERTIES_STORED_BYTES - empty
        ]
    }
    Activity.objects.create(
        lead=lead, kind="😀" * 64, channel="😀" * 64, occurred_at=timezone.now(),
        properties=properties,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_size(%s::jsonb)", [json.dumps(properties)])
        assert cursor.fetchone() == (MAX_PROPERTIES_STORED_BYTES,)
    assert Activity.objects.filter(lead=lead).count() == 1


def test_a_csv_row_whose_extra_columns_are_too_large_is_reported_with_its_line(tmp_path: Path):
    LeadFactory(external_id="L-1")
    long_note = "x" * MAX_PROPERTIES_BYTES
    (tmp_path / "activities.csv").write_text(
        "external_id,lead_external_id,kind,occurred_at,note\n"
        "E-1,L-1,form_submitted,2026-03-02T15:00:00Z,short\n"
        f"E-2,L-1,form_submitted,2026-03-02T16:00:00Z,{long_note}\n",
        encoding="utf-8",
    )
    report = crm_import(directory=tmp_path)
    assert report.errors == [
        f"activities.csv:3: the extra columns (the activity's properties) take more than "
        f"{MAX_PROPERTIES_BYTES} bytes"
    ]
    assert list(Activity.objects.values_list("external_id", flat=True)) == ["E-1"]


def test_tracked_page_fields_are_cut_to_fit_the_cap():
    body = {
        "visitor_id": "visitor-0001",
        "events": [{"id": "event-0001", "type": "page_view", "url": "https://a.example/" + "p" * 3000,
                    "title": "😀" * 500, "referrer": "https://b.example/" + "r" * 3000}],
    }  # fmt: skip
    (event,) = beacon_parse(json.dumps(body).encode()).events
    assert len(json.dumps(event.properties, ensure_ascii=False).encode()) <= MAX_PROPERTIES_BYTES
    assert event.properties["url"].startswith("https://a.example/ppp")
