"""The stored part of the queue priority stays current, and the queue's merged read order equals
sorting every handoff by its full priority."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from pipeline.handoffs import handoff_accept, handoff_qualify
from pipeline.priority import INTENT_DAYS, with_priority
from pipeline.selectors import PrioritizedIds
from pipeline.services import priorities_refresh
from scoring.models import Handoff, HandoffStatus, priority_not_computed
from scoring.rescoring import leads_rescore
from tests.factories import ActivityFactory
from tests.pipeline.conftest import NOW

pytestmark = pytest.mark.django_db


def _stored(handoff: Handoff) -> Handoff:
    return Handoff.objects.get(pk=handoff.pk)


def test_a_rescore_stores_the_new_score_and_buying_signal(
    make_handoff, django_capture_on_commit_callbacks
):
    now = timezone.now()
    handoff = make_handoff(intent=None, score=120, now=now)
    assert (handoff.buyer_stage, handoff.score_points) == ("awareness", 18)
    for _ in range(3):
        ActivityFactory(lead=handoff.lead, kind="page_view", occurred_at=now - timedelta(hours=1),
                        properties={"url": "/pricing"})  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        leads_rescore(lead_ids=[handoff.lead_id], now=now)
    stored = _stored(handoff)
    new_total = float(handoff.lead.scores.get().total)
    assert stored.buyer_stage == "decision"
    assert stored.score_points == pytest.approx(min(new_total / 100, 2) * 15)
    assert stored.priority_base == pytest.approx(15 + 30 + stored.score_points)  # medium company
    assert stored.priority_until == now - timedelta(hours=1) + timedelta(days=INTENT_DAYS)


def test_qualifying_moves_the_lead_to_the_decision_stage(
    make_handoff, sales_user, django_capture_on_commit_callbacks
):
    handoff = make_handoff(intent=None)
    with django_capture_on_commit_callbacks(execute=True):
        handoff_accept(handoff_id=handoff.pk, user=sales_user)
        handoff_qualify(handoff_id=handoff.pk, user=sales_user)
    assert _stored(handoff).buyer_stage == "decision"
    assert _stored(handoff).priority_until is None


def test_a_buying_signal_leaving_the_window_lowers_the_stage_when_due(make_handoff):
    handoff = make_handoff(intent="decision")  # a pricing page two days before NOW
    assert handoff.priority_until == NOW - timedelta(days=2) + timedelta(days=INTENT_DAYS)
    assert priorities_refresh(now=NOW) == 0  # nothing due yet
    later = handoff.priority_until + timedelta(minutes=1)
    assert priorities_refresh(now=later) == 1
    stored = _stored(handoff)
    assert (stored.buyer_stage, stored.priority_until) == ("awareness", None)
    assert priorities_refresh(now=later) == 0


def test_handoffs_never_computed_are_due_and_the_nightly_run_takes_every_open_one(make_handoff):
    computed, fresh = make_handoff(), make_handoff()
    Handoff.objects.filter(pk=fresh.pk).update(
        priority_until=priority_not_computed(), size_band="", buyer_stage="", priority_base=0
    )
    closed = make_handoff(status=HandoffStatus.WON)
    assert priorities_refresh(now=NOW) == 1
    assert _stored(fresh).size_band == "medium"
    assert priorities_refresh(due_only=False, now=NOW) == 2  # the closed one stays as it was
    assert {computed.pk, fresh.pk, closed.pk} == set(Handoff.objects.values_list("pk", flat=True))


def test_refreshing_in_batches_covers_every_handoff(make_handoff, monkeypatch):
    monkeypatch.setattr("pipeline.services.PRIORITY_BATCH", 2)
    handoffs = [make_handoff() for _ in range(5)]
    Handoff.objects.update(priority_until=priority_not_computed(), priority_base=0)
    assert priorities_refresh(now=NOW) == 5
    assert all(_stored(h).priority_base > 0 for h in handoffs)


def test_the_merged_read_equals_sorting_every_handoff_by_its_priority(make_handoff, sales_user):
    rng = random.Random(5)
    for _ in range(40):
        make_handoff(
            employees=rng.choice([None, 10, 120, 900]),
            intent=rng.choice([None, "decision", "consideration", "stale"]),
            score=rng.choice([40, 100, 150, 150, 250]),
            due_in=rng.choice([-30, -2, 1, 3, 8, 20, 30, 100]),
            status=rng.choice([HandoffStatus.NEW] * 3 + [HandoffStatus.ACCEPTED]),
        )
    every = with_priority(Handoff.objects.all(), now=NOW)
    expected = [h.pk for h in sorted(every, key=lambda h: (-h.priority, h.sla_due_at, h.pk))]
    ordered = PrioritizedIds(Handoff.objects.all(), now=NOW)
    assert ordered[:40] == expected
    assert ordered[7:19] == expected[7:19]  # any page, not only the first
    assert ordered.count() == 40


_PRIORITY = ("score_band", "size_band", "buyer_stage", "score_points", "priority_base",
             "priority_until")  # fmt: skip


@pytest.mark.parametrize(
    ("employees", "signal", "pricing"),
    [
        (150, "demo_request", "/pricing"),
        (600, "webinar_attended", "/pricing"),
        (None, "page_view", "/pricing"),
        (10, None, "/pricing"),
        (10, None, "https://www.firma.de/pricing?plan=team"),
        (10, None, "https://www.firma.de/blog/pricing-tips"),
    ],
)
def test_a_handoff_opened_by_a_rescore_carries_the_priority_a_refresh_would_store(
    model, django_capture_on_commit_callbacks, employees, signal, pricing
):
    from pipeline.services import handoffs_reprioritize
    from tests.factories import AccountFactory, LeadFactory

    now = timezone.now()
    account = AccountFactory(employee_count=employees, is_target_account=True)
    lead = LeadFactory(account=account if employees else None)
    # Over the threshold of 100 even without the target account: visits 30, browsing days 14,
    # pricing 10, busy week 15, the webinar's decayed 36.7.
    for day in range(30):
        ActivityFactory(lead=lead, kind="page_view", occurred_at=now - timedelta(hours=day * 5),
                        properties={"url": pricing})  # fmt: skip
    ActivityFactory(lead=lead, kind="webinar_attended", occurred_at=now - timedelta(days=40))
    if signal:
        ActivityFactory(lead=lead, kind=signal, occurred_at=now - timedelta(days=2))
    # Stored with the handoff itself, before anything runs after the commit.
    with django_capture_on_commit_callbacks(execute=False):
        leads_rescore(lead_ids=[lead.pk], now=now)
    opened = Handoff.objects.get(lead=lead)
    assert opened.priority_until != priority_not_computed()
    assert opened.priority_base > 0
    at_opening = {name: getattr(opened, name) for name in _PRIORITY}
    handoffs_reprioritize(Handoff.objects.filter(pk=opened.pk), now=now)
    assert {name: getattr(_stored(opened), name) for name in _PRIORITY} == at_opening
