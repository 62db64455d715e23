"""Admin exports: CSV streamed, XLSX in constant memory, filtered like the page, formula-safe."""

import csv
import io

import openpyxl
import pytest
from django.http import FileResponse, StreamingHttpResponse

from tests.reports.pipeline_data import add_lead, at

pytestmark = pytest.mark.django_db
PERIOD = {"date_from": "2026-03-02", "date_to": "2026-03-29"}


def _csv(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


def test_leads_csv_has_one_row_per_score_of_the_periods_leads(client, marketing_user, pipeline):
    client.force_login(marketing_user)
    response = client.get("/reports/exports/leads.csv", {**PERIOD, "scoring_model": "a"})
    assert response.status_code == 200
    assert 'filename="leads-2026-03-02-2026-03-29.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    # L1-L6 and L10; L7 is older, L8 has no score, L9 is in model B.
    assert sorted(r["lead_external_id"] for r in rows) == [
        "L1", "L10", "L2", "L3", "L4", "L5", "L6"
    ]  # fmt: skip
    first = next(r for r in rows if r["lead_external_id"] == "L1")
    assert (first["model"], first["score"], first["band"], first["mql"]) == (
        "a", "120.00", "hot", "true"
    )  # fmt: skip
    assert first["lead_created_at"] == "2026-03-02T10:00:00+01:00"


def test_all_models_export_includes_model_b(client, marketing_user, pipeline):
    client.force_login(marketing_user)
    rows = _csv(client.get("/reports/exports/leads.csv", PERIOD))
    assert {r["model"] for r in rows} == {"a", "b"}


def test_formula_text_is_neutralised_in_csv_and_xlsx(client, admin_user_role, pipeline):
    add_lead(pipeline.model_a, "=cmd|' /C calc'!A0", at(15), 5, source="@SUM(1+1)",
             first_name="+49 30 1234", email="x@example.de")  # fmt: skip
    client.force_login(admin_user_role)
    row = next(
        r for r in _csv(client.get("/reports/exports/leads.csv", PERIOD))
        if r["email"] == "x@example.de"
    )  # fmt: skip
    assert row["lead_external_id"] == "'=cmd|' /C calc'!A0"
    assert row["source"] == "'@SUM(1+1)"
    assert row["first_name"] == "'+49 30 1234"
    response = client.get("/reports/exports/leads.xlsx", PERIOD)
    assert isinstance(response, FileResponse)
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [cell for row in sheet.iter_rows(values_only=True) for cell in row]
    assert "'=cmd|' /C calc'!A0" in values and "=cmd|' /C calc'!A0" not in values


def test_handoffs_export_has_first_answer_reason_and_deal_value(client, marketing_user, pipeline):
    client.force_login(marketing_user)
    rows = {
        r["lead_external_id"]: r for r in _csv(client.get("/reports/exports/handoffs.csv", PERIOD))
    }
    assert set(rows) == {"L1", "L2", "L3", "L10"}
    assert rows["L1"]["status"] == "won"
    assert rows["L1"]["first_answer_at"] == "2026-03-04T22:00:00+01:00"
    assert rows["L3"]["status"] == "rejected"
    assert rows["L3"]["rejection_reason"] == "Not ready to buy"
    assert rows["L10"]["first_answer_at"] == ""


def test_handoffs_xlsx_keeps_numbers_and_dates(client, marketing_user, pipeline):
    client.force_login(marketing_user)
    response = client.get("/reports/exports/handoffs.xlsx", PERIOD)
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["handoffs"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header[:3] == ("handoff_id", "lead_id", "lead_external_id")
    assert len(rows) == 4
    score = header.index("score_at_handoff")
    assert all(row[score] == 100 for row in rows)


def test_activity_log_export_filtered_by_period_and_model(client, marketing_user, pipeline):
    from tests.factories import ActivityFactory

    leads = pipeline.leads
    ActivityFactory(lead=leads["L1"], kind="webinar_attended", occurred_at=at(5),
                    properties={"campaign": "=HYPERLINK(1)"})  # fmt: skip
    ActivityFactory(lead=leads["L9"], kind="page_view", occurred_at=at(6))
    ActivityFactory(lead=leads["L1"], kind="page_view", occurred_at=at(1, month=2))
    client.force_login(marketing_user)
    rows = _csv(client.get("/reports/exports/activities.csv", {**PERIOD, "scoring_model": "a"}))
    assert [(r["lead_external_id"], r["kind"]) for r in rows] == [("L1", "webinar_attended")]
    assert rows[0]["properties"] == '{"campaign": "=HYPERLINK(1)"}'  # JSON text, not a formula
    everything = _csv(client.get("/reports/exports/activities.csv", PERIOD))
    assert len(everything) == 2


def test_sales_and_outsiders_may_not_export(client, sales_user, outsider, pipeline):
    client.force_login(sales_user)
    assert client.get("/reports/exports/leads.csv", PERIOD).status_code == 403
    client.force_login(outsider)
    assert client.get("/reports/exports/leads.csv", PERIOD).status_code == 403


def test_bad_filters_and_unknown_datasets(client, marketing_user):
    client.force_login(marketing_user)
    response = client.get("/reports/exports/leads.csv", {"date_from": "yesterday"})
    assert response.status_code == 400
    assert "Enter a valid date" in response.content.decode()
    assert client.get("/reports/exports/users.csv").status_code == 404
    assert client.get("/reports/exports/leads.pdf").status_code == 404
