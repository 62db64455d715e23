"""PostgreSQL bulk writes through a session-private staging table.

COPY needs no placeholders however many rows there are, and the statement that follows can still
merge with ON CONFLICT and RETURNING.
"""

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import Model

# Below this many rows one INSERT ... VALUES is as quick as four statements around a COPY.
COPY_FROM_ROWS = 200


def copy_to_stage(cursor: Any, *, name: str, columns: str, rows: Iterable[tuple]) -> str:
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


def _prep(field: models.Field) -> Callable[[Any], Any] | None:
    if isinstance(field, models.JSONField):
        return lambda value: json.dumps(value, cls=field.encoder)
    if isinstance(field, _AS_IS):
        return None
    database = connections[DEFAULT_DB_ALIAS]
    return lambda value: field.get_db_prep_save(value, database)


def bulk_insert(objs: Sequence[Model]) -> list[Model]:
    """`Model.objects.bulk_create(objs)` for many rows: on PostgreSQL through COPY into a staging
    table and one INSERT ... SELECT, which costs a fraction of building a VALUES list of that
    size. Sets each object's primary key; returns the objects."""
    if not objs:
        return []
    if connection.vendor != "postgresql" or len(objs) < COPY_FROM_ROWS:
        return type(objs[0]).objects.bulk_create(objs)
    meta = objs[0]._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk]
    stage = f"{meta.db_table}_incoming"
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    preps = [_prep(field) for field in fields]
    # Numbered as written: inserted in that order, the new ids come back in the order of objs.
    rows = (
        [
            position,
            *(
                value if prep is None else prep(value)
                for prep, value in zip(
                    preps, (f.pre_save(obj, add=True) for f in fields), strict=True
                )
            ),
        ]
        for position, obj in enumerate(objs)
    )
    pk = connection.ops.quote_name(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT 0::bigint AS position, {names} FROM {meta.db_table} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {stage}")
        with cursor.cursor.copy(f"COPY {stage} (position, {names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {meta.db_table} ({names}) SELECT {names} FROM {stage} "  # noqa: S608
            f"ORDER BY position RETURNING {pk}"
        )
        for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = new_id
            obj._state.adding = False
            obj._state.db = connection.alias
    return list(objs)
