"""Scoring-model definitions ("rules as code"): parse and validate a plain dict, dump it back.

`parse_model` turns a mapping (from YAML, JSON or the rule editor) into a frozen `ModelSpec` or
raises `DefinitionError` listing *every* problem with its path (``criteria[3] (Jobs page).op``),
so an editor can show them all at once. `dump_model` writes the canonical dict: stable key order,
optional keys left out while they hold their default, bands and grades sorted by ``min``. Hence
``parse_model(dump_model(spec)) == spec`` and dumping is idempotent.

Each criterion type reads its own keys (scoring.criteria); the conventions every value follows
(nulls, numbers, dates) are scoring.criteria.reading's. The MQL threshold is in points, like a
criterion's points and cap, so it too fits the database column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from typing import Any, Final, Literal

import yaml

from scoring.criteria import CRITERION_TYPES, TYPES, Criterion
from scoring.criteria.activity import COUNT_MODES, ActivityCriterion, CountMode
from scoring.criteria.attribute import AttributeCriterion
from scoring.criteria.frequency import FrequencyCriterion
from scoring.criteria.inactivity import InactivityCriterion
from scoring.criteria.reading import (
    ACCOUNT_FIELDS,
    DATE_FIELDS,
    LEAD_FIELDS,
    OPERATORS,
    Condition,
    ConditionValue,
    DefinitionError,
    Number,
    Problem,
    Reader,
    Scalar,
    Scope,
    at,
    validate_condition,
)

# The format's public names, wherever they are defined.
__all__ = [
    "ACCOUNT_FIELDS", "COUNT_MODES", "CRITERION_TYPES", "DATE_FIELDS", "DEFAULT_SLA_HOURS",
    "LEAD_FIELDS", "OPERATORS", "ActivityCriterion", "AttributeCriterion", "Band", "Condition",
    "ConditionValue", "CountMode", "Criterion", "DefinitionError", "FrequencyCriterion",
    "InactivityCriterion", "KindSla", "ModelSpec", "Number", "Problem", "Scalar", "Scope",
    "dump_model", "dumps_model", "loads_model", "parse_model", "validate_condition",
    "validate_criterion",
]  # fmt: skip

# fmt: off
_MODEL_KEYS: Final = (
    "slug", "name", "description", "mql_threshold", "decay_half_life_days", "audience", "bands",
    "grades", "sla_hours", "sla_by_kind", "criteria",
)
DEFAULT_SLA_HOURS: Final = 48
# fmt: on
_SLUG = re.compile(r"[a-z0-9-]+")
_MAX_NAME: Final = 120
_COMMON_KEYS: Final = ("name", "type", "points", "description", "enabled")


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


def _criterion(read: Reader, data: object, prefix: str) -> Criterion | None:
    """One criterion: the keys every type has, then its type's own (problems go to `read`)."""
    if not isinstance(data, Mapping):
        read.fail(prefix, "must be a mapping")
        return None
    before = len(read.problems)
    name = read.text(data.get("name"), at(prefix, "name"), max_length=_MAX_NAME)
    if prefix and name:
        prefix = f"{prefix} ({name})"
    written = data.get("type")
    kind = TYPES.get(written) if isinstance(written, str) else None
    if kind is not None:
        read.unknown_keys(data, _COMMON_KEYS + kind.KEYS, prefix)
    else:
        message = f"must be one of {', '.join(TYPES)}"
        read.fail(at(prefix, "type"), "is required" if written is None else message)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        read.fail(at(prefix, "enabled"), "must be true or false")
    # Any-typed until validated: the class is only built once no problem was found.
    kwargs: dict[str, Any] = {
        "name": name,
        "points": read.number(data.get("points"), at(prefix, "points"), points=True),
        "description": read.text(
            data.get("description"), at(prefix, "description"), required=False
        ),
        "enabled": enabled,
    }
    if kind is None:
        return None
    kwargs.update(kind.read(data, prefix, read))
    return kind.SPEC(**kwargs) if len(read.problems) == before else None


def _bands(read: Reader, value: object, key: str, *, required: bool) -> tuple[Band, ...]:
    if required and not value:
        read.fail(key, "is required" if value is None else "must have at least one band")
    bands: list[Band] = []
    for i, item in enumerate(read.items(value, key)):
        path = at(key, i)
        if not isinstance(item, Mapping):
            read.fail(path, "must be a mapping with label and min")
            continue
        read.unknown_keys(item, ("label", "min"), path)
        label = read.text(item.get("label"), at(path, "label"))
        low = read.number(item.get("min"), at(path, "min"))
        if label is not None and any(b.label == label for b in bands):
            read.fail(at(path, "label"), "duplicate label")
        elif low is not None and any(b.min == low for b in bands):
            read.fail(at(path, "min"), "duplicate min")
        elif label is not None and low is not None:
            bands.append(Band(label, low))
    return tuple(sorted(bands, key=lambda b: b.min))


def _kind_slas(read: Reader, value: object, key: str) -> tuple[KindSla, ...]:
    slas: list[KindSla] = []
    for i, item in enumerate(read.items(value, key)):
        path = at(key, i)
        if not isinstance(item, Mapping):
            read.fail(path, "must be a mapping with kind and hours")
            continue
        read.unknown_keys(item, ("kind", "hours"), path)
        kind = read.text(item.get("kind"), at(path, "kind"), max_length=64)
        hours = read.number(item.get("hours"), at(path, "hours"), positive=True)
        if kind is not None and any(s.kind == kind for s in slas):
            read.fail(at(path, "kind"), "duplicate kind")
        elif kind is not None and hours is not None:
            slas.append(KindSla(kind, hours))
    return tuple(slas)


def validate_criterion(data: object, index: int | None = None) -> list[Problem]:
    """Problems of one criterion; paths are bare keys ("op") unless `index` places it in a model."""
    reader = Reader()
    _criterion(reader, data, "" if index is None else f"criteria[{index}]")
    return reader.problems


def parse_model(data: Mapping[str, Any]) -> ModelSpec:
    """Validate a definition and return its spec; raise DefinitionError listing every problem."""
    if not isinstance(data, Mapping):
        raise DefinitionError([Problem("", "a scoring model must be a mapping")])
    read = Reader()
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
        "bands": _bands(read, data.get("bands"), "bands", required=True),
        "grades": _bands(read, data.get("grades"), "grades", required=False),
        "sla_hours": (
            DEFAULT_SLA_HOURS
            if data.get("sla_hours") is None
            else read.number(data.get("sla_hours"), "sla_hours", positive=True)
        ),
        "sla_by_kind": _kind_slas(read, data.get("sla_by_kind"), "sla_by_kind"),
    }
    if data.get("criteria") is None:
        read.fail("criteria", "is required (may be an empty list)")
    criteria: list[Criterion | None] = []
    first_index: dict[str, int] = {}
    for i, item in enumerate(read.items(data.get("criteria"), "criteria")):
        criteria.append(_criterion(read, item, f"criteria[{i}]"))
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
