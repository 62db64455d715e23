"""The SLA beat task marks each unanswered handoff past its deadline once, with a logged action."""

from datetime import timedelta

import pytest
import time_machine

from pipeline import services, tasks
from pipeline.services import handoffs_mark_sla_breached
from pipeline.signals import handoff_changed
from scoring.models import HandoffAction, HandoffStatus
from tests.pipeline.conftest import NOW

pytestmark = pytest.mark.django_db


def test_only_new_handoffs_past_their_deadline_are_marked(make_handoff):
    overdue = make_handoff(due_in=-2)
    still_in_time = make_handoff(due_in=1)
    answered = make_handoff(due_in=-2, status=HandoffStatus.ACCEPTED)
    closed = make_handoff(due_in=-2, status=HandoffStatus.REJECTED)
    assert handoffs_mark_sla_breached(now=NOW) == 1
    for handoff in (overdue, still_in_time, answered, closed):
        handoff.refresh_from_db()
    assert overdue.sla_breached_at == NOW
    assert [still_in_time.sla_breached_at, answered.sla_breached_at, closed.sla_breached_at] == [
        None, None, None,
    ]  # fmt: skip
    action = overdue.actions.get()
    assert (action.kind, action.user, action.at) == (HandoffAction.Kind.SLA_BREACHED, None, NOW)


def test_a_breach_is_marked_once_however_often_the_task_runs(make_handoff):
    handoff = make_handoff(due_in=-2)
    assert handoffs_mark_sla_breached(now=NOW) == 1
    assert handoffs_mark_sla_breached(now=NOW + timedelta(minutes=5)) == 0
    handoff.refresh_from_db()
    assert handoff.sla_breached_at == NOW
    assert handoff.actions.filter(kind=HandoffAction.Kind.SLA_BREACHED).count() == 1


def test_breaches_are_marked_in_batches(make_handoff, monkeypatch):
    monkeypatch.setattr(services, "SLA_BATCH", 2)
    for _ in range(5):
        make_handoff(due_in=-1)
    assert handoffs_mark_sla_breached(now=NOW) == 5
    assert HandoffAction.objects.filter(kind=HandoffAction.Kind.SLA_BREACHED).count() == 5


def test_each_breach_is_announced_after_commit(make_handoff, django_capture_on_commit_callbacks):
    first, second = make_handoff(due_in=-1), make_handoff(due_in=-3)
    heard = []

    def listen(sender, handoff_ids, action, **kwargs):  # type: ignore[no-untyped-def]
        heard.extend((pk, action) for pk in handoff_ids)

    handoff_changed.connect(listen)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            handoffs_mark_sla_breached(now=NOW)
        assert heard == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        handoff_changed.disconnect(listen)
    assert sorted(heard) == sorted([(first.pk, "sla_breached"), (second.pk, "sla_breached")])


def test_the_celery_task_uses_the_current_time(make_handoff):
    handoff = make_handoff(due_in=3)
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        assert tasks.mark_sla_breaches.apply().get() == 0
    with time_machine.travel(NOW + timedelta(hours=4), tick=False):
        assert tasks.mark_sla_breaches.apply().get() == 1
    handoff.refresh_from_db()
    assert handoff.sla_breached_at == NOW + timedelta(hours=4)


def test_the_task_runs_every_five_minutes_on_beat():
    from leadscoring.celery import app

    app.loader.import_default_modules()
    app.finalize(auto=True)
    entry = app.conf.beat_schedule["handoff SLA breaches"]
    assert entry["task"] == "pipeline.tasks.mark_sla_breaches"
    assert entry["schedule"] == 300.0
