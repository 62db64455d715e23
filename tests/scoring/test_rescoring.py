"""Bulk rescoring: guarded writes, the rescore and verify_scores commands."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import ProtectedError

from scoring.models import LeadScore, ScoreEvent, ScoringModel
from scoring.rescoring import leads_rescore, published_models, scores_upsert
from scoring.services import scoring_model_draft_definition, scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]
MODEL = {
    "slug": "m", "name": "M", "mql_threshold": 50, "bands": [{"label": "cold", "min": 0}],
    "criteria": [
        {"name": "Target", "type": "attribute", "field": "account.is_target_account",
         "op": "equals", "value": True, "points": 20},
        {"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"], "points": 50,
         "count": "once", "half_life_days": 30},
    ],
}  # fmt: skip


@pytest.fixture
def leads():
    scoring_model_load(data=MODEL)
    target = LeadFactory(account=AccountFactory(is_target_account=True))
    other = LeadFactory(account=AccountFactory())
    ActivityFactory(lead=other, kind="webinar_attended", occurred_at=NOW - timedelta(days=30))
    return target, other


def test_rescore_command_prints_counts(leads):
    out = StringIO()
    call_command("rescore", stdout=out)
    assert "2 leads rescored" in out.getvalue() and "m: 2 scores" in out.getvalue()


def test_an_older_version_never_overwrites_a_newer_score(leads):
    target, _ = leads
    leads_rescore(now=NOW)
    old_models = published_models()
    model = ScoringModel.objects.get(slug="m")
    newer = {**scoring_model_draft_definition(scoring_model=model), "mql_threshold": 10}
    scoring_model_load(data=newer)
    leads_rescore(now=NOW)
    assert LeadScore.objects.get(lead=target).mql is True
    # A late task still holding the old version tries to write its result.
    from scoring.rescoring import compute_scores

    stale = compute_scores(lead_ids=[target.pk], models=old_models, now=NOW + timedelta(1))
    assert set(scores_upsert(stale.rows).rows()) == set()
    assert LeadScore.objects.get(lead=target).version == model.versions.get(number=2)


def test_a_result_from_older_data_never_overwrites_a_newer_one(leads):
    target, _ = leads
    leads_rescore(now=NOW)
    leads_rescore(lead_ids=[target.pk], now=NOW - timedelta(hours=1))
    assert LeadScore.objects.get(lead=target).computed_at == NOW


def test_verify_scores_finds_no_drift_after_a_rescore(leads):
    leads_rescore(now=NOW)
    out = StringIO()
    call_command("verify_scores", stdout=out)
    assert "0 differences" in out.getvalue()


def test_verify_scores_reports_tampered_and_missing_scores(leads):
    target, other = leads
    leads_rescore(now=NOW)
    LeadScore.objects.filter(lead=target).update(total=999)
    LeadScore.objects.filter(lead=other).delete()
    err = StringIO()
    with pytest.raises(CommandError, match="2 stored scores differ"):
        call_command("verify_scores", stderr=err)
    assert f"lead {target.pk} in m: total stored 999.00, recomputed 20.00" in err.getvalue()
    assert f"lead {other.pk} in m: no stored score" in err.getvalue()


def test_decayed_score_verifies_at_its_own_computation_time(leads):
    _, other = leads
    leads_rescore(now=NOW)
    assert LeadScore.objects.get(lead=other).engagement == 25  # one half-life later
    call_command("verify_scores", stdout=StringIO())


@pytest.mark.postgres
@pytest.mark.parametrize(
    "criterion",
    [
        # "Straße" casefolds to "strasse": PostgreSQL leaves that lead to the engine.
        {"name": "Street", "type": "activity", "kinds": ["form_submit"],
         "where": [{"field": "street", "op": "icontains", "value": "ss"}], "points": 7},
        # A span too long for the database to tell its end apart: the engine scores the model.
        {"name": "Loyal", "type": "frequency", "kinds": ["form_submit"], "at_least": 2,
         "within_days": 2000, "points": 7},
    ],
)  # fmt: skip
def test_what_the_database_cannot_decide_the_engine_scores(criterion):
    model = {**MODEL, "criteria": [*MODEL["criteria"], criterion]}
    scoring_model_load(data=model)
    umlaut, plain = LeadFactory(), LeadFactory()
    for lead, street in ((umlaut, "Hauptstraße 1"), (plain, "Bassgasse 2")):
        for days in (3, 40):
            ActivityFactory(
                lead=lead, kind="form_submit", occurred_at=NOW - timedelta(days=days),
                properties={"street": street},
            )  # fmt: skip
    leads_rescore(now=NOW)
    for lead in (umlaut, plain):
        explanation = LeadScore.objects.get(lead=lead).explanation
        assert [c["criterion"] for c in explanation] == [criterion["name"]]
    out = StringIO()
    call_command("verify_scores", stdout=out)
    assert out.getvalue().startswith("0 differences")


def test_a_lead_that_leaves_the_audience_loses_its_score_and_only_that_one():
    scoring_model_load(data={**MODEL, "audience": [
        {"field": "lead.lifecycle_stage", "op": "not_equals", "value": "customer"}]})  # fmt: skip
    leaving, staying = LeadFactory(), LeadFactory()
    never_in = LeadFactory(lifecycle_stage="customer")
    assert leads_rescore(now=NOW).scores_written == 2
    leaving.lifecycle_stage = "customer"
    leaving.save()
    summary = leads_rescore(now=NOW + timedelta(1))
    assert summary.scores_removed == 1
    assert set(LeadScore.objects.values_list("lead_id", flat=True)) == {staying.pk}
    assert not LeadScore.objects.filter(lead=never_in).exists()


def test_scores_and_events_keep_their_model_and_version(leads):
    # The database does not check these references row by row; the ORM keeps them whole.
    target, _ = leads
    ActivityFactory(lead=target, kind="webinar_attended", occurred_at=NOW)  # an MQL: an event
    leads_rescore(now=NOW)
    model = ScoringModel.objects.get(slug="m")
    assert LeadScore.objects.filter(scoring_model=model).count() == 2
    assert ScoreEvent.objects.filter(scoring_model=model).exists()
    with pytest.raises(ProtectedError):
        model.versions.get().delete()
    with pytest.raises(ProtectedError):
        model.delete()
    assert LeadScore.objects.filter(version__scoring_model=model).count() == 2
    assert ScoreEvent.objects.filter(version__scoring_model=model).exists()
