"""What every way in (API, tracking beacon, CSV import, admin forms) refuses, in one place.

Each check returns a reason, or None when the value is fine, so a caller refuses one item with
its reason and keeps the rest of the batch. The bounds are those of what stores and reads the
values: PostgreSQL refuses NUL in text and jsonb, a lone surrogate cannot be encoded for the
database, a timestamp before year 1 is stored as BC and cannot be read back by Python, and a
number beyond the column's range fails the whole statement.
"""

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

# Timestamps: nothing a lead did predates 1970, and nothing is planned further ahead than this.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=3653)
# Birthdays: the oldest living people, and no one born in the future.
EARLIEST_BIRTHDAY = date(1900, 1, 1)
# Nesting of a value (an activity's properties, a lead's attributes); deeper is a mistake or an
# attack. A whole document may nest further, so that one deep item of a batch is refused on its
# own; beyond MAX_DOCUMENT_DEPTH the document is refused before it is parsed.
MAX_DEPTH = 32
MAX_DOCUMENT_DEPTH = 64

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored, or None."""
    found = _BAD_CHARACTER.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character"
    return "contains an unpaired surrogate (not valid Unicode)"


def json_problem(
    value: object, *, path: str = "value", max_depth: int = MAX_DEPTH, text: str | None = None
) -> str | None:
    """Why a parsed JSON value cannot be stored (a bad text in any key or string, or nesting
    deeper than max_depth) with where it is ("properties.tags.2: ..."); None when it can.
    `text`: the value as json.dumps(ensure_ascii=False) wrote it, when the caller has it."""
    if _surely_fine(value, max_depth, text):
        return None
    stack: list[tuple[object, str, int]] = [(value, path, 1)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            if problem := text_problem(node):
                return f"{where}: {problem}"
            continue
        if not isinstance(node, Mapping | list):
            continue
        if depth > max_depth:
            return f"{where}: nested deeper than {max_depth} levels"
        if isinstance(node, list):
            stack.extend((child, f"{where}.{i}", depth + 1) for i, child in enumerate(node))
            continue
        for key, child in node.items():
            if isinstance(key, str) and (problem := text_problem(key)):
                return f"{where}: a key {problem}"
            stack.append((child, f"{where}.{key}", depth + 1))
    return None


def _surely_fine(value: object, max_depth: int, text: str | None) -> bool:
    """The common case, at the speed of the json module: the value's JSON text holds no bad
    character (a NUL is written as an escape, which an escaped backslash may fake: then the
    walk decides) and nests no deeper than allowed."""
    if text is None:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            return False
    return (
        _BAD_CHARACTER.search(text) is None
        and "\\u0000" not in text
        and not nesting_depth_exceeds(text, max_depth)
    )


def nesting_depth_exceeds(raw: bytes | str, max_depth: int = MAX_DOCUMENT_DEPTH) -> bool:
    """Whether a JSON text nests deeper than max_depth, found without parsing it (a parser
    recurses once per level and gives up, or crashes, long before 100,000 levels)."""
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # Strings may hold brackets; take them out, then keep only the brackets themselves.
    brackets = _JSON_STRING.sub(b"", text).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        depth += 1 if byte in _OPENING else -1
        if depth > max_depth:
            return True
    return False


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPENING = frozenset(b"[{")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def datetime_problem(value: datetime, *, now: datetime) -> str | None:
    """Why a timestamp is not plausible: before 1970, or more than ten years after now."""
    if value < EARLIEST:
        return f"lies before {EARLIEST:%Y-%m-%d}"
    if value > now + AHEAD:
        return "lies more than ten years ahead"
    return None


def birthday_problem(value: date, *, today: date) -> str | None:
    if value < EARLIEST_BIRTHDAY:
        return f"lies before {EARLIEST_BIRTHDAY:%Y-%m-%d}"
    if value > today:
        return "lies in the future"
    return None


def integer_problem(value: int | Decimal, bounds: tuple[int, int] = INT32) -> str | None:
    low, high = bounds
    if not low <= value <= high:
        return f"must be between {low} and {high}"
    return None


def value_problem(value: object, *, now: datetime) -> str | None:
    """Why one field's value cannot be stored, whatever its type (the forms' and serializers'
    check of every field they clean)."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, Mapping | list):
        return json_problem(value)
    if isinstance(value, datetime):
        return datetime_problem(value, now=now)
    return None
