"""Properties of the column-wise engine over whole frames: many leads and many moments in one
`evaluate` call, and the criterion types' semantics checked against brute force.

The expected values are computed here independently of the engine (plain Python over the facts,
zoneinfo for calendar days), from the semantics the module docstrings of scoring.engine and
scoring.criteria state.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scoring.definition import (
    ACCOUNT_FIELDS,
    LEAD_FIELDS,
    ActivityCriterion,
    ModelSpec,
    parse_model,
)
from scoring.engine import (
    MOMENT_SCHEMA,
    ActivityFact,
    LeadFacts,
    LeadScoreResult,
    applies_to,
    condition_matches,
    evaluate,
    facts_frames,
    moments_at,
    results,
    score_lead,
)
from tests.scoring.test_engine_properties import KINDS, NOW, conditions, models, scalars

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)
CENT = Decimal("0.01")

# --- facts ----------------------------------------------------------------------------------------

values = st.one_of(
    st.none(),
    scalars,
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(min_value=-2000, max_value=2000).map(str),
    st.sampled_from(("", "  ", "true", "No", " 12 ", "1e3", "abc/x", "0.1")),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 1, 1)),
    st.lists(scalars, max_size=2),
)
attribute_maps = st.dictionaries(st.just("tier"), values, max_size=1)


@st.composite
def lead_facts(draw: st.DrawFn) -> LeadFacts:
    fields = draw(st.dictionaries(st.sampled_from(LEAD_FIELDS), values, max_size=5))
    has_account = draw(st.booleans())
    account = (
        draw(st.dictionaries(st.sampled_from(ACCOUNT_FIELDS), values, max_size=5))
        if has_account
        else None
    )
    account_attributes = draw(st.one_of(st.none(), attribute_maps)) if has_account else None
    created_at = draw(
        st.one_of(
            st.none(),
            st.integers(-30 * 86400, 300 * 86400).map(lambda s: NOW - timedelta(seconds=s)),
        )
    )
    return LeadFacts(fields, draw(attribute_maps), account, account_attributes, created_at)


properties = st.fixed_dictionaries(
    {},
    optional={
        "channel": st.one_of(st.sampled_from(("email", "ads", "seo", "")), values),
        "url": st.sampled_from(("/", "/a", "/jobs", "/abc")),
        "product": values,
        "utm_source": values,
    },
)


@st.composite
def activity_facts(draw: st.DrawFn, *, kinds: tuple[str, ...] = (*KINDS, "form_submit")):
    # Some in the future of NOW, most in its past; microseconds so that nothing lines up by luck.
    micros = draw(st.integers(-20 * 86400 * 10**6, 250 * 86400 * 10**6))
    return ActivityFact(
        draw(st.sampled_from(kinds)), NOW - timedelta(microseconds=micros), draw(properties)
    )


@st.composite
def populations(draw: st.DrawFn) -> list[tuple[int, LeadFacts, list[ActivityFact]]]:
    """Leads with distinct, scattered ids, each with its own activities."""
    ids = draw(st.lists(st.integers(-50, 10**6), min_size=1, max_size=8, unique=True))
    return [
        (lead_id, draw(lead_facts()), draw(st.lists(activity_facts(), max_size=6)))
        for lead_id in ids
    ]


def frames(spec: ModelSpec, population: list[tuple[int, LeadFacts, list[ActivityFact]]]):
    leads = [(lead_id, facts) for lead_id, facts, _ in population]
    acts = [(lead_id, a) for lead_id, _, history in population for a in history]
    return facts_frames([spec], leads, acts)


def check_adds_up(spec: ModelSpec, result: LeadScoreResult) -> None:
    types = {c.name: c for c in spec.criteria}
    amounts = [
        result.total,
        result.fit,
        result.engagement,
        *(c.points for c in result.contributions),
    ]
    for amount in amounts:
        assert amount == amount.quantize(CENT), amount
    assert result.total == sum((c.points for c in result.contributions), Decimal(0))
    fit = sum((c.points for c in result.contributions if c.type == "attribute"), Decimal(0))
    assert result.fit == fit
    assert result.engagement == result.total - result.fit
    for contribution in result.contributions:
        criterion = types[contribution.criterion]
        assert criterion.enabled
        assert contribution.evidence_count >= 1
        if isinstance(criterion, ActivityCriterion) and criterion.cap is not None:
            assert abs(contribution.points) <= Decimal(repr(criterion.cap))
    positions = [spec.criteria.index(types[c.criterion]) for c in result.contributions]
    assert positions == sorted(positions)


# --- 1. leads are independent ----------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(models(), populations(), st.sampled_from(ZONES), st.data())
def test_leads_scored_together_equal_each_lead_scored_alone(
    data: dict[str, Any], population, zone: str, draw: st.DataObject
) -> None:
    spec = parse_model(data)
    leads, acts = frames(spec, population)
    # Not every lead of the frame is asked about, and the moments come in any order.
    asked = draw.draw(st.lists(st.sampled_from(population), unique_by=lambda p: p[0], min_size=1))
    scores = evaluate(spec, leads, acts, moments_at([p[0] for p in asked], NOW), zone)
    found = results(spec, scores)
    outside = dict(scores.outside.select("m", "lead_id").iter_rows())
    inside = dict(scores.totals.select("m", "lead_id").iter_rows())
    assert set(outside) | set(inside) == set(range(len(asked)))
    assert not set(outside) & set(inside)
    for m, (lead_id, facts, history) in enumerate(asked):
        if applies_to(spec, facts):
            assert inside.get(m) == lead_id
            assert found[m] == score_lead(spec, facts, history, NOW, zone)
        else:
            assert outside.get(m) == lead_id
            assert m not in found


# --- 2. several moments in one call ------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(models(), populations(), st.sampled_from(ZONES), st.data())
def test_several_moments_in_one_call_equal_each_moment_alone(
    data: dict[str, Any], population, zone: str, draw: st.DataObject
) -> None:
    spec = parse_model(data)
    leads, acts = frames(spec, population)
    times = [a.occurred_at for _, _, history in population for a in history]
    moment = st.one_of(
        st.integers(-250 * 86400, 100 * 86400).map(lambda s: NOW + timedelta(seconds=s)),
        # At, just before and just after an activity: the edges of `happened` and the windows.
        *(
            [st.tuples(st.sampled_from(times), st.sampled_from((-1, 0, 1))).map(
                lambda t: t[0] + t[1] * MICROSECOND
            )]
            if times
            else []
        ),
    )  # fmt: skip
    asked = draw.draw(
        st.lists(st.tuples(st.sampled_from(population), moment), min_size=1, max_size=12)
    )
    frame = pl.DataFrame(
        {"lead_id": [p[0] for p, _ in asked], "at": [at for _, at in asked]}, schema=MOMENT_SCHEMA
    )
    scores = evaluate(spec, leads, acts, frame, zone)
    found = results(spec, scores)
    outside = dict(scores.outside.iter_rows())
    for m, ((lead_id, facts, history), at) in enumerate(asked):
        if applies_to(spec, facts):
            assert m not in outside
            assert scores.totals.row(by_predicate=pl.col("m") == m, named=True)["at"] == at
            assert found[m] == score_lead(spec, facts, history, at, zone)
        else:
            assert outside.get(m) == lead_id
            assert m not in found


# --- 3. counting modes ----------------------------------------------------------------------------

# Berlin's short night (2024-03-31, 23 hours) and long night (2024-10-27, 25 hours): their local
# midnights and the switches themselves, in UTC.
DST_EDGES = (
    datetime(2024, 3, 30, 23, tzinfo=UTC),  # 2024-03-31 00:00 CET
    datetime(2024, 3, 31, 1, tzinfo=UTC),  # 02:00 CET -> 03:00 CEST
    datetime(2024, 3, 31, 22, tzinfo=UTC),  # 2024-04-01 00:00 CEST
    datetime(2024, 10, 26, 22, tzinfo=UTC),  # 2024-10-27 00:00 CEST
    datetime(2024, 10, 27, 1, tzinfo=UTC),  # 03:00 CEST -> 02:00 CET
    datetime(2024, 10, 27, 23, tzinfo=UTC),  # 2024-10-28 00:00 CET
)


@st.composite
def dst_times(draw: st.DrawFn) -> datetime:
    edge = draw(st.sampled_from(DST_EDGES))
    spread = draw(st.sampled_from((0, 3 * 3600, 3 * 86400)))
    if not spread:
        return edge + draw(st.sampled_from((-1, 0, 1))) * MICROSECOND
    return edge + timedelta(seconds=draw(st.integers(-spread, spread)))


def one_criterion(criterion: dict[str, Any], **options: Any) -> ModelSpec:
    return parse_model(
        {
            "slug": "one",
            "name": "One",
            "mql_threshold": 0,
            "bands": [{"label": "any", "min": 0}],
            "criteria": [{"name": "it", **criterion}],
            **options,
        }
    )


def matching(
    criterion: Any, history: list[ActivityFact], now: datetime, window: float | None = None
) -> list[ActivityFact]:
    """The activities of its kinds matching its `where` that happened by now (inside the
    window when there is one), by brute force."""
    return [
        a
        for a in history
        if (not criterion.kinds or a.kind in criterion.kinds)
        and all(condition_matches(c, a.properties.get(c.field)) for c in criterion.where)
        and a.occurred_at <= now
        and (window is None or (now - a.occurred_at) / DAY < window)
    ]


wheres = st.one_of(st.just([]), st.lists(conditions(on_activity=True), max_size=1))
exact_days = st.decimals(min_value="0.0001", max_value="30", places=4).map(float)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(("each", "once", "per_day")),
    st.lists(st.sampled_from(KINDS), max_size=2, unique=True),
    wheres,
    st.one_of(st.none(), exact_days),
    st.lists(
        st.builds(ActivityFact, st.sampled_from(KINDS), dst_times(), properties),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(DST_EDGES).flatmap(
        lambda edge: st.integers(-2 * 86400, 4 * 86400).map(lambda s: edge + timedelta(seconds=s))
    ),
    st.sampled_from((BERLIN, "Europe/Berlin")),
)
def test_counting_modes_count_activities_once_or_calendar_days(
    count: str,
    kinds: list[str],
    where: list[dict[str, Any]],
    window_days: float | None,
    history: list[ActivityFact],
    now: datetime,
    zone: Any,
) -> None:
    criterion: dict[str, Any] = {"type": "activity", "kinds": kinds, "where": where}
    criterion.update(count=count, points=1.5)
    if window_days is not None:
        criterion["window_days"] = window_days
    spec = one_criterion(criterion)
    seen = matching(spec.criteria[0], history, now, window_days)
    if count == "each":
        expected = len(seen)
    elif count == "once":
        expected = min(len(seen), 1)
    else:
        expected = len({a.occurred_at.astimezone(BERLIN).date() for a in seen})
    result = score_lead(spec, LeadFacts({}), history, now, zone)
    assert [c.evidence_count for c in result.contributions] == ([expected] if expected else [])
    assert result.total == round_cents(Decimal("1.5") * expected)


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --- 4. windows, decay and now at their edges -----------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(exact_days, st.sampled_from(("each", "once", "per_day")), st.sampled_from(ZONES))
def test_window_excludes_exactly_window_days_old_and_counts_a_microsecond_younger(
    window_days: float, count: str, zone: str
) -> None:
    spec = one_criterion(
        {"type": "activity", "kinds": [], "count": count, "window_days": window_days, "points": 7}
    )
    # Exact: window_days has at most 4 decimals, so it is a whole number of microseconds.
    age = timedelta(microseconds=int(Decimal(repr(window_days)) * 86_400_000_000))
    at_edge = ActivityFact("page_view", NOW - age)
    younger = ActivityFact("page_view", NOW - age + MICROSECOND)
    assert score_lead(spec, LeadFacts({}), [at_edge], NOW, zone).contributions == ()
    assert score_lead(spec, LeadFacts({}), [younger], NOW, zone).total == 7


@settings(max_examples=200, deadline=None)
@example(half_life=10.0, points=Decimal("2.01"), on_the_model=False)
@given(
    exact_days,
    st.decimals(min_value="-500", max_value="500", places=2).filter(bool),
    st.booleans(),
)
def test_decay_at_exactly_one_half_life_gives_half_the_points_to_the_cent(
    half_life: float, points: Decimal, on_the_model: bool
) -> None:
    criterion = {"type": "activity", "kinds": ["page_view"], "points": float(points)}
    if on_the_model:
        spec = one_criterion(criterion, decay_half_life_days=half_life)
    else:
        spec = one_criterion({**criterion, "half_life_days": half_life})
    age = timedelta(microseconds=int(Decimal(repr(half_life)) * 86_400_000_000))
    history = [ActivityFact("page_view", NOW - age)]
    result = score_lead(spec, LeadFacts({}), history, NOW, UTC)
    # Half of a 2-decimal amount has at most 3 decimals; rounded half away from zero.
    assert result.total == round_cents(points / 2)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(("each", "once", "per_day")),
    st.one_of(st.none(), exact_days),
    st.one_of(st.none(), exact_days),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
)
def test_an_activity_at_now_counts_and_one_a_microsecond_later_does_not(
    count: str, window_days: float | None, half_life: float | None, now: datetime
) -> None:
    criterion: dict[str, Any] = {"type": "activity", "kinds": [], "count": count, "points": 3}
    if window_days is not None:
        criterion["window_days"] = window_days
    if half_life is not None:
        criterion["half_life_days"] = half_life
    spec = one_criterion(criterion)
    result = score_lead(spec, LeadFacts({}), [ActivityFact("demo", now)], now, BERLIN)
    assert [(c.points, c.evidence_count) for c in result.contributions] == [(Decimal(3), 1)]
    later = [ActivityFact("demo", now + MICROSECOND)]
    assert score_lead(spec, LeadFacts({}), later, now, BERLIN).contributions == ()


# --- 5. frequency ----------------------------------------------------------------------------------


@st.composite
def bursts(draw: st.DrawFn, within_days: float) -> list[ActivityFact]:
    """Activities some of which lie exactly within_days (or a microsecond more or less) apart."""
    span = timedelta(microseconds=int(Decimal(repr(within_days)) * 86_400_000_000))
    times: list[datetime] = []
    for _ in range(draw(st.integers(0, 12))):
        if times and draw(st.booleans()):
            start = draw(st.sampled_from(times))
            times.append(
                start
                + draw(st.sampled_from((span, span, -span, timedelta(0))))
                + draw(st.sampled_from((0, 0, -1, 1))) * MICROSECOND
            )
        else:
            times.append(NOW - timedelta(seconds=draw(st.integers(-2 * 86400, 30 * 86400))))
    return [
        ActivityFact(draw(st.sampled_from(KINDS)), t, draw(properties)) for t in times
    ]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 5),
    exact_days,
    st.lists(st.sampled_from(KINDS), max_size=2, unique=True),
    wheres,
    st.one_of(st.none(), st.decimals(min_value="0.5", max_value="60", places=2).map(float)),
    st.data(),
)
def test_frequency_fires_on_the_largest_burst_within_its_span(
    at_least: int,
    within_days: float,
    kinds: list[str],
    where: list[dict[str, Any]],
    window_days: float | None,
    draw: st.DataObject,
) -> None:
    criterion: dict[str, Any] = {"type": "frequency", "kinds": kinds, "where": where}
    criterion.update(at_least=at_least, within_days=within_days, points=12.5)
    if window_days is not None:
        criterion["window_days"] = window_days
    spec = one_criterion(criterion)
    history = draw.draw(bursts(within_days))
    times = sorted(a.occurred_at for a in matching(spec.criteria[0], history, NOW, window_days))
    # Every pair (first, last), both included, at most within_days apart.
    largest = max(
        (j - i + 1 for i in range(len(times)) for j in range(i, len(times))
         if (times[j] - times[i]) / DAY <= within_days),
        default=0,
    )  # fmt: skip
    result = score_lead(spec, LeadFacts({}), history, NOW, UTC)
    fired = [(c.points, c.evidence_count) for c in result.contributions]
    assert fired == ([(Decimal("12.50"), largest)] if largest >= at_least else [])


# --- 6. inactivity ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    exact_days,
    st.lists(st.sampled_from(KINDS), max_size=2, unique=True),
    st.one_of(st.none(), st.integers(-5 * 86400, 60 * 86400)),
    st.lists(activity_facts(kinds=KINDS), max_size=6),
    st.sampled_from((-1, 0, 1)),
    st.data(),
)
def test_inactivity_fires_iff_quiet_for_its_days(
    quiet_days: float,
    kinds: list[str],
    created_seconds: int | None,
    history: list[ActivityFact],
    nudge: int,
    draw: st.DataObject,
) -> None:
    spec = one_criterion({"type": "inactivity", "kinds": kinds, "days": quiet_days, "points": -9})
    created_at = None if created_seconds is None else NOW - timedelta(seconds=created_seconds)
    span = timedelta(microseconds=int(Decimal(repr(quiet_days)) * 86_400_000_000))
    # Now at exactly `days` after some activity or the creation, a microsecond either side, or
    # anywhere.
    anchors = [a.occurred_at for a in history] + ([created_at] if created_at else [])
    now = NOW
    if anchors and draw.draw(st.booleans()):
        now = draw.draw(st.sampled_from(anchors)) + span + nudge * MICROSECOND
    latest = max(
        (a.occurred_at for a in history
         if (not kinds or a.kind in kinds) and a.occurred_at <= now),
        default=None,
    )  # fmt: skip
    references = [t for t in (latest, created_at) if t is not None]
    fires = not references or (now - max(references)) / DAY >= quiet_days
    result = score_lead(spec, LeadFacts({}, created_at=created_at), history, now, UTC)
    assert [(c.points, c.evidence_count) for c in result.contributions] == (
        [(Decimal(-9), 1)] if fires else []
    )


# --- 7. explanations add up ------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(models(), populations(), st.sampled_from(ZONES), st.data())
def test_every_explanation_adds_up_over_a_frame(
    data: dict[str, Any], population, zone: str, draw: st.DataObject
) -> None:
    spec = parse_model(data)
    leads, acts = frames(spec, population)
    offsets = st.integers(-100 * 86400, 100 * 86400).map(lambda s: NOW + timedelta(seconds=s))
    asked = draw.draw(st.lists(st.tuples(st.sampled_from(population), offsets), min_size=1))
    frame = pl.DataFrame(
        {"lead_id": [p[0] for p, _ in asked], "at": [at for _, at in asked]}, schema=MOMENT_SCHEMA
    )
    scores = evaluate(spec, leads, acts, frame, zone)
    for m, result in results(spec, scores).items():
        check_adds_up(spec, result)
        row = scores.totals.row(by_predicate=pl.col("m") == m, named=True)
        assert row["total"] == row["fit"] + row["engagement"]
        assert row["mql"] == (result.total >= Decimal(repr(spec.mql_threshold)))
