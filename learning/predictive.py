"""The predictive score: a lead's chance to convert, learned from outcomes.

A classifier (regularised logistic regression or gradient-boosted trees, whichever ranked the
latest of the training outcomes better), calibrated so that its output reads as a probability,
on the product's own features (learning.features) and the rules' per-criterion points, both as
they stood just before each outcome. It is tested on the latest outcomes (it did not see them),
then trained again on all of them for use. Each lead's top factors are the feature groups (a
field, an activity kind, a rule) whose typical value would move its chance most.

The classifier is stored with skops, which rebuilds only the types listed in TRUSTED: a
classifier is never unpickled, so a row in the database cannot run code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
import skops.io as sio
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from scoring.definition import ModelSpec, parse_model
from scoring.engine import moments_at
from scoring.models import LeadScore, ScoringModel

from .cohort import Cohort, cohort_of, points_at, time_split
from .features import FeaturePlan, features_of, plan_of
from .models import LeadProbability, PredictiveModel
from .suggest import MIN_PER_CLASS, NotEnoughOutcomes, auc, criterion_units

__all__ = ["TRUSTED", "Trained", "predictive_train", "probabilities_refresh"]

# What skops may rebuild from a stored classifier, and nothing else.
TRUSTED = [
    "functools.partial",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.utils.validation.check_array",
]
CHUNK = 5_000
TOP_FACTORS = 3
# Isotonic calibration needs many outcomes; a sigmoid is steadier with few.
_ISOTONIC_FROM = 2_000


@dataclass(frozen=True)
class Trained:
    predictive: PredictiveModel
    auc_rules: float | None


def _candidates() -> dict[str, Any]:
    """The classifiers tried: regularised logistic regressions (steady with few outcomes) and
    gradient-boosted trees (which find thresholds and interactions when there are many)."""
    found: dict[str, Any] = {
        f"logistic regression (C={c})": make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            LogisticRegression(C=c, max_iter=3000),
        )
        for c in (0.01, 0.1, 1.0)
    }
    found["gradient-boosted trees"] = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=20,
        l2_regularization=1.0, early_stopping=True, validation_fraction=0.15, random_state=0,
    )  # fmt: skip
    return found


def _chosen(values: np.ndarray, labels: np.ndarray) -> tuple[str, Any]:
    """The candidate that ranks the latest quarter of these (time-ordered) rows best, having
    learned from the rest: chosen as it would have been chosen then."""
    cut = int(len(labels) * 0.75)
    best: tuple[float, str, Any] | None = None
    for name, candidate in _candidates().items():
        if len(set(labels[:cut])) < 2 or len(set(labels[cut:])) < 2:
            return name, candidate  # too few to choose: the steadiest
        fitted = clone(candidate).fit(values[:cut], labels[:cut])
        score = auc(fitted.predict_proba(values[cut:])[:, 1], labels[cut:]) or 0.5
        if best is None or score > best[0]:
            best = (score, name, candidate)
    assert best is not None
    return best[1], clone(best[2])


def _calibrated(estimator: Any, rows: int) -> CalibratedClassifierCV:
    method = "isotonic" if rows >= _ISOTONIC_FROM else "sigmoid"
    return CalibratedClassifierCV(estimator, method=method, cv=3)


@dataclass(frozen=True)
class _Matrix:
    values: np.ndarray
    groups: list[str]


def _matrix(plan: FeaturePlan, spec: ModelSpec, scored: pl.DataFrame) -> _Matrix:
    """Features and the rules' points (as counts of their points) of each row of `scored`
    (lead_id, at, c<p>, e<p>)."""
    found = features_of(plan, scored.select("lead_id", "at"))
    positions = [p for p, criterion in enumerate(spec.criteria) if criterion.enabled]
    units = criterion_units(spec, positions, scored)
    names = [f"rule: {spec.criteria[p].name}" for p in positions]
    values = np.hstack([found.matrix, units]) if units.shape[1] else found.matrix
    return _Matrix(values=values, groups=[*found.groups, *names])


def _published_spec(scoring_model: ScoringModel) -> ModelSpec:
    if scoring_model.published_version is None:
        raise LookupError(f"{scoring_model.slug} has no published version")
    return parse_model(scoring_model.published_version.definition)


def predictive_train(*, scoring_model: ScoringModel, user: User | None = None) -> Trained:
    """Train, test and store a new version (NotEnoughOutcomes with too few of either kind)."""
    spec = _published_spec(scoring_model)
    cohort: Cohort = cohort_of(spec)
    converted = cohort.converted
    if min(converted, cohort.size - converted) < MIN_PER_CLASS:
        raise NotEnoughOutcomes(converted, cohort.size - converted)
    train, test = time_split(cohort.frame)
    plan = plan_of(train.get_column("lead_id").to_list())
    matrix = _matrix(plan, cohort.spec, cohort.frame)
    labels = cohort.frame.get_column("converted").to_numpy()
    cut = train.height
    test_auc = None
    kind, estimator = _chosen(matrix.values[:cut], labels[:cut])
    if test.height and len(set(labels[cut:])) == 2 and len(set(labels[:cut])) == 2:
        tested = _calibrated(clone(estimator), cut).fit(matrix.values[:cut], labels[:cut])
        test_auc = auc(tested.predict_proba(matrix.values[cut:])[:, 1], labels[cut:])
    final = _calibrated(estimator, cohort.size).fit(matrix.values, labels)
    with transaction.atomic():
        ScoringModel.objects.select_for_update().filter(pk=scoring_model.pk).first()
        last = scoring_model.predictive_models.aggregate(n=Max("number"))["n"] or 0
        predictive = PredictiveModel.objects.create(
            scoring_model=scoring_model,
            number=last + 1,
            trained_at=timezone.now(),
            trained_by=user,
            artifact=sio.dumps(final),
            plan=plan.to_json(),
            criteria=[criterion.name for criterion in cohort.spec.criteria],
            kind=kind,
            test_auc=test_auc,
            base_rate=converted / cohort.size,
            train_size=cut,
            test_size=test.height,
        )
    total = cohort.frame.get_column("total").to_numpy()
    return Trained(predictive=predictive, auc_rules=auc(total[cut:], labels[cut:]))


def classifier_load(predictive: PredictiveModel) -> CalibratedClassifierCV:
    """The stored classifier, rebuilt from TRUSTED types only (an error for anything else)."""
    return sio.loads(bytes(predictive.artifact), trusted=TRUSTED)


def _factors(
    classifier: CalibratedClassifierCV, values: np.ndarray, groups: list[str], reference: np.ndarray
) -> tuple[np.ndarray, list[list[dict[str, object]]]]:
    """Each row's chance, and its TOP_FACTORS groups by how far their typical values would move
    it (positive: the group raises the chance)."""
    chance = classifier.predict_proba(values)[:, 1]
    names = list(dict.fromkeys(groups))
    effects = np.zeros((len(values), len(names)))
    for g, name in enumerate(names):
        columns = [i for i, group in enumerate(groups) if group == name]
        typical = values.copy()
        typical[:, columns] = reference[columns]
        effects[:, g] = chance - classifier.predict_proba(typical)[:, 1]
    top = np.argsort(-np.abs(effects), axis=1)[:, :TOP_FACTORS]
    factors = [
        [{"factor": names[g], "effect": round(float(effects[row, g]), 4)} for g in top[row]
         if abs(effects[row, g]) >= 0.005]
        for row in range(len(values))
    ]  # fmt: skip
    return chance, factors


def _chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for offset in range(0, len(ids), size):
        yield list(ids[offset : offset + size])


def probabilities_refresh(*, scoring_model: ScoringModel, now: datetime | None = None) -> int:
    """Every lead the model scores gets its chance by the latest predictive model, as of now;
    the number of leads. Nothing happens before a first training."""
    predictive = scoring_model.predictive_models.order_by("-number").first()
    if predictive is None:
        return 0
    now = now or timezone.now()
    spec = _published_spec(scoring_model)
    plan = FeaturePlan.from_json(predictive.plan)
    classifier = classifier_load(predictive)
    # The training's typical values: what "an ordinary lead" has, for the factors.
    ids = list(
        LeadScore.objects.filter(scoring_model=scoring_model)
        .order_by("lead_id")
        .values_list("lead_id", flat=True)
    )
    done = 0
    reference: np.ndarray | None = None
    for chunk in _chunks(ids, CHUNK):
        scored = points_at(spec, moments_at(chunk, now))
        if not scored.height:
            continue
        matrix = _matrix(plan, spec, scored)
        if reference is None:
            reference = np.median(matrix.values, axis=0)
        chance, factors = _factors(classifier, matrix.values, matrix.groups, reference)
        lead_ids = scored.get_column("lead_id").to_list()
        with transaction.atomic():
            LeadProbability.objects.filter(
                scoring_model=scoring_model, lead_id__in=lead_ids
            ).delete()
            LeadProbability.objects.bulk_create(
                LeadProbability(
                    lead_id=lead_id,
                    scoring_model=scoring_model,
                    predictive_model=predictive,
                    probability=float(p),
                    factors=f,
                    computed_at=now,
                )  # fmt: skip
                for lead_id, p, f in zip(lead_ids, chance, factors, strict=True)
            )
        done += len(lead_ids)
    LeadProbability.objects.filter(scoring_model=scoring_model).exclude(
        predictive_model=predictive
    ).delete()
    return done
