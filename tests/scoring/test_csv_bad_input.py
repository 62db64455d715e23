"""import_crm on files that are broken in ways the database or Python cannot take: other
encodings, NUL bytes, impossible timestamps, numbers beyond their column, oversized fields.
Each bad row is refused with file, line and reason; the rows around it are stored."""

import codecs
import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from scoring.csv_import import crm_import
from scoring.models import Account, Activity, Lead, LeadOutcome

pytestmark = pytest.mark.django_db

ACCOUNT_HEAD = "external_id,name,employee_count,annual_revenue,segment\n"


def _write(folder: Path, name: str, data: str | bytes) -> Path:
    (folder / f"{name}.csv").write_bytes(data.encode() if isinstance(data, str) else data)
    return folder


def _names() -> dict[str, str]:
    return dict(Account.objects.values_list("external_id", "name"))


# --- encodings -----------------------------------------------------------------------------------


def test_latin1_file_is_read_as_windows_1252_and_said_so(tmp_path):
    text = ACCOUNT_HEAD + "A-1,Ok GmbH,,,\nA-2,Müller Maschinenbau,,,größer\nA-3,Åsa AB,,,\n"
    _write(tmp_path, "accounts", text.encode("latin-1"))
    report = crm_import(directory=tmp_path)
    assert report.errors == []
    assert report.notes == ["accounts.csv: not UTF-8 (line 3 is not), read as Windows-1252"]
    assert _names() == {"A-1": "Ok GmbH", "A-2": "Müller Maschinenbau", "A-3": "Åsa AB"}
    assert Account.objects.get(external_id="A-2").attributes == {"segment": "größer"}


def test_cp1252_file_with_euro_and_low_quotes_and_undefined_bytes(tmp_path):
    lines = [
        "external_id,email,first_name,last_name,job_title",
        "L-1,a@example.de,Anna,Kühn,„Einkauf“ – 5 € Budget",
    ]
    data = "\n".join(lines).encode("cp1252")
    # 0x81 and 0x9D mean nothing in cp1252; they are read as latin-1 (C1 controls).
    data += b"\nL-2,b@example.de,B\x81,C\x9d,\n"
    _write(tmp_path, "leads", data)
    report = crm_import(directory=tmp_path)
    assert report.errors == []
    anna = Lead.objects.get(external_id="L-1")
    assert (anna.last_name, anna.job_title) == ("Kühn", "„Einkauf“ – 5 € Budget")
    other = Lead.objects.get(external_id="L-2")
    assert (other.first_name, other.last_name) == ("B\x81", "C\x9d")


def test_a_single_cp1252_byte_late_in_a_large_file_decides_the_whole_file(tmp_path, monkeypatch):
    import scoring.csv_import as csv_import

    monkeypatch.setattr(csv_import, "BATCH_SIZE", 1000)
    rows = [f"A-{i},Firma {i} {'x' * 40},,," for i in range(30_000)]  # beyond one 1 MiB read
    data = (ACCOUNT_HEAD + "\n".join(rows) + "\n").encode() + b"A-last,Caf\xe9 \x80,,,\n"
    _write(tmp_path, "accounts", data)
    report = crm_import(directory=tmp_path)
    assert report.errors == []
    assert report.notes == ["accounts.csv: not UTF-8 (line 30002 is not), read as Windows-1252"]
    assert Account.objects.count() == 30_001
    assert Account.objects.get(external_id="A-last").name == "Café €"


def test_utf8_split_across_reads_stays_utf8(tmp_path, monkeypatch):
    import scoring.csv_import as csv_import

    monkeypatch.setattr(csv_import, "_CHUNK_BYTES", 3)  # every "ü" falls across two reads
    _write(tmp_path, "accounts", ACCOUNT_HEAD + "A-1,Müller Ölmühle Füssen,,,\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == [] and report.notes == []
    assert _names() == {"A-1": "Müller Ölmühle Füssen"}


def test_utf8_with_bom_recognises_the_first_column(tmp_path):
    _write(tmp_path, "accounts", codecs.BOM_UTF8 + (ACCOUNT_HEAD + "A-1,Müller,,,\n").encode())
    report = crm_import(directory=tmp_path)
    assert report.errors == [] and report.notes == []
    mueller = Account.objects.get(external_id="A-1")
    assert mueller.name == "Müller" and mueller.attributes == {}


def test_bom_with_bytes_that_are_not_utf8_is_reported_as_undecidable(tmp_path):
    data = codecs.BOM_UTF8 + ACCOUNT_HEAD.encode() + b"A-1,Ok,,,\nA-2,M\xfcller,,,\n"
    _write(tmp_path, "accounts", data)
    report = crm_import(directory=tmp_path)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(
        "accounts.csv:3: not UTF-8, though the file starts with a UTF-8 byte order mark; "
        "expected UTF-8 throughout, or Windows-1252 without the mark"
    )
    assert Account.objects.count() == 0


def test_utf16_file_is_reported_not_read(tmp_path):
    _write(tmp_path, "accounts", (ACCOUNT_HEAD + "A-1,Müller,,,\n").encode("utf-16"))
    report = crm_import(directory=tmp_path)
    assert report.errors == [
        "accounts.csv: the file is UTF-16 or UTF-32; expected UTF-8 or Windows-1252 "
        "(nothing imported from it)"
    ]


# --- NUL -----------------------------------------------------------------------------------------


def test_nul_in_a_value_refuses_that_row_only(tmp_path):
    rows = [
        "A-1,Eins,,,",
        "A-2,Zw\x00ei,,,",
        "A-3,Drei,,,",
        "A-4,Vier,,,mid\x00market",
        "A-5,Fünf,,,",
    ]
    _write(tmp_path, "accounts", ACCOUNT_HEAD + "\n".join(rows) + "\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == [
        "accounts.csv:3: name contains a NUL character",
        "accounts.csv:5: segment contains a NUL character",
    ]
    assert _names() == {"A-1": "Eins", "A-3": "Drei", "A-5": "Fünf"}


def test_nul_in_an_activity_property_refuses_that_activity_only(tmp_path):
    _write(tmp_path, "leads", "external_id,email\nL-1,a@example.de\n")
    activities = (
        "external_id,lead_external_id,kind,occurred_at,url\n"
        "E-1,L-1,page_view,2026-03-01T10:00:00Z,/a\n"
        "E-2,L-1,page_view,2026-03-01T11:00:00Z,/b\x00\n"
        "E-3,L-1,page_view,2026-03-01T12:00:00Z,/c\n"
    )
    _write(tmp_path, "activities", activities)
    report = crm_import(directory=tmp_path)
    assert report.errors == ["activities.csv:3: url contains a NUL character"]
    assert sorted(Activity.objects.values_list("external_id", flat=True)) == ["E-1", "E-3"]


def test_nul_in_the_header_refuses_the_file(tmp_path):
    _write(tmp_path, "accounts", "external_id,name,seg\x00ment\nA-1,Eins,x\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == [
        "accounts.csv:1: header: column 3 contains a NUL character (nothing imported)"
    ]
    assert Account.objects.count() == 0


# --- timestamps and dates ------------------------------------------------------------------------


def test_timestamps_before_1970_are_refused_with_their_line(tmp_path):
    _write(tmp_path, "leads", "external_id,email,created_at\nL-1,a@example.de,\n")
    activities = (
        "external_id,lead_external_id,kind,occurred_at\n"
        "E-1,L-1,page_view,2026-03-01T10:00:00Z\n"
        "E-2,L-1,page_view,0001-01-01T00:00:00+14:00\n"
        "E-3,L-1,page_view,1077-07-04T12:00:00\n"
        "E-4,L-1,page_view,1969-12-31T23:59:59Z\n"
        "E-5,L-1,page_view,1970-01-01T00:00:00Z\n"
    )
    _write(tmp_path, "activities", activities)
    report = crm_import(directory=tmp_path)
    assert report.errors == [
        "activities.csv:3: occurred_at '0001-01-01T00:00:00+14:00' lies before 1970-01-01",
        "activities.csv:4: occurred_at '1077-07-04T12:00:00' lies before 1970-01-01",
        "activities.csv:5: occurred_at '1969-12-31T23:59:59Z' lies before 1970-01-01",
    ]
    # Read back every stored time: a BC timestamp would fail here on PostgreSQL.
    assert sorted(Activity.objects.values_list("occurred_at", flat=True)) == [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 10, tzinfo=UTC),
    ]


def test_lead_and_outcome_times_outside_the_plausible_range_are_refused(tmp_path):
    far = (datetime.now(UTC) + timedelta(days=3700)).isoformat()
    leads = (
        "external_id,email,created_at,birthday\n"
        "L-1,a@example.de,2026-01-10T09:00:00,1990-05-17\n"
        "L-2,b@example.de,1077-01-01T00:00:00,\n"
        f"L-3,c@example.de,{far},\n"
        "L-4,d@example.de,,1850-01-01\n"
        "L-5,e@example.de,,2999-01-01\n"
    )
    outcomes = (
        "lead_external_id,outcome,occurred_at,value\n"
        "L-1,won,0001-01-01T00:00:00+14:00,\n"
        "L-1,won,2026-04-01T12:00:00Z,100\n"
    )
    _write(tmp_path, "leads", leads)
    _write(tmp_path, "outcomes", outcomes)
    report = crm_import(directory=tmp_path)
    assert report.errors == [
        "leads.csv:3: created_at '1077-01-01T00:00:00' lies before 1970-01-01",
        f"leads.csv:4: created_at '{far}' lies more than ten years ahead",
        "leads.csv:5: birthday '1850-01-01' lies before 1900-01-01",
        "leads.csv:6: birthday '2999-01-01' lies in the future",
        "outcomes.csv:2: occurred_at '0001-01-01T00:00:00+14:00' lies before 1970-01-01",
    ]
    assert list(Lead.objects.values_list("external_id", flat=True)) == ["L-1"]
    assert list(LeadOutcome.objects.values_list("occurred_at", flat=True)) == [
        datetime(2026, 4, 1, 12, tzinfo=UTC)
    ]


def test_activities_further_ahead_than_the_api_allows_are_refused(tmp_path):
    now = datetime.now(UTC)
    soon, later = (now + timedelta(minutes=10)).isoformat(), (now + timedelta(hours=2)).isoformat()
    _write(tmp_path, "leads", "external_id,email\nL-1,a@example.de\n")
    activities = (
        "external_id,lead_external_id,kind,occurred_at\n"
        f"E-1,L-1,page_view,{soon}\n"
        f"E-2,L-1,page_view,{later}\n"
    )
    _write(tmp_path, "activities", activities)
    report = crm_import(directory=tmp_path)
    assert report.errors == [f"activities.csv:3: occurred_at '{later}' lies in the future"]
    assert list(Activity.objects.values_list("external_id", flat=True)) == ["E-1"]


# --- numbers -------------------------------------------------------------------------------------


def test_integers_beyond_the_column_are_refused_with_their_line(tmp_path):
    rows = [
        "A-1,Eins,2147483647,,",
        "A-2,Zwei,99999999999,,",
        "A-3,Drei,-1,,",
        "A-4,Vier,1e999999999,,",
        "A-5,Fünf,150,,",
    ]
    _write(tmp_path, "accounts", ACCOUNT_HEAD + "\n".join(rows) + "\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == [
        "accounts.csv:3: employee_count '99999999999' must be between 0 and 2147483647",
        "accounts.csv:4: employee_count '-1' must be between 0 and 2147483647",
        "accounts.csv:5: employee_count '1e999999999' must be between 0 and 2147483647",
    ]
    counts = dict(Account.objects.values_list("external_id", "employee_count"))
    assert counts == {"A-1": 2147483647, "A-5": 150}


def test_decimals_beyond_the_column_are_refused_and_extra_places_rounded(tmp_path):
    rows = [
        "A-1,Eins,,99999999999999,",  # 16 digits stored: SQLite reads 15 back
        "A-2,Zwei,,123456789012345,",
        "A-3,Drei,,99999999999999.995,",
        "A-4,Vier,,1e20,",
        "A-5,Fünf,,1234.565,",
    ]
    _write(tmp_path, "accounts", ACCOUNT_HEAD + "\n".join(rows) + "\n")
    _write(tmp_path, "leads", "external_id,email\nL-1,a@example.de\n")
    outcomes = (
        "lead_external_id,outcome,occurred_at,value\n"
        "L-1,won,2026-04-01T12:00:00Z,1e20\n"
        "L-1,lost,2026-04-02T12:00:00Z,12000.5\n"
    )
    _write(tmp_path, "outcomes", outcomes)
    report = crm_import(directory=tmp_path)
    too_many = "has more than 14 digits before the decimal point"
    assert report.errors == [
        f"accounts.csv:3: annual_revenue '123456789012345' {too_many}",
        f"accounts.csv:4: annual_revenue '99999999999999.995' {too_many}",
        f"accounts.csv:5: annual_revenue '1e20' {too_many}",
        f"outcomes.csv:2: value '1e20' {too_many}",
    ]
    revenues = dict(Account.objects.values_list("external_id", "annual_revenue"))
    assert revenues == {"A-1": Decimal("99999999999999"), "A-5": Decimal("1234.57")}
    assert list(LeadOutcome.objects.values_list("value", flat=True)) == [Decimal("12000.50")]
    # Stored as given once rounded: running again changes nothing.
    again = crm_import(directory=tmp_path)
    assert again.updated == {"accounts": 0, "leads": 0} and again.created.get("outcomes") == 0


# --- oversized fields ----------------------------------------------------------------------------


def _big() -> int:
    return csv.field_size_limit() + 10


def test_oversized_field_is_reported_and_the_next_row_imported(tmp_path):
    limit = csv.field_size_limit()
    rows = ["A-1,Eins,,,", f"A-2,{'x' * _big()},,,", "A-3,Drei,,,", "A-4,Vier,,,"]
    _write(tmp_path, "accounts", ACCOUNT_HEAD + "\n".join(rows) + "\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == [f"accounts.csv:3: field larger than {limit} characters"]
    assert _names() == {"A-1": "Eins", "A-3": "Drei", "A-4": "Vier"}


def test_oversized_quoted_field_over_several_lines_is_skipped_to_its_end(tmp_path):
    limit, half = csv.field_size_limit(), _big() // 2
    # The field starts on line 3 and ends on line 6; the reader gives up inside it on line 5,
    # where "" is a quote in the field, not its end.
    big = f'"{"x" * 10}\n{"y" * half}\n{"z" * half}""\nend"'
    rows = ["A-1,Eins,,,", f"A-2,Zwei,,,{big}", "A-3,Drei,,,", "A-4,Vier,,,"]
    _write(tmp_path, "accounts", ACCOUNT_HEAD + "\n".join(rows) + "\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == [f"accounts.csv:3: field larger than {limit} characters"]
    assert _names() == {"A-1": "Eins", "A-3": "Drei", "A-4": "Vier"}


def test_oversized_unquoted_field_with_a_quote_inside_skips_only_its_line(tmp_path):
    limit = csv.field_size_limit()
    rows = ["A-1,Eins,,,", f'A-2,ab"{"x" * _big()},,,', "A-3,Drei,,,", "A-4,Vier,,,"]
    _write(tmp_path, "accounts", ACCOUNT_HEAD + "\n".join(rows) + "\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == [f"accounts.csv:3: field larger than {limit} characters"]
    assert _names() == {"A-1": "Eins", "A-3": "Drei", "A-4": "Vier"}


# --- the command ---------------------------------------------------------------------------------


def test_command_names_the_encoding_and_lists_bad_rows_without_a_traceback(tmp_path, capsys):
    text = ACCOUNT_HEAD + "A-1,Müller,,,\nA-2,Zw\x00ei,99999999999,,\nA-3,Drei,,,\n"
    _write(tmp_path, "accounts", text.encode("cp1252"))
    with pytest.raises(CommandError, match="1 rows could not be imported"):
        call_command("import_crm", str(tmp_path))
    out = capsys.readouterr()
    assert "accounts.csv: not UTF-8 (line 2 is not), read as Windows-1252" in out.out
    assert "2 accounts created" in out.out
    assert out.err.strip() == "accounts.csv:3: name contains a NUL character"
