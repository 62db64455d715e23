"""Dashboard figures on the hand-made pipeline of conftest.py (numbers worked out in comments)."""

from datetime import date
from decimal import Decimal

import pytest

from reports.selectors import (
    conversion_by_band,
    dashboard_get,
    funnel_get,
    mqls_per_week,
    rejections_per_week,
    score_histograms,
    sla_compliance,
)
from tests.reports.pipeline_data import at, more_leads

pytestmark = pytest.mark.django_db
WEEKS = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16), date(2026, 3, 23)]


def test_funnel_counts_each_stage_reached_by_the_periods_scored_leads(pipeline):
    funnel = funnel_get(filters=pipeline.filters(pipeline.model_a))
    # L1-L6 and L10 are scored in A and created in the period; L1, L2, L3, L10 became MQL;
    # L1 and L2 were accepted and qualified; L1 was won.
    assert [(s.key, s.count) for s in funnel] == [
        ("iql", 7), ("mql", 4), ("sal", 2), ("sql", 2), ("won", 1)
    ]  # fmt: skip
    assert [s.conversion for s in funnel] == [None, pytest.approx(4 / 7), 0.5, 1.0, 0.5]


def test_funnel_median_days_in_each_stage(pipeline):
    funnel = {s.key: s for s in funnel_get(filters=pipeline.filters(pipeline.model_a))}
    # IQL→MQL took 2, 4, 6 days and 2 hours: the median of four is (2 + 4) / 2.
    assert funnel["iql"].median_days == pytest.approx(3.0)
    # MQL→SAL: 0.5 and 2 days; SAL→SQL: 2 and 4 days; SQL→won: 10 days.
    assert funnel["mql"].median_days == pytest.approx(1.25)
    assert funnel["sal"].median_days == pytest.approx(3.0)
    assert funnel["sql"].median_days == pytest.approx(10.0)
    assert funnel["won"].median_days is None


def test_funnel_of_all_models_adds_model_b_and_a_short_period_drops_leads(pipeline):
    everything = funnel_get(filters=pipeline.filters())
    assert everything[0].count == 8  # L9 is scored in model B
    first_week = funnel_get(filters=pipeline.filters(date_to=date(2026, 3, 8)))
    assert [s.count for s in first_week] == [3, 3, 2, 2, 1]  # L1, L2, L3


def test_funnel_of_an_empty_period_is_all_zero(pipeline):
    funnel = funnel_get(
        filters=pipeline.filters(date_from=date(2025, 1, 1), date_to=date(2025, 1, 31))
    )
    assert [s.count for s in funnel] == [0, 0, 0, 0, 0]
    assert all(s.median_days is None and s.conversion is None for s in funnel)


def test_mqls_per_week_by_model_and_by_source(pipeline):
    by_model = mqls_per_week(filters=pipeline.filters(), by="scoring_model__name")
    assert by_model.weeks == WEEKS
    # L7 (3 March), L1 (4 March), L2 (7 March) | L3 (9 March) | L10 (20 March)
    assert by_model.series == {"A": [3, 1, 1, 0]}
    by_source = mqls_per_week(filters=pipeline.filters(), by="lead__source")
    assert by_source.series == {
        "webinar": [2, 0, 0, 0],
        "(unknown)": [0, 1, 0, 0],
        "ads": [0, 0, 1, 0],
        "partner": [1, 0, 0, 0],
    }
    assert by_source.rows[0] == (WEEKS[0], [2, 0, 0, 1])


def test_score_histogram_bins_are_fifths_of_the_threshold(pipeline):
    (histogram,) = score_histograms(filters=pipeline.filters(pipeline.model_a))
    counts = {(low, high): n for low, high, n in histogram.bins if n}
    # -5 | 10 | 60 | 100, 105, 110 | 120; L7 (150) was created before the period.
    assert counts == {
        (None, Decimal(0)): 1,
        (Decimal(0), Decimal(20)): 1,
        (Decimal(60), Decimal(80)): 1,
        (Decimal(100), Decimal(120)): 3,
        (Decimal(120), Decimal(140)): 1,
    }
    assert len(histogram.bins) == 12
    assert [h.model for h in score_histograms(filters=pipeline.filters())] == ["A", "B"]


def test_conversion_by_band_lowest_band_first(pipeline):
    rows = conversion_by_band(filters=pipeline.filters(pipeline.model_a))
    assert [(r.band, r.lowest_score, r.leads, r.converted) for r in rows] == [
        ("cold", Decimal(-5), 2, 0),
        ("warm", Decimal(60), 1, 0),
        ("hot", Decimal(100), 4, 1),  # L1 was won
    ]
    assert rows[2].rate == 0.25


def test_sla_compliance_per_week(pipeline):
    sla = sla_compliance(filters=pipeline.filters(pipeline.model_a), now=at(25))
    weeks = [(w.week, w.in_time, w.late, w.overdue, w.waiting) for w in sla.weeks]
    assert weeks == [
        (WEEKS[0], 1, 1, 0, 0),  # L1 accepted in time, L2 accepted late
        (WEEKS[1], 1, 0, 0, 0),  # L3 rejected in time
        (WEEKS[2], 0, 0, 1, 0),  # L10 unanswered past 21 March
        (WEEKS[3], 0, 0, 0, 0),
    ]
    assert sla.rate == 0.5 and sla.overdue == 1


def test_sla_handoff_before_its_deadline_is_still_waiting(pipeline):
    sla = sla_compliance(filters=pipeline.filters(pipeline.model_a), now=at(21, 0))
    assert sla.total("waiting") == 1 and sla.overdue == 0
    assert sla.rate == pytest.approx(2 / 3)


def test_rejection_reasons_per_week(pipeline):
    rejections = rejections_per_week(filters=pipeline.filters())
    assert rejections.series == {"Not ready to buy": [0, 1, 0, 0]}
    assert rejections_per_week(filters=pipeline.filters(pipeline.model_b)).series == {}


def test_dashboard_is_cached_for_the_same_filters(pipeline, settings, django_assert_num_queries):
    settings.REPORTS_CACHE_SECONDS = 60
    first = dashboard_get(filters=pipeline.filters())
    with django_assert_num_queries(0):
        again = dashboard_get(filters=pipeline.filters())
    assert again == first


def test_many_sources_keep_the_seven_largest_and_sum_the_rest_as_other(pipeline):
    more_leads(pipeline.model_a, 10)  # sources src0..src9, one MQL each on 14 March
    series = mqls_per_week(filters=pipeline.filters(), by="lead__source").series
    # Largest first, ties by name: webinar has 2, every other source 1.
    assert list(series) == [
        "webinar", "(unknown)", "ads", "partner", "src0", "src1", "src2", "Other"
    ]  # fmt: skip
    assert series["Other"] == [0, 7, 0, 0]  # src3..src9, all on 14 March
    assert sum(sum(counts) for counts in series.values()) == 15  # 5 + 10 MQLs, none lost


def test_refresh_task_computes_the_default_dashboards_ahead(
    pipeline, settings, django_assert_num_queries
):
    from reports.forms import ReportFilterForm
    from reports.tasks import refresh_default_dashboards

    settings.REPORTS_CACHE_SECONDS = 300
    assert refresh_default_dashboards() == 3  # all models, A, B
    form = ReportFilterForm({"scoring_model": "b"})
    assert form.is_valid()
    with django_assert_num_queries(0):
        dashboard_get(filters=form.filters())


def test_a_request_waits_for_the_computation_already_running(pipeline, settings):
    import threading

    from django.core.cache import cache

    from reports.selectors import _cache_key, dashboard_compute

    settings.REPORTS_CACHE_SECONDS = 300
    filters = pipeline.filters()
    key = _cache_key(filters)
    ready = dashboard_compute(filters=filters)
    cache.set(f"{key}:computing", 1)  # another process is computing these figures
    threading.Timer(0.2, lambda: cache.set(key, ready)).start()
    assert dashboard_get(filters=filters).computed_at == ready.computed_at
