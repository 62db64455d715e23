"""The cohort: leads with a decided outcome, scored by the one engine just before that outcome."""

from datetime import timedelta

import polars as pl

from learning.cohort import cohort_of, criterion_column, time_split
from scoring.definition import parse_model
from scoring.models import Activity, LeadOutcome
from tests.factories import AccountFactory, LeadFactory, LeadOutcomeFactory
from tests.learning.conftest import MODEL


def _spec(**changes):  # type: ignore[no-untyped-def]
    return parse_model({**MODEL, **changes})


def test_every_decided_lead_is_in_the_cohort_with_its_outcome(world):
    cohort = cohort_of(_spec())
    assert cohort.size == 400
    wins = LeadOutcome.objects.filter(outcome="won").count()
    assert cohort.converted == wins
    # Winners are customers now, outside the audience: their stage at the outcome is unknown.
    assert cohort.frame.filter(pl.col("converted")).height == wins > 0


def test_each_criterion_has_its_points_and_evidence_and_they_add_up(world):
    cohort = cohort_of(_spec())
    frame = cohort.frame
    summed = frame.select(pl.sum_horizontal(criterion_column(p) for p in cohort.positions))
    assert summed.to_series().to_list() == frame.get_column("total").to_list()
    directors = frame.filter(pl.col("e0") > 0)
    assert set(directors.get_column(criterion_column(0)).to_list()) == {500}
    assert frame.get_column(criterion_column(3)).max() <= 500  # the cap of 5 points


def test_an_activity_after_the_outcome_changes_nothing(world):
    before = cohort_of(_spec()).frame
    outcome = LeadOutcome.objects.order_by("pk").first()
    assert outcome is not None
    for days in (0, 1, 30):  # at the very moment of the outcome, and after it
        Activity.objects.create(
            lead_id=outcome.lead_id, kind="demo_request",
            occurred_at=outcome.occurred_at + timedelta(days=days),
        )  # fmt: skip
    after = cohort_of(_spec()).frame
    assert after.equals(before)


def test_an_activity_before_the_outcome_counts(world):
    outcome = LeadOutcome.objects.order_by("pk").first()
    assert outcome is not None
    row = cohort_of(_spec()).frame.filter(pl.col("lead_id") == outcome.lead_id)
    Activity.objects.create(
        lead_id=outcome.lead_id,
        kind="newsletter_signup" if row["e1"][0] == 0 else "demo_request",
        occurred_at=outcome.occurred_at - timedelta(minutes=1),
    )
    changed = cohort_of(_spec()).frame.filter(pl.col("lead_id") == outcome.lead_id)
    assert changed["total"][0] > row["total"][0]


def test_the_first_decided_outcome_is_the_one_learned_from(db):
    lead = LeadFactory()
    first = LeadOutcomeFactory(lead=lead, outcome="lost")
    LeadOutcomeFactory(lead=lead, outcome="won", occurred_at=first.occurred_at + timedelta(days=9))
    frame = cohort_of(_spec(audience=[])).frame
    assert frame.get_column("outcome").to_list() == ["lost"]
    assert frame["at"][0] < first.occurred_at


def test_the_rest_of_the_audience_still_applies(db):
    inside, outside = LeadFactory(account=AccountFactory()), LeadFactory()
    LeadOutcomeFactory(lead=inside)
    LeadOutcomeFactory(lead=outside)
    LeadFactory()  # no outcome: not in the cohort
    spec = _spec(audience=[*MODEL["audience"], {"field": "account.name", "op": "is_set"}])
    assert cohort_of(spec).frame.get_column("lead_id").to_list() == [inside.pk]


def test_the_latest_outcomes_are_the_test_split(world):
    train, test = time_split(cohort_of(_spec()).frame, 0.25)
    assert (train.height, test.height) == (300, 100)
    assert train["at"].max() <= test["at"].min()


def test_no_lead_with_an_outcome_gives_an_empty_cohort(db):
    LeadFactory()
    cohort = cohort_of(_spec())
    assert cohort.size == 0 and cohort.converted == 0
