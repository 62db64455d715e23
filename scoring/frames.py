"""Rows in bulk, as the engine's frames: the one place where the two databases differ.

`leads_frame` and `activities_frame` read what scoring.engine evaluates (see its docstring for the
columns), with only the values the models read: a chunk of a full rescore reads thousands of
leads and tens of thousands of activities, so values come out as the engine holds them (JSON
text, timestamps as microseconds) in one query each, without per-value work in Python where the
database can do it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import islice

import polars as pl
import psycopg
from django.db import connection
from django.db.models import F
from django.db.models.fields.json import KeyTransform
from psycopg.types.numeric import Int8BinaryLoader

from .criteria.base import property_column
from .criteria.conditions import value_text
from .engine import LEAD_SCHEMA, UTC_MICROSECONDS
from .lookups import int_array
from .models import Account, Activity, Lead

# SQLite takes at most 32,766 parameters per statement.
_BATCH = 10_000


def _batches(ids: Sequence[int]) -> Iterator[list[int]]:
    iterator = iter(ids)
    while batch := list(islice(iterator, _BATCH)):
        yield batch


def _path_expression(path: str) -> F | KeyTransform:
    """The ORM expression of a field path (lead.x, account.x, lead/account.attributes.k)."""
    owner, _dot, name = path.partition(".")
    prefix = "" if owner == "lead" else "account__"
    if name.startswith("attributes."):
        return KeyTransform(name.removeprefix("attributes."), prefix + "attributes")
    return F(prefix + name)


_EPOCH_2000 = 946_684_800_000_000  # PostgreSQL counts time from 2000-01-01, in microseconds
_READABLE = 2**62


def _fetched(sql: str, params: Sequence[object], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """PostgreSQL: a query's rows as a frame, fetched in binary on the connection of the
    caller's transaction. A timestamptz's binary form is a bigint of microseconds since 2000,
    read as such (by psycopg's C loader, no datetime per value); `_instants` makes it a time."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.adapters.register_loader("timestamptz", Int8BinaryLoader)
        cursor.execute(sql, params, binary=True)
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")


def _instants(column: str) -> pl.Expr:
    """Microseconds since 2000 as a UTC time; an infinite time, or one beyond some 146,000
    years (where moving it to 1970 could overflow), is no time."""
    us = pl.col(column)
    return (
        pl.when(us.is_between(-_READABLE, _READABLE))
        .then(us + _EPOCH_2000)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )


def _created_text() -> pl.Expr:
    """`lead.created_at` as a condition reads it: the JSON text of its ISO form (as Python's
    isoformat writes it, whichever database it came from)."""
    at = pl.col("created_at")
    iso = (
        pl.when(at.dt.microsecond() == 0)
        .then(at.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
        .otherwise(at.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00"))
    )
    return pl.concat_str(pl.lit('"'), iso, pl.lit('"')).cast(pl.Categorical)


def _leads_sql(paths: Sequence[str]) -> tuple[str, list[str]]:
    """PostgreSQL: each path's JSON text computed by the database (no value crosses into
    Python one by one)."""
    values, params = [], []
    for path in paths:
        owner, _dot, name = path.partition(".")
        table = "l" if owner == "lead" else "a"
        if name.startswith("attributes."):
            values.append(f"({table}.attributes -> %s)::text")
            params.append(name.removeprefix("attributes."))
        else:
            # The name is one of the model's fields (checked when the definition is parsed).
            values.append(f"to_jsonb({table}.{name})::text")
    select = ", ".join(
        [
            "l.id",
            "l.created_at",
            *values,
        ]
    )
    sql = (
        f"SELECT {select} FROM {Lead._meta.db_table} l "  # noqa: S608 - fixed names
        f"LEFT JOIN {Account._meta.db_table} a ON a.id = l.account_id "
        "WHERE l.id BETWEEN %s AND %s AND l.id = ANY(%s::bigint[])"
    )
    return sql, params


def leads_frame(lead_ids: Sequence[int], paths: Sequence[str]) -> pl.DataFrame:
    """lead_id, created_at and a JSON-text column per field path, for the leads that exist, in
    order of lead id."""
    read = [path for path in paths if path != "lead.created_at"]
    if connection.vendor == "postgresql":
        sql, params = _leads_sql(read)
        schema = {"lead_id": pl.Int64, "created_at": pl.Int64,
                  **dict.fromkeys(read, pl.Categorical)}  # fmt: skip
        bounds = [min(lead_ids, default=0), max(lead_ids, default=0)]
        frame = _fetched(sql, [*params, *bounds, int_array(lead_ids)], schema).with_columns(
            created_at=_instants("created_at")
        )
    else:
        frame = _leads_orm(lead_ids, read)
    if "lead.created_at" in paths:
        frame = frame.with_columns(_created_text().alias("lead.created_at"))
    return frame.sort("lead_id").select("lead_id", "created_at", *paths)


def _leads_orm(lead_ids: Sequence[int], paths: Sequence[str]) -> pl.DataFrame:
    names = [f"v{i}" for i in range(len(paths))]
    columns: dict[str, list] = {"lead_id": [], "created_at": [], **{p: [] for p in paths}}
    for batch in _batches(lead_ids):
        query = (
            Lead.objects.filter(pk__any_of=batch)
            .annotate(**{n: _path_expression(p) for n, p in zip(names, paths, strict=True)})
            .values_list("pk", "account_id", "created_at", *names)
        )
        for lead_id, account_id, created_at, *values in query:
            columns["lead_id"].append(lead_id)
            columns["created_at"].append(created_at)
            for path, value in zip(paths, values, strict=True):
                # No account: every account value is missing.
                missing = account_id is None and path.startswith("account.")
                columns[path].append(None if missing else value_text(value))
    return pl.DataFrame(columns, schema={**LEAD_SCHEMA, **dict.fromkeys(paths, pl.Categorical)})


def activities_frame(
    lead_ids: Sequence[int],
    keys: Sequence[str],
    *,
    kinds: Sequence[str] = (),
    since: datetime | None = None,
    newest_by: datetime | None = None,
) -> pl.DataFrame:
    """lead_id, kind, occurred_at and `properties.<key>` (JSON text) of the leads' activities
    (of these kinds, when given; from `since` on, when given; with `newest_by`, only each lead's
    newest one at or before that time), by lead and time."""
    table = Activity._meta.db_table
    postgres = connection.vendor == "postgresql"
    values = []
    for key in keys:
        if key == "channel":  # a column, filtered like any other property
            values.append("to_jsonb(channel)::text" if postgres else "json_quote(channel)")
        else:
            values.append("(properties -> %s)::text" if postgres else "properties -> %s")
    key_params = [key for key in keys if key != "channel"]
    # A time beyond reading (infinite; SQLite: not a time) is no time: it counts for nothing.
    select = ", ".join(["lead_id", "kind", "occurred_at", *values])
    names = ["lead_id", "kind", "occurred_at", *map(property_column, keys)]
    schema = dict(
        zip(
            names,
            [pl.Int64, pl.Categorical, pl.Int64 if postgres else pl.Datetime("us"),
             *[pl.Categorical] * len(keys)],
            strict=True,
        )
    )  # fmt: skip
    if postgres:
        # The range first: a chunk's leads are consecutive, and the index scans just them.
        where = "lead_id BETWEEN %s AND %s AND lead_id = ANY(%s::bigint[])"
        params = [min(lead_ids, default=0), max(lead_ids, default=0), int_array(lead_ids)]
        if kinds:
            where += " AND kind = ANY(%s)"
            params.append(list(kinds))
        if since is not None:
            where += " AND occurred_at >= %s"
            params.append(since)
        sql = f"SELECT {select} FROM {table} WHERE {where}"  # noqa: S608
        if newest_by is not None:
            sql = (
                f"SELECT DISTINCT ON (lead_id) {select} FROM {table} "  # noqa: S608
                f"WHERE {where} AND occurred_at <= %s ORDER BY lead_id, occurred_at DESC"
            )
            params.append(newest_by)
        frame = _fetched(sql, [*key_params, *params], schema).with_columns(
            occurred_at=_instants("occurred_at")
        )
    else:
        rows: list[tuple] = []
        with connection.cursor() as cursor:
            for batch in _batches(lead_ids):
                where, params = f"lead_id IN ({', '.join(['%s'] * len(batch))})", list(batch)
                if kinds:
                    where += f" AND kind IN ({', '.join(['%s'] * len(kinds))})"
                    params.extend(kinds)
                if since is not None:
                    where += " AND occurred_at >= %s"
                    params.append(connection.ops.adapt_datetimefield_value(since))
                # SQLite's driver hands back naive UTC datetimes.
                sql = f"SELECT {select} FROM {table} WHERE {where}"  # noqa: S608
                cursor.execute(sql, [*key_params, *params])
                rows.extend(cursor.fetchall())
        frame = pl.DataFrame(rows, schema=schema, orient="row").with_columns(
            occurred_at=pl.col("occurred_at").dt.replace_time_zone("UTC")
        )
    # By lead and time: the engine's groups are then sorted runs.
    frame = frame.with_columns(pl.col("occurred_at").cast(UTC_MICROSECONDS)).sort(
        "lead_id", "occurred_at"
    )
    if newest_by is None:
        return frame
    # A time no reader can place (null) sorts first, so a real one is kept where there is one.
    at_or_before = pl.col("occurred_at").is_null() | (pl.col("occurred_at") <= newest_by)
    return frame.filter(at_or_before).unique("lead_id", keep="last", maintain_order=True)
