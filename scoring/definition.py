"""Scoring-model definitions ("rules as code"): parse and validate a plain dict, dump it back.

`parse_model` turns a mapping (from YAML, JSON or the rule editor) into a frozen `ModelSpec` or
raises `DefinitionError` listing *every* problem with its path (``criteria[3] (Jobs page).op``),
so an editor can show them all at once. `dump_model` writes the canonical dict: stable key order,
optional keys left out while they hold their default, bands and grades sorted by ``min``. Hence
``parse_model(dump_model(spec)) == spec`` and dumping is idempotent.

Conventions beyond the format itself:
- An optional key given as ``null`` means "absent" (``half_life_days: null``: use the default).
- Numbers are int, float or Decimal, never bool, finite and at most 1e9 in size; Decimals are
  normalised to int/float so specs dump straight to JSON. Points and the MQL threshold also fit the
  database column (at most 2 decimal places, below 1e8 in size), so storing them loses nothing;
  a cap is in points too, so a rounded criterion amount never exceeds its cap.
- A date given as a condition value (YAML reads ``2020-01-01`` as a date) becomes its ISO string,
  because dates are compared as ISO strings.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from decimal import Decimal
from typing import Any, ClassVar, Final, Literal, TypeAlias

import yaml

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
_MODEL_KEYS: Final = (
    "slug", "name", "description", "mql_threshold", "decay_half_life_days", "audience", "bands",
    "grades", "sla_hours", "sla_by_kind", "criteria",
)
DEFAULT_SLA_HOURS: Final = 48
# fmt: on
DATE_FIELDS: Final = ("lead.birthday", "lead.created_at")
CRITERION_TYPES: Final = ("attribute", "activity", "frequency", "inactivity")
COUNT_MODES: Final = ("each", "once", "per_day")

Number: TypeAlias = int | float
Scalar: TypeAlias = str | int | float | bool
ConditionValue: TypeAlias = Scalar | tuple[Scalar, ...] | None
CountMode: TypeAlias = Literal["each", "once", "per_day"]
Scope: TypeAlias = Literal["lead", "activity"]

_SLUG = re.compile(r"[a-z0-9-]+")
_MAX_MAGNITUDE: Final = 1e9
_MAX_POINTS: Final = 1e8  # Criterion.points / mql_threshold are DecimalField(10, 2)
_MAX_NAME: Final = 120
_NO_VALUE_OPS: Final = ("is_set", "is_not_set")
_COMMON_KEYS: Final = ("name", "type", "points", "description", "enabled")
_TYPE_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "attribute": ("field", "op", "value"),
    "activity": ("kinds", "where", "count", "cap", "window_days", "half_life_days"),
    "frequency": ("kinds", "where", "at_least", "within_days", "window_days"),
    "inactivity": ("days", "kinds"),
}


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


# Field order is the canonical dump order, hence kw_only: required and defaulted fields interleave.
@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeCriterion:
    type: ClassVar[Literal["attribute"]] = "attribute"
    name: str
    description: str = ""
    condition: Condition
    points: Number
    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityCriterion:
    type: ClassVar[Literal["activity"]] = "activity"
    name: str
    description: str = ""
    kinds: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    count: CountMode = "each"
    cap: Number | None = None
    window_days: Number | None = None
    half_life_days: Number | None = None
    points: Number
    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyCriterion:
    type: ClassVar[Literal["frequency"]] = "frequency"
    name: str
    description: str = ""
    kinds: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    at_least: int
    within_days: Number
    window_days: Number | None = None
    points: Number
    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class InactivityCriterion:
    type: ClassVar[Literal["inactivity"]] = "inactivity"
    name: str
    description: str = ""
    kinds: tuple[str, ...] = ()
    days: Number
    points: Number
    enabled: bool = True


Criterion: TypeAlias = (
    AttributeCriterion | ActivityCriterion | FrequencyCriterion | InactivityCriterion
)
_CLASSES: Final[dict[str, type[Criterion]]] = {
    "attribute": AttributeCriterion,
    "activity": ActivityCriterion,
    "frequency": FrequencyCriterion,
    "inactivity": InactivityCriterion,
}


@dataclass(frozen=True, slots=True)
class Band:
    label: str
    min: Number


@dataclass(frozen=True, slots=True)
class KindSla:
    """Follow up a handoff triggered by this activity kind within `hours`."""

    kind: str
    hours: Number


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    slug: str
    name: str
    description: str = ""
    mql_threshold: Number
    decay_half_life_days: Number | None = None
    audience: tuple[Condition, ...] = ()
    bands: tuple[Band, ...]
    grades: tuple[Band, ...] = ()
    sla_hours: Number = DEFAULT_SLA_HOURS
    sla_by_kind: tuple[KindSla, ...] = ()
    criteria: tuple[Criterion, ...]


# --- parsing -------------------------------------------------------------------------------------


def _at(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def _decimal_places(value: Number) -> int:
    exponent = Decimal(repr(value)).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class _Reader:
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
                self.fail(_at(prefix, str(key)), "unknown key")

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
        return self.number(value, _at(prefix, key), positive=True, points=points)

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
            low, high = (self.number(v, _at(path, i)) for i, v in enumerate(pair))
            if low is None or high is None:
                return None
            if low > high:
                self.fail(path, "low must not be greater than high")
            return (low, high)
        else:
            scalars = [self.scalar(v, _at(path, i)) for i, v in enumerate(self.items(value, path))]
            if not scalars:
                self.fail(path, f"must be a non-empty list for {op}")
            return tuple(s for s in scalars if s is not None)
        return None

    def condition(self, data: Mapping[str, Any], prefix: str, scope: Scope) -> Condition | None:
        """Field/op/value of `data`: a condition, or an attribute criterion's flat keys."""
        before = len(self.problems)
        field = self.field(data.get("field"), _at(prefix, "field"), scope)
        op = data.get("op")
        value: ConditionValue = None
        if op not in OPERATORS:
            message = f"must be one of {', '.join(OPERATORS)}"
            self.fail(_at(prefix, "op"), "is required" if op is None else message)
        else:
            value = self.value(op, data.get("value"), _at(prefix, "value"))
            if field in DATE_FIELDS and op in ("gte", "lte", "between"):
                self.fail(_at(prefix, "op"), f"{field} is a date; {op} does not apply")
        if len(self.problems) > before or field is None:
            return None
        return Condition(field, str(op), value)

    def conditions(self, value: object, path: str, scope: Scope) -> tuple[Condition, ...]:
        found = (
            self.one_condition(item, _at(path, i), scope)
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
        kinds = [self.text(kind, _at(path, i)) for i, kind in enumerate(self.items(value, path))]
        return tuple(kind for kind in kinds if kind is not None)

    def criterion(self, data: object, prefix: str) -> Criterion | None:
        if not isinstance(data, Mapping):
            self.fail(prefix, "must be a mapping")
            return None
        before = len(self.problems)
        name = self.text(data.get("name"), _at(prefix, "name"), max_length=_MAX_NAME)
        if prefix and name:
            prefix = f"{prefix} ({name})"
        kind = data.get("type")
        if kind in _CLASSES:
            self.unknown_keys(data, _COMMON_KEYS + _TYPE_KEYS[kind], prefix)
        else:
            message = f"must be one of {', '.join(CRITERION_TYPES)}"
            self.fail(_at(prefix, "type"), "is required" if kind is None else message)
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            self.fail(_at(prefix, "enabled"), "must be true or false")
        # Any-typed until validated: the class is only built once no problem was found.
        kwargs: dict[str, Any] = {
            "name": name,
            "points": self.number(data.get("points"), _at(prefix, "points"), points=True),
            "description": self.text(
                data.get("description"), _at(prefix, "description"), required=False
            ),
            "enabled": enabled,
        }
        if kind == "attribute":
            kwargs["condition"] = self.condition(data, prefix, "lead")
        if kind in ("activity", "frequency", "inactivity"):
            kwargs["kinds"] = self.kinds(data.get("kinds"), _at(prefix, "kinds"))
        if kind in ("activity", "frequency"):
            kwargs["where"] = self.conditions(data.get("where"), _at(prefix, "where"), "activity")
            kwargs["window_days"] = self.optional_positive(data, "window_days", prefix)
        if kind == "activity":
            kwargs["count"] = "each" if data.get("count") is None else data["count"]
            if kwargs["count"] not in COUNT_MODES:
                self.fail(_at(prefix, "count"), f"must be one of {', '.join(COUNT_MODES)}")
            kwargs["cap"] = self.optional_positive(data, "cap", prefix, points=True)
            kwargs["half_life_days"] = self.optional_positive(data, "half_life_days", prefix)
        elif kind == "frequency":
            kwargs["at_least"] = at_least = data.get("at_least")
            if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 2:
                self.fail(_at(prefix, "at_least"), "must be a whole number of at least 2")
            within = data.get("within_days")
            kwargs["within_days"] = self.number(within, _at(prefix, "within_days"), positive=True)
        elif kind == "inactivity":
            kwargs["days"] = self.number(data.get("days"), _at(prefix, "days"), positive=True)
        return _CLASSES[str(kind)](**kwargs) if len(self.problems) == before else None

    def bands(self, value: object, key: str, *, required: bool) -> tuple[Band, ...]:
        if required and not value:
            self.fail(key, "is required" if value is None else "must have at least one band")
        bands: list[Band] = []
        for i, item in enumerate(self.items(value, key)):
            path = _at(key, i)
            if not isinstance(item, Mapping):
                self.fail(path, "must be a mapping with label and min")
                continue
            self.unknown_keys(item, ("label", "min"), path)
            label = self.text(item.get("label"), _at(path, "label"))
            low = self.number(item.get("min"), _at(path, "min"))
            if label is not None and any(b.label == label for b in bands):
                self.fail(_at(path, "label"), "duplicate label")
            elif low is not None and any(b.min == low for b in bands):
                self.fail(_at(path, "min"), "duplicate min")
            elif label is not None and low is not None:
                bands.append(Band(label, low))
        return tuple(sorted(bands, key=lambda b: b.min))

    def kind_slas(self, value: object, key: str) -> tuple[KindSla, ...]:
        slas: list[KindSla] = []
        for i, item in enumerate(self.items(value, key)):
            path = _at(key, i)
            if not isinstance(item, Mapping):
                self.fail(path, "must be a mapping with kind and hours")
                continue
            self.unknown_keys(item, ("kind", "hours"), path)
            kind = self.text(item.get("kind"), _at(path, "kind"), max_length=64)
            hours = self.number(item.get("hours"), _at(path, "hours"), positive=True)
            if kind is not None and any(s.kind == kind for s in slas):
                self.fail(_at(path, "kind"), "duplicate kind")
            elif kind is not None and hours is not None:
                slas.append(KindSla(kind, hours))
        return tuple(slas)


def validate_condition(data: object, path: str = "", *, scope: Scope = "lead") -> list[Problem]:
    """Problems of one condition; scope "lead" for audience/attribute fields, else "activity"."""
    reader = _Reader()
    reader.one_condition(data, path, scope)
    return reader.problems


def validate_criterion(data: object, index: int | None = None) -> list[Problem]:
    """Problems of one criterion; paths are bare keys ("op") unless `index` places it in a model."""
    reader = _Reader()
    reader.criterion(data, "" if index is None else f"criteria[{index}]")
    return reader.problems


def parse_model(data: Mapping[str, Any]) -> ModelSpec:
    """Validate a definition and return its spec; raise DefinitionError listing every problem."""
    if not isinstance(data, Mapping):
        raise DefinitionError([Problem("", "a scoring model must be a mapping")])
    read = _Reader()
    read.unknown_keys(data, _MODEL_KEYS, "")
    slug = read.text(data.get("slug"), "slug", max_length=50)
    if slug is not None and not _SLUG.fullmatch(slug):
        read.fail("slug", "may only contain a-z, 0-9 and '-'")
    kwargs: dict[str, Any] = {
        "slug": slug,
        "name": read.text(data.get("name"), "name", max_length=_MAX_NAME),
        "description": read.text(data.get("description"), "description", required=False),
        # Totals start at 0 for a lead with no evidence, so a negative threshold would make
        # nearly every lead an MQL and open a handoff for each. Band mins may be negative.
        "mql_threshold": read.number(
            data.get("mql_threshold"), "mql_threshold", points=True, non_negative=True
        ),
        "decay_half_life_days": read.optional_positive(data, "decay_half_life_days", ""),
        "audience": read.conditions(data.get("audience"), "audience", "lead"),
        "bands": read.bands(data.get("bands"), "bands", required=True),
        "grades": read.bands(data.get("grades"), "grades", required=False),
        "sla_hours": (
            DEFAULT_SLA_HOURS
            if data.get("sla_hours") is None
            else read.number(data.get("sla_hours"), "sla_hours", positive=True)
        ),
        "sla_by_kind": read.kind_slas(data.get("sla_by_kind"), "sla_by_kind"),
    }
    if data.get("criteria") is None:
        read.fail("criteria", "is required (may be an empty list)")
    criteria: list[Criterion | None] = []
    first_index: dict[str, int] = {}
    for i, item in enumerate(read.items(data.get("criteria"), "criteria")):
        criteria.append(read.criterion(item, f"criteria[{i}]"))
        name = item.get("name") if isinstance(item, Mapping) else None
        if isinstance(name, str) and name in first_index:
            message = f"duplicates the name of criteria[{first_index[name]}]"
            read.fail(f"criteria[{i}] ({name}).name", message)
        elif isinstance(name, str):
            first_index[name] = i
    if read.problems:
        raise DefinitionError(read.problems)
    return ModelSpec(criteria=tuple(c for c in criteria if c is not None), **kwargs)


def loads_model(text: str) -> ModelSpec:
    """Parse a YAML or JSON document (JSON is read as YAML)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DefinitionError([Problem("", f"not valid YAML or JSON: {exc}")]) from exc
    return parse_model(data)


# --- dumping -------------------------------------------------------------------------------------


def _plain(value: object) -> Any:
    """Dataclasses become dicts in field order, without the fields at their default."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if not is_dataclass(value) or isinstance(value, type):
        return value
    criterion_type = getattr(type(value), "type", None)
    out: dict[str, Any] = {}
    for f in fields(value):
        item = getattr(value, f.name)
        if f.default is not MISSING and item == f.default:
            continue
        if f.name == "condition":  # an attribute criterion keeps field/op/value flat
            out.update(_plain(item))
        else:
            out[f.name] = _plain(item)
        if f.name == "name" and criterion_type:  # right after the name, as people write it
            out["type"] = criterion_type
    return out


def dump_model(spec: ModelSpec) -> dict[str, Any]:
    """The canonical plain dict of a spec: stable key order, defaults omitted."""
    dumped: dict[str, Any] = _plain(spec)
    return dumped


def dumps_model(spec: ModelSpec, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """The canonical dict as a YAML (default) or JSON document."""
    if fmt == "json":
        return json.dumps(dump_model(spec), indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(dump_model(spec), sort_keys=False, allow_unicode=True)
