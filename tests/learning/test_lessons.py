"""Which criteria convert: rates against the base rate, intervals and verdicts."""

import pytest

from learning.cohort import cohort_of
from learning.lessons import (
    Rate,
    Verdict,
    criterion_lessons,
    kind_candidates,
    value_candidates,
    wilson,
)
from scoring.definition import parse_model
from scoring.models import Activity, LeadOutcome
from tests.learning.conftest import MODEL


def test_the_wilson_interval():
    # Known values (95 %): 8 of 10 -> 0.490..0.943; 0 of 20 -> 0..0.161.
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson(0, 20) == pytest.approx((0.0, 0.1611), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("matched", "converted", "verdict"),
    [
        (0, 0, Verdict.NEVER),
        (10, 9, Verdict.BETTER),  # few leads, but clear of the base rate
        (10, 3, Verdict.THIN),
        (200, 60, Verdict.UNCLEAR),
        (200, 20, Verdict.WORSE),
    ],
)
def test_verdicts(matched, converted, verdict):
    assert Rate(matched=matched, converted=converted, base=0.3).verdict == verdict


def test_lessons_count_the_leads_each_criterion_matched(world):
    cohort = cohort_of(parse_model(MODEL))
    lessons = {lesson.name: lesson for lesson in criterion_lessons(cohort)}
    won_demo = 0
    demo_leads = set(Activity.objects.filter(kind="demo_request").values_list("lead_id", flat=True))
    won = set(LeadOutcome.objects.filter(outcome="won").values_list("lead_id", flat=True))
    won_demo = len(demo_leads & won)
    assert (lessons["Demo request"].matched, lessons["Demo request"].converted) == (
        len(demo_leads),
        won_demo,
    )
    assert lessons["Demo request"].verdict == Verdict.BETTER
    assert lessons["Newsletter"].verdict in (Verdict.UNCLEAR, Verdict.THIN)
    assert not lessons["Director"].disagrees


def test_a_criterion_whose_points_point_the_wrong_way_is_flagged(world):
    wrong = {**MODEL["criteria"][2], "name": "Demo (penalised)", "points": -10}
    cohort = cohort_of(parse_model({**MODEL, "criteria": [*MODEL["criteria"], wrong]}))
    lesson = criterion_lessons(cohort)[-1]
    assert lesson.verdict == Verdict.BETTER and lesson.disagrees


def test_activity_kinds_the_model_ignores_are_offered_when_they_separate(world):
    without_demo = [c for c in MODEL["criteria"] if c["name"] != "Demo request"]
    cohort = cohort_of(parse_model({**MODEL, "criteria": without_demo}))
    kinds = [c.kind for c in kind_candidates(cohort)]
    assert kinds == ["demo_request"]
    assert kind_candidates(cohort_of(parse_model(MODEL))) == []


def test_field_values_the_model_ignores_are_offered_when_they_separate(world):
    without_director = [c for c in MODEL["criteria"] if c["name"] != "Director"]
    cohort = cohort_of(parse_model({**MODEL, "criteria": without_director}))
    found = [(c.path, c.value, c.verdict) for c in value_candidates(cohort)]
    assert ("lead.seniority", "director", Verdict.BETTER) in found
    assert ("lead.seniority", "staff", Verdict.WORSE) in found
    # Once a criterion reads the field, its values are no longer offered.
    assert all(c.path != "lead.seniority" for c in value_candidates(cohort_of(parse_model(MODEL))))
