"""Features for the predictive score, computed by the product itself from raw rows at a moment.

Per lead and moment: its fields and its account's (numbers as numbers, yes/no as 1/0, words as
one of their frequent values), the extra attributes of both that an import brought in, the lead's
age, and from its activities before the moment: counts per kind over several windows, days since
the last one of each kind, sums of numeric properties, and counts per frequent property value
(a page's first path segment, a campaign, a category). Only what happened before the moment
counts, so a lead scored at the moment before its outcome never sees the outcome coming.

The plan (which columns, kinds, keys and values) is found once on the training leads and kept
with the trained model, so leads scored later get exactly the same columns.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from scoring.criteria.conditions import is_url_field, url_path
from scoring.frames import activities_frame, leads_frame
from scoring.models import Activity, Lead

__all__ = [
    "FeaturePlan",
    "Features",
    "features_of",
    "fields_plan",
    "plan_of",
    "sample_of",
    "words_of",
]

WINDOWS = (7, 30, 90, 365)
LEAD_FIELDS = ("seniority", "job_title", "country", "source", "unsubscribed", "email_invalid")
ACCOUNT_FIELDS = (
    "industry", "employee_count", "annual_revenue", "country", "is_target_account",
    "is_competitor",
)  # fmt: skip
MAX_KINDS = 40
MAX_LEVELS = 20
MAX_KEYS = 12
MIN_SUPPORT = 20  # leads: rarer values are noise
_SAMPLE = 20_000
_NEVER = 10_000.0  # days since an activity that never happened


@dataclass(frozen=True)
class FeaturePlan:
    numeric: list[str] = field(default_factory=list)  # field paths read as numbers
    words: dict[str, list[str]] = field(default_factory=dict)  # path -> frequent values
    kinds: list[str] = field(default_factory=list)
    sums: list[tuple[str, str]] = field(default_factory=list)  # (kind, numeric property key)
    levels: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, key, value)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeaturePlan:
        return cls(
            numeric=list(data["numeric"]),
            words={k: list(v) for k, v in data["words"].items()},
            kinds=list(data["kinds"]),
            sums=[(k, p) for k, p in data["sums"]],
            levels=[(k, p, v) for k, p, v in data["levels"]],
        )

    @property
    def paths(self) -> list[str]:
        return [*self.numeric, *self.words]

    @property
    def property_keys(self) -> list[str]:
        return sorted({key for _, key in self.sums} | {key for _, key, _ in self.levels})


@dataclass(frozen=True)
class Features:
    """matrix: one row per moment (in the order given); names: a column's name; groups: the
    factor a column belongs to (a field, an activity kind), as people read the explanation."""

    matrix: np.ndarray
    names: list[str]
    groups: list[str]


def _plain(text: str | None) -> str | None:
    """A JSON text value as a word (strings without quotes, others as written)."""
    if text is None or text == "null":
        return None
    if text.startswith('"'):
        try:
            return str(json.loads(text))
        except ValueError:
            return text
    return text


def _property_word(key: str, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str) or not value:
        return None
    if is_url_field(key):
        path = url_path(value)
        return "/" + path.strip("/").split("/")[0] if path else None
    return value[:80]


def words_of(texts: pl.Series) -> pl.Series:
    """A column of JSON texts as words (strings without quotes)."""
    return _mapped(texts, None)


def _mapped(texts: pl.Series, key: str | None) -> pl.Series:
    """JSON texts as words (a property's through _property_word), each distinct text once."""
    texts = texts.cast(pl.String)
    words: dict[str, str | None] = {}
    for text in texts.drop_nulls().unique().to_list():
        if key is None:
            words[text] = _plain(text)
        else:
            try:
                words[text] = _property_word(key, json.loads(text))
            except ValueError:
                words[text] = None
    return texts.replace_strict(words, default=None, return_dtype=pl.String)


def fields_plan(sample: Sequence[int]) -> tuple[list[str], dict[str, list[str]]]:
    """Of the leads' fields, their accounts' and the attributes of both: the paths read as
    numbers, and the others with their frequent values."""
    paths = [f"lead.{f}" for f in LEAD_FIELDS] + [f"account.{f}" for f in ACCOUNT_FIELDS]
    extra: Counter[str] = Counter()
    for lead_attributes, account_attributes in Lead.objects.filter(pk__in=sample).values_list(
        "attributes", "account__attributes"
    ):
        extra.update(f"lead.attributes.{k}" for k in (lead_attributes or {}))
        extra.update(f"account.attributes.{k}" for k in (account_attributes or {}))
    paths += [path for path, n in extra.most_common(2 * MAX_KEYS) if n >= MIN_SUPPORT]
    leads = leads_frame(sample, paths)
    numeric, words = [], {}
    for path in paths:
        column = leads.get_column(path).cast(pl.String)
        present = column.drop_nulls().filter(column.drop_nulls() != "null")
        if present.len() < MIN_SUPPORT:
            continue
        # A number imported as text ("1998") is a number too.
        plain = _mapped(present, None).replace({"true": "1", "false": "0"})
        as_number = plain.cast(pl.Float64, strict=False)
        if as_number.null_count() <= 0.05 * present.len():
            numeric.append(path)
            continue
        counts = Counter(_plain(v) for v in present.to_list())
        frequent = [v for v, n in counts.most_common(MAX_LEVELS) if v and n >= MIN_SUPPORT]
        if frequent:
            words[path] = frequent
    return numeric, words


def sample_of(lead_ids: Sequence[int]) -> list[int]:
    ids = list(lead_ids)
    rng = np.random.default_rng(0)
    return sorted(rng.choice(ids, size=min(len(ids), _SAMPLE), replace=False).tolist())


def plan_of(lead_ids: Sequence[int]) -> FeaturePlan:
    """Which columns, kinds, keys and values the training leads support."""
    sample = sample_of(lead_ids)
    numeric, words = fields_plan(sample)
    kinds_seen: Counter[str] = Counter()
    numbers: Counter[tuple[str, str]] = Counter()
    values: Counter[tuple[str, str, str]] = Counter()
    rows = Activity.objects.filter(lead_id__in=sample).values_list("lead_id", "kind", "properties")
    seen_by: set[tuple[int, str]] = set()
    for lead_id, kind, properties in rows.iterator(chunk_size=5000):
        if (lead_id, kind) not in seen_by:
            seen_by.add((lead_id, kind))
            kinds_seen[kind] += 1
        for key, value in (properties or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                numbers[(kind, key)] += 1
            elif (word := _property_word(key, value)) is not None:
                values[(kind, key, word)] += 1
    kinds = [k for k, n in kinds_seen.most_common(MAX_KINDS) if n >= MIN_SUPPORT]
    sums = [pair for pair, n in numbers.most_common(MAX_KEYS) if n >= MIN_SUPPORT]
    levels = [
        triple
        for triple, n in values.most_common(4 * MAX_LEVELS)
        if n >= MIN_SUPPORT and triple[0] in kinds
    ]
    return FeaturePlan(numeric=numeric, words=words, kinds=kinds, sums=sums, levels=levels)


def _lead_columns(plan: FeaturePlan, leads: pl.DataFrame, moments: pl.DataFrame) -> list[pl.Series]:
    joined = moments.join(leads, on="lead_id", how="left")
    columns = [
        ((joined["at"] - joined["created_at"]).dt.total_seconds() / 86_400).alias("age_days")
    ]
    for path in plan.numeric:
        text = _mapped(joined.get_column(path), None).replace({"true": "1", "false": "0"})
        columns.append(text.cast(pl.Float64, strict=False).alias(path))
    for path, frequent in plan.words.items():
        plain = _mapped(joined.get_column(path), None)
        columns += [(plain == word).fill_null(False).cast(pl.Float64).alias(f"{path}={word}")
                    for word in frequent]  # fmt: skip
    return columns


def _activity_columns(
    plan: FeaturePlan, activities: pl.DataFrame, moments: pl.DataFrame
) -> list[pl.Series]:
    numbered = moments.with_row_index("m")
    seen = (
        activities.with_columns(pl.col("kind").cast(pl.String))
        .join(numbered, on="lead_id")
        .filter(pl.col("occurred_at") <= pl.col("at"))
        .with_columns(age=(pl.col("at") - pl.col("occurred_at")).dt.total_seconds() / 86_400)
    )
    aggregations: list[pl.Expr] = [
        pl.len().alias("activities"),
        pl.col("age").min().alias("days_since_last"),
        pl.col("age").max().alias("days_since_first"),
    ]
    for kind in plan.kinds:
        of_kind = pl.col("kind") == kind
        aggregations.append(pl.col("age").filter(of_kind).min().alias(f"{kind}:days_since"))
        aggregations.append(of_kind.sum().alias(f"{kind}:all"))
        aggregations += [(of_kind & (pl.col("age") < days)).sum().alias(f"{kind}:{days}d")
                         for days in WINDOWS]  # fmt: skip
    for kind, key in plan.sums:
        number = pl.col(f"properties.{key}").cast(pl.String).cast(pl.Float64, strict=False)
        aggregations.append(number.filter(pl.col("kind") == kind).sum().alias(f"{kind}:{key}:sum"))
    for key in sorted({key for _, key, _ in plan.levels}):
        words = _mapped(seen.get_column(f"properties.{key}"), key)
        seen = seen.with_columns(words.alias(f"word.{key}"))
    for kind, key, word in plan.levels:
        matches = (pl.col("kind") == kind) & (pl.col(f"word.{key}") == word)
        aggregations.append(matches.sum().alias(f"{kind}:{key}={word}"))
    per_moment = seen.group_by("m").agg(aggregations)
    full = numbered.select("m").join(per_moment, on="m", how="left").sort("m")
    columns = []
    for name in full.columns[1:]:
        column = full.get_column(name).cast(pl.Float64)
        fill = _NEVER if name.startswith("days_since") or name.endswith(":days_since") else 0.0
        columns.append(column.fill_null(fill).alias(name))
    return columns


def _group(name: str) -> str:
    """The factor a column belongs to: its field or its activity kind."""
    if name.startswith(("lead.", "account.")):
        return name.split("=", 1)[0]
    if ":" in name:
        return name.split(":", 1)[0]
    return "activity" if name.startswith(("activities", "days_since")) else name


def features_of(plan: FeaturePlan, moments: pl.DataFrame) -> Features:
    """The features of each moment (lead_id, at), in the moments' order."""
    ids = moments.get_column("lead_id").unique().sort().to_list()
    leads = leads_frame(ids, plan.paths)
    activities = activities_frame(ids, plan.property_keys)
    columns = _lead_columns(plan, leads, moments) + _activity_columns(plan, activities, moments)
    names = [c.name for c in columns]
    matrix = np.column_stack([c.to_numpy() for c in columns]) if columns else np.zeros((0, 0))
    return Features(matrix=matrix, names=names, groups=[_group(n) for n in names])
