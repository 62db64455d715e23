"""Rows stored before the ways in refused implausible dates (or written by hand): where they are.

Every date and time column of the project's own tables is checked against the bounds that the
ways in apply now (leadscoring.inputs), in one count per column; only ids are read, never the
values, which Python may not even represent.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.db import models

from leadscoring.inputs import AHEAD, EARLIEST, EARLIEST_BIRTHDAY

PROJECT_APPS = ("scoring", "pipeline", "integrations", "rules_admin", "reports")
SAMPLE = 10


@dataclass(frozen=True)
class BadColumn:
    table: str
    column: str
    rows: int
    sample_ids: list[object]
    bounds: str


def _bounds(field: "models.Field[Any, Any]", now: datetime) -> tuple[date, date]:
    if isinstance(field, models.DateTimeField):
        return EARLIEST, now + AHEAD
    if field.name == "birthday":
        return EARLIEST_BIRTHDAY, now.date()
    return EARLIEST.date(), (now + AHEAD).date()


def bad_rows(*, now: datetime) -> list[BadColumn]:
    """Every date column holding values outside its bounds, with how many rows and a few ids."""
    found = []
    for label in PROJECT_APPS:
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.concrete_fields:
                if not isinstance(field, models.DateField):  # DateTimeField is one too
                    continue
                low, high = _bounds(field, now)
                outside = model._default_manager.filter(
                    models.Q(**{f"{field.attname}__lt": low})
                    | models.Q(**{f"{field.attname}__gt": high})
                ).order_by("pk")
                count = outside.count()
                if count:
                    found.append(
                        BadColumn(
                            table=model._meta.db_table,
                            column=field.column,
                            rows=count,
                            sample_ids=list(outside.values_list("pk", flat=True)[:SAMPLE]),
                            bounds=f"{_text(low)} to {_text(high)}",
                        )
                    )
    return found


def _text(value: object) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, date) else str(value)
