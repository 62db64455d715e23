"""Celery tasks of the reports: keep the default dashboards computed ahead of the first visitor."""

from celery import shared_task

from .selectors import dashboard_refresh, default_filters


@shared_task(  # type: ignore[untyped-decorator]  # celery ships no type information
    ignore_result=True, expires=240
)
def refresh_default_dashboards() -> int:
    """Recompute the last-90-days dashboards (all models and each model); returns how many."""
    filters = default_filters()
    for each in filters:
        dashboard_refresh(filters=each)
    return len(filters)
