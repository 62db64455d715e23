"""Chart.js configurations for the dashboard, built from the selectors' figures (no queries)."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .selectors import Dashboard, Histogram, WeeklySeries

# Colour-blind-safe palette (Okabe–Ito), reused in order for series.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
STAGE_LABELS = {
    "iql": "IQL",
    "mql": "MQL",
    "sal": "SAL",
    "sql": "SQL",
    "won": "Won",
}


def _week_labels(weeks: list[date]) -> list[str]:
    return [date_format(week, "SHORT_DATE_FORMAT") for week in weeks]


def _stacked_weekly(series: WeeklySeries, y_title: str) -> dict[str, Any]:
    return {
        "type": "bar",
        "data": {
            "labels": _week_labels(series.weeks),
            "datasets": [
                {"label": name, "data": counts, "backgroundColor": PALETTE[i % len(PALETTE)]}
                for i, (name, counts) in enumerate(series.series.items())
            ],
        },
        "options": {
            "scales": {
                "x": {"stacked": True, "title": {"display": True, "text": _("Week starting")}},
                "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0},
                      "title": {"display": True, "text": y_title}},
            },
        },
    }  # fmt: skip


def _points(value: Decimal) -> str:
    # 20.00 -> "20", 12.50 -> "12.5"
    return f"{value.normalize():f}" if value != value.to_integral() else f"{value:.0f}"


def bin_label(low: Decimal | None, high: Decimal | None) -> str:
    if low is None:
        return _("below 0")
    if high is None:
        return _("%(low)s and more") % {"low": _points(low)}
    return f"{_points(low)}–{_points(high)}"


def _histogram(histogram: Histogram, colour: str) -> dict[str, Any]:
    return {
        "type": "bar",
        "data": {
            "labels": [bin_label(low, high) for low, high, _n in histogram.bins],
            "datasets": [
                {
                    "label": _("Leads"),
                    "data": [n for _low, _high, n in histogram.bins],
                    "backgroundColor": colour,
                }
            ],
        },
        "options": {
            "plugins": {"legend": {"display": False}},
            "scales": {
                "x": {"title": {"display": True, "text": _("Score")}},
                "y": {"beginAtZero": True, "ticks": {"precision": 0},
                      "title": {"display": True, "text": _("Leads")}},
            },
        },
    }  # fmt: skip


def dashboard_charts(dashboard: Dashboard) -> dict[str, dict[str, Any]]:
    """Chart id -> Chart.js config, rendered into the page with json_script."""
    funnel = dashboard.funnel
    charts: dict[str, dict[str, Any]] = {
        "chart-funnel": {
            "type": "bar",
            "data": {
                "labels": [STAGE_LABELS[stage.key] for stage in funnel],
                "datasets": [{"label": _("Leads"), "data": [stage.count for stage in funnel],
                              "backgroundColor": PALETTE[0]}],
            },
            "options": {
                "indexAxis": "y",
                "plugins": {"legend": {"display": False}},
                "scales": {"x": {"beginAtZero": True, "ticks": {"precision": 0}}},
            },
        },
        "chart-mqls-by-model": _stacked_weekly(dashboard.mqls_by_model, _("New MQLs")),
        "chart-mqls-by-source": _stacked_weekly(dashboard.mqls_by_source, _("New MQLs")),
        "chart-band-conversion": {
            "type": "bar",
            "data": {
                "labels": [f"{row.model} · {row.band}" for row in dashboard.band_conversion],
                "datasets": [{
                    "label": _("Converted (%)"),
                    "data": [round(row.rate * 100, 1) for row in dashboard.band_conversion],
                    "backgroundColor": PALETTE[2],
                }],
            },
            "options": {
                "plugins": {"legend": {"display": False}},
                "scales": {"y": {"beginAtZero": True,
                                 "title": {"display": True, "text": _("Converted (%)")}}},
            },
        },
        "chart-sla": {
            "type": "bar",
            "data": {
                "labels": _week_labels([week.week for week in dashboard.sla.weeks]),
                "datasets": [
                    {"label": label, "backgroundColor": colour,
                     "data": [getattr(week, key) for week in dashboard.sla.weeks]}
                    for key, label, colour in (
                        ("in_time", _("Answered in time"), PALETTE[2]),
                        ("late", _("Answered late"), PALETTE[1]),
                        ("overdue", _("Unanswered, overdue"), PALETTE[5]),
                        ("waiting", _("Unanswered, still in time"), PALETTE[4]),
                    )
                ],
            },
            "options": {
                "scales": {
                    "x": {"stacked": True,
                          "title": {"display": True, "text": _("Week handed over")}},
                    "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}},
                },
            },
        },
        "chart-rejections": _stacked_weekly(dashboard.rejections, _("Rejected handoffs")),
    }  # fmt: skip
    for index, histogram in enumerate(dashboard.histograms):
        charts[f"chart-histogram-{index}"] = _histogram(histogram, PALETTE[index % len(PALETTE)])
    return charts
