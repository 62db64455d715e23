"""Properties of the scoring semantics that must hold for every model and every history."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.definition import (
    ACCOUNT_FIELDS,
    DATE_FIELDS,
    LEAD_FIELDS,
    ActivityCriterion,
    ModelSpec,
    dump_model,
    parse_model,
)
from scoring.engine import ActivityFact, LeadFacts, score_lead, score_over_time

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
KINDS = ("page_view", "email_open", "webinar_attended")
CHANNELS = ("email", "ads", "seo")
NO_LEAD = LeadFacts({}, {}, None, None, None)

days = st.floats(min_value=0.01, max_value=400, allow_nan=False)
positive_points = st.decimals(min_value="0.01", max_value="500", places=2).map(float)
any_points = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.decimals(min_value="-1000", max_value="1000", places=2).map(float),
)
kinds = st.lists(st.sampled_from(KINDS), max_size=2, unique=True)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-5000, max_value=5000),
    st.text(alphabet="abcXYZ/ -", min_size=1, max_size=8).filter(str.strip),
)


@st.composite
def conditions(draw: st.DrawFn, *, on_activity: bool = False) -> dict[str, Any]:
    if on_activity:
        field = draw(st.sampled_from(("channel", "url", "product", "utm_source")))
    else:
        owner, known = draw(st.sampled_from((("lead", LEAD_FIELDS), ("account", ACCOUNT_FIELDS))))
        name = draw(st.sampled_from((*known, "attributes.tier")))
        field = f"{owner}.{name}"
    ops = ["equals", "not_equals", "in", "not_in", "contains", "icontains", "starts_with"]
    ops += ["is_set", "is_not_set"] + ([] if field in DATE_FIELDS else ["gte", "lte", "between"])
    op = draw(st.sampled_from(ops))
    condition: dict[str, Any] = {"field": field, "op": op}
    number = st.integers(min_value=-1000, max_value=1000)
    if op in ("equals", "not_equals"):
        condition["value"] = draw(scalars)
    elif op in ("in", "not_in"):
        condition["value"] = draw(st.lists(scalars, min_size=1, max_size=3))
    elif op in ("contains", "icontains", "starts_with"):
        condition["value"] = draw(st.text(alphabet="abc/", min_size=1, max_size=5))
    elif op in ("gte", "lte"):
        condition["value"] = draw(number)
    elif op == "between":
        condition["value"] = sorted(draw(st.lists(number, min_size=2, max_size=2)))
    return condition


def activity_options() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"kinds": kinds, "count": st.sampled_from(("each", "once", "per_day"))},
        optional={
            "where": st.lists(conditions(on_activity=True), max_size=1),
            "cap": positive_points,
            "window_days": days,
            "half_life_days": days,
        },
    )


@st.composite
def criteria(draw: st.DrawFn, *, only_raising: bool = False) -> dict[str, Any]:
    """Any valid criterion; with only_raising, one that no extra activity can lower."""
    points = positive_points if only_raising else any_points
    kind = draw(st.sampled_from(("activity", "frequency", "inactivity", "attribute")))
    criterion: dict[str, Any] = {"type": kind, "points": draw(points)}
    if kind == "activity":
        criterion.update(draw(activity_options()))
    elif kind == "frequency":
        criterion.update(
            kinds=draw(kinds), at_least=draw(st.integers(2, 5)), within_days=draw(days)
        )
    elif kind == "inactivity":
        # More activity can only end inactivity, so negative points keep the score monotone.
        criterion.update(kinds=draw(kinds), days=draw(days))
        if only_raising:
            criterion["points"] = -criterion["points"]
    else:
        criterion.update(draw(conditions()))
    if draw(st.booleans()):
        criterion["description"] = "why"
    if not only_raising and draw(st.booleans()):
        criterion["enabled"] = False
    return criterion


@st.composite
def models(draw: st.DrawFn, *, only_raising: bool = False) -> dict[str, Any]:
    items = draw(st.lists(criteria(only_raising=only_raising), max_size=5))
    mins = draw(st.lists(st.integers(-50, 500), min_size=1, max_size=4, unique=True))
    model: dict[str, Any] = {
        "slug": "generated",
        "name": "Generated",
        "mql_threshold": draw(st.integers(0, 300)),
        "bands": [{"label": f"band-{m}", "min": m} for m in mins],
        "criteria": [{"name": f"criterion {i}", **c} for i, c in enumerate(items)],
    }
    if draw(st.booleans()):
        model["decay_half_life_days"] = draw(days)
    if draw(st.booleans()):
        model["audience"] = draw(st.lists(conditions(), max_size=2))
    return model


@st.composite
def activities(draw: st.DrawFn, *, max_age_days: int = 200) -> ActivityFact:
    seconds = draw(st.integers(0, max_age_days * 86400))
    properties = {
        "channel": draw(st.sampled_from(CHANNELS)),
        "url": draw(st.sampled_from(("/", "/a", "/jobs"))),
    }
    return ActivityFact(draw(st.sampled_from(KINDS)), NOW - timedelta(seconds=seconds), properties)


def total(spec: ModelSpec, history: list[ActivityFact], now: datetime = NOW) -> Decimal:
    return score_lead(spec, NO_LEAD, history, now, UTC).total


@given(models())
def test_dump_parse_dump_is_stable(data: dict[str, Any]) -> None:
    spec = parse_model(data)
    dumped = dump_model(spec)
    assert parse_model(dumped) == spec
    assert dump_model(parse_model(dumped)) == dumped


@settings(max_examples=200)
@given(models(only_raising=True), st.lists(activities(), max_size=12), activities())
def test_another_activity_never_lowers_the_score(
    data: dict[str, Any], history: list[ActivityFact], extra: ActivityFact
) -> None:
    spec = parse_model(data)
    assert total(spec, [*history, extra]) >= total(spec, history)


@given(models(), st.lists(activities(), max_size=20))
def test_no_capped_criterion_exceeds_its_cap(
    data: dict[str, Any], history: list[ActivityFact]
) -> None:
    spec = parse_model(data)
    caps = {c.name: c.cap for c in spec.criteria if isinstance(c, ActivityCriterion) and c.cap}
    for contribution in score_lead(spec, NO_LEAD, history, NOW, UTC).contributions:
        if contribution.criterion in caps:
            assert abs(contribution.points) <= Decimal(repr(caps[contribution.criterion]))


@given(
    models(only_raising=True),
    st.lists(activities(), max_size=12),
    st.integers(min_value=0, max_value=400 * 86400),
)
def test_scores_never_rise_as_time_passes_without_activity(
    data: dict[str, Any], history: list[ActivityFact], seconds_later: int
) -> None:
    spec = parse_model(data)
    assert total(spec, history, NOW + timedelta(seconds=seconds_later)) <= total(spec, history)


@given(models(), st.lists(activities(), max_size=12))
def test_total_is_fit_plus_engagement_and_band_follows(
    data: dict[str, Any], history: list[ActivityFact]
) -> None:
    spec = parse_model(data)
    result = score_lead(spec, NO_LEAD, history, NOW, UTC)
    assert result.total == result.fit + result.engagement
    assert result.total == sum((c.points for c in result.contributions), Decimal(0))
    assert result.mql == (result.total >= spec.mql_threshold)
    reached = [b for b in spec.bands if b.min <= result.total]
    assert result.band == (reached[-1] if reached else spec.bands[0]).label


@given(
    models(),
    st.lists(activities(), max_size=12),
    st.lists(st.integers(min_value=-250 * 86400, max_value=100 * 86400), max_size=6),
)
def test_scoring_over_time_equals_scoring_at_each_moment(
    data: dict[str, Any], history: list[ActivityFact], offsets: list[int]
) -> None:
    # Moments before some activities happened, inside and past their windows and decay.
    spec = parse_model(data)
    moments = [NOW + timedelta(seconds=offset) for offset in offsets]
    expected = [score_lead(spec, NO_LEAD, history, now, UTC) for now in moments]
    assert score_over_time(spec, NO_LEAD, history, moments, UTC) == expected
