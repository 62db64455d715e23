"""The scoring semantics, including the worked examples of the articles the product is built on."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scoring.definition import Condition, ModelSpec, dump_model, parse_model
from scoring.engine import (
    ActivityFact,
    Contribution,
    LeadFacts,
    LeadScoreResult,
    applies_to,
    condition_matches,
    round_points,
    score_lead,
)

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def model(*criteria: dict[str, Any], **options: Any) -> ModelSpec:
    data: dict[str, Any] = {
        "slug": "test",
        "name": "Test",
        "mql_threshold": 100,
        "bands": [
            {"label": "cold", "min": 0},
            {"label": "warm", "min": 50},
            {"label": "hot", "min": 100},
        ],
        "criteria": list(criteria),
    }
    data.update(options)
    return parse_model(data)


def lead(
    *,
    fields: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    account: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> LeadFacts:
    return LeadFacts(fields or {}, attributes or {}, account, None, created_at)


def act(kind: str, days_ago: float = 0, **properties: Any) -> ActivityFact:
    return ActivityFact(kind, NOW - timedelta(days=days_ago), properties)


def score(
    spec: ModelSpec,
    facts: LeadFacts | None = None,
    activities: list[ActivityFact] | None = None,
) -> LeadScoreResult:
    return score_lead(spec, facts or lead(), activities or [], NOW, UTC)


def attribute(
    name: str, field: str, op: str, value: Any = None, *, points: float
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "attribute",
        "field": field,
        "op": op,
        "value": value,
        "points": points,
    }


def activity(name: str, kind: str | None, points: float, **options: Any) -> dict[str, Any]:
    kinds = [kind] if kind else []
    return {"name": name, "type": "activity", "kinds": kinds, "points": points, **options}


def frequency(name: str, at_least: int, within_days: float, points: float) -> dict[str, Any]:
    return {
        "name": name,
        "type": "frequency",
        "at_least": at_least,
        "within_days": within_days,
        "points": points,
        "kinds": ["page_view"],
    }


def visit(points: float = 1, **options: Any) -> dict[str, Any]:
    return activity("Visit", "page_view", points, **options)


# --- the articles' worked examples ---------------------------------------------------------------


def test_tanja_collects_exactly_53_points() -> None:
    """002: newsletter 3, opened 5, interest 5, birthday 10, browsing on 2 days 2x5, stores 20."""
    spec = model(
        activity("Newsletter signup", "newsletter_signup", 3, count="once"),
        activity("Newsletter opened", "email_open", 5, count="once"),
        attribute("Interest given", "lead.attributes.interest", "is_set", points=5),
        attribute("Birthday given", "lead.birthday", "is_set", points=10),
        activity("Browsing", "page_view", 5, count="per_day"),
        activity("Store locator", "store_locator", 20, count="once"),
        mql_threshold=50,
    )
    tanja = lead(
        fields={"first_name": "Tanja", "birthday": date(1990, 6, 1)},
        attributes={"interest": "Infos über Malzubehör"},
    )
    activities = [
        act("newsletter_signup", 6),
        act("email_open", 5),
        act("email_open", 4),
        *(act("page_view", 3, url=f"/papier/{i}") for i in range(4)),
        *(act("page_view", 2 - i / 24, url=f"/papier/{i}") for i in range(3)),
        act("store_locator", 1),
    ]
    result = score(spec, tanja, activities)
    assert result.total == Decimal("53.00")
    assert (result.fit, result.engagement) == (Decimal("15.00"), Decimal("38.00"))
    assert [(c.criterion, c.points, c.evidence_count) for c in result.contributions] == [
        ("Newsletter signup", Decimal("3.00"), 1),
        ("Newsletter opened", Decimal("5.00"), 1),
        ("Interest given", Decimal("5.00"), 1),
        ("Birthday given", Decimal("10.00"), 1),
        ("Browsing", Decimal("10.00"), 2),
        ("Store locator", Decimal("20.00"), 1),
    ]
    assert result.mql


def b2b_model() -> ModelSpec:
    """003: a visit is worth 1, the newsletter 20, an event 50, a target account 20; MQL at 100."""
    return model(
        attribute("Target account", "account.is_target_account", "equals", True, points=20),
        visit(),
        activity("Newsletter", "newsletter_signup", 20, count="once"),
        activity("Event", "event_attended", 50, count="once"),
    )


def engaged_activities() -> list[ActivityFact]:
    visits = [act("page_view", 3 * i) for i in range(10)]  # 10 visits within 4 weeks
    return [*visits, act("newsletter_signup", 20), act("event_attended", 2)]


def test_target_account_lead_starts_at_20_without_activity() -> None:
    result = score(b2b_model(), lead(account={"is_target_account": True}))
    assert result.total == Decimal("20.00")
    assert result.fit == Decimal("20.00") and result.engagement == 0


def test_target_account_with_ten_visits_newsletter_and_event_becomes_mql_at_100() -> None:
    result = score(b2b_model(), lead(account={"is_target_account": True}), engaged_activities())
    assert result.total == Decimal("100.00")
    assert result.mql and result.band == "hot"


def test_same_activity_without_target_account_stays_below_mql_at_80() -> None:
    result = score(b2b_model(), lead(account={"is_target_account": False}), engaged_activities())
    assert result.total == Decimal("80.00")
    assert not result.mql and result.band == "warm"


def test_four_visits_in_a_week_score_more_than_four_visits_in_four_months() -> None:
    spec = model(visit(), frequency("Busy week", at_least=4, within_days=7, points=15))
    in_a_week = [act("page_view", d) for d in (0, 2, 4, 6)]
    over_four_months = [act("page_view", d) for d in (0, 40, 80, 120)]
    assert score(spec, activities=in_a_week).total == Decimal("19.00")
    assert score(spec, activities=over_four_months).total == Decimal("4.00")


def test_frequency_evidence_is_the_largest_burst() -> None:
    spec = model(frequency("Busy", at_least=2, within_days=1, points=5))
    activities = [act("page_view", days) for days in (0, 0.5, 0.9, 9)]
    result = score(spec, activities=activities)
    assert result.contributions == (Contribution("Busy", "frequency", Decimal("5.00"), 3),)


def test_frequency_span_of_exactly_within_days_counts() -> None:
    spec = model(frequency("Busy", at_least=2, within_days=7, points=5))
    assert score(spec, activities=[act("page_view", 7), act("page_view", 0)]).total == 5
    assert score(spec, activities=[act("page_view", 7.001), act("page_view", 0)]).total == 0


def test_frequency_only_counts_activities_inside_its_window() -> None:
    busy = {**frequency("Busy", at_least=2, within_days=7, points=5), "window_days": 30}
    old_burst = [act("page_view", 40), act("page_view", 39)]
    assert score(model(busy), activities=old_burst).contributions == ()


def company_size_model() -> ModelSpec:
    """004: 100-200 employees is worth 100 points, a company under 20 employees 10."""
    return model(
        attribute("Mid-size", "account.employee_count", "between", [100, 200], points=100),
        attribute("Small", "account.employee_count", "lte", 20, points=10),
    )


@pytest.mark.parametrize(
    ("employees", "points"), [(150, 100), (100, 100), (200, 100), (10, 10), (50, 0), (201, 0)]
)
def test_company_size_scores_as_in_the_article(employees: int, points: int) -> None:
    result = score(company_size_model(), lead(account={"employee_count": employees}))
    assert result.total == points


def test_lead_without_account_gets_no_company_points() -> None:
    assert score(company_size_model(), lead()).contributions == ()


# --- negative points -----------------------------------------------------------------------------


def negative_model() -> ModelSpec:
    jobs_page = [{"field": "url", "op": "contains", "value": "/jobs"}]
    return model(
        activity("Jobs page", "page_view", -10, where=jobs_page),
        attribute("Student", "lead.job_title", "contains", "Student", points=-30),
        attribute("Competitor", "account.is_competitor", "equals", True, points=-100),
    )


def test_jobs_page_visit_costs_10_points() -> None:
    result = score(
        negative_model(), activities=[act("page_view", url="/jobs/dev"), act("page_view", url="/")]
    )
    assert result.total == Decimal("-10.00")


def test_student_costs_30_points() -> None:
    assert score(negative_model(), lead(fields={"job_title": "Student (BWL)"})).total == -30


def test_totals_may_go_below_zero() -> None:
    facts = lead(fields={"job_title": "Student"}, account={"is_competitor": "yes"})
    result = score(negative_model(), facts, [act("page_view", url="/jobs")])
    assert result.total == Decimal("-140.00")
    assert result.fit == Decimal("-130.00")
    assert result.band == "cold"


# --- activity options ----------------------------------------------------------------------------


def test_decay_halves_the_points_at_one_half_life() -> None:
    spec = model(visit(10, half_life_days=30))
    assert score(spec, activities=[act("page_view", 30)]).total == Decimal("5.00")
    assert score(spec, activities=[act("page_view", 60)]).total == Decimal("2.50")


def test_model_half_life_is_the_default_and_criterion_overrides_it() -> None:
    fast = activity("Fast", "page_view", 8, half_life_days=10)
    spec = model(visit(8), fast, decay_half_life_days=20)
    result = score(spec, activities=[act("page_view", 20)])
    assert [c.points for c in result.contributions] == [Decimal("4.00"), Decimal("2.00")]


def test_decayed_criterion_is_listed_even_when_it_rounds_to_zero() -> None:
    result = score(model(visit(1, half_life_days=1)), activities=[act("page_view", 100)])
    assert result.contributions == (Contribution("Visit", "activity", Decimal("0.00"), 1),)


def test_window_excludes_older_activities() -> None:
    spec = model(visit(1, window_days=30))
    activities = [act("page_view", 29.9), act("page_view", 30), act("page_view", 45)]
    assert score(spec, activities=activities).total == 1


def test_cap_limits_positive_points() -> None:
    spec = model(visit(1, cap=5))
    assert score(spec, activities=[act("page_view", i) for i in range(10)]).total == 5


def test_cap_limits_negative_points_in_their_direction() -> None:
    spec = model(visit(-10, cap=15))
    assert score(spec, activities=[act("page_view", i) for i in range(3)]).total == -15


def test_once_counts_only_the_most_recent_occurrence() -> None:
    spec = model(visit(10, count="once", half_life_days=10))
    result = score(
        spec, activities=[act("page_view", 30), act("page_view", 10), act("page_view", 20)]
    )
    assert result.total == Decimal("5.00")
    assert result.contributions[0].evidence_count == 1


def test_per_day_counts_calendar_days_in_the_given_time_zone() -> None:
    spec = model(visit(5, count="per_day"))
    # 23:30 and 00:30 Berlin time (CET, UTC+1) are 22:30 and 23:30 UTC on the same UTC day.
    late = datetime(2024, 1, 10, 23, 30, tzinfo=BERLIN)
    activities = [
        ActivityFact("page_view", late, {}),
        ActivityFact("page_view", late + timedelta(hours=1), {}),
    ]
    assert score_lead(spec, lead(), activities, NOW, BERLIN).total == 10
    assert score_lead(spec, lead(), activities, NOW, UTC).total == 5


def test_kinds_filter_and_empty_kinds_match_any_kind() -> None:
    spec = model(visit(), activity("Anything", None, 1))
    result = score(spec, activities=[act("page_view"), act("email_open"), act("form_submit")])
    assert [c.evidence_count for c in result.contributions] == [1, 3]


def test_activities_after_now_are_ignored() -> None:
    assert score(model(visit()), activities=[act("page_view", -1)]).contributions == ()


def test_disabled_criteria_are_skipped() -> None:
    assert score(model(visit(enabled=False)), activities=[act("page_view")]).contributions == ()


# --- inactivity ----------------------------------------------------------------------------------


def quiet(**options: Any) -> dict[str, Any]:
    return {"name": "Gone quiet", "type": "inactivity", "days": 90, "points": -20, **options}


def test_inactivity_fires_at_exactly_the_given_days() -> None:
    assert score(model(quiet()), activities=[act("page_view", 90)]).total == -20


def test_inactivity_does_not_fire_a_second_before() -> None:
    recent = act("page_view", 90 - 1 / 86400)
    assert score(model(quiet()), activities=[recent]).total == 0


def test_inactivity_fires_without_any_reference() -> None:
    assert score(model(quiet())).total == -20


def test_recent_lead_creation_counts_as_activity() -> None:
    facts = lead(created_at=NOW - timedelta(days=10))
    assert score(model(quiet()), facts, [act("page_view", 200)]).total == 0


def test_inactivity_only_looks_at_its_kinds() -> None:
    spec = model(quiet(kinds=["email_open"]))
    assert score(spec, activities=[act("page_view", 1), act("email_open", 100)]).total == -20


# --- conditions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "actual", "expected"),
    [
        (Condition("f", "equals", True), "Yes", True),
        (Condition("f", "equals", True), 1, True),
        (Condition("f", "equals", False), " no ", True),
        (Condition("f", "equals", True), "maybe", False),
        (Condition("f", "equals", 150), "150", True),
        (Condition("f", "equals", 0.1), "0.1", True),
        (Condition("f", "equals", 1), True, False),
        (Condition("f", "equals", "true"), True, True),
        (Condition("f", "equals", "150"), 150, True),
        (Condition("f", "equals", "Berlin"), "berlin", False),
        (Condition("f", "equals", "1990-06-01"), date(1990, 6, 1), True),
        (Condition("f", "not_equals", "DE"), None, True),
        (Condition("f", "not_equals", "DE"), "DE", False),
        (Condition("f", "in", ("DE", "AT")), "AT", True),
        (Condition("f", "not_in", ("DE", "AT")), "", True),
        (Condition("f", "icontains", "STUDENT"), "Werkstudent", True),
        (Condition("f", "contains", "Student"), "werkstudent", False),
        (Condition("f", "starts_with", "/jobs"), "/jobs/1", True),
        (Condition("f", "gte", 100), "99.99", False),
        (Condition("f", "lte", 20), Decimal("20.00"), True),
        (Condition("f", "gte", 1), "lots", False),
        (Condition("f", "between", (1, 2)), 2, True),
        (Condition("f", "is_set", None), "  ", False),
        (Condition("f", "is_set", None), [], False),
        (Condition("f", "is_set", None), 0, True),
        (Condition("f", "is_not_set", None), None, True),
        (Condition("f", "equals", ""), "", False),
        (Condition("f", "contains", "a"), ["a"], False),
    ],
)
def test_condition_coercion(condition: Condition, actual: object, expected: bool) -> None:
    assert condition_matches(condition, actual) is expected


@pytest.mark.parametrize(
    ("condition", "actual", "expected"),
    [
        (Condition("url", "starts_with", "/pricing"), "https://shop.example.com/pricing?p=1", True),
        (Condition("url", "starts_with", "/pricing"), "http://shop.example.com/pricing/pro", True),
        (Condition("url", "starts_with", "/pricing"), "/pricing#plans", True),
        (
            Condition("url", "starts_with", "/pricing"),
            "https://shop.example.com/blog/pricing",
            False,
        ),
        (Condition("url", "starts_with", "/pricing"), "https://pricing.example.com/", False),
        (Condition("url", "equals", "/pricing"), "https://shop.example.com/pricing?p=1", True),
        (Condition("url", "equals", "/pricing"), "/pricing?utm_source=mail", True),
        (Condition("url", "equals", "/"), "https://shop.example.com", True),
        (Condition("url", "in", ("/cart", "/checkout")), "https://shop.example.com/cart?x", True),
        (
            Condition("url", "not_in", ("/cart", "/checkout")),
            "https://shop.example.com/cart",
            False,
        ),
        (Condition("page_url", "starts_with", "/jobs"), "https://firma.de/jobs/dev", True),
        # Not a path: the whole text, as before.
        (Condition("url", "contains", "utm_source=mail"), "https://x.de/?utm_source=mail", True),
        (Condition("url", "starts_with", "https://x.de/"), "https://x.de/pricing", True),
        # Only URL properties read as paths.
        (Condition("title", "starts_with", "/pricing"), "https://x.de/pricing", False),
        (Condition("url", "starts_with", "/pricing"), "https://[x.de/pricing", False),
    ],
)
def test_a_url_property_is_compared_by_its_path_with_a_path(
    condition: Condition, actual: object, expected: bool
) -> None:
    assert condition_matches(condition, actual) is expected


def test_a_tracked_full_url_scores_a_rule_written_as_a_path() -> None:
    pricing = [{"field": "url", "op": "starts_with", "value": "/pricing"}]
    spec = model(activity("Pricing page", "page_view", 10, where=pricing, count="once"))
    tracked = [act("page_view", url="https://www.firma.de/pricing?plan=team"),
               act("page_view", url="https://www.firma.de/blog/pricing-tips")]  # fmt: skip
    result = score(spec, activities=tracked)
    assert result.total == Decimal("10.00")


def test_where_conditions_read_activity_properties() -> None:
    spec = model(visit(1, where=[{"field": "channel", "op": "in", "value": ["email", "ads"]}]))
    result = score(
        spec,
        activities=[
            act("page_view", channel="email"),
            act("page_view", channel="seo"),
            act("page_view"),
        ],
    )
    assert result.total == 1


def test_created_at_field_falls_back_to_lead_facts() -> None:
    spec = model(attribute("Known since", "lead.created_at", "is_set", points=1))
    assert score(spec, lead(created_at=NOW)).total == 1


# --- audience, bands, grades, mql ----------------------------------------------------------------


def test_audience_decides_which_leads_a_model_applies_to() -> None:
    spec = model(
        audience=[
            {"field": "lead.country", "op": "in", "value": ["DE", "AT"]},
            {"field": "lead.unsubscribed", "op": "not_equals", "value": True},
        ]
    )
    assert applies_to(spec, lead(fields={"country": "DE", "unsubscribed": False}))
    assert not applies_to(spec, lead(fields={"country": "DE", "unsubscribed": True}))
    assert not applies_to(spec, lead(fields={"country": "NL"}))


def test_empty_audience_applies_to_everyone() -> None:
    assert applies_to(model(), lead())


def test_band_is_the_highest_reached_and_the_lowest_below_all() -> None:
    spec = model(visit(), bands=[{"label": "warm", "min": 5}, {"label": "hot", "min": 10}])
    assert score(spec).band == "warm"
    assert score(spec, activities=[act("page_view")] * 9).band == "warm"
    assert score(spec, activities=[act("page_view")] * 10).band == "hot"


def test_grade_applies_to_the_fit_part_only() -> None:
    grades = [{"label": "D", "min": 0}, {"label": "C", "min": 20}, {"label": "A", "min": 100}]
    spec = model(*dump_model(b2b_model())["criteria"], grades=grades)
    result = score(spec, lead(account={"is_target_account": True}), engaged_activities())
    assert (result.total, result.grade) == (Decimal("100.00"), "C")


def test_no_grades_gives_no_grade() -> None:
    assert score(model()).grade is None


def test_mql_is_reached_at_exactly_the_threshold() -> None:
    spec = model(visit(0.1), mql_threshold=0.3)
    assert score(spec, activities=[act("page_view")] * 3).mql
    assert not score(spec, activities=[act("page_view")] * 2).mql


def test_one_lead_scored_by_two_models_gets_two_results() -> None:
    facts = lead(account={"is_target_account": True, "employee_count": 150})
    activities = engaged_activities()
    b2b = score(b2b_model(), facts, activities)
    size = score(company_size_model(), facts, activities)
    assert (b2b.total, size.total) == (Decimal("100.00"), Decimal("100.00"))
    assert {c.criterion for c in b2b.contributions} != {c.criterion for c in size.contributions}


# --- results and rounding ------------------------------------------------------------------------


def test_round_points_rounds_half_up_on_the_shortest_repr() -> None:
    assert round_points(2.675) == Decimal("2.68")
    assert round_points(-2.675) == Decimal("-2.68")
    assert str(round_points(-0.001)) == "0.00"


def test_result_round_trips_through_its_json_form() -> None:
    result = score(b2b_model(), lead(account={"is_target_account": True}), engaged_activities())
    as_dict = result.to_dict()
    assert as_dict["total"] == 100.0
    assert as_dict["contributions"][0] == {
        "criterion": "Target account",
        "type": "attribute",
        "points": 20.0,
        "evidence_count": 1,
    }
    assert LeadScoreResult.from_dict(as_dict) == result


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        score_lead(model(), lead(), [], datetime(2024, 1, 1), UTC)


def test_naive_activity_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        ActivityFact("page_view", datetime(2024, 1, 1), {})


def test_naive_lead_creation_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        LeadFacts({}, created_at=datetime(2024, 1, 1))
