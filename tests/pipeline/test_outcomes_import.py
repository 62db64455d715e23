"""An outcome imported from the CRM (outcomes.csv) closes the loop as one recorded in the queue.

The lead's stage moves and its open handoffs close as won or lost, logged at the outcome's time
and announced after commit; only the lead's newest outcome acts, a second import changes nothing,
and the funnel counts an imported win as a win. The clock stands at the pipeline conftest's NOW.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pipeline.handoffs import handoff_record_outcome
from pipeline.signals import handoff_changed
from reports.forms import ReportFilters
from reports.selectors import funnel_get
from scoring.csv_import import ImportReport, crm_import
from scoring.models import (
    Handoff,
    HandoffAction,
    HandoffStatus,
    Lead,
    LeadOutcome,
    LifecycleStage,
)
from tests.factories import LeadFactory
from tests.pipeline.conftest import NOW

pytestmark = pytest.mark.django_db
HEAD = "lead_external_id,outcome,occurred_at,value\n"
WON_AT = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
OPENED = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)  # every handoff here, before its outcome


def _opened_before_the_outcomes() -> None:
    Handoff.objects.update(created_at=OPENED)


def _import(folder: Path, rows: list[str], capture) -> ImportReport:  # type: ignore[no-untyped-def]
    """Import an outcomes.csv of these rows, running the after-commit callbacks (webhooks)."""
    (folder / "outcomes.csv").write_text(HEAD + "".join(f"{row}\n" for row in rows))
    _opened_before_the_outcomes()
    with capture(execute=True):
        report = crm_import(directory=folder)
    assert report.errors == []
    return report


@pytest.fixture
def heard():  # type: ignore[no-untyped-def]
    """(handoff id, action) of every `handoff_changed` sent."""
    calls: list[tuple[int, str]] = []

    def listen(sender, handoff_ids, action, **kwargs):  # type: ignore[no-untyped-def]
        calls.extend((pk, action) for pk in handoff_ids)

    handoff_changed.connect(listen)
    yield calls
    handoff_changed.disconnect(listen)


@pytest.fixture
def outcomes(tmp_path, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """outcomes(*rows) imports those rows as outcomes.csv and returns the report."""
    return lambda *rows: _import(tmp_path, list(rows), django_capture_on_commit_callbacks)


def _stage(lead: Lead) -> str:
    lead.refresh_from_db()
    return lead.lifecycle_stage


def test_an_imported_win_makes_a_customer_and_closes_the_open_handoff_as_won(
    make_handoff, outcomes, heard
):
    handoff = make_handoff(status=HandoffStatus.ACCEPTED)
    lead = handoff.lead
    report = outcomes(f"{lead.external_id},won,2026-10-01T12:00:00Z,12000")
    assert _stage(lead) == LifecycleStage.CUSTOMER
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.WON
    assert handoff.outcome_value == Decimal("12000.00")
    assert handoff.updated_at >= NOW
    action = handoff.actions.get(kind=HandoffAction.Kind.WON)
    assert action.user is None and action.at == WON_AT
    assert action.detail == "CRM import: won 12000.00"
    assert heard == [(handoff.pk, "won")]  # announced after commit, as the queue does
    assert report.created == {"outcomes": 1} and report.updated == {"handoffs": 1}
    # The imported row is the lead's outcome: none is added as the queue would add its own.
    assert list(LeadOutcome.objects.values_list("outcome", "source")) == [("won", "import")]


@pytest.mark.parametrize(
    ("outcome", "status", "stage"),
    [
        ("lost", HandoffStatus.LOST, LifecycleStage.RECYCLED),  # as the queue's lost
        ("disqualified", HandoffStatus.LOST, LifecycleStage.DISQUALIFIED),
        ("converted", HandoffStatus.WON, LifecycleStage.CUSTOMER),
    ],
)
def test_lost_disqualified_and_converted(make_handoff, outcomes, heard, outcome, status, stage):
    handoff = make_handoff()  # still new: any open handoff is closed
    outcomes(f"{handoff.lead.external_id},{outcome},2026-10-01T12:00:00Z,")
    assert _stage(handoff.lead) == stage
    handoff.refresh_from_db()
    assert handoff.status == status and handoff.outcome_value is None
    action = handoff.actions.get()
    assert (action.kind, action.at, action.detail) == (status, WON_AT, f"CRM import: {outcome}")
    assert heard == [(handoff.pk, status)]


def test_closed_handoffs_stay_as_they_are(make_handoff, outcomes):
    rejected = make_handoff(status=HandoffStatus.REJECTED)
    outcomes(f"{rejected.lead.external_id},won,2026-10-01T12:00:00Z,500")
    rejected.refresh_from_db()
    assert rejected.status == HandoffStatus.REJECTED and rejected.outcome_value is None
    assert not rejected.actions.exists()
    assert _stage(rejected.lead) == LifecycleStage.CUSTOMER


def test_an_older_outcome_imported_late_moves_nothing_back(model, make_handoff, outcomes, heard):
    handoff = make_handoff(status=HandoffStatus.QUALIFIED)
    lead = handoff.lead
    outcomes(f"{lead.external_id},won,2026-10-01T12:00:00Z,12000")
    # Handed over again since, then an old loss arrives.
    again = Handoff.objects.create(
        lead=lead, scoring_model=model, score_at_handoff=120, sla_due_at=NOW, created_at=NOW
    )
    heard.clear()
    report = outcomes(f"{lead.external_id},lost,2026-06-01T12:00:00Z,")
    assert report.created == {"outcomes": 1} and "handoffs" not in report.updated
    assert LeadOutcome.objects.filter(lead=lead).count() == 2
    assert _stage(lead) == LifecycleStage.CUSTOMER
    assert report.touched_lead_ids == set()
    again.refresh_from_db()
    assert again.status == HandoffStatus.NEW and not again.actions.exists()
    assert heard == []


def test_of_one_leads_outcomes_in_a_file_the_newest_acts(make_handoff, outcomes):
    handoff = make_handoff(status=HandoffStatus.ACCEPTED)
    key = handoff.lead.external_id
    outcomes(f"{key},won,2026-10-01T12:00:00Z,900", f"{key},lost,2026-06-01T12:00:00Z,")
    assert _stage(handoff.lead) == LifecycleStage.CUSTOMER
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.WON and handoff.outcome_value == Decimal("900.00")
    assert list(handoff.actions.values_list("kind", flat=True)) == ["won"]


def test_only_an_outcome_newer_than_the_one_from_the_queue_acts(make_handoff, outcomes, sales_user):
    handoff = make_handoff(status=HandoffStatus.ACCEPTED)
    handoff_record_outcome(handoff_id=handoff.pk, user=sales_user, won=True, value="100")
    key = handoff.lead.external_id
    outcomes(f"{key},lost,2026-10-01T12:00:00Z,")  # before NOW, when the queue recorded the win
    assert _stage(handoff.lead) == LifecycleStage.CUSTOMER
    outcomes(f"{key},lost,2026-11-21T12:00:00Z,")  # after it
    assert _stage(handoff.lead) == LifecycleStage.RECYCLED
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.WON  # closed already, left alone
    assert handoff.outcome_value == Decimal("100")


def test_reimporting_the_same_file_changes_nothing(make_handoff, outcomes, heard):
    handoffs = [make_handoff(status=HandoffStatus.ACCEPTED) for _ in range(2)]
    plain = LeadFactory()
    rows = [
        f"{handoffs[0].lead.external_id},won,2026-10-01T12:00:00Z,12000",
        f"{handoffs[1].lead.external_id},disqualified,2026-10-02T12:00:00Z,",
        f"{plain.external_id},converted,2026-10-03T12:00:00+02:00,",
    ]
    first = outcomes(*rows)
    assert first.updated == {"handoffs": 2}
    assert first.touched_lead_ids == {h.lead_id for h in handoffs} | {plain.pk}

    def state() -> dict[str, list[dict[str, object]]]:
        return {
            model.__name__: list(model.objects.order_by("pk").values())
            for model in (Lead, Handoff, HandoffAction, LeadOutcome)
        }

    before = state()
    heard.clear()
    second = outcomes(*rows)
    assert state() == before
    assert heard == []
    assert second.created == {"outcomes": 0} and second.updated == {}
    assert second.touched_lead_ids == set()


def test_a_lead_without_a_handoff_just_moves_its_stage(outcomes):
    lead = LeadFactory(lifecycle_stage=LifecycleStage.SQL)
    customer = LeadFactory(lifecycle_stage=LifecycleStage.CUSTOMER)
    report = outcomes(
        f"{lead.external_id},won,2026-10-01T12:00:00Z,50",
        f"{customer.external_id},won,2026-10-01T12:00:00Z,",
    )
    assert _stage(lead) == LifecycleStage.CUSTOMER
    assert "handoffs" not in report.updated and not HandoffAction.objects.exists()
    # Sent for rescoring only when the stage changed (an audience may depend on it); a lead
    # already there is not written at all.
    assert report.touched_lead_ids == {lead.pk}
    assert Lead.objects.get(pk=customer.pk).updated_at == customer.updated_at


def test_the_queries_per_batch_do_not_grow_with_the_leads(make_handoff, tmp_path):
    kinds = ["won", "lost", "converted", "disqualified"]

    def queries(n: int) -> int:
        rows = []
        for i in range(n):
            handoff = make_handoff(status=HandoffStatus.ACCEPTED)
            plain = LeadFactory()  # and one without a handoff
            for lead in (handoff.lead, plain):
                rows.append(f"{lead.external_id},{kinds[i % 4]},2026-10-01T12:00:00Z,{i}")
        (tmp_path / "outcomes.csv").write_text(HEAD + "\n".join(rows) + "\n")
        _opened_before_the_outcomes()
        with CaptureQueriesContext(connection) as captured:
            report = crm_import(directory=tmp_path)
        assert report.errors == [] and report.updated == {"handoffs": n}
        return len(captured.captured_queries)

    few, many = queries(4), queries(40)
    # The import's five (leads, known outcomes, savepoint, insert, release) and eight more:
    # newest outcomes and stages, open handoffs, an update per closing status, the actions and
    # an update per new stage.
    assert few == many == 13, (few, many)
    assert Handoff.objects.filter(status=HandoffStatus.WON).count() == 22
    assert HandoffAction.objects.filter(kind__in=["won", "lost"]).count() == 44


def test_the_funnel_counts_an_imported_win_as_one_recorded_in_the_queue(
    model, make_handoff, outcomes, sales_user
):
    in_queue, imported, lost = (make_handoff(status=HandoffStatus.ACCEPTED) for _ in range(3))
    handoff_record_outcome(handoff_id=in_queue.pk, user=sales_user, won=True, value="100")
    outcomes(
        f"{imported.lead.external_id},won,2026-10-01T12:00:00Z,12000",
        f"{lost.lead.external_id},lost,2026-10-01T12:00:00Z,",
    )
    filters = ReportFilters(
        scoring_model_id=model.pk, date_from=date(2026, 1, 1), date_to=date(2026, 11, 20)
    )
    counts = {stage.key: stage.count for stage in funnel_get(filters=filters)}
    assert counts["won"] == 2


def test_the_command_says_how_many_handoffs_were_closed(make_handoff, tmp_path):
    handoff = make_handoff(status=HandoffStatus.ACCEPTED)
    (tmp_path / "outcomes.csv").write_text(
        f"{HEAD}{handoff.lead.external_id},won,2026-10-01T12:00:00Z,\n"
    )
    _opened_before_the_outcomes()
    out = StringIO()
    call_command("import_crm", str(tmp_path), stdout=out)
    assert "0 handoffs created, 1 updated, 0 unchanged" in out.getvalue(), out.getvalue()
    assert "1 leads sent for rescoring" in out.getvalue()


def test_a_handoff_opened_after_the_outcome_stays_open(make_handoff, tmp_path):
    handoff = make_handoff(status=HandoffStatus.ACCEPTED)  # opened on NOW, after 1 October
    row = f"{handoff.lead.external_id},won,2026-10-01T12:00:00Z"  # no value, not even a comma
    (tmp_path / "outcomes.csv").write_text(f"{HEAD}{row}\n")
    report = crm_import(directory=tmp_path)
    assert report.errors == [] and report.created == {"outcomes": 1}
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.ACCEPTED
    assert not handoff.actions.filter(kind=HandoffAction.Kind.WON).exists()
    assert _stage(handoff.lead) == LifecycleStage.CUSTOMER  # still the lead's newest outcome
