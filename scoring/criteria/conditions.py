"""Conditions on values: how an actual value (of a lead, its account or an activity) is compared
with a criterion's value, and the same decision over a whole column.

A condition coerces the actual value to the type of the criterion's value:
- bool: a bool; a string true/false, 1/0, yes/no (any case, blanks around ignored); int 0/1.
- number: an int, float or Decimal (not bool), or a numeric string; compared as Decimal, floats
  via their shortest repr (so 0.1 == "0.1").
- string: a string as is; numbers via str(); bools as "true"/"false". Lists and mappings never
  coerce. (Dates and times reach a condition as their ISO text.)
A value is *unset* when it is missing, None, a blank string, or an empty list or mapping.
equals, in, contains, icontains, starts_with, gte, lte and between never match an unset value or
one that fails to coerce; not_equals and not_in are their plain negations (so they do match an
unset value). String comparisons are case-sensitive except icontains (casefold). between includes
both ends. is_set / is_not_set only look at set-ness.

A URL property (`url`, or a key ending in `_url`) compared with a path as people write one
(`/pricing`: every value of the condition a string starting with "/") is compared by its path:
a stored full URL (https://shop.example.com/pricing?plan=pro) and a stored path with a query
(/pricing?plan=pro) both read /pricing. The tracking snippet stores full URLs; rules are written
as paths.

In a frame a value is held as its JSON text (null when missing). Most columns hold a few distinct
values (a seniority, an employee count, a page), so a condition is decided once per distinct text
and the answers spread over the column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import polars as pl

from .reading import Condition, ConditionValue, Number, Scalar

_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})


def to_decimal(number: Number | Decimal) -> Decimal:
    """Exact for ints and Decimals; floats via their shortest repr (0.1 -> Decimal("0.1"))."""
    if isinstance(number, float):
        return Decimal(repr(number))
    return Decimal(number)


def is_set(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict | set | frozenset):
        return bool(value)
    return True


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
    return None


def _as_number(value: object) -> Decimal | None:
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, int | float | Decimal):
        number = to_decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return None


def _equals(actual: object, expected: Scalar) -> bool:
    # bool first: bool is a subclass of int.
    if isinstance(expected, bool):
        return _as_bool(actual) is expected
    if isinstance(expected, int | float):
        number = _as_number(actual)
        return number is not None and number == to_decimal(expected)
    return _as_text(actual) == expected


def is_url_field(field: str) -> bool:
    return field == "url" or field.endswith("_url")


def _is_path(expected: ConditionValue) -> bool:
    items = expected if isinstance(expected, tuple) else (expected,)
    return all(isinstance(item, str) and item.startswith("/") for item in items)


def url_path(text: str) -> str:
    """The path of a full URL or of a path with a query or fragment ("/" for a bare host)."""
    try:
        return urlsplit(text.strip()).path or "/"
    except ValueError:  # not a URL at all (an unbalanced "[" in the host): compared as is
        return text


def condition_matches(condition: Condition, actual: object) -> bool:
    """Whether an actual value satisfies a condition (see the module docstring)."""
    if isinstance(actual, str) and is_url_field(condition.field) and _is_path(condition.value):
        actual = url_path(actual)
    if condition.op in ("not_equals", "not_in"):
        return not _matches(condition.op.removeprefix("not_"), condition.value, actual)
    return _matches(condition.op, condition.value, actual)


def _matches(op: str, expected: ConditionValue, actual: object) -> bool:
    if op in ("is_set", "is_not_set"):
        return is_set(actual) == (op == "is_set")
    if expected is None or not is_set(actual):
        return False
    # `in` and `between` carry a tuple, every other operator a single scalar.
    items = expected if isinstance(expected, tuple) else (expected,)
    if op in ("equals", "in"):
        return any(_equals(actual, item) for item in items)
    if op in ("contains", "icontains", "starts_with"):
        text, needle = _as_text(actual), str(items[0])
        if text is None:
            return False
        if op == "icontains":
            return needle.casefold() in text.casefold()
        return needle in text if op == "contains" else text.startswith(needle)
    number, low, high = _as_number(actual), _as_number(items[0]), _as_number(items[-1])
    if number is None or low is None or high is None:
        return False
    if op == "gte":
        return number >= low
    if op == "lte":
        return number <= high
    return op == "between" and low <= number <= high


# --- over columns -------------------------------------------------------------------------------


def value_text(value: object) -> str | None:
    """A value as a frame holds it: its JSON text (dates and times as ISO text), None when
    missing."""
    if value is None:
        return None
    if isinstance(value, date):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        return str(value) if value.is_finite() else json.dumps(str(value))
    return json.dumps(value, ensure_ascii=False, default=str)


def _decoded(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        # Not JSON: a reader handed over plain text; it is compared as such.
        return text


def column_matches(
    condition: Condition, texts: pl.Series, distinct: Sequence[str | None] | None = None
) -> pl.Series:
    """The condition over a column of JSON texts (String or Categorical, with its distinct
    values when known): a Boolean column, never null."""
    if distinct is None:
        distinct = texts.unique().to_list()
    decided = {text: condition_matches(condition, _decoded(text)) for text in distinct}
    matching = [text for text, matches in decided.items() if matches and text is not None]
    # A missing value is null: decided like any other, once.
    unset = decided.get(None, condition_matches(condition, None))
    return texts.is_in(matching).fill_null(unset)


def columns_match(
    conditions: Sequence[Condition],
    columns: Sequence[pl.Series],
    length: int,
    distinct: Sequence[Sequence[str | None]] | None = None,
) -> pl.Series:
    """Whether every condition holds for its column (all true when there are none)."""
    result = None
    for position, (condition, texts) in enumerate(zip(conditions, columns, strict=True)):
        known = None if distinct is None else distinct[position]
        matched = column_matches(condition, texts, known)
        result = matched if result is None else result & matched
    return pl.repeat(True, length, dtype=pl.Boolean, eager=True) if result is None else result
