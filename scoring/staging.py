"""PostgreSQL bulk writes through a session-private staging table.

COPY needs no placeholders however many rows there are, and the statement that follows can still
merge with ON CONFLICT and RETURNING.
"""

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import Model
from django.utils import timezone

_M = TypeVar("_M", bound=Model)

# Below this many rows one INSERT ... VALUES is as quick as four statements around a COPY.
COPY_FROM_ROWS = 200


def copy_to_stage(
    cursor: Any, *, name: str, columns: str, rows: Iterable[tuple[object, ...]]
) -> str:
    """Copy `rows` into the temporary table `name` (created with `columns` when missing and
    emptied first); returns "SELECT * FROM name" for the merge statement."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS")
    cursor.execute(f"TRUNCATE {name}")
    with cursor.cursor.copy(f"COPY {name} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return f"SELECT * FROM {name}"  # noqa: S608 - fixed names


# Fields whose Python values COPY takes as they are; preparing them the ORM's way costs more
# than the COPY itself at a hundred thousand rows.
_AS_IS = (
    models.BooleanField, models.CharField, models.DateTimeField, models.DecimalField,
    models.FloatField, models.ForeignKey, models.IntegerField, models.TextField,
)  # fmt: skip


def _prep(field: "models.Field[Any, Any]") -> Callable[[Any], Any] | None:
    if isinstance(field, models.JSONField):
        return lambda value: json.dumps(value, cls=field.encoder)
    if isinstance(field, _AS_IS):
        return None
    database = connections[DEFAULT_DB_ALIAS]
    return lambda value: field.get_db_prep_save(value, database)


def _copy_insert(
    meta: Any, fields: Sequence["models.Field[Any, Any]"], rows: Iterable[Sequence[Any]]
) -> list[int]:
    """COPY rows (values ready for the database, in the order of `fields`) into a staging table
    and insert them in that order with one statement; the new ids, in the order of the rows."""
    stage = f"{meta.db_table}_incoming"
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    pk = connection.ops.quote_name(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT 0::bigint AS position, {names} FROM {meta.db_table} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {stage}")
        # Numbered as written: inserted in that order, the new ids come back in row order.
        with cursor.cursor.copy(f"COPY {stage} (position, {names}) FROM STDIN") as copy:
            for position, row in enumerate(rows):
                copy.write_row((position, *row))
        cursor.execute(
            f"INSERT INTO {meta.db_table} ({names}) SELECT {names} FROM {stage} "  # noqa: S608
            f"ORDER BY position RETURNING {pk}"
        )
        return [new_id for (new_id,) in cursor.fetchall()]


def _prepared(preps: Sequence[Callable[[Any], Any] | None], values: Iterable[Any]) -> list[Any]:
    return [
        value if prep is None else prep(value) for prep, value in zip(preps, values, strict=True)
    ]


def bulk_insert(objs: Sequence[_M]) -> list[_M]:
    """`Model.objects.bulk_create(objs)` for many rows: on PostgreSQL through COPY into a staging
    table and one INSERT ... SELECT, which costs a fraction of building a VALUES list of that
    size. Sets each object's primary key; returns the objects."""
    if not objs:
        return []
    if connection.vendor != "postgresql" or len(objs) < COPY_FROM_ROWS:
        return type(objs[0])._default_manager.bulk_create(objs)
    meta = objs[0]._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk]
    preps = [_prep(field) for field in fields]
    rows = (_prepared(preps, (f.pre_save(obj, add=True) for f in fields)) for obj in objs)
    for obj, new_id in zip(objs, _copy_insert(meta, fields, rows), strict=True):
        obj.pk = new_id
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objs)


def insert_rows(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert plain rows, each the values of `fields` (attribute names such as "lead_id"; the
    other fields take their defaults, and timestamps set on save the current time), without
    building a model instance per row. Returns the new ids in the order of the rows."""
    if not rows:
        return []
    if connection.vendor != "postgresql" or len(rows) < COPY_FROM_ROWS:
        created = model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows]
        )
        return [obj.pk for obj in created]
    meta = model._meta
    # Attribute names of concrete fields: get_field() gives the field, never a relation's
    # reverse side.
    given = [cast("models.Field[Any, Any]", meta.get_field(name)) for name in fields]
    rest = [f for f in meta.concrete_fields if f is not meta.pk and f not in given]
    now = timezone.now()
    defaults = [
        now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in rest
    ]  # fmt: skip
    preps = [_prep(field) for field in [*given, *rest]]
    prepared = (_prepared(preps, (*row, *defaults)) for row in rows)
    return _copy_insert(meta, [*given, *rest], prepared)
