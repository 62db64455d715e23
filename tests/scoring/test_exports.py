"""export_scores: one row per lead, streamed, safe to open in a spreadsheet."""

import csv
from datetime import UTC, datetime
from io import StringIO

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from scoring.exports import spreadsheet_safe
from scoring.rescoring import leads_rescore
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]
MODEL = """slug: exp
name: Export test
mql_threshold: 50
bands: [{label: cold, min: 0}, {label: hot, min: 50}]
criteria:
  - {name: Target, type: attribute, field: account.is_target_account, op: equals, value: true, points: 20}
  - {name: Webinar, type: activity, kinds: [webinar_attended], points: 50, count: once}
  - {name: Student, type: attribute, field: lead.job_title, op: icontains, value: student, points: -30}
"""


@pytest.fixture
def scored(tmp_path):
    (tmp_path / "m.yaml").write_text(MODEL)
    call_command("load_scoring_model", str(tmp_path / "m.yaml"), stdout=StringIO())
    hot = LeadFactory(external_id="L-hot", account=AccountFactory(is_target_account=True))
    ActivityFactory(lead=hot, kind="webinar_attended")
    LeadFactory(external_id='=HYPERLINK("http://evil")', email="x@example.de", job_title="Student")
    leads_rescore(now=NOW)
    return tmp_path


def test_csv_has_one_row_per_lead_highest_first(scored):
    out = StringIO()
    call_command("export_scores", model="exp", stdout=out)
    rows = list(csv.DictReader(StringIO(out.getvalue())))
    assert list(rows[0]) == [
        "lead_external_id", "email", "score", "fit", "engagement", "band", "grade", "mql",
        "computed_at", "probability",
    ]  # fmt: skip
    assert {r["probability"] for r in rows} == {""}  # no predictive score trained
    assert [(r["lead_external_id"], r["score"], r["band"], r["mql"]) for r in rows] == [
        ("L-hot", "70.00", "hot", "true"),
        ('\'=HYPERLINK("http://evil")', "-30.00", "cold", "false"),
    ]


def test_xlsx_keeps_numbers_as_numbers_and_text_inert(scored):
    path = scored / "scores.xlsx"
    call_command("export_scores", model="exp", format="xlsx", output=str(path), stderr=StringIO())
    sheet = openpyxl.load_workbook(path).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][:4] == ("L-hot", values[1][1], 70, 20)
    assert values[2][0].startswith("'=") and values[2][2] == -30


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"])
def test_formula_like_text_is_neutralised(text):
    assert spreadsheet_safe(text) == "'" + text


def test_plain_text_and_numbers_are_untouched():
    assert spreadsheet_safe("anna@example.de") == "anna@example.de"
    assert spreadsheet_safe(-30) == -30


def test_unknown_model_and_xlsx_without_file_are_clear_errors(scored):
    with pytest.raises(CommandError, match="No scoring model 'nope'"):
        call_command("export_scores", model="nope")
    with pytest.raises(CommandError, match="XLSX needs a file"):
        call_command("export_scores", model="exp", format="xlsx")
