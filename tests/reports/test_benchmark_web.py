"""benchmarks.web works end to end: signed-in concurrent users, p95 per page, export throughput.

Timing figures belong to the benchmarks; these tests only prove the tools measure something real.
"""

import socket

import pytest
from django.db import connection

from benchmarks.web import (
    BenchmarkError,
    _latest_days_holding,
    _think_range,
    export_rows_per_s,
    measure,
    serve,
)
from tests.reports.pipeline_data import pipeline_build

PATHS = {"overview": "/", "dashboard": "/reports/?date_from=2026-03-02&date_to=2026-03-29"}


@pytest.fixture
def data(transactional_db, marketing_user):  # type: ignore[no-untyped-def]
    pipeline_build()
    return marketing_user


def test_measure_gives_a_p95_per_page_for_concurrent_signed_in_users(live_server, data):
    result = measure(live_server.url, "mia", "pw-mia", PATHS, users=3, seconds=1)
    assert set(result) == {"overview", "dashboard"}
    assert all(0 < ms < 60_000 for ms in result.values())


def test_measure_refuses_a_wrong_password_and_error_pages(live_server, data, outsider):
    with pytest.raises(BenchmarkError, match="signing in"):
        measure(live_server.url, "mia", "wrong", PATHS, users=1, seconds=0.1)
    with pytest.raises(BenchmarkError, match="403"):
        measure(live_server.url, "otto", "pw-otto", {"reports": "/reports/"}, users=1, seconds=0.1)


def test_export_rows_per_s_counts_the_streamed_rows(live_server, data):
    from reports.exports import DATASETS
    from reports.forms import ReportFilterForm

    query = "date_from=2026-03-02&date_to=2026-03-29"
    form = ReportFilterForm({"date_from": "2026-03-02", "date_to": "2026-03-29"})
    assert form.is_valid()
    expected = sum(1 for _row in DATASETS["leads"].rows(form.filters()))
    rows, rate = export_rows_per_s(
        live_server.url, "mia", "pw-mia", f"/reports/exports/leads.csv?{query}"
    )
    assert rows == expected > 0
    assert rate > 0


def test_several_paths_of_one_name_are_taken_in_turn(live_server, data):
    paths = {"pages": ["/", "/reports/?date_from=2026-03-02&date_to=2026-03-29", "/nowhere/"]}
    # The third path answers 404, so cycling through all of them must fail the measurement.
    with pytest.raises(BenchmarkError, match="/nowhere/: 404"):
        measure(live_server.url, "mia", "pw-mia", paths, users=1, seconds=1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.postgres
def test_serve_runs_gunicorn_on_the_database_until_the_block_ends(data):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = _free_port()
    with serve(url, port, workers=1) as base_url:
        result = measure(base_url, "mia", "pw-mia", PATHS, users=2, seconds=0.5)
        assert set(result) == set(PATHS)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_simulated_users_read_between_pages(live_server, data):
    served: list[int] = []
    measure(
        live_server.url, "mia", "pw-mia", PATHS, users=1, seconds=0.6, think=(0.3, 0.3),
        served=served,
    )  # fmt: skip
    # At 0 s, after 0.3 s and after 0.6 s at the latest: reading time keeps a user to three.
    assert len(PATHS) <= served[0] <= 3
    assert _think_range("1-3") == (1.0, 3.0) and _think_range("0") == (0.0, 0.0)


@pytest.mark.django_db
def test_the_export_range_is_the_latest_days_holding_enough_rows():
    from datetime import date, datetime, timedelta

    from django.utils import timezone

    from tests.factories import ActivityFactory, LeadFactory

    lead = LeadFactory()
    noon = timezone.make_aware(datetime(2026, 3, 10, 12))
    for days_back in (0, 0, 1, 5):
        ActivityFactory(lead=lead, occurred_at=noon - timedelta(days_back))
    oldest = date(2026, 1, 1)
    assert _latest_days_holding(2, oldest=oldest) == date(2026, 3, 10)
    assert _latest_days_holding(3, oldest=oldest) == date(2026, 3, 9)
    assert _latest_days_holding(9, oldest=oldest) == oldest
    assert _latest_days_holding(4, oldest=date(2026, 3, 8)) == date(2026, 3, 8)
