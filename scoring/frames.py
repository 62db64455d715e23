"""Rows in bulk, as the engine's frames: the one place where the two databases differ.

`leads_frame` and `activities_frame` read what scoring.engine evaluates (see its docstring for the
columns), with only the values the models read: a chunk of a full rescore reads thousands of
leads and tens of thousands of activities, so values come out as the engine holds them (JSON
text, timestamps as microseconds), without per-value work in Python where the database can do it.

PostgreSQL sends them packed (`read_packed`): per query a few rows, each holding whole columns (the
binary form of every id and time one after the other, the JSON texts joined by newlines), which
polars unpacks at once. Fetched as rows, the driver made a Python tuple of every row and polars a
frame of those tuples, which at a what-if's hundreds of thousands of activities took longer than
the query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import polars as pl
import psycopg
from django.db import connection
from django.db.models import F
from django.db.models.fields.json import KeyTransform

from .criteria.base import property_column
from .criteria.conditions import value_text
from .engine import LEAD_SCHEMA, UTC_MICROSECONDS
from .lookups import int_array
from .models import Account, Activity, Lead

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

# SQLite takes at most 32,766 parameters per statement.
_BATCH = 10_000
# PostgreSQL: leads per query. A packed column is one value, which PostgreSQL caps at 1 GB:
# 20,000 leads' activities with the largest properties stay far below it.
_PART = 20_000


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


def _lead_parts(lead_ids: Sequence[int], column: str) -> Iterator[tuple[str, list[object]]]:
    """PostgreSQL: the leads, in parts of at most _PART in id order, as a condition on `column`
    and its parameters. Each part is its id range, as the index reads it; where the part leaves
    gaps, only its ids. Over a dense part the range decides the plan whatever the ids, so they
    are compared as `column + 0`: a hashed filter the planner does not estimate id by id (for
    20,000 ids that estimate took longer than the scan). A sparse part keeps the plain
    comparison, which the planner can answer from the index lead by lead."""
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), _PART):
        part = ids[start : start + _PART]
        low, high = part[0], part[-1]
        span = f"{column} BETWEEN %s AND %s"
        if high - low + 1 == len(part):
            yield span, [low, high]
        elif 2 * len(part) > high - low + 1:
            yield f"{span} AND ({column} + 0) = ANY(%s::bigint[])", [low, high, int_array(part)]
        else:
            yield f"{span} AND {column} = ANY(%s::bigint[])", [low, high, int_array(part)]


def _packed(
    rows: str,
    params: Sequence[object],
    *,
    group: str | None,
    numbers: dict[str, str],
    texts: dict[str, str],
) -> pl.LazyFrame:
    """PostgreSQL: the rows of the query `rows` as a lazy frame, sent packed (see the module
    doc) on the connection of the caller's transaction. `numbers` are columns of 8-byte binary
    values (the SQL of each: `int8send(x)`; a timestamptz's binary form, `timestamptz_send(x)`,
    is a bigint of microseconds since 2000, which `_instants` makes a time), read as Int64;
    `texts` are JSON texts, read as Categorical, null where the SQL gives null. Rows are packed
    by the value of the text column `group` (the frame's column `group` then holds each row's),
    or all together.

    Every aggregate of a group takes its rows in the same order, so the columns line up. A JSON
    text holds no newline (jsonb writes control characters escaped) and is never empty, so the
    texts are joined by newlines with '' for null. No number may be null: string_agg would
    leave it out."""
    aggregates = [
        "count(*)",
        *(f"string_agg({sql}, '')" for sql in numbers.values()),
        *(f"string_agg(coalesce({sql}, ''), E'\\n')" for sql in texts.values()),
    ]
    keys = [group] if group is not None else []
    sql = f"SELECT {', '.join([*keys, *aggregates])} FROM ({rows}) r"  # noqa: S608 - fixed SQL
    if group is not None:
        sql += f" GROUP BY {group}"
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        found = [row for row in cursor.fetchall() if row[len(keys)]]  # no rows: no columns
    schema = {
        **dict.fromkeys(numbers, pl.Int64),
        **dict.fromkeys(texts, pl.Categorical),
        **({} if group is None else {group: pl.Categorical}),
    }
    if not found:
        return pl.LazyFrame(schema=schema)
    columns = list(zip(*found, strict=True))
    counts, packed = columns[len(keys)], columns[len(keys) + 1 :]
    # One row of whole columns, unpacked in one pass with the caller's steps (each pass of
    # polars has its cost, which for a lead or two is most of the read).
    whole = pl.DataFrame(
        [
            *(
                pl.Series(name, [b"".join(blobs)], pl.Binary)
                for name, blobs in zip(numbers, packed[: len(numbers)], strict=True)
            ),
            *(
                pl.Series(name, ["\n".join(parts)], pl.String)
                for name, parts in zip(texts, packed[len(numbers) :], strict=True)
            ),
        ]
    )
    array = pl.Array(pl.Int64, sum(counts))
    unpacked = [
        pl.col(list(numbers)).bin.reinterpret(dtype=array, endianness="big").explode(),
        pl.col(list(texts)).str.split("\n").explode().replace("", None).cast(pl.Categorical),
    ]
    if group is not None:
        # Each group's value once per row of it.
        values = pl.lit(pl.Series(group, columns[0], pl.String))
        sizes = pl.lit(pl.Series(counts, dtype=pl.UInt32))
        unpacked.append(values.repeat_by(sizes).explode().cast(pl.Categorical).alias(group))
    return whole.lazy().select(unpacked)


def read_packed(
    rows: str,
    params: Sequence[object],
    *,
    group: str | None,
    numbers: dict[str, str],
    texts: dict[str, str],
) -> pl.DataFrame:
    """PostgreSQL: the rows of the query `rows` as a frame, sent packed (see `_packed`)."""
    return _collected(_packed(rows, params, group=group, numbers=numbers, texts=texts))


def _collected(frame: pl.LazyFrame) -> pl.DataFrame:
    """The frame, computed in memory as eager frames are: polars' default (streaming) engine
    took milliseconds to start, more than reading a lead or two."""
    return frame.collect(engine="in-memory")


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


def _leads_pg(lead_ids: Sequence[int], paths: Sequence[str]) -> pl.LazyFrame:
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
        ["l.id AS lead_id", "l.created_at", *(f"{sql} AS v{i}" for i, sql in enumerate(values))]
    )
    schema = {"lead_id": pl.Int64, "created_at": pl.Int64, **dict.fromkeys(paths, pl.Categorical)}
    parts: list[pl.LazyFrame] = []
    for condition, bounds in _lead_parts(lead_ids, "l.id"):
        rows = (
            f"SELECT {select} FROM {Lead._meta.db_table} l "  # noqa: S608 - fixed names
            f"LEFT JOIN {Account._meta.db_table} a ON a.id = l.account_id WHERE {condition}"
        )
        parts.append(
            _packed(
                rows,
                [*params, *bounds],
                group=None,
                numbers={
                    "lead_id": "int8send(lead_id)",
                    "created_at": "timestamptz_send(created_at)",
                },
                texts={path: f"v{i}" for i, path in enumerate(paths)},
            )
        )
    return _joined(parts, schema).with_columns(created_at=_instants("created_at"))


def leads_frame(lead_ids: Sequence[int], paths: Sequence[str]) -> pl.DataFrame:
    """lead_id, created_at and a JSON-text column per field path, for the leads that exist, in
    order of lead id."""
    read = [path for path in paths if path != "lead.created_at"]
    if connection.vendor == "postgresql":
        frame = _leads_pg(lead_ids, read)
    else:
        frame = _leads_orm(lead_ids, read).lazy()
    if "lead.created_at" in paths:
        frame = frame.with_columns(_created_text().alias("lead.created_at"))
    return _collected(frame.sort("lead_id").select("lead_id", "created_at", *paths))


def _leads_orm(lead_ids: Sequence[int], paths: Sequence[str]) -> pl.DataFrame:
    names = [f"v{i}" for i in range(len(paths))]
    columns: dict[str, list[object]] = {"lead_id": [], "created_at": [], **{p: [] for p in paths}}
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


def _activities_pg(
    lead_ids: Sequence[int],
    values: Sequence[str],
    key_params: Sequence[str],
    schema: Mapping[str, PolarsDataType],
    kinds: Sequence[str],
    since: datetime | None,
    newest_by: datetime | None,
) -> pl.LazyFrame:
    """PostgreSQL: activities_frame's rows, packed by kind (each kind's name sent once)."""
    table = Activity._meta.db_table
    select = ", ".join(
        ["lead_id", "kind", "occurred_at", *(f"{sql} AS v{i}" for i, sql in enumerate(values))]
    )
    texts = {name: f"v{i}" for i, name in enumerate(list(schema)[3:])}
    parts: list[pl.LazyFrame] = []
    for condition, bounds in _lead_parts(lead_ids, "lead_id"):
        where, params = condition, [*bounds]
        if kinds:
            where += " AND kind = ANY(%s)"
            params.append(list(kinds))
        if since is not None:
            where += " AND occurred_at >= %s"
            params.append(since)
        rows = f"SELECT {select} FROM {table} WHERE {where}"  # noqa: S608 - fixed names
        if newest_by is not None:
            # Both descending: the index read backwards gives each lead's newest first, where
            # lead_id ascending had every row sorted (on disk, at 20,000 leads).
            rows = (
                f"SELECT DISTINCT ON (lead_id) {select} FROM {table} "  # noqa: S608
                f"WHERE {where} AND occurred_at <= %s ORDER BY lead_id DESC, occurred_at DESC"
            )
            params.append(newest_by)
        found = _packed(
            rows,
            [*key_params, *params],
            group="kind",
            numbers={
                "lead_id": "int8send(lead_id)",
                "occurred_at": "timestamptz_send(occurred_at)",
            },
            texts=texts,
        )
        parts.append(found.select(list(schema)))
    return _joined(parts, schema).with_columns(occurred_at=_instants("occurred_at"))


def _joined(parts: list[pl.LazyFrame], schema: Mapping[str, PolarsDataType]) -> pl.LazyFrame:
    """The parts one after the other (the frame of the schema when there are none)."""
    if not parts:
        return pl.LazyFrame(schema=schema)
    return pl.concat(parts) if len(parts) > 1 else parts[0]


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
        frame = _activities_pg(lead_ids, values, key_params, schema, kinds, since, newest_by)
    else:
        rows: list[tuple[Any, ...]] = []
        with connection.cursor() as cursor:
            for batch in _batches(lead_ids):
                params: list[int | str | None]
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
        frame = (
            pl.DataFrame(rows, schema=schema, orient="row")
            .lazy()
            .with_columns(occurred_at=pl.col("occurred_at").dt.replace_time_zone("UTC"))
        )
    # By lead and time: the engine's groups are then sorted runs.
    frame = frame.with_columns(pl.col("occurred_at").cast(UTC_MICROSECONDS)).sort(
        "lead_id", "occurred_at"
    )
    if newest_by is not None:
        # A time no reader can place (null) sorts first, so a real one is kept where there is one.
        at_or_before = pl.col("occurred_at").is_null() | (pl.col("occurred_at") <= newest_by)
        frame = frame.filter(at_or_before).unique("lead_id", keep="last", maintain_order=True)
    return _collected(frame)
