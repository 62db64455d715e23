"""The engine's activity, frequency and inactivity criteria as PostgreSQL queries.

Bulk work asks the database for one criterion's result over many leads at once instead of loading
every activity into Python. The queries reproduce `scoring.engine` exactly, or say where they
cannot:

- A condition is three-valued: true, false, or NULL where PostgreSQL cannot be sure to coerce a
  value as the engine does (a decimal with more digits than a float keeps, a string made of
  non-ASCII blanks, icontains on non-ASCII text). A lead with such an activity is *undecided* and
  goes to the engine.
- Ages are the engine's own arithmetic (microseconds / 10**6 / 86400) in IEEE doubles, and decay
  is the same pow() of the same C library. Only the order of summing decayed worths differs (the
  engine sums exactly), so a decayed sum whose cents that difference could change is undecided.
- A criterion the database cannot evaluate at all gives None: a frequency span that is no whole
  number of microseconds or longer than 1,000 days, an icontains needle that is not ASCII.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.db import connection

from .definition import (
    ActivityCriterion,
    Condition,
    Criterion,
    FrequencyCriterion,
    InactivityCriterion,
    ModelSpec,
)
from .engine import _as_number, capped_points, round_points
from .models import Activity, Lead

_ACTIVITY = Activity._meta.db_table
_LEAD = Lead._meta.db_table
# The engine's age in days, in the same float operations (see engine.py).
_AGE = (
    "((EXTRACT(EPOCH FROM (%(c_now)s::timestamptz - {at})) * 1000000)::bigint::float8"
    " / 1000000 / 86400.0)"
)
_ULP = 2.0**-52
_LONGEST_SPAN_DAYS = 1000


@dataclass
class Amounts:
    found: dict[int, tuple[Decimal, int]]  # lead id -> (amount, evidence) where it contributes
    undecided: set[int]  # leads to evaluate with the engine


class Params:
    """Query parameters under generated names (c_0, c_1, ...), beside the caller's."""

    def __init__(self, **fixed: Any) -> None:
        self.values: dict[str, Any] = {f"c_{k}": v for k, v in fixed.items()}
        self.properties: dict[str, str] = {}  # property name -> its column in `acts`
        # A relation of the leads with their creation dates (lead_id, created_at), where the
        # statement has one; otherwise each lead's is looked up.
        self.created: str | None = None

    def add(self, value: Any) -> str:
        name = f"c_{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"

    def property(self, name: str) -> str:
        """An activity property's jsonb as a column of `acts` (see acts_sql): taken out of the
        properties once per activity, however many conditions test it."""
        if name not in self.properties:
            self.properties[name] = f"property_{len(self.properties)}"
        return f"a.{self.properties[name]}"


# --- conditions ----------------------------------------------------------------------------------

# Visible ASCII: str.strip() keeps it, so a string holding one is set.
_VISIBLE = "'[!-~]'"
# Only blanks that str.strip() removes, as the engine's is_set does.
_BLANK = r"'^[ \t\n\r\v\f]*$'"
# Printable ASCII and those blanks: strip() and lower() treat them as PostgreSQL does.
_PLAIN = r"'^[ -~\t\n\r\v\f]*$'"
_INTEGER = "'^-?[0-9]+$'"
_DECIMAL_TEXT = r"'^[+-]?[0-9]+(\.[0-9]+)?$'"


class _Value:
    """SQL for one JSON value (a jsonb expression) as the engine coerces it: each coercion has a
    value (NULL when the engine gets None) and a `sure` test (false where it may not match)."""

    def __init__(self, json: str) -> None:
        self.type = f"jsonb_typeof({json})"
        self.json = json
        self.text = f"({json} #>> '{{}}')"

    def is_set(self) -> str:
        t = self.text
        return (
            f"(CASE {self.type} WHEN 'string' THEN (CASE WHEN {t} ~ {_VISIBLE} THEN true "
            f"WHEN {t} ~ {_BLANK} THEN false END) "
            f"WHEN 'array' THEN {self.json} <> '[]'::jsonb "
            f"WHEN 'object' THEN {self.json} <> '{{}}'::jsonb "
            "WHEN 'number' THEN true WHEN 'boolean' THEN true ELSE false END)"
        )

    def as_text(self) -> tuple[str, str]:
        # A JSON number reaches the engine through json.loads: integers print back the same,
        # decimals may not (1.10 -> "1.1").
        value = f"(CASE WHEN {self.type} IN ('string', 'boolean', 'number') THEN {self.text} END)"
        sure = f"(coalesce({self.type}, '') <> 'number' OR {self.text} ~ {_INTEGER})"
        return value, sure

    def as_number(self) -> tuple[str, str]:
        t = self.text
        value = (
            f"(CASE {self.type} WHEN 'number' THEN {t}::numeric "
            f"WHEN 'string' THEN (CASE WHEN {t} ~ {_DECIMAL_TEXT} THEN {t}::numeric END) END)"
        )
        # A float keeps 15 significant digits; a string without digits never is a finite Decimal.
        sure = (
            f"(CASE {self.type} WHEN 'number' THEN {t} ~ {_INTEGER} "
            f"OR length(regexp_replace({t}, '[^0-9]', '', 'g')) <= 15 "
            f"WHEN 'string' THEN {t} ~ {_DECIMAL_TEXT} OR {t} !~ '[0-9]' ELSE true END)"
        )
        return value, sure

    def as_bool(self) -> tuple[str, str]:
        t = self.text
        blanks = r"[ \t\n\r\v\f]*"
        value = (
            f"(CASE {self.type} WHEN 'boolean' THEN {t}::boolean "
            f"WHEN 'number' THEN (CASE {t} WHEN '1' THEN true WHEN '0' THEN false END) "
            f"WHEN 'string' THEN (CASE WHEN {t} ~* '^{blanks}(true|1|yes){blanks}$' THEN true "
            f"WHEN {t} ~* '^{blanks}(false|0|no){blanks}$' THEN false END) END)"
        )
        sure = f"(coalesce({self.type}, '') <> 'string' OR {t} ~ {_PLAIN})"
        return value, sure


class ColumnValue(_Value):
    """A typed column read as `to_jsonb(column)` would be, without building the jsonb: its
    JSON type is known (NULL when the column is), so most coercions are plain SQL.

    kind: "string", "integer", "decimal", "boolean" or "date" (a date only for is_set).
    """

    _JSON_TYPES = {"string": "string", "integer": "number", "decimal": "number",
                   "boolean": "boolean", "date": "string"}  # fmt: skip

    def __init__(self, column: str, kind: str) -> None:
        self.column, self.kind = column, kind
        self.json = f"to_jsonb({column})"
        self.type = f"(CASE WHEN {column} IS NOT NULL THEN '{self._JSON_TYPES[kind]}' END)"
        self.text = (
            f"(CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END)"
            if kind == "boolean"
            else f"({column})::text"
        )

    def is_set(self) -> str:
        if self.kind == "string":
            return super().is_set()
        return f"({self.column} IS NOT NULL)"

    def as_text(self) -> tuple[str, str]:
        if self.kind == "string":
            return self.text, "true"
        return super().as_text()

    def as_number(self) -> tuple[str, str]:
        if self.kind == "integer":
            return f"({self.column})::numeric", "true"
        return super().as_number()

    def as_bool(self) -> tuple[str, str]:
        if self.kind == "boolean":
            return f"({self.column})", "true"
        return super().as_bool()


def _decided(sure: str, test: str) -> str:
    """True or false where sure, NULL (undecided) elsewhere."""
    return f"(CASE WHEN {sure} THEN coalesce({test}, false) END)"


def _equals(value: _Value, item: object, params: Params) -> str:
    if isinstance(item, bool):
        found, sure = value.as_bool()
        return _decided(sure, f"{found} = {params.add(item)}")
    if isinstance(item, int | float):
        found, sure = value.as_number()
        return _decided(sure, f"{found} = {params.add(_as_number(item))}::numeric")
    found, sure = value.as_text()
    return _decided(sure, f"{found} = {params.add(item)}::text")


def _matches(op: str, expected: object, value: _Value, params: Params) -> str | None:
    """The engine's `_matches` (before negation) as a three-valued SQL test."""
    if op in ("is_set", "is_not_set"):
        return value.is_set() if op == "is_set" else f"(NOT {value.is_set()})"
    if expected is None:
        return "false"
    items = expected if isinstance(expected, tuple) else (expected,)
    if op in ("equals", "in"):
        test = " OR ".join(_equals(value, item, params) for item in items)
    elif op in ("contains", "icontains", "starts_with"):
        found, sure = value.as_text()
        needle = str(items[0])
        if op == "icontains":
            if not needle.isascii():
                return None
            # For ASCII text, casefold() is lower(); other text goes to the engine.
            sure = f"({sure} AND {found} ~ {_PLAIN})"
            test = f'strpos(lower({found} COLLATE "C"), {params.add(needle.lower())}) > 0'
        elif op == "contains":
            test = f"strpos({found}, {params.add(needle)}) > 0"
        else:
            test = f"left({found}, {len(needle)}) = {params.add(needle)}"
        test = _decided(sure, test)
    else:
        low, high = _as_number(items[0]), _as_number(items[-1])
        if low is None or high is None:
            return "false"
        found, sure = value.as_number()
        if op == "gte":
            test = _decided(sure, f"{found} >= {params.add(low)}::numeric")
        elif op == "lte":
            test = _decided(sure, f"{found} <= {params.add(high)}::numeric")
        elif op == "between":
            test = _decided(
                sure, f"{found} BETWEEN {params.add(low)}::numeric AND {params.add(high)}::numeric"
            )
        else:
            return None
    if _implies_set(op, items):
        return f"({test})"
    return f"({value.is_set()} AND ({test}))"


def _visible(text: str) -> bool:
    return any("!" <= char <= "~" for char in text)


def _implies_set(op: str, items: tuple) -> bool:
    """Whether the test can only hold for a set value, so is_set need not be asked: a number,
    or a text holding the visible needle. (Where the test is undecided the answer stays
    undecided, which the engine settles.)"""
    if op in ("contains", "icontains", "starts_with"):
        return _visible(str(items[0]))
    if op in ("equals", "in"):
        return all(isinstance(item, bool | int | float) or _visible(str(item)) for item in items)
    return op in ("gte", "lte", "between")


def condition_sql(condition: Condition, json: str | _Value, params: Params) -> str | None:
    """A condition on the jsonb value `json` (or a typed column's value), three-valued (NULL:
    ask the engine); None when the database cannot evaluate it."""
    value = json if isinstance(json, _Value) else _Value(json)
    if condition.op in ("not_equals", "not_in"):
        test = _matches(condition.op.removeprefix("not_"), condition.value, value, params)
        return None if test is None else f"(NOT {test})"
    return _matches(condition.op, condition.value, value, params)


def _where_sql(conditions: tuple[Condition, ...], params: Params) -> str | None:
    tests = []
    for condition in conditions:
        # `channel` is a column; the engine reads it as a property (see activity_fact).
        json = (
            "to_jsonb(a.channel)"
            if condition.field == "channel"
            else params.property(condition.field)
        )
        test = condition_sql(condition, json, params)
        if test is None:
            return None
        tests.append(test)
    return " AND ".join(tests) if tests else "true"


# --- criteria ------------------------------------------------------------------------------------


def _seen_sql(criterion: ActivityCriterion | FrequencyCriterion, params: Params) -> str | None:
    """The activities the criterion looks at (from `acts`, which holds those that happened by
    now), in its window, each with its age and whether its properties match (`m`, three-valued)."""
    match = _where_sql(criterion.where, params)
    if match is None:
        return None
    sql = f"SELECT a.lead_id, a.occurred_at, a.age, {match} AS m FROM acts a WHERE true"
    if criterion.kinds:
        sql += f" AND a.kind = ANY({params.add(list(criterion.kinds))})"
    if criterion.window_days is not None:
        sql += f" AND a.age < {params.add(float(criterion.window_days))}::float8"
    if criterion.where:
        # Kept a subquery, so each activity's match is computed once, not again inside every
        # aggregate that reads it.
        sql += " OFFSET 0"
    return sql


def _activity_sql(
    criterion: ActivityCriterion, half_life: float | None, tz: tzinfo, params: Params
) -> str | None:
    """Per lead: how many occurrences count, their decayed worth (without decay: NULL), and
    whether any activity was undecided."""
    seen = _seen_sql(criterion, params)
    if seen is None:
        return None
    if criterion.count == "once":
        # The newest match alone counts, so one grouping gives its count (0 or 1) and worth.
        worth = "NULL::float8"
        if half_life:
            points, half = params.add(float(criterion.points)), params.add(float(half_life))
            worth = (
                f"{points}::float8 * power(0.5::float8, min(age) FILTER (WHERE m) / {half}::float8)"
            )
        return (
            f"WITH seen AS ({seen}) SELECT lead_id, CASE WHEN bool_or(m) THEN 1::bigint ELSE "
            f"0::bigint END, CASE WHEN bool_or(m) THEN {worth} END, "
            "coalesce(bool_or(m IS NULL), false) "
            "FROM seen GROUP BY lead_id HAVING bool_or(m) OR bool_or(m IS NULL)"
        )
    if criterion.count == "each":
        counted = "SELECT lead_id, age, m, m IS NULL AS u FROM seen"
    else:  # per_day: the newest match of each calendar day in `tz`
        day = f"(occurred_at AT TIME ZONE {params.add(str(tz))})::date"
        counted = (
            "SELECT lead_id, min(age) FILTER (WHERE m) AS age, bool_or(m) AS m, "
            f"bool_or(m IS NULL) AS u FROM seen GROUP BY lead_id, {day}"
        )
    worth = "NULL::float8"
    if half_life:
        points, half = params.add(float(criterion.points)), params.add(float(half_life))
        worth = f"sum({points}::float8 * power(0.5::float8, age / {half}::float8)) FILTER (WHERE m)"
    return (
        f"WITH seen AS ({seen}), counted AS ({counted}) "
        f"SELECT lead_id, count(*) FILTER (WHERE m), {worth}, coalesce(bool_or(u), false) "
        "FROM counted GROUP BY lead_id HAVING bool_or(m) OR bool_or(u)"
    )


def _frequency_sql(criterion: FrequencyCriterion, params: Params) -> str | None:
    """Per lead: the most matches within a span of within_days, and whether any was undecided."""
    micros = Decimal(repr(criterion.within_days)) * 86400 * 10**6
    if micros != micros.to_integral_value() or criterion.within_days > _LONGEST_SPAN_DAYS:
        # Beyond that the engine's float division can no longer tell the span's end apart.
        return None
    seen = _seen_sql(criterion, params)
    if seen is None:
        return None
    span = params.add(f"{int(micros)} microseconds")
    return (
        "SELECT lead_id, coalesce(max(c), 0), NULL::float8, coalesce(bool_or(m IS NULL), false) "
        "FROM (SELECT lead_id, m, count(*) FILTER (WHERE m) OVER (PARTITION BY lead_id "
        f"ORDER BY occurred_at RANGE BETWEEN CURRENT ROW AND {span}::interval FOLLOWING) AS c "
        f"FROM ({seen}) seen) spans GROUP BY lead_id "
        f"HAVING max(c) >= {params.add(criterion.at_least)} OR bool_or(m IS NULL)"
    )


def _inactivity_sql(criterion: InactivityCriterion, params: Params) -> str:
    """The leads the criterion fires for: no activity (of its kinds) by now, nor a creation
    date, within `days`."""
    kinds = f" WHERE a.kind = ANY({params.add(list(criterion.kinds))})" if criterion.kinds else ""
    # The age falls as the time rises, so the newest activity has the least age: one age per
    # lead instead of one per activity. least() skips a lead without activities. Each lead's
    # creation date by its key: a join may hash the whole lead table for a large chunk.
    if params.created:
        leads = f"{params.created} l"
    else:
        leads = (
            f"leads l JOIN LATERAL (SELECT created_at FROM {_LEAD} WHERE id = l.lead_id LIMIT 1) "
            "d ON true"
        )
    return (
        f"SELECT l.lead_id, 1::bigint, NULL::float8, false FROM {leads} "
        f"LEFT JOIN (SELECT a.lead_id, max(a.occurred_at) AS at FROM acts a{kinds} "
        "GROUP BY a.lead_id) x ON x.lead_id = l.lead_id "
        f"WHERE coalesce(least({_AGE.format(at='x.at')}, {_AGE.format(at='created_at')}) "
        f">= {params.add(float(criterion.days))}::float8, true)"
    )


def criterion_sql(criterion: Criterion, spec: ModelSpec, tz: tzinfo, params: Params) -> str | None:
    """Rows (lead_id, count, decayed worth, undecided) for one criterion; None when the
    database cannot evaluate it."""
    if isinstance(criterion, InactivityCriterion):
        return _inactivity_sql(criterion, params)
    if isinstance(criterion, FrequencyCriterion):
        return _frequency_sql(criterion, params)
    if isinstance(criterion, ActivityCriterion):
        half_life = criterion.half_life_days or spec.decay_half_life_days
        return _activity_sql(criterion, half_life, tz, params)
    return None


def acts_sql(
    criteria: Sequence[Criterion],
    params: Params,
    lead_range: tuple[str, str] | None,
    *,
    every_lead: bool = False,
) -> str:
    """The activities of `leads` that happened by now, with their age and the properties the
    criteria test (compile the criteria first, with the same `params`): read once for all
    criteria, narrowed to their kinds and windows when every criterion has some.

    `every_lead`: those of every lead in `lead_range` (when `leads` holds most of them, the
    range finds their activities sooner than a join; the caller ignores the rest)."""
    join = "" if every_lead and lead_range else " JOIN leads l ON l.lead_id = a.lead_id"
    # The properties the criteria test, each its own column (the criteria are compiled first).
    taken = "".join(
        f"a.properties -> {params.add(name)} AS {column}, "
        for name, column in params.properties.items()
    )
    sql = (
        f"SELECT a.lead_id, a.kind, a.occurred_at, a.channel, {taken}"
        f"{_AGE.format(at='a.occurred_at')} AS age "
        f"FROM {_ACTIVITY} a{join} "
        "WHERE a.occurred_at <= %(c_now)s"
    )
    if lead_range is not None:
        sql += f" AND a.lead_id BETWEEN {lead_range[0]} AND {lead_range[1]}"
    kinds = [getattr(c, "kinds", ()) for c in criteria]
    if all(kinds):
        sql += f" AND a.kind = ANY({params.add(sorted({k for ks in kinds for k in ks}))})"
    windows = [getattr(c, "window_days", None) for c in criteria]
    if all(w is not None for w in windows):
        # A second wider than the widest window lets an index find the rows; the age decides.
        widest = params.add(float(max(windows)))  # type: ignore[type-var]
        sql += (
            " AND a.occurred_at > %(c_now)s::timestamptz - make_interval(secs => "
            f"{widest}::float8 * 86400 + 1)"
        )
    return sql


def _cap(criterion: ActivityCriterion, amount: float) -> float:
    if criterion.cap is None:
        return amount
    return min(amount, criterion.cap) if criterion.points > 0 else max(amount, -criterion.cap)


def _decayed_amount(criterion: ActivityCriterion, total: float, terms: int) -> Decimal | None:
    """The engine's amount for decayed worths whose running sum is `total`, or None when their
    exact sum (the engine's) could round to other cents: the running sum is off by at most
    (terms + 1) ulps of their magnitude, each worth being at most |points|."""
    error = (terms + 1) * _ULP * abs(float(criterion.points)) * terms if terms > 1 else 0.0
    low, high = _cap(criterion, total - error) * 100, _cap(criterion, total + error) * 100
    # Well inside one cent (no half cent within reach, even after float error): read it off.
    if (
        abs(high) < 1e9
        and abs(low % 1 - 0.5) > 1e-6
        and abs(high % 1 - 0.5) > 1e-6
        and math.floor(low + 0.5) == math.floor(high + 0.5)
    ):
        cents = math.floor(low + 0.5)
        return Decimal(cents).scaleb(-2) if cents else Decimal("0.00")
    exact = capped_points(criterion, total - error)
    return exact if exact == capped_points(criterion, total + error) else None


def criteria_amounts(
    criteria: Sequence[Criterion],
    spec: ModelSpec,
    *,
    leads: str,
    params: Mapping[str, Any],
    now: datetime,
    tz: tzinfo,
    lead_range: tuple[int, int] | None = None,
) -> list[Amounts | None]:
    """Activity, frequency and inactivity criteria of `spec` over the leads `leads` (SQL
    yielding a column lead_id, with `params`; all of them within `lead_range` when given), as
    the engine scores them at `now`, in one statement that reads each activity once. Per
    criterion: its amounts, or None when the database cannot evaluate it (use the engine)."""
    query = Params(now=now)
    results: list[Amounts | None] = [None] * len(criteria)
    parts = []
    for position, criterion in enumerate(criteria):
        sql = criterion_sql(criterion, spec, tz, query)
        if sql is not None:
            parts.append(f"SELECT {position}, * FROM ({sql}) p{position}")
            results[position] = Amounts({}, set())
    compiled = [c for c, r in zip(criteria, results, strict=True) if r is not None]
    if not compiled:
        return results
    bounds = None if lead_range is None else (query.add(lead_range[0]), query.add(lead_range[1]))
    sql = (
        f"WITH leads AS ({leads}), acts AS ({acts_sql(compiled, query, bounds)}) "
        + " UNION ALL ".join(parts)
    )
    # Without decay an activity criterion's amount depends on the count alone.
    by_count: dict[tuple[int, int], Decimal] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, **query.values})
        rows = cursor.fetchall()
    for position, lead_id, count, worth, unsure in rows:
        amounts, criterion = results[position], criteria[position]
        assert amounts is not None
        if unsure:
            amounts.undecided.add(lead_id)
            continue
        if isinstance(criterion, FrequencyCriterion):
            if count >= criterion.at_least:
                amounts.found[lead_id] = (round_points(criterion.points), count)
            continue
        if not isinstance(criterion, ActivityCriterion):  # inactivity: it fired
            amounts.found[lead_id] = (round_points(criterion.points), 1)
            continue
        if not count:
            continue
        if criterion.half_life_days or spec.decay_half_life_days:
            amount = _decayed_amount(criterion, worth, count)
            if amount is None:
                amounts.undecided.add(lead_id)
                continue
        elif (amount := by_count.get((position, count))) is None:
            amount = by_count[position, count] = capped_points(
                criterion, float(criterion.points) * count
            )
        amounts.found[lead_id] = (amount, count)
    return results


def criterion_amounts(
    criterion: Criterion,
    spec: ModelSpec,
    *,
    leads: str,
    params: Mapping[str, Any],
    now: datetime,
    tz: tzinfo,
) -> Amounts | None:
    """`criteria_amounts` for a single criterion."""
    return criteria_amounts([criterion], spec, leads=leads, params=params, now=now, tz=tz)[0]
