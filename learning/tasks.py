"""Celery tasks: thin wrappers that train predictive scores and refresh the leads' chances."""

import logging

from celery import shared_task

from scoring.models import ScoringModel

from .predictive import predictive_train, probabilities_refresh
from .suggest import NotEnoughOutcomes

log = logging.getLogger(__name__)
_TASK = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True, "queue": "bulk"}
# celery ships no type information: to mypy its decorators are untyped (hence the ignores).


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def predictive_train_model(scoring_model_id: int) -> int:
    """Train one model's predictive score and refresh its leads' chances; the leads refreshed
    (0 when there are too few outcomes, which is logged, not raised: nothing to retry)."""
    scoring_model = ScoringModel.objects.select_related("published_version").get(
        pk=scoring_model_id
    )
    try:
        predictive_train(scoring_model=scoring_model)
    except (NotEnoughOutcomes, LookupError) as exc:
        log.info("predictive score of %s not trained: %s", scoring_model.slug, exc)
        return 0
    return probabilities_refresh(scoring_model=scoring_model)


@shared_task(**_TASK)  # type: ignore[untyped-decorator]
def predictive_retrain_all() -> int:
    """Retrain every published model that was trained before (one task each)."""
    ids = list(
        ScoringModel.objects.filter(
            published_version__isnull=False, predictive_models__isnull=False
        )
        .distinct()
        .values_list("pk", flat=True)
    )
    for pk in ids:
        predictive_train_model.delay(pk)
    return len(ids)
