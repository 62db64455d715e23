"""Reading rules as code, the parts every criterion type shares: problems with their paths,
conditions, numbers and texts, and the editor's fields as plain data.

A `Reader` collects every problem (``criteria[3] (Jobs page).op: ...``) instead of stopping at
the first, so an editor can show them all at once. Conventions:
- An optional key given as ``null`` means "absent" (``half_life_days: null``: use the default).
- Numbers are int, float or Decimal, never bool, finite and at most 1e9 in size; Decimals are
  normalised to int/float so specs dump straight to JSON. Points also fit the database column (at
  most 2 decimal places, below 1e8 in size), so storing them loses nothing.
- A date given as a condition value (YAML reads ``2020-01-01`` as a date) becomes its ISO string,
  because dates are compared as ISO strings.

Nothing here knows Django: texts meant for people are message ids (marked with `gettext_noop`)
that the editor translates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, Protocol, TypeAlias

# fmt: off
LEAD_FIELDS: Final = (
    "email", "first_name", "last_name", "job_title", "seniority", "phone", "country", "birthday",
    "source", "lifecycle_stage", "unsubscribed", "email_invalid", "external_id", "created_at",
)
ACCOUNT_FIELDS: Final = (
    "name", "domain", "industry", "employee_count", "annual_revenue", "country",
    "is_target_account", "is_competitor", "external_id",
)
OPERATORS: Final = (
    "equals", "not_equals", "in", "not_in", "contains", "icontains", "starts_with", "gte", "lte",
    "between", "is_set", "is_not_set",
)
# fmt: on
DATE_FIELDS: Final = ("lead.birthday", "lead.created_at")

Number: TypeAlias = int | float
Scalar: TypeAlias = str | int | float | bool
ConditionValue: TypeAlias = Scalar | tuple[Scalar, ...] | None
Scope: TypeAlias = Literal["lead", "activity"]

_MAX_MAGNITUDE: Final = 1e9
_MAX_POINTS: Final = 1e8  # Criterion.points / mql_threshold are DecimalField(10, 2)
_NO_VALUE_OPS: Final = ("is_set", "is_not_set")


def gettext_noop(message: str) -> str:
    """Marks a message id for translation (makemessages finds it by this name); the editor
    translates it when it shows it."""
    return message


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DefinitionError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: ConditionValue = None


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a criterion type in the editor, as plain data.

    `key` is its key in rules as code; `kind` says how it is typed and read back: number (empty
    means absent), whole (a whole number), choice (one of `choices`, `default` when empty), kinds
    (a list of activity kinds), conditions (the activities' property conditions, `where`), or
    condition (an attribute criterion's flat field, op and value). Labels are message ids.
    """

    key: str
    kind: Literal["number", "whole", "choice", "kinds", "conditions", "condition"]
    label: str = ""
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    default: str | None = None


class Words(Protocol):
    """How the editor words a criterion; a type's `sentence` builds its sentence from these."""

    def __call__(self, message: str, **values: object) -> str:
        """The message id translated, with `values` put in."""
        ...

    def points(self, points: object) -> str:
        """ "+20", "-5"."""
        ...

    def number(self, value: object) -> str: ...

    def kinds(self, item: Mapping[str, Any]) -> str:
        """The item's activity kinds in words ("any activity" when none)."""
        ...

    def condition(self, condition: Mapping[str, Any]) -> str:
        """A condition on the lead or its account as a clause."""
        ...

    def where(self, item: Mapping[str, Any]) -> str:
        """The item's conditions on activity properties ("where ..."), empty when none."""
        ...

    def window(self, item: Mapping[str, Any]) -> str:
        """The item's window ("in the last 30 days"), empty when none."""
        ...


# The inputs several activity-based types share (one definition, so the editor shows them once).
KINDS_FIELD: Final = Field(
    "kinds",
    "kinds",
    gettext_noop("Activity kinds"),
    gettext_noop("Separated by commas; empty means any activity."),
)
WHERE_FIELD: Final = Field("where", "conditions", gettext_noop("Only where property"))
WINDOW_FIELD: Final = Field("window_days", "number", gettext_noop("Only the last (days)"))


def at(prefix: str, key: str | int) -> str:
    """The path of `key` below `prefix`: ``criteria[3]``, ``criteria[3].op``."""
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def _decimal_places(value: Number) -> int:
    exponent = Decimal(repr(value)).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class Reader:
    """Reads a definition while collecting problems, so that every one is reported at once.

    Each method returns the parsed value, or None (an empty tuple for lists) after recording why.
    """

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def unknown_keys(self, data: Mapping[Any, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(at(prefix, str(key)), "unknown key")

    def number(
        self,
        value: object,
        path: str,
        *,
        positive: bool = False,
        points: bool = False,
        non_negative: bool = False,
    ) -> Number | None:
        if isinstance(value, Decimal) and value.is_finite():
            value = int(value) if value == value.to_integral_value() else float(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(path, "is required" if value is None else "must be a number")
        elif positive and value <= 0:
            self.fail(path, "must be greater than 0")
        elif non_negative and value < 0:
            self.fail(path, "must not be negative")
        elif abs(value) >= (_MAX_POINTS if points else _MAX_MAGNITUDE):
            self.fail(path, "is too large")
        elif points and _decimal_places(value) > 2:
            self.fail(path, "must have at most 2 decimal places")
        else:
            return value
        return None

    def optional_positive(
        self, data: Mapping[str, Any], key: str, prefix: str, *, points: bool = False
    ) -> Number | None:
        value = data.get(key)
        if value is None:
            return None
        return self.number(value, at(prefix, key), positive=True, points=points)

    def text(
        self, value: object, path: str, *, max_length: int = 0, required: bool = True
    ) -> str | None:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            message = "must be a non-empty string" if required else "must be a string"
            self.fail(path, "is required" if value is None else message)
        elif max_length and len(value) > max_length:
            self.fail(path, f"must be at most {max_length} characters")
        else:
            return value
        return None

    def scalar(self, value: object, path: str) -> Scalar | None:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str) and not value.strip():
            self.fail(path, "must not be blank (use is_set / is_not_set)")
            return None
        if isinstance(value, str | bool):
            return value
        return self.number(value, path)

    def items(self, value: object, path: str) -> list[Any]:
        """A list's items; absent (None) reads as an empty list."""
        if value is None or isinstance(value, list | tuple):
            return list(value or ())
        self.fail(path, "must be a list")
        return []

    def field(self, value: object, path: str, scope: Scope) -> str | None:
        name = self.text(value, path)
        if name is None or scope == "activity":
            return name
        owner, _, rest = name.partition(".")
        known = {"lead": LEAD_FIELDS, "account": ACCOUNT_FIELDS}.get(owner)
        if known is None:
            self.fail(path, "must start with 'lead.' or 'account.'")
        elif rest == "attributes." or (rest not in known and not rest.startswith("attributes.")):
            self.fail(
                path, f"unknown {owner} field; use attributes.<key> or one of {', '.join(known)}"
            )
        else:
            return name
        return None

    def value(self, op: str, value: object, path: str) -> ConditionValue:
        if op in _NO_VALUE_OPS:
            if value is not None:
                self.fail(path, f"must not be given for {op}")
        elif value is None:
            self.fail(path, f"is required for {op}")
        elif op in ("equals", "not_equals"):
            return self.scalar(value, path)
        elif op in ("gte", "lte"):
            return self.number(value, path)
        elif op in ("contains", "icontains", "starts_with"):
            if isinstance(value, str) and value:
                return value
            self.fail(path, f"must be a non-empty string for {op}")
        elif op == "between":
            pair = self.items(value, path)
            if len(pair) != 2:
                self.fail(path, "must be a list [low, high]")
                return None
            low, high = (self.number(v, at(path, i)) for i, v in enumerate(pair))
            if low is None or high is None:
                return None
            if low > high:
                self.fail(path, "low must not be greater than high")
            return (low, high)
        else:
            scalars = [self.scalar(v, at(path, i)) for i, v in enumerate(self.items(value, path))]
            if not scalars:
                self.fail(path, f"must be a non-empty list for {op}")
            return tuple(s for s in scalars if s is not None)
        return None

    def condition(self, data: Mapping[str, Any], prefix: str, scope: Scope) -> Condition | None:
        """Field/op/value of `data`: a condition, or an attribute criterion's flat keys."""
        before = len(self.problems)
        field = self.field(data.get("field"), at(prefix, "field"), scope)
        op = data.get("op")
        value: ConditionValue = None
        if op not in OPERATORS:
            message = f"must be one of {', '.join(OPERATORS)}"
            self.fail(at(prefix, "op"), "is required" if op is None else message)
        else:
            value = self.value(op, data.get("value"), at(prefix, "value"))
            if field in DATE_FIELDS and op in ("gte", "lte", "between"):
                self.fail(at(prefix, "op"), f"{field} is a date; {op} does not apply")
        if len(self.problems) > before or field is None:
            return None
        return Condition(field, str(op), value)

    def conditions(self, value: object, path: str, scope: Scope) -> tuple[Condition, ...]:
        found = (
            self.one_condition(item, at(path, i), scope)
            for i, item in enumerate(self.items(value, path))
        )
        return tuple(c for c in found if c is not None)

    def one_condition(self, data: object, path: str, scope: Scope) -> Condition | None:
        if not isinstance(data, Mapping):
            self.fail(path, "must be a mapping with field, op and value")
            return None
        self.unknown_keys(data, ("field", "op", "value"), path)
        return self.condition(data, path, scope)

    def kinds(self, value: object, path: str) -> tuple[str, ...]:
        kinds = [self.text(kind, at(path, i)) for i, kind in enumerate(self.items(value, path))]
        return tuple(kind for kind in kinds if kind is not None)


def validate_condition(data: object, path: str = "", *, scope: Scope = "lead") -> list[Problem]:
    """Problems of one condition; scope "lead" for audience/attribute fields, else "activity"."""
    reader = Reader()
    reader.one_condition(data, path, scope)
    return reader.problems
