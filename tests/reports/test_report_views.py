"""The reports page: who may see it, its filters, and a query count that does not grow."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.reports.pipeline_data import more_leads

pytestmark = pytest.mark.django_db
URL = "/reports/"
PERIOD = {"date_from": "2026-03-02", "date_to": "2026-03-29"}


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.REPORTS_CACHE_SECONDS = 0


def test_marketing_sees_every_chart_with_its_numbers(client, marketing_user, pipeline):
    client.force_login(marketing_user)
    response = client.get(URL, {**PERIOD, "scoring_model": "a"})
    assert response.status_code == 200
    page = response.content.decode()
    for heading in ("Pipeline funnel", "New MQLs per week, by model", "New MQLs per week, by source",
                    "Score distribution", "Conversion by score band", "Follow-up SLA",
                    "Rejection reasons over time"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in page
    funnel = [(s.key, s.count) for s in response.context["data"].funnel]
    assert funnel == [("iql", 7), ("mql", 4), ("sal", 2), ("sql", 2), ("won", 1)]
    assert 'id="chart-funnel"' in page and 'id="chart-histogram-0"' in page
    assert "vendor/chartjs/chart.umd.min.js" in page
    assert "Not ready to buy" in page


def test_sales_sees_reports_without_export_links(client, sales_user, pipeline):
    client.force_login(sales_user)
    response = client.get(URL, PERIOD)
    assert response.status_code == 200
    assert response.context["can_export"] is False
    assert "/reports/exports/" not in response.content.decode()


def test_outsider_is_refused_and_anonymous_is_sent_to_sign_in(client, outsider):
    assert client.get(URL).status_code == 302
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


def test_reports_link_in_navigation(client, marketing_user):
    client.force_login(marketing_user)
    assert 'href="/reports/"' in client.get("/reports/").content.decode()


def test_without_filters_the_last_90_days_of_all_models_are_shown(client, marketing_user):
    client.force_login(marketing_user)
    response = client.get(URL)
    filters = response.context["filters"]
    assert response.status_code == 200
    assert filters.scoring_model_id is None
    assert (filters.date_to - filters.date_from).days == 89
    assert "No scored leads were created in this period" in response.content.decode()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"date_from": "2026-13-01"}, "Enter a valid date"),
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "must be on or before"),
        ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "at most 731 days"),
        ({"scoring_model": "nope"}, "Select a valid choice"),
    ],
)
def test_bad_filters_are_a_400_with_the_reason(client, marketing_user, params, message):
    client.force_login(marketing_user)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "data" not in response.context


def _queries(client, params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL, params).status_code == 200
    return len(queries)


def test_query_count_does_not_grow_with_rows(
    client, marketing_user, pipeline, django_assert_max_num_queries
):
    client.force_login(marketing_user)
    few = _queries(client, PERIOD)
    more_leads(pipeline.model_a, 30)
    more_leads(pipeline.model_b, 30)
    with django_assert_max_num_queries(few):
        client.get(URL, PERIOD)
    assert _queries(client, PERIOD) == few
    assert few <= 25
