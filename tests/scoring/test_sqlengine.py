"""PostgreSQL evaluates activity, frequency and inactivity criteria exactly as the engine does.

Random activities with awkward property values (decimals a float cannot keep, blanks str.strip()
removes but a regular expression may not, non-ASCII text, JSON lists) and random criteria: the
database's amounts, with the leads it leaves undecided scored by the engine, must equal the
engine's over every lead. The engine reads the activities back the way rescoring does.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.definition import (
    ActivityCriterion,
    Band,
    Condition,
    Criterion,
    FrequencyCriterion,
    InactivityCriterion,
    ModelSpec,
)
from scoring.engine import LeadFacts, score_lead
from scoring.models import Activity, Lead
from scoring.rescoring import activities_by_lead
from scoring.sqlengine import criteria_amounts, criterion_amounts
from tests.factories import LeadFactory

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night Berlin moves its clocks
pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.clock(NOW)]
TZ = ZoneInfo("Europe/Berlin")
KINDS = ("page_view", "email_open", "webinar_attended")
FIELDS = ("url", "n", "channel")
TRICKY_TEXT = [
    "/pricing", "/Pricing/x", " yes ", "TRUE", "no", "1", "0", "1.10", "+5", "5.", "1_000", "",
    "   ", "\xa0", "\xa0true", "\x1ctrue", "Straße", "STRASSE", "K", "12345678901234567.5", "-3",
    "7", "abc", "ü",
]  # fmt: skip
json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=300),
    st.sampled_from([0.1, 1.1, 2.5, 1e20, 1e-7, 123456789.123456789, -0.0, 7.0]),
    st.sampled_from(TRICKY_TEXT),
    st.lists(st.integers(min_value=0, max_value=3), max_size=2),
    st.dictionaries(st.sampled_from("ab"), st.integers(min_value=0, max_value=3), max_size=1),
)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-5, max_value=300),
    st.sampled_from([0.1, 1.1, 2.5, 7.0]),
    st.sampled_from(["/pricing", "yes", "true", "1", "1.10", "7", "web", "ü", "strasse", ""]),
)


OPS = (
    "equals", "not_equals", "in", "not_in", "contains", "icontains", "starts_with", "gte", "lte",
    "between", "is_set", "is_not_set",
)  # fmt: skip


def condition_on(draw: st.DrawFn, field: str, op: str, needles: list[str]) -> Condition:
    """A condition of `op` on `field`, with a value (or values) fit for the operator."""
    if op in ("is_set", "is_not_set"):
        return Condition(field, op)
    if op in ("in", "not_in"):
        return Condition(field, op, tuple(draw(st.lists(scalars, min_size=1, max_size=3))))
    if op == "between":
        return Condition(field, op, (draw(scalars), draw(scalars)))
    if op in ("contains", "icontains", "starts_with"):
        return Condition(field, op, draw(st.sampled_from(needles)))
    return Condition(field, op, draw(scalars))


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    field, op = draw(st.sampled_from(FIELDS)), draw(st.sampled_from(OPS))
    return condition_on(draw, field, op, ["/pri", "P", "ss", "1", "", "ue"])


points = st.one_of(
    st.integers(min_value=-50, max_value=100).filter(bool),
    st.sampled_from([0.1, 0.33, 1.25, -2.5, 10.01]),
)
days = st.one_of(
    st.integers(min_value=1, max_value=12), st.sampled_from([0.5, 1.5, 7.25, 30.0, 90])
)
where = st.lists(conditions(), max_size=2).map(tuple)
kinds = st.lists(st.sampled_from(KINDS), max_size=2, unique=True).map(tuple)


@st.composite
def criteria(draw: st.DrawFn) -> Criterion:
    kind = draw(st.sampled_from(["activity", "activity", "frequency", "inactivity"]))
    if kind == "inactivity":
        return InactivityCriterion(name="c", kinds=draw(kinds), days=draw(days), points=-20)
    if kind == "frequency":
        return FrequencyCriterion(
            name="c",
            kinds=draw(kinds),
            where=draw(where),
            at_least=draw(st.integers(min_value=2, max_value=3)),
            within_days=draw(days),
            window_days=draw(st.none() | days),
            points=draw(points),
        )
    return ActivityCriterion(
        name="c",
        kinds=draw(kinds),
        where=draw(where),
        count=draw(st.sampled_from(["each", "once", "per_day"])),
        cap=draw(st.none() | st.sampled_from([1, 5, 30, 2.5])),
        window_days=draw(st.none() | days),
        half_life_days=draw(st.none() | days),
        points=draw(points),
    )


activity = st.tuples(
    st.sampled_from(KINDS),
    # Seconds before NOW (negative: not yet happened), with microseconds; or whole half days,
    # which land on the edges of windows, spans and inactivity.
    st.floats(min_value=-86400, max_value=150 * 86400, allow_nan=False)
    | st.integers(min_value=-2, max_value=24).map(lambda half_days: half_days * 43200.0),
    st.sampled_from(["web", "email", "", " "]),
    st.dictionaries(st.sampled_from(["url", "n"]), json_values, max_size=2),
)


def _spec(criterion: Criterion, default_half_life: float | None) -> ModelSpec:
    return ModelSpec(
        slug="m",
        name="m",
        mql_threshold=100,
        decay_half_life_days=default_half_life,
        bands=(Band("all", 0),),
        criteria=(criterion,),
    )


def store_history(lead: Lead, history: list[tuple]) -> None:
    """The lead's activities, each (kind, seconds before NOW, channel, properties)."""
    Activity.objects.bulk_create(
        Activity(
            lead=lead,
            kind=kind,
            occurred_at=NOW - timedelta(seconds=seconds),
            channel=channel,
            properties=properties,
            source="test",
        )
        for kind, seconds, channel, properties in history
    )


def _store(histories: list[tuple[float, list[tuple]]]) -> list[int]:
    ids = []
    for created_days, history in histories:
        lead = LeadFactory(created_at=NOW - timedelta(days=created_days))
        store_history(lead, history)
        ids.append(lead.pk)
    return ids


def _compare(spec: ModelSpec, lead_ids: list[int]) -> set[int]:
    """Assert that the database (with the engine for the leads it leaves undecided) equals the
    engine for every criterion of `spec`, all evaluated in one statement; return the leads
    undecided for any."""
    results = criteria_amounts(
        spec.criteria,
        spec,
        leads="SELECT unnest(%(ids)s::bigint[]) AS lead_id",
        params={"ids": lead_ids},
        now=NOW,
        tz=TZ,
        lead_range=(min(lead_ids), max(lead_ids)),
    )
    activities = activities_by_lead(lead_ids)
    created = dict(Lead.objects.filter(pk__in=lead_ids).values_list("pk", "created_at"))
    undecided: set[int] = set()
    for criterion, decided in zip(spec.criteria, results, strict=True):
        assert decided is not None, criterion
        undecided |= decided.undecided
        alone = replace(spec, criteria=(criterion,))
        for lead_id in set(lead_ids) - decided.undecided:
            facts = LeadFacts({}, created_at=created[lead_id])
            result = score_lead(alone, facts, activities.get(lead_id, ()), NOW, TZ)
            expected = {(c.points, c.evidence_count) for c in result.contributions}
            got = {decided.found[lead_id]} if lead_id in decided.found else set()
            assert got == expected, (criterion, lead_id, activities.get(lead_id))
    return undecided


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    several=st.lists(criteria(), min_size=1, max_size=3),
    default_half_life=st.none() | days,
    histories=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=200) | st.integers(0, 24).map(lambda n: n / 2),
            st.lists(activity, max_size=8),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_the_database_decides_as_the_engine(several, default_half_life, histories):
    with transaction.atomic():
        spec = replace(_spec(several[0], default_half_life), criteria=tuple(several))
        _compare(spec, _store(histories))
        transaction.set_rollback(True)


def test_plain_values_are_all_decided_by_the_database():
    """ASCII strings, integers and decayed sums away from a half cent need no engine at all."""
    history = [
        ("page_view", s * 3600.5, "web", {"url": url, "n": n})
        for s, (url, n) in enumerate(
            [("/pricing", 3), ("/jobs", 150), ("/pricing/x", "12"), ("/", True), (" /a ", 7)] * 4
        )
    ]
    ids = _store([(30, history), (100, history[:3]), (100, []), (20, []), (5, [])])
    plain = [
        ActivityCriterion(
            name="c", kinds=("page_view",), where=(Condition("url", "starts_with", "/pricing"),),
            count="each", half_life_days=30, cap=25, points=10,
        ),
        ActivityCriterion(
            name="c", where=(Condition("n", "between", (5, 200)),), count="per_day", points=3,
        ),
        ActivityCriterion(
            name="c", where=(Condition("url", "icontains", "PRICING"),), count="once", points=5,
        ),
        FrequencyCriterion(
            name="c", kinds=("page_view",), where=(Condition("n", "not_equals", 3),),
            at_least=3, within_days=0.5, points=15,
        ),
        InactivityCriterion(name="c", days=20, points=-20),
    ]  # fmt: skip
    found = []
    for criterion in plain:
        assert _compare(_spec(criterion, None), ids) == set()
        found.append(
            criterion_amounts(
                criterion,
                _spec(criterion, None),
                leads="SELECT unnest(%(ids)s::bigint[]) AS lead_id",
                params={"ids": ids},
                now=NOW,
                tz=TZ,
            ).found  # fmt: skip
        )
    # Not a vacuous agreement: every criterion finds something.
    assert all(found)
    # Exactly 20 days without activity is inactive.
    assert found[4] == {ids[2]: (Decimal("-20.00"), 1), ids[3]: (Decimal("-20.00"), 1)}


@pytest.mark.parametrize(
    ("value", "condition", "decided"),
    [
        (1.5, Condition("url", "equals", 1.5), True),
        (
            0.1234567890123456,
            Condition("url", "equals", 0.5),
            False,
        ),  # 16 digits: more than a float surely keeps
        ("\xa0", Condition("url", "is_set"), False),  # a blank only str.strip() knows
        (" yes ", Condition("url", "equals", True), True),
        ("\x1ctrue", Condition("url", "equals", True), False),
        ("Straße", Condition("url", "icontains", "ss"), False),  # casefold() makes it "strasse"
        ("plain", Condition("url", "icontains", "ss"), True),
    ],
)
def test_values_the_database_cannot_coerce_go_to_the_engine(value, condition, decided):
    ids = _store([(10, [("page_view", 60.0, "web", {"url": value})])])
    criterion = ActivityCriterion(name="c", where=(condition,), points=5)
    assert (_compare(_spec(criterion, None), ids) == set()) is decided
