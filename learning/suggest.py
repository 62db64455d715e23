"""Suggested points and an MQL threshold, learned from outcomes.

A regularised logistic regression (scikit-learn) learns how much each criterion's firing moves
the odds of converting. A criterion's feature is how many times its points it gave (its cents
over its points: 1 for a matched attribute, the decayed and capped count for an activity, the
evidence count for a criterion worth 0), so new points keep the model's shape: the same criteria,
counting, windows, decay and caps, with other weights. The weights become whole points on a
readable scale: every POINTS_PER_DOUBLING points double the odds. Nothing is published: the
suggestion goes into the draft, where what-if and the backtest show what it does.

Learned on the earlier outcomes and judged on the latest ones (cohort.time_split), against the
rules as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score

from scoring.criteria import criterion_type
from scoring.criteria.activity import ActivityCriterion
from scoring.definition import ModelSpec
from scoring.engine import to_decimal

from .cohort import Cohort, criterion_column, points_at, time_split
from .lessons import Verdict, criterion_lessons

__all__ = [
    "MIN_PER_CLASS", "NotEnoughOutcomes", "SuggestedCriterion", "Suggestion", "auc",
    "criterion_units", "same_share", "suggestion_of", "threshold_for_capacity",
    "threshold_for_precision",
]  # fmt: skip

# Fewer converted (or not converted) leads than this and the weights are noise.
MIN_PER_CLASS = 30
POINTS_PER_DOUBLING = 10
_SCALE = POINTS_PER_DOUBLING / math.log(2)
# Half-lives tried for criteria that count old activities like new ones, and by how much (AUC on
# the earlier outcomes) one must separate converters better to be suggested.
HALF_LIVES = (7, 30, 90)
_CLEARLY = 0.01
# The strength of the regularisation is chosen by cross-validation on the earlier outcomes, by
# log loss (the ranking alone would not tell one strength from another: with one criterion every
# strength ranks alike): with few outcomes, criteria that rarely fire keep small weights.
_STRENGTHS = np.logspace(-3, 2, 11)


class NotEnoughOutcomes(ValueError):
    """Too few outcomes of one kind to learn from."""

    def __init__(self, converted: int, others: int) -> None:
        self.converted, self.others = converted, others
        super().__init__(
            f"{converted} converted and {others} other outcomes: at least {MIN_PER_CLASS} of each "
            "are needed to learn from"
        )


@dataclass(frozen=True)
class SuggestedCriterion:
    position: int
    name: str
    points: Decimal
    suggested: int
    cap: Decimal | None = None
    suggested_cap: int | None = None
    kept: bool = False  # too few leads to tell: its points as they are, on the new scale
    half_life_days: int | None = None  # suggested: its activities' worth halves this often

    @property
    def change(self) -> Decimal:
        return self.suggested - self.points


@dataclass(frozen=True)
class Suggestion:
    """Suggested points per criterion and threshold, with the test split's AUCs (None when the
    test split holds only one kind of outcome)."""

    criteria: list[SuggestedCriterion]
    threshold: int
    current_threshold: Decimal
    auc_rules: float | None
    auc_suggested: float | None
    auc_fitted: float | None
    train_size: int
    test_size: int
    train_converted: int
    test_converted: int
    # Per lead of the cohort: lead_id, at, converted, total and fit (cents, the rules), suggested
    # and suggested_fit (points).
    scores: pl.DataFrame

    @property
    def points(self) -> dict[int, int]:
        return {c.position: c.suggested for c in self.criteria}


def auc(scores: pl.Series | np.ndarray, converted: pl.Series | np.ndarray) -> float | None:
    """Area under the ROC curve: the chance that a converted lead scores above another one (None
    with only one kind of outcome)."""
    labels = np.asarray(converted, dtype=bool)
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, np.asarray(scores, dtype=float)))


def criterion_units(spec: ModelSpec, positions: Sequence[int], scored: pl.DataFrame) -> np.ndarray:
    """Per row of `scored` (c<p> and e<p> columns), how many times its points each criterion
    gave."""
    columns = []
    for p in positions:
        points = to_decimal(spec.criteria[p].points)
        unit = (
            pl.col(criterion_column(p)) / float(points * 100)
            if points
            else pl.col(f"e{p}").cast(pl.Float64)
        )
        columns.append(unit.alias(str(p)))
    if not columns:
        return np.zeros((scored.height, 0))
    return scored.select(*columns).to_numpy()


def _recency(
    cohort: Cohort, units: np.ndarray, labels: np.ndarray, train_rows: np.ndarray, thin: set[int]
) -> dict[int, int]:
    """Activity criteria that count every activity alike, however old: the half-life (of
    HALF_LIVES) whose decayed count separates the earlier outcomes clearly better, if any. Their
    columns of `units` become the decayed counts. All variants are scored in one pass."""
    spec = cohort.spec
    if spec.decay_half_life_days is not None or len(set(labels[train_rows])) < 2:
        return {}
    plain: list[tuple[int, int, ActivityCriterion]] = [
        (column, p, criterion)
        for column, p in enumerate(cohort.positions)
        if p not in thin
        and isinstance(criterion := spec.criteria[p], ActivityCriterion)
        and criterion.half_life_days is None
        and criterion.window_days is None
        and to_decimal(criterion.points)
    ]
    if not plain:
        return {}
    variants = [
        replace(criterion, half_life_days=days) for _, _, criterion in plain for days in HALF_LIVES
    ]
    trial = replace(spec, criteria=tuple(variants), audience=())
    scored = points_at(trial, cohort.frame.select("lead_id", "at"))
    decayed = criterion_units(trial, range(len(variants)), scored)
    chosen: dict[int, int] = {}
    for i, (column, p, _criterion) in enumerate(plain):
        best = _separation(units[train_rows, column], labels[train_rows])
        for j, days in enumerate(HALF_LIVES):
            candidate = decayed[:, i * len(HALF_LIVES) + j]
            score = _separation(candidate[train_rows], labels[train_rows])
            if score > best + _CLEARLY:
                best, chosen[p] = score, days
                units[:, column] = candidate
    return chosen


def _separation(values: np.ndarray, labels: np.ndarray) -> float:
    found = auc(values, labels)
    return 0.0 if found is None else abs(found - 0.5)


def _odds_per_point(totals: np.ndarray, labels: np.ndarray) -> float:
    """How much one of the rules' points moves the log-odds of converting (0 when the rules do
    not rank converters higher at all)."""
    if len(set(labels)) < 2 or np.ptp(totals) == 0:
        return 0.0
    fitted = LogisticRegression(C=1e6, max_iter=2000).fit(totals.reshape(-1, 1), labels)
    return max(0.0, float(fitted.coef_[0][0]))


def _scaled_cap(criterion: object, points: Decimal, suggested: int) -> int | None:
    if not isinstance(criterion, ActivityCriterion) or criterion.cap is None or not suggested:
        return None
    if not points:
        return None
    # The cap keeps its share of the points: it still stops the same count.
    return max(1, round(abs(to_decimal(criterion.cap) * suggested / points)))


def suggestion_of(cohort: Cohort, *, test_share: float = 0.3) -> Suggestion:
    """Learn the points (NotEnoughOutcomes with too few of either kind)."""
    converted = cohort.converted
    if min(converted, cohort.size - converted) < MIN_PER_CLASS:
        raise NotEnoughOutcomes(converted, cohort.size - converted)
    # Writable: a criterion given a half-life gets its decayed column (_recency).
    units = np.array(criterion_units(cohort.spec, cohort.positions, cohort.frame), dtype=float)
    labels = cohort.frame.get_column("converted").to_numpy()
    train, test = time_split(cohort.frame.with_row_index("row"), test_share)
    train_rows, test_rows = train.get_column("row").to_numpy(), test.get_column("row").to_numpy()
    # Where the outcomes cannot tell, the marketer's points stand, priced as the outcomes price
    # the rules' points overall.
    thin = {
        lesson.position
        for lesson in criterion_lessons(cohort)
        if lesson.verdict in (Verdict.THIN, Verdict.NEVER)
    }
    half_lives = _recency(cohort, units, labels, train_rows, thin)
    weights = np.zeros(units.shape[1])
    fitted: np.ndarray | None = None
    if units.shape[1] and len(set(labels[train_rows])) == 2:
        regression = LogisticRegressionCV(
            Cs=_STRENGTHS, l1_ratios=(0.0,), cv=5, scoring="neg_log_loss", max_iter=2000,
            use_legacy_attributes=False,
        )  # fmt: skip
        regression.fit(units[train_rows], labels[train_rows])
        weights = regression.coef_[0]
        fitted = regression.decision_function(units[test_rows]) if len(test_rows) else None
    totals = cohort.frame.get_column("total").to_numpy() / 100
    per_point = _odds_per_point(totals[train_rows], labels[train_rows]) if thin else 0.0
    criteria = []
    for column, p in enumerate(cohort.positions):
        criterion = cohort.spec.criteria[p]
        points = to_decimal(criterion.points)
        if p in thin:
            suggested = round(float(points) * per_point * _SCALE)
        else:
            suggested = round(float(weights[column]) * _SCALE)
        criteria.append(
            SuggestedCriterion(
                position=p,
                name=criterion.name,
                points=points,
                suggested=suggested,
                cap=to_decimal(criterion.cap)
                if isinstance(criterion, ActivityCriterion) and criterion.cap is not None
                else None,
                suggested_cap=_scaled_cap(criterion, points, suggested),
                kept=p in thin,
                half_life_days=half_lives.get(p) if suggested else None,
            )
        )
    new_points = np.array([c.suggested for c in criteria], dtype=float)
    fit = np.array([criterion_type(cohort.spec.criteria[p]).FIT for p in cohort.positions])
    suggested_totals = units @ new_points if len(criteria) else np.zeros(cohort.size)
    suggested_fit = units @ (new_points * fit) if len(criteria) else np.zeros(cohort.size)
    fit_columns = [criterion_column(p) for p, f in zip(cohort.positions, fit, strict=True) if f]
    scores = cohort.frame.select(
        "lead_id",
        "at",
        "converted",
        "total",
        fit=pl.sum_horizontal(*fit_columns) if fit_columns else pl.lit(0, dtype=pl.Int64),
    ).with_columns(
        suggested=pl.Series(suggested_totals, dtype=pl.Float64),
        suggested_fit=pl.Series(suggested_fit, dtype=pl.Float64),
    )
    current = to_decimal(cohort.spec.mql_threshold)
    test_labels = labels[test_rows]
    return Suggestion(
        criteria=criteria,
        threshold=_same_volume(scores, current),
        current_threshold=current,
        auc_rules=auc(cohort.frame.get_column("total").to_numpy()[test_rows], test_labels),
        auc_suggested=auc(suggested_totals[test_rows], test_labels),
        auc_fitted=None if fitted is None else auc(fitted, test_labels),
        train_size=len(train_rows),
        test_size=len(test_rows),
        train_converted=int(labels[train_rows].sum()),
        test_converted=int(test_labels.sum()),
        scores=scores,
    )


def _same_volume(scores: pl.DataFrame, current: Decimal) -> int:
    """The suggested points' threshold that makes as many of the cohort MQLs as today's does."""
    now = scores.get_column("total") / 100
    return max(0, same_share(now, scores.get_column("suggested"), current))


def same_share(now: pl.Series, suggested: pl.Series, minimum: Decimal | float) -> int:
    """The whole number of suggested points that as many leads reach as reach `minimum` now."""
    values = now.to_numpy()
    share = float(np.mean(values >= float(minimum))) if len(values) else 0.0
    return _threshold_for_share(suggested, share)


def _threshold_for_share(suggested: pl.Series, share: float, *, at_most: bool = False) -> int:
    """The whole number of points that the given share of the leads reach (the nearest; with
    `at_most`, the lowest that no more than that share reach)."""
    values = np.sort(suggested.to_numpy())
    if not len(values):
        return 0
    candidates = np.arange(math.floor(values[0]), math.ceil(values[-1]) + 2)
    reaching = len(values) - np.searchsorted(values, candidates, side="left")
    wanted = share * len(values)
    if at_most:
        return int(candidates[np.argmax(reaching <= wanted)])
    return int(candidates[np.argmin(np.abs(reaching - wanted))])


def threshold_for_precision(suggestion: Suggestion, precision: float) -> int | None:
    """The lowest whole threshold at which at least `precision` of the cohort's leads at or above
    it converted (None when no threshold reaches it)."""
    frame = suggestion.scores.sort("suggested", descending=True)
    values = frame.get_column("suggested").to_numpy()
    hits = np.cumsum(frame.get_column("converted").to_numpy())
    best: int | None = None
    for candidate in sorted({math.floor(v) for v in values}, reverse=True):
        above = int(np.searchsorted(-values, -candidate, side="right"))
        if above and hits[above - 1] / above >= precision:
            best = candidate
    return best


def threshold_for_capacity(suggestion: Suggestion, per_week: float) -> int:
    """The threshold at which the cohort's leads at or above it come at most `per_week` a week
    over the weeks the cohort's outcomes span."""
    at = suggestion.scores.get_column("at")
    weeks = max(1.0, ((at.max() - at.min()).total_seconds() if at.len() > 1 else 0) / 604_800)  # type: ignore[operator, union-attr]
    share = min(1.0, per_week * weeks / max(1, suggestion.scores.height))
    return _threshold_for_share(suggestion.scores.get_column("suggested"), share, at_most=True)
