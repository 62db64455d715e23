"""What the outcomes say about a model, gathered for its page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from scoring.definition import DefinitionError, parse_model
from scoring.models import ScoringModel
from scoring.services import scoring_model_draft_spec

from .backtest import Backtest, backtest_of
from .cohort import Cohort, cohort_of
from .lessons import (
    CriterionLesson,
    KindCandidate,
    ValueCandidate,
    base_rate,
    criterion_lessons,
    kind_candidates,
    value_candidates,
)
from .models import LeadProbability, PredictiveModel
from .suggest import (
    NotEnoughOutcomes,
    Suggestion,
    suggestion_of,
    threshold_for_capacity,
    threshold_for_precision,
)


@dataclass(frozen=True)
class ThresholdChoice:
    key: str  # "volume", "precision", "capacity"
    points: int | None


@dataclass(frozen=True)
class ModelLessons:
    cohort: Cohort
    lessons: list[CriterionLesson]
    candidates: list[KindCandidate]
    values: list[ValueCandidate]
    suggestion: Suggestion | None
    too_few: NotEnoughOutcomes | None
    thresholds: list[ThresholdChoice] = field(default_factory=list)

    @property
    def base_rate(self) -> float:
        return base_rate(self.cohort)

    @property
    def first(self) -> datetime | None:
        return self.cohort.frame.get_column("at").min() if self.cohort.size else None  # type: ignore[return-value]

    @property
    def last(self) -> datetime | None:
        return self.cohort.frame.get_column("at").max() if self.cohort.size else None  # type: ignore[return-value]

    @property
    def suggestion_better(self) -> bool:
        s = self.suggestion
        if s is None or s.auc_suggested is None or s.auc_rules is None:
            return False
        return s.auc_suggested > s.auc_rules


def suggestion_get(scoring_model: ScoringModel) -> Suggestion:
    """The suggestion for the model's published version (NotEnoughOutcomes, LookupError when
    nothing is published)."""
    if scoring_model.published_version is None:
        raise LookupError("nothing published")
    return suggestion_of(cohort_of(parse_model(scoring_model.published_version.definition)))


def model_lessons_get(
    scoring_model: ScoringModel, *, precision: float | None = None, per_week: float | None = None
) -> ModelLessons | None:
    """Lessons of the published version (None when nothing is published); the suggested
    threshold keeps today's share of MQLs, or reaches `precision`, or fits `per_week`."""
    version = scoring_model.published_version
    if version is None:
        return None
    cohort = cohort_of(parse_model(version.definition))
    suggestion, too_few = None, None
    try:
        suggestion = suggestion_of(cohort)
    except NotEnoughOutcomes as exc:
        too_few = exc
    thresholds = []
    if suggestion is not None:
        thresholds.append(ThresholdChoice("volume", suggestion.threshold))
        if precision is not None:
            thresholds.append(
                ThresholdChoice("precision", threshold_for_precision(suggestion, precision))
            )
        if per_week is not None:
            thresholds.append(
                ThresholdChoice("capacity", threshold_for_capacity(suggestion, per_week))
            )
    return ModelLessons(
        cohort=cohort,
        lessons=criterion_lessons(cohort),
        candidates=kind_candidates(cohort),
        values=value_candidates(cohort),
        suggestion=suggestion,
        too_few=too_few,
        thresholds=thresholds,
    )


@dataclass(frozen=True)
class Predictive:
    model: PredictiveModel
    leads: int  # with a chance by it


def predictive_get(scoring_model: ScoringModel) -> Predictive | None:
    """The latest predictive model (without its classifier) and how many leads have a chance by
    it; None before a first training."""
    latest = (
        PredictiveModel.objects.filter(scoring_model=scoring_model)
        .defer("artifact")
        .order_by("-number")
        .first()
    )
    if latest is None:
        return None
    leads = LeadProbability.objects.filter(predictive_model=latest).count()
    return Predictive(model=latest, leads=leads)


BACKTEST_DAYS = 90  # by default, as the leads stood this many days ago


@dataclass(frozen=True)
class Backtests:
    at: datetime
    draft: Backtest | None  # None when the draft is invalid
    live: Backtest | None  # None before a first publish


def backtests_get(scoring_model: ScoringModel, day: date | None = None) -> Backtests:
    """The draft and the live version backtested at the start of `day` (default BACKTEST_DAYS
    days ago)."""
    now = timezone.now()
    if day is None:
        day = timezone.localdate(now) - timedelta(days=BACKTEST_DAYS)
    at = timezone.make_aware(datetime.combine(day, time.min))
    try:
        draft = backtest_of(scoring_model_draft_spec(scoring_model=scoring_model), at, now=now)
    except DefinitionError:
        draft = None
    version = scoring_model.published_version
    live = None if version is None else backtest_of(parse_model(version.definition), at, now=now)
    return Backtests(at=at, draft=draft, live=live)
