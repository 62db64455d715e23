"""Suggested points: learned on earlier outcomes, judged on the latest, and into the draft."""

import polars as pl
import pytest

from learning.cohort import cohort_of, time_split
from learning.services import suggestion_apply
from learning.suggest import (
    MIN_PER_CLASS,
    NotEnoughOutcomes,
    auc,
    suggestion_of,
    threshold_for_capacity,
    threshold_for_precision,
)
from scoring.definition import parse_model
from scoring.models import LeadOutcome
from scoring.services import (
    scoring_model_draft_definition,
    scoring_model_draft_spec,
    scoring_model_load,
)
from tests.factories import LeadFactory, LeadOutcomeFactory
from tests.learning.conftest import MODEL


def _suggestion():  # type: ignore[no-untyped-def]
    return suggestion_of(cohort_of(parse_model(MODEL)))


def test_the_points_follow_what_converts_not_what_was_guessed(world):
    suggestion = _suggestion()
    points = {c.name: c.suggested for c in suggestion.criteria}
    # Demo requests and directors convert; the newsletter (worth most today) does not.
    assert points["Demo request"] > points["Director"] > 0
    assert abs(points["Newsletter"]) < points["Director"]
    assert suggestion.auc_suggested is not None and suggestion.auc_rules is not None
    assert suggestion.auc_suggested > suggestion.auc_rules + 0.05
    assert suggestion.train_size + suggestion.test_size == 400


def test_the_suggestion_keeps_the_share_of_mqls_today(world):
    suggestion = _suggestion()
    scores = suggestion.scores
    today = (scores["total"] >= 4000).mean()
    suggested = (scores["suggested"] >= suggestion.threshold).mean()
    assert abs(suggested - today) <= 0.05


def test_a_threshold_for_a_share_of_converting_mqls(world):
    suggestion = _suggestion()
    threshold = threshold_for_precision(suggestion, 0.6)
    assert threshold is not None
    above = suggestion.scores.filter(pl.col("suggested") >= threshold)
    assert above["converted"].mean() >= 0.6
    assert threshold_for_precision(suggestion, 1.01) is None


def test_a_threshold_for_what_sales_can_call(world):
    suggestion = _suggestion()
    weeks = (suggestion.scores["at"].max() - suggestion.scores["at"].min()).total_seconds() / 604800
    threshold = threshold_for_capacity(suggestion, 5)
    above = suggestion.scores.filter(pl.col("suggested") >= threshold).height
    assert above / weeks <= 5
    assert threshold_for_capacity(suggestion, 1) >= threshold


def test_into_the_draft_scores_exactly_as_suggested(world):
    scoring_model, _leads = world
    suggestion = _suggestion()
    suggestion_apply(scoring_model=scoring_model, suggestion=suggestion, threshold=7)
    scoring_model.refresh_from_db()
    draft = scoring_model_draft_definition(scoring_model=scoring_model)
    assert {c["name"]: c["points"] for c in draft["criteria"]} == {
        c.name: c.suggested for c in suggestion.criteria
    }
    assert draft["mql_threshold"] == 7
    mins = [band["min"] for band in draft["bands"]]
    assert mins == sorted(set(mins))
    # The draft, scored by the engine, ranks the latest outcomes exactly as the suggestion said.
    _train, test = time_split(
        cohort_of(scoring_model_draft_spec(scoring_model=scoring_model)).frame
    )
    assert auc(test["total"], test["converted"]) == pytest.approx(suggestion.auc_suggested)
    assert scoring_model.published_version is not None
    assert scoring_model.published_version.definition["mql_threshold"] == 40  # nothing published


def test_too_few_outcomes_of_a_kind_is_said_and_nothing_is_learned(db):
    for _ in range(MIN_PER_CLASS - 1):
        LeadOutcomeFactory(lead=LeadFactory(), outcome="won")
    for _ in range(MIN_PER_CLASS + 5):
        LeadOutcomeFactory(lead=LeadFactory(), outcome="lost")
    with pytest.raises(NotEnoughOutcomes) as raised:
        suggestion_of(cohort_of(parse_model({**MODEL, "audience": []})))
    assert (raised.value.converted, raised.value.others) == (MIN_PER_CLASS - 1, MIN_PER_CLASS + 5)
    assert "at least 30 of each" in str(raised.value)
    LeadOutcomeFactory(lead=LeadFactory(), outcome="converted")
    assert LeadOutcome.objects.count() == 2 * MIN_PER_CLASS + 5
    suggestion_of(cohort_of(parse_model({**MODEL, "audience": []})))  # enough now


def test_a_recent_activity_that_matters_more_gets_a_half_life(
    db, django_capture_on_commit_callbacks
):
    """Converters added to the cart days before deciding, the others weeks before: counted alike
    by the rule, told apart once old carts are worth less."""
    from datetime import UTC, datetime, timedelta

    from scoring.models import Activity

    model = {
        **MODEL, "audience": [],
        "criteria": [{"name": "Cart", "type": "activity", "kinds": ["cart_add"], "points": 10,
                      "count": "once"}],
    }  # fmt: skip
    start = datetime(2026, 2, 1, tzinfo=UTC)
    for i in range(160):
        lead = LeadFactory()
        decided = start + timedelta(days=i)
        won = i % 2 == 0
        days_before = 2 if won else 60
        if i % 10 == 3:  # and a little noise
            days_before = 60 if won else 2
        Activity.objects.create(
            lead=lead, kind="cart_add", occurred_at=decided - timedelta(days=days_before)
        )
        LeadOutcomeFactory(lead=lead, outcome="won" if won else "lost", occurred_at=decided)
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model, _ = scoring_model_load(data=model)
    suggestion = suggestion_of(cohort_of(parse_model(model)))
    (cart,) = suggestion.criteria
    assert cart.half_life_days is not None and cart.half_life_days <= 30 and cart.suggested > 0
    assert suggestion.auc_suggested > suggestion.auc_rules + 0.2  # the rule alone: a coin toss
    suggestion_apply(scoring_model=scoring_model, suggestion=suggestion, threshold=1)
    scoring_model.refresh_from_db()
    draft = scoring_model_draft_definition(scoring_model=scoring_model)
    assert draft["criteria"][0]["half_life_days"] == cart.half_life_days
    _train, test = time_split(
        cohort_of(scoring_model_draft_spec(scoring_model=scoring_model)).frame
    )
    assert auc(test["total"], test["converted"]) == pytest.approx(suggestion.auc_suggested)
