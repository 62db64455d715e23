"""The what-if preview gives the numbers a full rescore of the draft would give."""

from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from django.utils import timezone

from rules_admin import services, whatif
from rules_admin.whatif import audience_totals, delta_totals, full_totals, whatif_compute
from scoring.definition import parse_model
from scoring.engine import MOMENT_SCHEMA, evaluate, lead_paths, moments_at, property_keys
from scoring.frames import activities_frame, leads_frame
from scoring.models import Criterion, Lead, LeadScore
from scoring.services import scoring_model_draft_spec, scoring_model_load
from tests.rules_admin.conftest import MODEL

pytestmark = pytest.mark.django_db


def _from_scratch(spec, now):
    """Lead id -> total in cents of every lead inside the spec's audience, by the engine over
    everything the spec reads."""
    ids = list(Lead.objects.values_list("pk", flat=True))
    leads = leads_frame(ids, lead_paths([spec]))
    activities = activities_frame(ids, property_keys([spec]))
    moments = moments_at(leads.get_column("lead_id"), now)
    totals = evaluate(spec, leads, activities, moments, timezone.get_default_timezone()).totals
    return dict(totals.select("lead_id", "total").iter_rows())


def _by_lead(totals, column):
    return {
        lead_id: cents
        for lead_id, cents in totals.select("lead_id", column).iter_rows()
        if cents is not None
    }


def _assert_delta_equals_full(scoring_model, now):
    published = parse_model(scoring_model.published_version.definition)
    draft = scoring_model_draft_spec(scoring_model=scoring_model)
    fast, _names = delta_totals(scoring_model, published, draft, now)
    slow = full_totals(published, draft, now)
    assert fast.equals(slow)
    assert _by_lead(fast, "before") == _from_scratch(published, now)
    assert _by_lead(fast, "after") == _from_scratch(draft, now)


def _criterion(model, name):
    return Criterion.objects.get(scoring_model=model, name=name)


def _edit(model, name, **changes):
    criterion = _criterion(model, name)
    data = {"name": criterion.name, "type": criterion.type, **criterion.params}
    data["points"] = float(criterion.points)
    data.update(changes)
    services.criterion_save(scoring_model=model, data=data, criterion=criterion)


def test_an_unchanged_draft_changes_nothing(published, frozen):
    result = whatif_compute(scoring_model=published)
    assert result.changed == 0 and result.newly_mql == 0 and result.dropped_mql == 0
    assert result.mql_before == result.mql_after == LeadScore.objects.filter(mql=True).count()
    assert result.sample == []


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda m: _edit(m, "Visit", points=3), id="points, capped, no decay"),
        pytest.param(lambda m: _edit(m, "Webinar", points=60), id="points with decay"),
        pytest.param(lambda m: _edit(m, "Visit", window_days=30), id="window"),
        pytest.param(lambda m: _edit(m, "Busy week", at_least=2), id="frequency"),
        pytest.param(lambda m: _edit(m, "Gone quiet", days=20), id="inactivity days"),
        pytest.param(lambda m: _edit(m, "Mid-sized", value=[100, 1000]), id="attribute"),
        pytest.param(
            lambda m: services.criterion_toggle(criterion=_criterion(m, "Target account")),
            id="disable",
        ),
        pytest.param(
            lambda m: services.criterion_delete(criterion=_criterion(m, "Jobs page")), id="delete"
        ),
        pytest.param(
            lambda m: services.criterion_save(
                scoring_model=m,
                data={"name": "CTO", "type": "attribute", "field": "lead.job_title",
                      "op": "equals", "value": "CTO", "points": 40},
            ),
            id="add attribute",
        ),
        pytest.param(
            lambda m: services.criterion_save(
                scoring_model=m,
                data={"name": "Downloads", "type": "activity", "kinds": ["download"],
                      "points": 5, "count": "per_day"},
            ),
            id="add activity",
        ),
        # Each way the preview reads activities: counts by one aggregate (each, once, per day,
        # in a window), the properties a condition tests (also the channel column), decay,
        # any kind, and an inactivity criterion's latest activity.
        pytest.param(lambda m: _edit(m, "Jobs page", window_days=20), id="condition in a window"),
        pytest.param(
            lambda m: _edit(m, "Visit", count="per_day", window_days=45.5), id="per day, window"
        ),
        pytest.param(lambda m: _edit(m, "Webinar", half_life_days=None), id="once, no decay"),
        pytest.param(
            lambda m: services.criterion_save(
                scoring_model=m,
                data={"name": "Web pricing", "type": "activity", "kinds": ["page_view"],
                      "where": [{"field": "url", "op": "starts_with", "value": "/pricing"},
                                {"field": "channel", "op": "equals", "value": "web"}],
                      "points": 7, "half_life_days": 10, "window_days": 60},
            ),
            id="add decayed, two conditions",
        ),
        pytest.param(
            lambda m: services.criterion_save(
                scoring_model=m,
                data={"name": "Anything", "type": "activity", "kinds": [], "points": 2,
                      "cap": 9},
            ),
            id="add any kind",
        ),
        pytest.param(
            lambda m: services.criterion_save(
                scoring_model=m,
                data={"name": "No webinar", "type": "inactivity", "kinds": ["webinar_attended"],
                      "days": 30, "points": -5},
            ),
            id="add inactivity of a kind",
        ),
    ],
)  # fmt: skip
def test_the_preview_equals_scoring_everything_with_the_draft(published, frozen, edit):
    edit(published)
    published.refresh_from_db()
    _assert_delta_equals_full(published, timezone.now())
    result = whatif_compute(scoring_model=published)
    assert result.changed > 0
    assert result.mql_after - result.mql_before == result.newly_mql - result.dropped_mql


def test_a_lower_threshold_shows_new_mqls_and_explains_them(published, frozen):
    before = LeadScore.objects.filter(scoring_model=published, mql=True).count()
    services.thresholds_update(
        scoring_model=published,
        mql_threshold=10,
        bands=published.bands,
        grades=[],
    )
    published.refresh_from_db()
    result = whatif_compute(scoring_model=published)
    expected = LeadScore.objects.filter(scoring_model=published, total__gte=10).count()
    assert result.mql_before == before
    assert result.mql_after == expected
    assert result.newly_mql == expected - before > 0
    crossing = result.sample[0]
    assert crossing.after.mql and not crossing.before.mql
    assert crossing.rows, "the sample explains every criterion behind the score"


def test_an_invalid_draft_reports_its_problems(published, frozen):
    Criterion.objects.filter(scoring_model=published, name="Visit").update(params={"kinds": 5})
    result = whatif_compute(scoring_model=published)
    assert result.problems and "kinds" in result.problems[0].path


def test_without_a_published_version_every_lead_starts_at_zero(published, frozen):
    published.published_version = None
    published.save()
    result = whatif_compute(scoring_model=published)
    assert result.full_rescore and not result.has_published
    assert result.mql_before == 0
    assert result.mql_after == LeadScore.objects.filter(mql=True).count()


def test_criteria_of_every_type_added_score_as_the_draft_from_scratch(published, frozen):
    for data in [
        {"name": "CTO", "type": "attribute", "field": "lead.job_title", "op": "equals",
         "value": "CTO", "points": 12.5},
        {"name": "Pricing, decayed", "type": "activity", "kinds": ["page_view"],
         "where": [{"field": "url", "op": "equals", "value": "/pricing"}], "points": 4,
         "half_life_days": 14, "cap": 11},
        {"name": "Downloads a week", "type": "frequency", "kinds": ["download"], "at_least": 2,
         "within_days": 7, "points": 8},
        {"name": "Quiet a month", "type": "inactivity", "days": 30, "points": -7.25},
    ]:  # fmt: skip
        services.criterion_save(scoring_model=published, data=data)
    published.refresh_from_db()
    now = timezone.now()
    draft = scoring_model_draft_spec(scoring_model=published)
    totals, names = delta_totals(
        published, parse_model(published.published_version.definition), draft, now
    )
    assert names == ["CTO", "Downloads a week", "Pricing, decayed", "Quiet a month"]
    expected = _from_scratch(draft, now)
    assert _by_lead(totals, "after") == expected
    result = whatif_compute(scoring_model=published)
    threshold = int(draft.mql_threshold * 100)
    assert result.mql_after == sum(cents >= threshold for cents in expected.values())
    assert result.changed == sum(
        cents != stored * 100
        for stored, cents in (
            (score.total, expected[score.lead_id])
            for score in LeadScore.objects.filter(scoring_model=published)
        )
    )


def test_a_changed_audience_scores_every_lead_in_chunks(published, frozen, monkeypatch):
    published.audience = [{"field": "lead.job_title", "op": "in", "value": ["CTO", "Buyer"]}]
    published.save()
    now = timezone.now()
    draft = scoring_model_draft_spec(scoring_model=published)
    live = parse_model(published.published_version.definition)
    whole = full_totals(live, draft, now)
    monkeypatch.setattr(whatif, "CHUNK", 7)
    assert full_totals(live, draft, now).equals(whole)
    assert _by_lead(whole, "before") == _from_scratch(live, now)
    assert _by_lead(whole, "after") == _from_scratch(draft, now)
    outside = whole.filter(pl.col("after").is_null()).height
    assert 0 < outside < whole.height
    # From the stored scores: the same numbers.
    assert audience_totals(published, live, draft, now)[0].equals(whole)
    result = whatif_compute(scoring_model=published)
    assert not result.full_rescore and result.leads == Lead.objects.count()
    # The criteria are the live ones: only leads leaving the audience drop out.
    was_mql = pl.col("before") >= live.mql_threshold * 100
    assert result.dropped_mql == whole.filter(was_mql & pl.col("after").is_null()).height > 0


def test_a_wider_audience_scores_the_leads_it_takes_in(
    published, frozen, django_capture_on_commit_callbacks
):
    narrow = {**MODEL, "audience": [{"field": "lead.job_title", "op": "equals", "value": "CTO"}]}
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model_load(data=narrow)
    published.refresh_from_db()
    stored = LeadScore.objects.filter(scoring_model=published).count()
    assert 0 < stored < Lead.objects.count()
    published.audience = []
    published.save()
    _edit(published, "Webinar", points=35)
    now = timezone.now()
    live = parse_model(published.published_version.definition)
    draft = scoring_model_draft_spec(scoring_model=published)
    fast, names = audience_totals(published, live, draft, now)
    assert fast.equals(full_totals(live, draft, now))
    assert names == ["Webinar"]
    assert _by_lead(fast, "after") == _from_scratch(draft, now)
    assert fast.filter(pl.col("before").is_null()).height == Lead.objects.count() - stored


def test_every_lead_is_scored_at_the_one_moment_in_utc():
    now = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    moments = moments_at(pl.Series([3, 1, 2], dtype=pl.Int64), now)
    assert moments.schema == MOMENT_SCHEMA
    assert moments.rows() == [(3, now), (1, now), (2, now)]
    assert moments_at([], now).height == 0


def test_criteria_with_any_characters_in_their_names_are_found_in_the_stored_scores(
    published, frozen, django_capture_on_commit_callbacks
):
    """The stored points of changed criteria are picked out of the explanations by name."""
    names = {"Visit": 'Visit "quoted" \\ $n0', "Webinar": "Webinär ✓ || @.x", "Jobs page": "$"}
    data = MODEL | {
        "slug": "odd-names",
        "criteria": [{**c, "name": names.get(c["name"], c["name"])} for c in MODEL["criteria"]],
    }
    with django_capture_on_commit_callbacks(execute=True):
        model, _version = scoring_model_load(data=data)
    model.refresh_from_db()
    _edit(model, names["Visit"], window_days=30)
    _edit(model, names["Webinar"], points=60)
    _edit(model, names["Jobs page"], window_days=20)
    model.refresh_from_db()
    _assert_delta_equals_full(model, timezone.now())
