"""import_crm: streamed CSV import that keeps good rows, reports bad ones and is idempotent."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from scoring.csv_import import crm_import
from scoring.models import Account, Activity, Lead, LeadOutcome

pytestmark = pytest.mark.django_db

ACCOUNTS = """external_id,name,domain,industry,employee_count,annual_revenue,country,is_target_account,is_competitor,segment
A-1,Müller Maschinenbau GmbH,MUELLER.de,Manufacturing,150,25000000,de,yes,no,mid-market
A-2,Van der Berg Logistiek B.V.,vdberg.nl,Logistics,12,1000000,NL,FALSE,0,small
A-3,Broken Ltd,broken.example,,many,,GB,maybe,no,
"""
LEADS = """external_id,email,first_name,last_name,job_title,seniority,account_external_id,source,created_at,birthday,interest
L-1,anna@mueller.de,Anna,Schulz,Head of Purchasing,director,A-1,webinar,2026-01-10T09:00:00,,
L-2,joost@vdberg.nl,Joost,de Vries,Werkstudent,student,A-2,website,2026-02-01T10:00:00+01:00,,
L-3,tanja@example.de,Tanja,Becker,,,,newsletter,2026-03-01,1990-05-17,paper
L-4,ANNA@mueller.de,Anna,Doppelt,,,,website,,,
L-5,x@example.de,X,Y,,,A-99,website,,,
L-6,not-an-email,Z,Z,,,,website,,,
"""
ACTIVITIES = """external_id,lead_external_id,kind,occurred_at,channel,url,product,campaign,title
E-1,L-1,webinar_attended,2026-03-02T15:00:00Z,event,,,spring-webinar,
E-2,L-1,page_view,2026-03-03T10:00:00,web,/pricing,,,Preise
,L-3,newsletter_signup,2026-03-01T08:00:00,email,,,,
,L-3,page_view,2026-03-04T08:00:00,web,/products/paper/a4,paper,,
E-3,L-404,page_view,2026-03-04T08:00:00,web,/,,,
E-4,L-1,page_view,yesterday,web,/,,,
E-5,L-1,,2026-03-04T08:00:00,web,/,,,
"""
OUTCOMES = """lead_external_id,outcome,occurred_at,value
L-1,won,2026-04-01T12:00:00Z,12000
L-2,maybe,2026-04-01T12:00:00Z,
"""


def _write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def crm_dir(tmp_path):
    return _write(
        tmp_path, accounts=ACCOUNTS, leads=LEADS, activities=ACTIVITIES, outcomes=OUTCOMES
    )


def test_good_rows_are_imported_with_typed_fields_and_extra_columns_as_attributes(crm_dir):
    crm_import(directory=crm_dir)
    mueller = Account.objects.get(external_id="A-1")
    assert mueller.employee_count == 150 and mueller.is_target_account is True
    assert mueller.domain == "mueller.de" and mueller.country == "DE"
    assert mueller.attributes == {"segment": "mid-market"}
    assert Account.objects.get(external_id="A-2").is_target_account is False
    tanja = Lead.objects.get(external_id="L-3")
    assert tanja.attributes == {"interest": "paper"}
    assert str(tanja.birthday) == "1990-05-17"
    anna = Lead.objects.get(external_id="L-1")
    assert anna.account == mueller
    assert anna.created_at == datetime(2026, 1, 10, 8, 0, tzinfo=UTC)  # read in Europe/Berlin


def test_activity_properties_and_offsets(crm_dir):
    crm_import(directory=crm_dir)
    pricing = Activity.objects.get(external_id="E-2")
    assert pricing.properties == {"url": "/pricing", "title": "Preise"}
    assert pricing.channel == "web"
    assert Activity.objects.get(external_id="E-1").occurred_at == datetime(
        2026, 3, 2, 15, 0, tzinfo=UTC
    )
    assert Activity.objects.filter(lead__external_id="L-3").count() == 2
    assert LeadOutcome.objects.get().value == Decimal("12000")


def test_every_bad_row_is_reported_with_file_line_and_reason(crm_dir):
    report = crm_import(directory=crm_dir)
    errors = "\n".join(report.errors)
    assert "accounts.csv:4: employee_count 'many' is not a whole number" in errors
    assert "leads.csv:5: email 'ANNA@mueller.de' already belongs to lead 'L-1'" in errors
    assert "leads.csv:6: account_external_id 'A-99' is not a known account" in errors
    assert "leads.csv:7: email 'not-an-email' is not an e-mail address" in errors
    assert "activities.csv:6: lead_external_id 'L-404' is not a known lead" in errors
    assert "activities.csv:7: occurred_at 'yesterday' is not an ISO 8601 timestamp" in errors
    assert "activities.csv:8: kind is missing" in errors
    assert "outcomes.csv:3: outcome 'maybe' is not one of" in errors
    assert len(report.errors) == 8


def test_reimporting_the_same_files_changes_nothing(crm_dir):
    crm_import(directory=crm_dir)
    before = {
        "leads": list(Lead.objects.order_by("pk").values()),
        "accounts": list(Account.objects.order_by("pk").values()),
        "activities": list(Activity.objects.order_by("pk").values()),
        "outcomes": list(LeadOutcome.objects.order_by("pk").values()),
    }
    second = crm_import(directory=crm_dir)
    after = {
        "leads": list(Lead.objects.order_by("pk").values()),
        "accounts": list(Account.objects.order_by("pk").values()),
        "activities": list(Activity.objects.order_by("pk").values()),
        "outcomes": list(LeadOutcome.objects.order_by("pk").values()),
    }
    assert after == before
    assert sum(second.created.values()) == 0 and sum(second.updated.values()) == 0


def test_changed_row_updates_only_that_record_and_keeps_absent_columns(tmp_path):
    _write(tmp_path, accounts=ACCOUNTS)
    crm_import(directory=tmp_path)
    _write(tmp_path, accounts="external_id,name,employee_count\nA-1,Müller Maschinenbau GmbH,180\n")
    report = crm_import(directory=tmp_path)
    mueller = Account.objects.get(external_id="A-1")
    assert mueller.employee_count == 180
    assert mueller.is_target_account is True  # column absent: kept
    assert mueller.attributes == {"segment": "mid-market"}
    assert report.updated == {"accounts": 1}


def test_missing_files_are_fine_and_an_empty_folder_is_an_error(tmp_path):
    report = crm_import(directory=tmp_path)
    assert report.errors and "none of accounts.csv" in report.errors[0]
    _write(tmp_path, accounts=ACCOUNTS)
    assert Account.objects.count() == 0
    crm_import(directory=tmp_path)
    assert Account.objects.count() == 2


def test_large_file_is_processed_in_batches(tmp_path, monkeypatch, django_assert_max_num_queries):
    import scoring.csv_import as csv_import

    monkeypatch.setattr(csv_import, "BATCH_SIZE", 50)
    lines = ["external_id,email,first_name"] + [f"L-{i},l{i}@example.de,N{i}" for i in range(500)]
    _write(tmp_path, leads="\n".join(lines) + "\n")
    # A fixed number of queries per batch of 50, never one per row.
    with django_assert_max_num_queries(10 * 6):
        report = crm_import(directory=tmp_path)
    assert report.created == {"leads": 500} and not report.errors


def test_command_reports_errors_and_exits_non_zero(crm_dir, capsys):
    with pytest.raises(CommandError, match="8 rows"):
        call_command("import_crm", str(crm_dir))
    out = capsys.readouterr()
    assert "accounts.csv:4" in out.err
    assert "created" in out.out and Lead.objects.count() == 3


def test_command_succeeds_on_clean_files(tmp_path, capsys):
    _write(tmp_path, accounts="external_id,name\nA-1,Ok GmbH\n")
    call_command("import_crm", str(tmp_path))
    assert "1 accounts created" in capsys.readouterr().out


def test_blank_stage_keeps_the_stage_and_fractional_counts_are_errors(tmp_path):
    _write(tmp_path, leads="external_id,email,lifecycle_stage\nL-1,a@example.de,customer\n")
    crm_import(directory=tmp_path)
    _write(tmp_path, leads="external_id,email,lifecycle_stage\nL-1,a@example.de,\n")
    crm_import(directory=tmp_path)
    assert Lead.objects.get().lifecycle_stage == "customer"
    _write(tmp_path, accounts="external_id,name,employee_count\nA-1,X GmbH,12.7\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == ["accounts.csv:2: employee_count '12.7' is not a whole number"]
