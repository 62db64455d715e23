"""The predictive score: trained on outcomes, tested on the latest, stored without pickle, and a
chance to convert for every lead the model scores, in the export, the API and on the lead page."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import skops.io as sio
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient
from sklearn.tree import DecisionTreeClassifier
from skops.io.exceptions import UntrustedTypesFoundException

from benchmarks.worlds import world_write
from learning.cohort import cohort_of
from learning.features import features_of, plan_of
from learning.models import LeadProbability, PredictiveModel
from learning.predictive import TRUSTED, classifier_load, predictive_train, probabilities_refresh
from learning.suggest import NotEnoughOutcomes
from scoring.definition import parse_model
from scoring.models import Activity, LeadOutcome, LeadScore, ScoringModel
from tests.factories import LeadFactory, LeadOutcomeFactory
from tests.learning.conftest import MODEL


def _live(slug: str = "learn") -> ScoringModel:
    return ScoringModel.objects.select_related("published_version").get(slug=slug)


def test_it_learns_what_the_rules_got_wrong_and_says_how_well(world):
    trained = predictive_train(scoring_model=_live())
    predictive = trained.predictive
    assert predictive.number == 1 and predictive.train_size + predictive.test_size == 400
    assert predictive.test_auc is not None and trained.auc_rules is not None
    assert predictive.test_auc > trained.auc_rules + 0.05  # the rules overweight the newsletter
    assert 0.2 < predictive.base_rate < 0.6
    assert predictive_train(scoring_model=_live()).predictive.number == 2


def test_the_stored_classifier_holds_only_trusted_types(world):
    predictive = predictive_train(scoring_model=_live()).predictive
    assert set(sio.get_untrusted_types(data=bytes(predictive.artifact))) <= set(TRUSTED)
    assert classifier_load(predictive).predict_proba(np.zeros((1, 1)).repeat(
        classifier_load(predictive).n_features_in_, axis=1
    )).shape == (1, 2)  # fmt: skip
    # A stored object of any other type is refused, not rebuilt.
    predictive.artifact = sio.dumps(DecisionTreeClassifier().fit([[0], [1]], [0, 1]))
    with pytest.raises(UntrustedTypesFoundException):
        classifier_load(predictive)


def test_every_scored_lead_gets_a_chance_with_its_factors(world):
    scoring_model = _live()
    predictive_train(scoring_model=scoring_model)
    scored = LeadScore.objects.filter(scoring_model=scoring_model).count()
    assert scored > 0
    assert probabilities_refresh(scoring_model=scoring_model) == scored
    chances = LeadProbability.objects.filter(scoring_model=scoring_model)
    assert chances.count() == scored
    values = list(chances.values_list("probability", flat=True))
    assert all(0 <= p <= 1 for p in values) and len(set(values)) > 5
    factors = [f for c in chances for f in c.factors]
    assert factors and all(set(f) == {"factor", "effect"} for f in factors)
    assert any(f["factor"] in ("demo_request", "rule: Demo request") for f in factors)
    # A new training replaces the chances; none of the old version stays.
    predictive_train(scoring_model=scoring_model)
    probabilities_refresh(scoring_model=scoring_model)
    assert set(chances.values_list("predictive_model__number", flat=True)) == {2}


def test_an_activity_after_the_outcome_changes_no_feature(world):
    cohort = cohort_of(parse_model(MODEL))
    plan = plan_of(cohort.frame.get_column("lead_id").to_list())
    moments = cohort.frame.select("lead_id", "at")
    before = features_of(plan, moments).matrix
    outcome = LeadOutcome.objects.order_by("pk").first()
    assert outcome is not None
    for kind in ("demo_request", "page_view", "newsletter_signup"):
        Activity.objects.create(
            lead_id=outcome.lead_id, kind=kind, occurred_at=outcome.occurred_at + timedelta(hours=1)
        )
    assert np.array_equal(features_of(plan, moments).matrix, before)
    Activity.objects.create(
        lead_id=outcome.lead_id, kind="demo_request",
        occurred_at=outcome.occurred_at - timedelta(days=1),
    )  # fmt: skip
    assert not np.array_equal(features_of(plan, moments).matrix, before)


def test_too_few_outcomes_train_nothing_and_say_so(db, capsys):
    from scoring.services import scoring_model_load

    scoring_model_load(data={**MODEL, "audience": []})
    for outcome in ["won"] * 3 + ["lost"] * 50:
        LeadOutcomeFactory(lead=LeadFactory(), outcome=outcome)
    with pytest.raises(NotEnoughOutcomes):
        predictive_train(scoring_model=_live())
    with pytest.raises(CommandError, match="3 converted and 50 other outcomes.*goes on as before"):
        call_command("train_predictive", "--model", "learn")
    assert not PredictiveModel.objects.exists()
    with pytest.raises(CommandError, match="No scoring model 'nope'"):
        call_command("train_predictive", "--model", "nope")


def test_import_train_export_gives_every_scored_lead_a_probability(
    db, tmp_path: Path, django_capture_on_commit_callbacks
):
    """The whole loop from the command line: a CRM folder with outcomes, a model, a training,
    an export."""
    model_file = world_write("b2b", tmp_path, 600, seed=3)
    with django_capture_on_commit_callbacks(execute=True):  # rescoring after each
        call_command("import_crm", str(tmp_path), stdout=io.StringIO())
        call_command("load_scoring_model", str(model_file), stdout=io.StringIO())
    slug = ScoringModel.objects.get().slug
    out = io.StringIO()
    call_command("train_predictive", "--model", slug, stdout=out)
    printed = out.getvalue()
    assert "test AUC 0." in printed and "base rate" in printed and "chance to convert" in printed
    exported = io.StringIO()
    call_command("export_scores", "--model", slug, stdout=exported)
    rows = list(csv.DictReader(io.StringIO(exported.getvalue())))
    assert len(rows) == LeadScore.objects.filter(scoring_model__slug=slug).count() > 0
    probabilities = [float(row["probability"]) for row in rows]
    assert all(0 <= p <= 1 for p in probabilities)


def test_the_api_and_the_lead_page_show_the_chance(world, client, marketing_user):
    scoring_model = _live()
    predictive_train(scoring_model=scoring_model)
    probabilities_refresh(scoring_model=scoring_model)
    chance = LeadProbability.objects.filter(scoring_model=scoring_model).order_by("-probability")[0]
    api = APIClient()
    api.force_authenticate(marketing_user)
    found = {}
    url: str | None = "/api/v1/scores/?model=learn"
    while url:
        page = api.get(url).json()
        found.update({row["lead"]: row["probability"] for row in page["results"]})
        url = page["next"]
    client.force_login(marketing_user)
    assert found[chance.lead_id] == pytest.approx(chance.probability)
    page = client.get(reverse("pipeline:lead_detail", args=[chance.lead_id])).content.decode()
    assert f"{round(chance.probability * 100)} %</strong> chance to convert" in page
    assert pl.Series(list(found.values())).null_count() == 0
