"""One lead scoring trips on is recorded and skipped; the other leads of its flush or chunk are
scored and stored as if it were not there.

The bad lead is a fault injected at the narrow seam that scores a set of leads
(rescoring.compute_scores) for any set holding it. Real data that once broke scoring (an activity
time that is infinite, or not a time at all) is read as no time and counts for nothing.
"""

import importlib
import math
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, OperationalError, connection, transaction
from django.urls import reverse

from scoring import rescoring, tasks
from scoring.ingest import rescore_request
from scoring.models import Lead, LeadScore, PendingRescore, RescoreRun, UnscorableLead
from scoring.rescoring import (
    SYSTEMATIC_FAILURES,
    leads_rescore,
    leads_rescore_chunk,
    published_models,
)
from scoring.runs import run_chunk, run_start
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
MODEL = {
    "slug": "m", "name": "M", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "warm", "min": 30}],
    "criteria": [
        {"name": "Target", "type": "attribute", "field": "account.is_target_account",
         "op": "equals", "value": True, "points": 20},
        {"name": "Page views", "type": "activity", "kinds": ["page_view"], "points": 5, "cap": 25},
        {"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"], "points": 50,
         "count": "once", "half_life_days": 30},
    ],
}  # fmt: skip
SEAMS = ("scoring.rescoring.compute_scores",)
SCORE_FIELDS = ("total", "fit", "engagement", "band", "grade", "mql", "explanation", "version_id")


@pytest.fixture(autouse=True)
def _frozen():
    # A publish chunk scores at timezone.now(); frozen, it scores at NOW like the others.
    with time_machine.travel(NOW, tick=False):
        yield


def leads_varied(count: int = 20) -> list[Lead]:
    target = AccountFactory(is_target_account=True)
    leads = []
    for i in range(count):
        lead = LeadFactory(account=target if i % 3 == 0 else None)
        for minutes in range(i % 6):
            ActivityFactory(
                lead=lead, kind="page_view", occurred_at=NOW - timedelta(minutes=minutes)
            )
        if i % 4 == 0:
            ActivityFactory(lead=lead, kind="webinar_attended", occurred_at=NOW - timedelta(days=i))
        leads.append(lead)
    return leads


def leads_many(count: int) -> list[int]:
    """This many plain leads, copied from one in a single statement (quicker than bulk_create,
    which SQLite's limit on parameters makes hundreds of statements); their ids in order."""
    template = LeadFactory(email="", external_id=None)
    columns = ", ".join(f.column for f in Lead._meta.concrete_fields if not f.primary_key)
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "  # noqa: S608
            f"INSERT INTO scoring_lead ({columns}) SELECT {columns} FROM scoring_lead, n "
            "WHERE id = %s",
            [count - 1, template.pk],
        )
    return list(Lead.objects.order_by("pk").values_list("pk", flat=True))


def scores_of(lead_ids) -> dict[int, tuple]:
    return {
        s.lead_id: tuple(getattr(s, name) for name in SCORE_FIELDS)
        for s in LeadScore.objects.filter(lead_id__in=lead_ids)
    }


def scores_without(rescore, lead_ids) -> dict[int, tuple]:
    """What `rescore` stores for these leads alone (rolled back afterwards)."""
    with transaction.atomic():
        rescore(lead_ids)
        expected = scores_of(lead_ids)
        transaction.set_rollback(True)
    assert len(expected) == len(lead_ids) and not LeadScore.objects.exists()
    return expected


def activity_raw(lead: Lead, kind: str, occurred_at: str) -> None:
    """An activity stored as no way in would store it: the time as the database takes it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scoring_activity (lead_id, kind, occurred_at, channel, properties, "
            "source, created_at) VALUES (%s, %s, %s, '', '{}', 'raw', %s)",
            [lead.pk, kind, occurred_at, NOW],
        )


def poison_real(lead: Lead, kind: str) -> None:
    """An activity time no way in accepts and no reader can place: PostgreSQL keeps infinite
    and far-off times, SQLite any text."""
    if connection.vendor == "postgresql":
        activity_raw(lead, kind, "infinity")
        activity_raw(lead, kind, "-infinity")
        # Beyond any datetime a reader holds (PostgreSQL keeps times up to 294276 AD).
        activity_raw(lead, kind, "290000-01-01 00:00:00+00")
    else:
        activity_raw(lead, kind, "not a time")


def trip(lead_ids, bad_id: int) -> None:
    """The injected fault: for a set holding the bad lead, a failed statement on PostgreSQL
    (division by zero, a data exception that aborts the transaction like real poison does),
    and a value error elsewhere."""
    if bad_id not in lead_ids:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
    raise ValueError(f"lead {bad_id}: an activity time nobody can read")


def seam_install(monkeypatch, fault, seams=SEAMS) -> list[list[int]]:
    """Patch the seams so that `fault(lead_ids)` runs before each real call; the calls' leads."""
    calls = []
    for path in seams:
        module, name = path.rsplit(".", 1)
        real = getattr(importlib.import_module(module), name)

        def patched(*args, _real=real, **kwargs):
            calls.append(list(kwargs["lead_ids"]))
            fault(kwargs["lead_ids"])
            return _real(*args, **kwargs)

        monkeypatch.setattr(path, patched)
    return calls


@pytest.fixture
def seam(monkeypatch):
    return lambda fault: seam_install(monkeypatch, fault)


def _flush(lead_ids):
    # As the pending flush calls it (scoring.tasks.rescore_pending), in its transaction.
    with transaction.atomic():
        return leads_rescore(lead_ids=lead_ids)


def _publish_chunk(lead_ids):
    # One chunk of a publish's run, every lead in it (scoring.runs.run_chunk).
    run, ranges = run_start(
        scoring_model_id=published_models()[0].scoring_model_id, trigger="manual"
    )
    assert len(ranges) == 1
    assert run_chunk(run_id=run.pk, chunk=ranges[0]) == "done"
    return RescoreRun.objects.get(pk=run.pk)


def _assert_only_the_bad_lead_skipped(leads, bad, expected):
    good_ids = [lead.pk for lead in leads if lead != bad]
    assert scores_of(good_ids) == expected
    assert not LeadScore.objects.filter(lead=bad).exists()
    row = UnscorableLead.objects.get()
    assert row.lead_id == bad.pk and row.times_seen == 1 and row.reason
    return row


@pytest.mark.parametrize("path", [_flush, _publish_chunk], ids=["flush", "publish chunk"])
def test_an_injected_fault_skips_only_its_lead(path, seam):
    scoring_model_load(data=MODEL)
    leads = leads_varied()
    bad = leads[7]
    expected = scores_without(_flush, [lead.pk for lead in leads if lead != bad])
    seam(lambda ids: trip(ids, bad.pk))
    result = path([lead.pk for lead in leads])
    row = _assert_only_the_bad_lead_skipped(leads, bad, expected)
    assert row.reason.startswith(
        "DataError: division by zero"
        if connection.vendor == "postgresql"
        else f"ValueError: lead {bad.pk}: an activity time nobody can read"
    )
    if path is _flush:
        assert (result.leads, result.skipped, result.scores_written) == (19, 1, 19)
    else:
        assert (result.status, result.done, result.failed) == (RescoreRun.Status.DONE, 20, 0)


@pytest.mark.parametrize("path", [_flush, _publish_chunk], ids=["flush", "publish chunk"])
@pytest.mark.parametrize("kind", ["page_view", "webinar_attended"])
def test_an_activity_time_beyond_reading_counts_for_nothing(path, kind):
    scoring_model_load(data=MODEL)
    leads = leads_varied()
    bad = leads[13]  # no other webinar: the bad one would be its latest (counted "once")
    expected = scores_without(_flush, [lead.pk for lead in leads])
    poison_real(bad, kind)
    path([lead.pk for lead in leads])
    assert scores_of([lead.pk for lead in leads]) == expected
    assert not UnscorableLead.objects.exists()


def test_the_pending_flush_drains_the_queue_past_a_bad_lead(
    seam, django_capture_on_commit_callbacks
):
    scoring_model_load(data=MODEL)
    leads = leads_varied()
    bad = leads[0]
    expected = scores_without(_flush, [lead.pk for lead in leads[1:]])
    seam(lambda ids: trip(ids, bad.pk))
    with django_capture_on_commit_callbacks(execute=True):
        rescore_request([lead.pk for lead in leads])
    assert tasks.rescore_pending() == 0  # the flush ran when the requests were committed
    assert not PendingRescore.objects.exists()
    _assert_only_the_bad_lead_skipped(leads, bad, expected)


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        IntegrityError("duplicate key value violates unique constraint"),
        SoftTimeLimitExceeded(),
    ],
    ids=lambda error: type(error).__name__,
)
@pytest.mark.parametrize("path", [_flush, _publish_chunk], ids=["flush", "publish chunk"])
def test_an_error_not_about_the_data_still_fails_the_task(path, error, seam):
    scoring_model_load(data=MODEL)
    leads = leads_varied(6)

    def fail(lead_ids):
        raise error

    calls = seam(fail)
    with pytest.raises(type(error)):
        path([lead.pk for lead in leads])
    # Tried once, not split: the whole chunk is retried by its task as before.
    assert len(calls) == 1 and not UnscorableLead.objects.exists()
    assert not LeadScore.objects.exists()


@pytest.mark.parametrize("count", [1, 2, 3, 10, 1000, 25_000])
def test_isolating_one_bad_lead_costs_two_tries_per_halving(count):
    for bad_id in sorted({0, 1, count // 3, count - 2, count - 1} & set(range(count))):
        calls = []

        def attempt(ids, bad_id=bad_id, calls=calls):
            calls.append(ids)
            if bad_id in ids:
                raise ValueError(bad_id)
            return len(ids)

        done, failures = rescoring._unscorable_isolate(range(count), attempt)
        assert [lead_id for lead_id, _error in failures] == [bad_id]
        assert sum(done) == count - 1
        assert len(calls) <= 1 + 2 * math.ceil(math.log2(count)), (count, bad_id)


def test_one_bad_lead_in_a_chunk_of_25000_is_not_scored_lead_by_lead(seam):
    scoring_model_load(data=MODEL)
    lead_ids = leads_many(25_000)
    bad_id = lead_ids[12_345]
    calls = seam(lambda ids: trip(ids, bad_id))
    summary = leads_rescore_chunk(lead_ids=lead_ids, models=published_models(), now=NOW)
    # The whole chunk, then both halves of each failing part down to the bad lead alone.
    assert len(calls) <= 1 + 2 * math.ceil(math.log2(len(lead_ids)))
    assert (summary.leads, summary.skipped, summary.scores_written) == (24_999, 1, 24_999)
    assert list(UnscorableLead.objects.values_list("lead_id", flat=True)) == [bad_id]


def test_several_bad_leads_are_each_recorded(seam):
    scoring_model_load(data=MODEL)
    leads = leads_varied()
    bad_ids = {leads[2].pk, leads[3].pk, leads[17].pk}
    seam(lambda ids: [trip(ids, bad_id) for bad_id in bad_ids])
    summary = _flush([lead.pk for lead in leads])
    assert (summary.leads, summary.skipped) == (17, 3)
    assert set(UnscorableLead.objects.values_list("lead_id", flat=True)) == bad_ids
    assert LeadScore.objects.count() == 17


def test_when_every_lead_fails_the_fault_is_not_theirs_and_the_chunk_fails(seam):
    """A bug (or a model the engine trips on) fails every lead alike: the chunk fails as before
    rather than being tried lead by lead and every lead being recorded."""
    scoring_model_load(data=MODEL)
    lead_ids = leads_many(1000)

    def broken(lead_ids):
        raise TypeError("unsupported operand type(s) for +: 'NoneType' and 'int'")

    calls = seam(broken)
    with pytest.raises(TypeError, match="unsupported operand"):
        _flush(lead_ids)
    # Down to the first lead alone (two tries per halving), then its neighbours, two tries per
    # lead, until SYSTEMATIC_FAILURES of them have failed alone: some 30 tries, not 2000.
    assert len(calls) <= 1 + 2 * math.ceil(math.log2(len(lead_ids))) + 2 * SYSTEMATIC_FAILURES
    assert not UnscorableLead.objects.exists() and not LeadScore.objects.exists()


def test_a_lead_scored_later_leaves_the_list_and_one_still_failing_is_counted(seam, monkeypatch):
    scoring_model_load(data=MODEL)
    leads = leads_varied(5)
    bad = leads[1]
    seam(lambda ids: trip(ids, bad.pk))
    ids = [lead.pk for lead in leads]
    _flush(ids)
    first = UnscorableLead.objects.get(lead=bad)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        _flush(ids)
    again = UnscorableLead.objects.get(lead=bad)
    assert (again.times_seen, again.first_seen) == (2, first.first_seen)
    assert again.last_seen == NOW + timedelta(hours=1)
    monkeypatch.undo()  # its data mended
    summary = _flush(ids)
    assert (summary.leads, summary.skipped) == (5, 0)
    assert not UnscorableLead.objects.exists()
    assert LeadScore.objects.filter(lead=bad).exists()


def test_a_deleted_lead_takes_its_row_along(seam):
    scoring_model_load(data=MODEL)
    lead, other = LeadFactory(), LeadFactory()
    seam(lambda ids: trip(ids, lead.pk))
    _flush([lead.pk, other.pk])
    assert UnscorableLead.objects.filter(lead=lead).exists()
    lead.delete()
    assert not UnscorableLead.objects.exists()


def test_the_reason_is_storable_and_bounded(seam):
    scoring_model_load(data=MODEL)
    lead, other = LeadFactory(), LeadFactory()

    def quoting_bad_data(lead_ids):
        if lead.pk in lead_ids:
            raise ValueError("Invalid isoformat string: '\x00\ud800" + "9" * 5000 + "'")

    seam(quoting_bad_data)
    _flush([lead.pk, other.pk])
    reason = UnscorableLead.objects.get().reason
    assert reason.startswith("ValueError: Invalid isoformat string: '\\x00\\ud800999")
    assert len(reason) == rescoring.REASON_MAX_CHARS and reason.endswith("…")


def test_admins_see_the_list_read_only_and_search_it_by_email(client, admin_user_role, seam):
    scoring_model_load(data=MODEL)
    bad, good = LeadFactory(email="broken@example.de"), LeadFactory(email="fine@example.de")
    seam(lambda ids: trip(ids, bad.pk))
    _flush([bad.pk, good.pk])
    client.force_login(admin_user_role)
    listing = reverse("admin:scoring_unscorablelead_changelist")
    page = client.get(listing, {"q": "broken@"}).content.decode()
    assert "broken@example.de" in page or str(bad) in page
    assert "an activity time nobody can read" in page or "division by zero" in page
    assert "1 unscorable lead" in page
    assert "0 unscorable leads" in client.get(listing, {"q": "fine@"}).content.decode()
    row = UnscorableLead.objects.get()
    change = client.get(reverse("admin:scoring_unscorablelead_change", args=[row.pk]))
    assert change.status_code == 200 and b'name="reason"' not in change.content
    assert client.get(reverse("admin:scoring_unscorablelead_add")).status_code == 403
    delete = reverse("admin:scoring_unscorablelead_delete", args=[row.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
