"""The rescoring pipeline in one process: ingestion, coalescing, runs, crossings, daily refresh."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from scoring import tasks
from scoring.ingest import (
    PENDING_STALE,
    activities_ingest,
    pending_done,
    pending_take,
    pending_waiting,
    rescore_request,
)
from scoring.models import (
    Handoff,
    HandoffAction,
    Lead,
    LeadScore,
    LifecycleStage,
    PendingRescore,
    RescoreRun,
    ScoreEvent,
    ScoreEventKind,
    ScoringModel,
)
from scoring.rescoring import compute_scores, leads_rescore, published_models, scores_upsert
from scoring.runs import chunk_ranges, run_chunk, run_start
from scoring.services import scoring_model_draft_definition, scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]
MODEL = {
    "slug": "m", "name": "M", "mql_threshold": 50, "sla_hours": 48,
    "sla_by_kind": [{"kind": "webinar_attended", "hours": 12}],
    "bands": [{"label": "cold", "min": 0}, {"label": "warm", "min": 30}, {"label": "hot", "min": 50}],
    "criteria": [
        {"name": "Target account", "type": "attribute", "field": "account.is_target_account",
         "op": "equals", "value": True, "points": 20},
        {"name": "Page views", "type": "activity", "kinds": ["page_view"], "points": 5,
         "cap": 25},
        {"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"], "points": 30,
         "count": "once"},
    ],
}  # fmt: skip
DECAYING = {
    "slug": "decaying", "name": "Decaying", "mql_threshold": 100,
    "bands": [{"label": "all", "min": 0}],
    "criteria": [{"name": "Demo", "type": "activity", "kinds": ["demo_request"], "points": 40,
                  "half_life_days": 10}],
}  # fmt: skip


@pytest.fixture
def model(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model, _ = scoring_model_load(data=MODEL)
    return scoring_model


def _score(lead: Lead, slug: str = "m") -> LeadScore:
    return LeadScore.objects.get(lead=lead, scoring_model__slug=slug)


def _page_views(lead: Lead, count: int, *, prefix: str = "pv") -> list[dict]:
    return [
        {"lead_id": lead.pk, "kind": "page_view", "external_id": f"{prefix}-{i}",
         "occurred_at": (NOW - timedelta(minutes=i)).isoformat(), "properties": {"url": "/p"}}
        for i in range(count)
    ]  # fmt: skip


# --- ingestion -----------------------------------------------------------------------------------


def test_an_ingested_event_updates_its_leads_score(model, django_capture_on_commit_callbacks):
    lead = LeadFactory(account=AccountFactory(is_target_account=True))
    with django_capture_on_commit_callbacks(execute=True):
        result = activities_ingest(_page_views(lead, 2), now=NOW)
    assert (result.created, result.duplicates, result.rejected) == (2, 0, [])
    score = _score(lead)
    assert (score.fit, score.engagement, score.total) == (20, 10, 30)
    assert not PendingRescore.objects.exists()


def test_a_redelivered_batch_creates_nothing_and_bad_items_are_reported_by_index(model):
    lead = LeadFactory()
    batch = [
        *_page_views(lead, 2),
        {"lead_id": lead.pk, "occurred_at": "yesterday", "kind": "page_view"},
        {"email": "nobody@example.de", "kind": "page_view"},
        {"lead_id": lead.pk, "kind": "page_view", "properties": ["not", "an", "object"]},
        {"lead_id": lead.pk, "email": lead.email, "kind": "page_view"},
        "not an object",
    ]
    first = activities_ingest(batch, now=NOW)
    again = activities_ingest(batch, now=NOW)
    assert (first.created, first.duplicates) == (2, 0)
    assert (again.created, again.duplicates) == (0, 2)
    assert [(r.index, r.reason) for r in first.rejected] == [
        (2, "occurred_at: must be an ISO 8601 timestamp"),
        (3, "email: no lead 'nobody@example.de'"),
        (4, "properties: must be an object"),
        (5, "lead: give exactly one of lead_id, email or lead_external_id"),
        (6, "must be an object"),
    ]
    assert lead.activities.count() == 2


def test_unknown_emails_create_leads_when_asked(model):
    result = activities_ingest(
        [{"email": "New.Person@Example.de", "kind": "page_view"},
         {"email": "new.person@example.de", "kind": "page_view"}],
        source="website", create_leads=True, now=NOW,
    )  # fmt: skip
    assert (result.created, result.leads_created) == (2, 1)
    lead = Lead.objects.get(email__iexact="new.person@example.de")
    assert lead.source == "website" and lead.activities.count() == 2


def test_a_burst_of_events_for_one_lead_is_rescored_once(
    model, django_capture_on_commit_callbacks, monkeypatch
):
    lead = LeadFactory()
    rescored: list[list[int]] = []
    real = tasks.leads_rescore
    monkeypatch.setattr(
        tasks, "leads_rescore", lambda **kw: rescored.append(kw["lead_ids"]) or real(**kw)
    )
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(20):
            activities_ingest(_page_views(lead, 1, prefix=f"burst-{i}"), now=NOW)
        assert PendingRescore.objects.count() == 1
    assert rescored == [[lead.pk]]
    assert _score(lead).engagement == 25  # 20 views at 5 points, capped at 25


def test_a_request_during_its_leads_rescore_keeps_the_lead_waiting(model):
    first, second = LeadFactory(), LeadFactory()
    rescore_request([first.pk, second.pk])
    token, taken = pending_take(10)
    assert taken == sorted([first.pk, second.pk])
    assert pending_take(10)[1] == []  # taken leads are not handed out twice
    assert not pending_waiting()
    rescore_request([second.pk])  # new data for `second` while its flush runs
    pending_done(token, rescored=True)
    assert list(PendingRescore.objects.values_list("lead_id", flat=True)) == [second.pk]
    assert pending_waiting()
    assert pending_take(10)[1] == [second.pk]


def test_a_lead_asked_for_again_while_waiting_keeps_its_place(model):
    # Otherwise a lead whose events keep coming would keep going to the back of the queue.
    busy, quiet = LeadFactory(), LeadFactory()
    rescore_request([busy.pk])
    with time_machine.travel(timezone.now() + timedelta(seconds=1), tick=False):
        rescore_request([quiet.pk])
    with time_machine.travel(timezone.now() + timedelta(seconds=2), tick=False):
        rescore_request([busy.pk])
    assert pending_take(1)[1] == [busy.pk]


def test_a_failed_flush_hands_its_leads_back_and_a_dead_one_is_taken_over(model):
    lead = LeadFactory()
    rescore_request([lead.pk])
    token, _ = pending_take(10)
    pending_done(token, rescored=False)
    assert pending_waiting()
    token, taken = pending_take(10)
    assert taken == [lead.pk]
    # The taker dies without a word; after PENDING_STALE another flush takes the lead.
    later = timezone.now() + PENDING_STALE + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert pending_waiting()
        assert pending_take(10)[1] == [lead.pk]


# --- crossings -----------------------------------------------------------------------------------


def test_crossing_into_mql_records_an_event_and_hands_the_lead_to_sales(
    model, django_capture_on_commit_callbacks
):
    lead = LeadFactory(account=AccountFactory(is_target_account=True))
    with django_capture_on_commit_callbacks(execute=True):
        activities_ingest(_page_views(lead, 1), now=NOW)
    assert _score(lead).total == 25 and not Handoff.objects.exists()
    with (
        time_machine.travel(NOW + timedelta(minutes=10)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        activities_ingest(
            [{"lead_id": lead.pk, "kind": "webinar_attended",
              "occurred_at": (NOW + timedelta(minutes=5)).isoformat()}]
        )  # fmt: skip
    score = _score(lead)
    assert score.total == 55 and score.mql
    events = {e.kind: e for e in ScoreEvent.objects.filter(lead=lead)}
    assert set(events) == {ScoreEventKind.MQL_REACHED, ScoreEventKind.BAND_CHANGED}
    reached = events[ScoreEventKind.MQL_REACHED]
    assert (reached.from_total, reached.to_total) == (25, 55)
    assert reached.reason == "score 25 → 55 (MQL at 50); Webinar +30"
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.score_at_handoff == 55 and handoff.trigger.startswith("webinar_attended at ")
    # The webinar's own SLA (12 h) applies, not the model's 48 h.
    assert handoff.sla_due_at == score.computed_at + timedelta(hours=12)
    assert handoff.actions.get().kind == HandoffAction.Kind.CREATED


def test_a_handoff_is_triggered_by_the_latest_activity_that_has_happened(model):
    """An activity dated after the rescore (a booked event, a clock ahead) is no trigger."""
    lead = LeadFactory(account=AccountFactory(is_target_account=True))
    ActivityFactory(lead=lead, kind="page_view", occurred_at=NOW - timedelta(hours=2))
    ActivityFactory(lead=lead, kind="webinar_attended", occurred_at=NOW - timedelta(hours=1))
    ActivityFactory(lead=lead, kind="email_open", occurred_at=NOW + timedelta(days=2))
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.trigger == f"webinar_attended at {(NOW - timedelta(hours=1)).isoformat()}"
    assert handoff.sla_due_at == NOW + timedelta(hours=12)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.MQL


def test_no_second_handoff_while_one_is_open_and_falling_back_is_an_event(
    model, django_capture_on_commit_callbacks
):
    lead = LeadFactory(account=AccountFactory(is_target_account=True))
    with django_capture_on_commit_callbacks(execute=True):
        activities_ingest(
            [{"lead_id": lead.pk, "kind": "webinar_attended", "occurred_at": NOW.isoformat()}]
        )
    assert Handoff.objects.filter(lead=lead).count() == 1
    # The target-account flag goes away: 30 points, below the threshold.
    lead.account.is_target_account = False
    lead.account.save()
    with django_capture_on_commit_callbacks(execute=True):
        rescore_request([lead.pk])
    lost = ScoreEvent.objects.get(lead=lead, kind=ScoreEventKind.MQL_LOST)
    assert (lost.from_total, lost.to_total) == (50, 30)
    assert "Target account -20" in lost.reason
    # Back over the threshold while the first handoff is still open: no second one.
    lead.account.is_target_account = True
    lead.account.save()
    with django_capture_on_commit_callbacks(execute=True):
        rescore_request([lead.pk])
    assert ScoreEvent.objects.filter(lead=lead, kind=ScoreEventKind.MQL_REACHED).count() == 2
    assert Handoff.objects.filter(lead=lead).count() == 1


# --- full runs -----------------------------------------------------------------------------------


def test_publishing_rescores_every_lead_and_the_run_completes(
    model, django_capture_on_commit_callbacks
):
    leads = [LeadFactory(account=AccountFactory(is_target_account=i % 2 == 0)) for i in range(7)]
    data = {**scoring_model_draft_definition(scoring_model=model), "mql_threshold": 10}
    with django_capture_on_commit_callbacks(execute=True):
        _, version = scoring_model_load(data=data, note="lower threshold")
    run = RescoreRun.objects.filter(version=version).get()
    assert (run.status, run.trigger) == (RescoreRun.Status.DONE, RescoreRun.Trigger.PUBLISH)
    assert (run.total, run.done, run.failed, run.percent) == (7, 7, 0, 100)
    assert run.finished_at is not None
    assert LeadScore.objects.filter(version=version).count() == len(leads)
    # The lower threshold makes the four target-account leads MQLs, each handed to sales once.
    assert Handoff.objects.count() == 4


@pytest.mark.postgres
def test_a_finished_run_leaves_the_planner_statistics_of_what_it_wrote(
    model, django_capture_on_commit_callbacks
):
    for i in range(9):
        LeadFactory(account=AccountFactory(is_target_account=i % 2 == 0))
    data = {**scoring_model_draft_definition(scoring_model=model), "mql_threshold": 10}
    tables = ["scoring_leadscore", "scoring_handoff"]

    def estimated_rows() -> list[float]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE relname = ANY(%s) ORDER BY relname DESC",
                [tables],
            )
            return [rows for (rows,) in cursor.fetchall()]

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")  # as before any score existed
    assert estimated_rows() == [0, 0]
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model_load(data=data, note="lower threshold")
    assert estimated_rows() == [9, 5]  # every lead scored, the five target-account MQLs


def test_chunks_cover_every_lead_once_whatever_the_gaps_in_ids():
    leads = LeadFactory.create_batch(11)
    Lead.objects.filter(pk__in=[leads[3].pk, leads[4].pk, leads[8].pk]).delete()
    ranges = chunk_ranges(chunk_size=3)
    assert [r.leads for r in ranges] == [3, 3, 2]
    covered = [
        pk
        for r in ranges
        for pk in Lead.objects.filter(pk__gte=r.first_id, pk__lte=r.last_id).values_list(
            "pk", flat=True
        )
    ]
    assert sorted(covered) == sorted(Lead.objects.values_list("pk", flat=True))


def test_a_newer_run_supersedes_a_running_one_whose_chunks_then_do_nothing(model):
    LeadFactory.create_batch(5)
    older, older_ranges = run_start(scoring_model_id=model.pk, trigger="manual", chunk_size=2)
    assert run_chunk(run_id=older.pk, chunk=older_ranges[0]) == "done"
    newer, newer_ranges = run_start(scoring_model_id=model.pk, trigger="manual", chunk_size=2)
    older.refresh_from_db()
    assert older.status == RescoreRun.Status.SUPERSEDED and older.finished_at is not None
    assert run_chunk(run_id=older.pk, chunk=older_ranges[1]) == "superseded"
    older.refresh_from_db()
    assert (older.done, older.chunks_finished) == (2, 1)
    for chunk in newer_ranges:
        run_chunk(run_id=newer.pk, chunk=chunk)
    newer.refresh_from_db()
    assert (newer.status, newer.done, newer.total) == (RescoreRun.Status.DONE, 5, 5)


def test_a_redelivered_chunk_counts_once(model):
    LeadFactory.create_batch(3)
    run, ranges = run_start(scoring_model_id=model.pk, trigger="manual", chunk_size=2)
    assert run_chunk(run_id=run.pk, chunk=ranges[0]) == "done"
    assert run_chunk(run_id=run.pk, chunk=ranges[0]) == "repeat"
    run.refresh_from_db()
    assert (run.done, run.chunks_finished, run.status) == (2, 1, RescoreRun.Status.RUNNING)


def test_a_chunk_that_keeps_failing_is_counted_and_the_run_ends_failed(model, monkeypatch):
    LeadFactory.create_batch(3)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    first_runs = list(RescoreRun.objects.values_list("pk", flat=True))
    monkeypatch.setattr("scoring.runs.leads_rescore_chunk", broken)
    with pytest.raises(RuntimeError):
        tasks.rescore_model.delay(model.pk)
    run = RescoreRun.objects.exclude(pk__in=first_runs).get()
    # The only chunk gave up after its retries; its leads count as failed.
    assert (run.status, run.failed, run.done, run.chunks_finished) == (
        RescoreRun.Status.FAILED,
        3,
        0,
        1,
    )


# --- guarded writes ------------------------------------------------------------------------------


def test_a_newer_version_wins_even_over_a_later_write_of_an_older_version(
    model, django_capture_on_commit_callbacks
):
    lead = LeadFactory()
    old_models = published_models()
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model_load(
            data={**scoring_model_draft_definition(scoring_model=model), "mql_threshold": 1}
        )
    new_models = published_models()
    # The publish already stored a version-2 score; these writes all come after it.
    at = timezone.now() + timedelta(days=1)
    newer = compute_scores(lead_ids=[lead.pk], models=new_models, now=at)
    later_but_older = compute_scores(lead_ids=[lead.pk], models=old_models, now=at + timedelta(1))
    assert set(scores_upsert(newer.rows).rows()) == {(lead.pk, model.pk)}
    assert set(scores_upsert(later_but_older.rows).rows()) == set()
    # Same version: only a later computation replaces an earlier one.
    earlier = compute_scores(lead_ids=[lead.pk], models=new_models, now=at - timedelta(hours=1))
    assert set(scores_upsert(earlier.rows).rows()) == set()
    assert _score(lead).version.number == 2 and _score(lead).computed_at == at


# --- time ----------------------------------------------------------------------------------------


def test_the_daily_refresh_lowers_a_decayed_score_and_skips_timeless_models(
    model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model_load(data=DECAYING)
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind="demo_request", occurred_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        rescore_request([lead.pk])
    assert _score(lead, "decaying").total == 40
    with time_machine.travel(timezone.now() + timedelta(days=10, minutes=1)):
        started = tasks.refresh_time_dependent_scores.delay().get()
    assert started == [ScoringModel.objects.get(slug="decaying").pk]
    assert _score(lead, "decaying").total == Decimal("20.00")
    run = RescoreRun.objects.get(trigger=RescoreRun.Trigger.DAILY)
    assert run.status == RescoreRun.Status.DONE and run.done == 1


def test_verify_scores_finds_no_drift_after_the_pipeline_ran(
    model, django_capture_on_commit_callbacks
):
    leads = LeadFactory.create_batch(4, account=AccountFactory(is_target_account=True))
    with django_capture_on_commit_callbacks(execute=True):
        for i, lead in enumerate(leads):
            activities_ingest(_page_views(lead, i + 1, prefix=f"v{i}"), now=NOW)
    out = StringIO()
    call_command("verify_scores", stdout=out)
    assert "0 differences" in out.getvalue()
