"""Streamed exports of lead scores as CSV or XLSX, safe to open in a spreadsheet."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

import xlsxwriter
from django.db.models import Model, QuerySet
from django.utils import timezone

from .models import LeadScore, ScoringModel

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

# Export column -> where it comes from; the order is the file's column order.
_SCORE_SOURCES = {
    "lead_external_id": "lead__external_id",
    "email": "lead__email",
    "score": "total",
    "fit": "fit",
    "engagement": "engagement",
    "band": "band",
    "grade": "grade",
    "mql": "mql",
    "computed_at": "computed_at",
    # Last, so that files read by position keep their columns: blank before a predictive
    # score is trained (learning).
    "probability": "probability",
}
SCORE_COLUMNS = list(_SCORE_SOURCES)
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "|", "%")
# Public for exports that neutralise text in SQL (PostgreSQL COPY) with the same rule.
FORMULA_PREFIXES = _FORMULA_PREFIXES
CHUNK = 5000


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def score_rows(scoring_model: ScoringModel) -> Iterator[list[Any]]:
    """One row per scored lead, highest score first, read from the database in chunks."""
    queryset = (
        LeadScore.objects.filter(scoring_model=scoring_model)
        .with_probability()
        .order_by("-total", "lead_id")
        .values_list(*_SCORE_SOURCES.values())
    )
    for row in queryset.iterator(chunk_size=CHUNK):
        *values, computed_at, probability = row
        yield [spreadsheet_safe(v if v is not None else "") for v in values] + [
            timezone.localtime(computed_at),
            "" if probability is None else round(probability, 4),
        ]


def export_value(value: Any) -> Any:
    """One database value as an export shows it: blank for NULL, local time, inert text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return spreadsheet_safe(value)


def values_rows(
    queryset: QuerySet[Model, tuple[Any, ...]], chunk_size: int = CHUNK
) -> Iterator[list[Any]]:
    """The rows of a values_list() queryset, read from the database `chunk_size` at a time."""
    for row in queryset.iterator(chunk_size=chunk_size):
        yield [export_value(v) for v in row]


def csv_chunks(
    rows: Iterable[list[Any]], columns: list[str], rows_per_chunk: int = 2000
) -> Iterator[str]:
    """CSV text in pieces of `rows_per_chunk` rows, for a streamed HTTP response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(v) for v in row])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_csv(rows: Iterator[list[Any]], columns: list[str], out: "SupportsWrite[str]") -> int:
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
        count += 1
    return count


def write_xlsx(
    rows: Iterable[list[Any]],
    columns: list[str],
    path: str | IO[bytes],
    *,
    sheet_name: str = "scores",
) -> int:
    # constant_memory writes each row to disk as it goes, so a million rows never sit in memory.
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "remove_timezone": True})
    sheet = workbook.add_worksheet(sheet_name)
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for col, name in enumerate(columns):
        sheet.write_string(0, col, name)
    count = 0
    for count, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(count, col, value, when)
            elif isinstance(value, bool):
                sheet.write_boolean(count, col, value)
            elif isinstance(value, Decimal | int | float):
                sheet.write_number(count, col, float(value))
            elif value is None:
                sheet.write_blank(count, col, None)
            else:
                sheet.write_string(count, col, str(value))
    workbook.close()
    return count
