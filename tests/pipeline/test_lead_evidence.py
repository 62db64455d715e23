"""The evidence on the lead page numbers exactly what the engine counted, for random journeys."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.charts import line_chart
from pipeline.evidence import criterion_evidence, explain, score_history
from scoring.definition import InactivityCriterion, parse_model
from scoring.engine import ActivityFact, LeadFacts, evidence_activities, score_lead
from tests.pipeline.conftest import MODEL

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.clock(NOW)
TZ = ZoneInfo("Europe/Berlin")
SPEC = parse_model(MODEL)
LEAD = LeadFacts(
    fields={"email": "a@b.de"},
    account_fields={"is_target_account": True},
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)
URLS = ["/pricing", "/pricing/enterprise", "/blog", "/jobs", "/contact"]
KINDS = ["page_view", "page_view", "page_view", "webinar_attended", "email_open"]


def _journey(rng: random.Random) -> list[ActivityFact]:
    return [
        ActivityFact(
            kind=rng.choice(KINDS),
            # Minutes apart at random, around midnight too, so calendar days in Berlin matter.
            occurred_at=NOW - timedelta(minutes=rng.randint(-600, 150 * 24 * 60)),
            properties={"url": rng.choice(URLS)},
        )
        for _ in range(rng.randint(0, 40))
    ]


@pytest.mark.parametrize("seed", range(60))
def test_evidence_matches_the_engine_for_every_criterion(seed):
    rng = random.Random(seed)
    activities = _journey(rng)
    result = score_lead(SPEC, LEAD, activities, NOW, TZ)
    explanation = [c.to_dict() for c in result.contributions]
    rows = explain(SPEC, explanation, LEAD, activities, NOW, TZ)
    assert [r.name for r in rows] == [c.criterion for c in result.contributions]
    assert all(r.consistent for r in rows), [(r.name, r.evidence_count) for r in rows]
    for row in rows:
        assert row.evidence is not None
        if row.type in ("activity", "frequency"):
            assert len(row.evidence.activities) == row.evidence_count
            assert all(a.occurred_at <= NOW for a in row.evidence.activities)


def test_once_counts_only_the_latest_and_per_day_the_latest_of_each_day():
    day = datetime(2026, 11, 18, 8, 0, tzinfo=UTC)
    views = [
        ActivityFact("page_view", day, {"url": "/pricing"}),
        ActivityFact("page_view", day + timedelta(hours=3), {"url": "/pricing/b"}),
        ActivityFact("page_view", day + timedelta(days=1), {"url": "/blog"}),
    ]
    by_name = {c.name: c for c in SPEC.criteria}
    pricing = evidence_activities(by_name["Pricing page"], views, NOW, TZ)
    assert pricing == [views[1]]
    assert evidence_activities(by_name["Browsing day"], views, NOW, TZ) == [views[2], views[1]]


def test_a_criterion_missing_from_the_rules_is_flagged_not_invented():
    stored = [{"criterion": "Old rule", "type": "activity", "points": 5, "evidence_count": 2}]
    (row,) = explain(SPEC, stored, LEAD, [], NOW, TZ)
    assert row.evidence is None and not row.consistent


def test_history_replays_the_engine_day_by_day():
    activities = _journey(random.Random(7))
    history = score_history(SPEC, LEAD, activities, until=NOW, days=90, tz=TZ)
    assert len(history) == 91 and history[-1].at == NOW and history[0].at == NOW - timedelta(90)
    for point in (history[0], history[45], history[-1]):
        assert point.total == float(score_lead(SPEC, LEAD, activities, point.at, TZ).total)


def test_the_chart_scales_values_and_the_threshold_into_the_plot():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    chart = line_chart(
        [(start + timedelta(days=i), v) for i, v in enumerate([0, 50, 250])], threshold=100
    )
    assert chart is not None
    xs_ys = [tuple(map(float, p.split(","))) for p in chart.points.split()]
    assert xs_ys[0][0] == chart.plot_left and xs_ys[-1][0] == chart.plot_right
    assert xs_ys[0][1] == chart.plot_bottom  # 0 sits on the axis
    assert xs_ys[2][1] < chart.threshold_y < xs_ys[1][1]  # 250 above the MQL line, 50 below
    assert [t.label for t in chart.y_ticks] == ["0", "100", "250"]
    assert line_chart([(start, 1.0)], threshold=100) is None


def test_inactivity_is_counted_from_the_newest_activity_of_its_kinds_that_has_happened():
    at = [NOW - timedelta(days=days) for days in (40, 10, -1)]
    activities = [
        ActivityFact(kind="webinar_attended", occurred_at=at[0]),
        ActivityFact(kind="page_view", occurred_at=at[1]),
        ActivityFact(kind="webinar_attended", occurred_at=at[2]),  # tomorrow: not yet
    ]
    any_kind = InactivityCriterion(name="Quiet", days=30, points=-5)
    webinars = InactivityCriterion(name="No webinar", days=30, points=-5,
                                   kinds=("webinar_attended",))  # fmt: skip
    assert criterion_evidence(any_kind, LEAD, activities, NOW, TZ).last_activity_at == at[1]
    assert criterion_evidence(webinars, LEAD, activities, NOW, TZ).last_activity_at == at[0]
    assert criterion_evidence(webinars, LEAD, [], NOW, TZ).last_activity_at is None
