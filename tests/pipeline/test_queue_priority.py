"""Queue order: lead triage (company size × buyer stage), then score, then time left to the SLA."""

from datetime import timedelta
from decimal import Decimal

import pytest

from pipeline.priority import TRIAGE_MATRIX, PriorityReason, with_priority
from pipeline.selectors import queue_handoffs
from pipeline.services import handoffs_reprioritize
from scoring.models import Account, Handoff, HandoffStatus
from tests.pipeline.conftest import NOW

pytestmark = pytest.mark.django_db
OPEN = {"status": "open", "model": "", "owner": "", "band": "", "source": "", "sla": ""}


def _annotated(handoff: Handoff) -> Handoff:
    return with_priority(Handoff.objects.all(), now=NOW).get(pk=handoff.pk)


def _why(handoff: Handoff) -> PriorityReason:
    return PriorityReason.of(_annotated(handoff))


def _order(user) -> list[int]:  # type: ignore[no-untyped-def]
    return queue_handoffs(values=OPEN, user=user, now=NOW)[:1000]


def _refreshed(handoff: Handoff) -> Handoff:
    handoffs_reprioritize(Handoff.objects.filter(pk=handoff.pk), now=NOW)
    return _annotated(handoff)


@pytest.mark.parametrize(
    "employees, band",
    [(1, "small"), (49, "small"), (50, "medium"), (249, "medium"), (250, "large"), (5000, "large")],
)
def test_company_size_band_follows_the_eu_sme_head_counts(make_handoff, employees, band):
    assert _annotated(make_handoff(employees=employees)).size_band == band


def test_revenue_decides_the_size_when_the_head_count_is_unknown(make_handoff):
    handoff = make_handoff(employees=None)
    assert _annotated(handoff).size_band == "small"
    Account.objects.filter(pk=handoff.lead.account_id).update(annual_revenue=Decimal(25_000_000))
    assert _refreshed(handoff).size_band == "medium"
    Account.objects.filter(pk=handoff.lead.account_id).update(annual_revenue=Decimal(80_000_000))
    assert _refreshed(handoff).size_band == "large"


def test_a_lead_without_company_is_a_consumer(make_handoff):
    assert _annotated(make_handoff(consumer=True)).size_band == "consumer"


@pytest.mark.parametrize(
    "intent, stage",
    [
        ("decision", "decision"),
        ("decision tracked", "decision"),
        ("tracked elsewhere", "awareness"),
        ("consideration", "consideration"),
        (None, "awareness"),
        ("stale", "awareness"),
    ],
)
def test_buyer_stage_comes_from_recent_buying_signals(make_handoff, intent, stage):
    assert _why(make_handoff(intent=intent)).buyer_stage == stage


def test_a_qualified_handoff_is_in_the_decision_stage(make_handoff):
    handoff = make_handoff(intent=None, status=HandoffStatus.QUALIFIED)
    assert _why(handoff).buyer_stage == "decision"


def test_triage_ranks_large_ready_buyers_first_and_small_browsers_last(make_handoff, sales_user):
    small_browsing = make_handoff(employees=10, intent=None)
    large_ready = make_handoff(employees=900, intent="decision")
    medium_comparing = make_handoff(employees=120, intent="consideration")
    large_browsing = make_handoff(employees=900, intent=None)
    assert _order(sales_user) == [
        large_ready.pk, medium_comparing.pk, large_browsing.pk, small_browsing.pk,
    ]  # fmt: skip


def test_every_cell_of_the_triage_matrix_is_applied(make_handoff):
    sizes = {"large": 900, "medium": 120, "small": 10}
    for (size, stage), points in TRIAGE_MATRIX.items():
        intent = {"decision": "decision", "consideration": "consideration"}.get(stage)
        if size == "consumer":
            handoff = make_handoff(consumer=True, intent=intent)
        else:
            handoff = make_handoff(employees=sizes[size], intent=intent)
        why = _why(handoff)
        assert (why.size_band, why.buyer_stage) == (size, stage)
        assert why.triage_points == points


def test_an_overdue_handoff_outranks_a_better_lead_that_still_has_time(make_handoff, sales_user):
    better_with_time = make_handoff(employees=900, intent="decision", due_in=40)
    overdue = make_handoff(employees=120, intent="consideration", due_in=-1)
    assert _order(sales_user) == [overdue.pk, better_with_time.pk]


def test_within_the_same_triage_and_urgency_the_higher_score_comes_first(make_handoff, sales_user):
    lower = make_handoff(score=110)
    higher = make_handoff(score=190)
    capped = make_handoff(score=900)  # beyond twice the threshold the score adds no more
    order = _order(sales_user)
    assert order.index(higher.pk) < order.index(lower.pk)
    assert _annotated(capped).score_points == _annotated(make_handoff(score=200)).score_points


def test_same_priority_falls_back_to_the_earlier_deadline(make_handoff, sales_user):
    later = make_handoff(due_in=60)
    sooner = make_handoff(due_in=50)
    assert _order(sales_user) == [sooner.pk, later.pk]


def test_the_database_orders_before_paging(make_handoff, sales_user):
    for due_in in (70, 60, 50):
        make_handoff(employees=10, due_in=due_in)
    top = make_handoff(employees=900, intent="decision", due_in=80)
    first_two = queue_handoffs(values=OPEN, user=sales_user, now=NOW)[:2]
    assert first_two[0] == top.pk  # reading two rows per urgency already finds the winner


def test_the_sla_urgency_buckets(make_handoff):
    states = {
        due_in: _annotated(make_handoff(due_in=due_in)).sla_state for due_in in (-3, 2, 10, 30)
    }
    assert states == {-3: "overdue", 2: "due_soon", 10: "due_today", 30: "later"}
    accepted = make_handoff(due_in=-3, status=HandoffStatus.ACCEPTED)
    assert _annotated(accepted).sla_state == "met"


def test_the_why_hint_names_each_part_of_the_priority(make_handoff):
    why = _why(make_handoff(employees=900, intent="decision", score=150, due_in=-1))
    assert (why.size, why.stage, why.sla) == ("Large company", "ready to buy", "overdue")
    assert why.score_percent == 150
    assert why.priority == why.triage_points + why.score_points + why.sla_points == 60 + 22.5 + 40


def test_the_current_score_is_used_not_only_the_one_at_handoff(make_handoff):
    handoff = make_handoff(score=120)
    handoff.lead.scores.update(total=Decimal(180))
    assert _refreshed(handoff).current_score == Decimal(180)
    assert _refreshed(handoff).score_points == 27
    assert NOW + timedelta(hours=40) == handoff.sla_due_at
