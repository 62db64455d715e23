"""CSV straight from PostgreSQL's COPY: the database formats the rows, Python only passes bytes.

A per-row Python loop tops out at a few ten thousand rows a second; COPY streams hundreds of
thousands, so a million-row export takes seconds. Every column is rendered in SQL exactly as the
portable path (scoring.exports) writes it: text that a spreadsheet would run as a formula gets a
leading apostrophe (the same prefixes as `spreadsheet_safe`), times are ISO 8601 in TIME_ZONE,
booleans are true/false, JSON is its text, NULL is an empty field.
"""

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateTimeField,
    F,
    Field,
    ForeignObjectRel,
    Func,
    JSONField,
    Model,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.fields.related import RelatedField
from django.db.models.functions import Cast, Concat, Left
from django.db.models.lookups import In

from scoring.exports import FORMULA_PREFIXES

_ISO_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'


def _output_field(queryset: QuerySet[Model], path: str) -> "Field[Any, Any]":
    if path in queryset.query.annotations:
        annotated: Field[Any, Any] = queryset.query.annotations[path].output_field
        return annotated
    model = queryset.model
    *relations, name = path.split("__")
    for relation in relations:
        related = model._meta.get_field(relation).related_model
        assert isinstance(related, type)  # a relation's model, resolved once the apps are loaded
        model = related
    field = model._meta.get_field(name)
    if field.is_relation:
        # Export paths name foreign keys (by name or as `…_id`), whose values are their target's.
        assert isinstance(field, RelatedField | ForeignObjectRel)
        return field.target_field
    assert isinstance(field, Field)
    return field


def _rendered(queryset: QuerySet[Model], path: str) -> object:
    """The SQL expression that renders one export column as CSV text."""
    field = _output_field(queryset, path)
    if isinstance(field, BooleanField):
        return Case(When(Q(**{path: True}), then=Value("true")), default=Value("false"))
    if isinstance(field, DateTimeField):
        return Func(F(path), Value(_ISO_SECONDS), function="to_char", output_field=TextField())
    if isinstance(field, JSONField):
        return Cast(F(path), TextField())
    if isinstance(field, CharField | TextField):
        # One left() and one IN per value: 8 LIKEs per text column made COPY CPU-bound.
        formula_like: In[str] = In(Left(F(path), 1), list(FORMULA_PREFIXES))
        return Case(
            When(formula_like, then=Concat(Value("'"), F(path), output_field=TextField())),
            default=F(path),
            output_field=TextField(),
        )
    return F(path)


def copy_csv_chunks(queryset: QuerySet[Model], sources: dict[str, str]) -> Iterator[bytes]:
    """The header, then COPY's output blocks, inside one transaction (read as one snapshot)."""
    columns = {f"export_{i}": _rendered(queryset, path) for i, path in enumerate(sources.values())}
    sql, params = queryset.annotate(**columns).values_list(*columns).query.sql_with_params()
    header = io.StringIO()
    csv.writer(header).writerow(list(sources))
    yield header.getvalue().encode("utf-8")
    with transaction.atomic(), connection.cursor() as cursor:
        # to_char's TZH:TZM prints the session time zone's offset.
        cursor.execute("SELECT set_config('TimeZone', %s, true)", [settings.TIME_ZONE])
        copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
        with cursor.cursor.copy(copy_sql, params) as copy:
            for block in copy:
                yield bytes(block)
