"""Handoffs through the API: list and the sales actions, with their status rules."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from scoring.models import Handoff, HandoffStatus, Lead, LeadOutcome
from scoring.services import scoring_model_load
from tests.api.conftest import MODEL
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/handoffs/"


def open_handoff(now: datetime, lead: Lead | None = None) -> Handoff:
    scoring_model, _ = scoring_model_load(data=MODEL) if not _model_exists() else (_model(), None)
    return Handoff.objects.create(
        lead=lead or LeadFactory(), scoring_model=scoring_model, score_at_handoff=60,
        sla_due_at=now + timedelta(hours=12),
    )  # fmt: skip


def _model_exists() -> bool:
    from scoring.models import ScoringModel

    return ScoringModel.objects.filter(slug=MODEL["slug"]).exists()


def _model():  # type: ignore[no-untyped-def]
    from scoring.models import ScoringModel

    return ScoringModel.objects.get(slug=MODEL["slug"])


def test_list_filters_by_status_and_query_count_stays_flat(
    sales_api, django_assert_max_num_queries
):
    now = timezone.now()
    for _ in range(2):
        open_handoff(now)
    with django_assert_max_num_queries(10) as few:
        assert sales_api.get(URL, {"status": "new"}).json()["count"] == 2
    for _ in range(10):
        open_handoff(now)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert sales_api.get(URL, {"status": "new"}).json()["count"] == 12
    assert sales_api.get(URL, {"status": "won"}).json()["count"] == 0


def test_accept_qualify_and_win(sales_api, sales_user):
    handoff = open_handoff(timezone.now())
    accepted = sales_api.post(f"{URL}{handoff.pk}/accept/")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted" and accepted.json()["owner"] == sales_user.pk
    assert (
        sales_api.post(
            f"{URL}{handoff.pk}/qualify/", {"note": "budget ok"}, format="json"
        ).status_code
        == 200
    )
    won = sales_api.post(
        f"{URL}{handoff.pk}/outcome/", {"won": True, "value": "12000.50"}, format="json"
    )
    assert won.status_code == 200 and won.json()["status"] == "won"
    assert [a["kind"] for a in won.json()["actions"]] == ["accepted", "qualified", "won"]
    assert LeadOutcome.objects.get(lead=handoff.lead).value == 12000.50


def test_reject_needs_a_known_reason(sales_api):
    handoff = open_handoff(timezone.now())
    unknown = sales_api.post(f"{URL}{handoff.pk}/reject/", {"reason": "bored"}, format="json")
    assert unknown.status_code == 400
    assert [p["path"] for p in unknown.json()["problems"]] == ["reason"]
    # As documented (ProblemsSerializer): what is wrong and where, also for a missing field.
    missing = sales_api.post(f"{URL}{handoff.pk}/reject/", {}, format="json")
    assert missing.status_code == 400
    assert missing.json()["problems"] == [{"path": "reason", "message": "This field is required."}]
    wrong = sales_api.post(f"{URL}{handoff.pk}/reject/", [1], format="json")
    assert wrong.status_code == 400 and wrong.json()["problems"][0]["path"] == ""
    rejected = sales_api.post(
        f"{URL}{handoff.pk}/reject/", {"reason": "duplicate", "note": "see #4"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == HandoffStatus.REJECTED


def test_an_action_the_status_does_not_allow_is_a_conflict(sales_api):
    handoff = open_handoff(timezone.now())
    response = sales_api.post(f"{URL}{handoff.pk}/qualify/")
    assert response.status_code == 409 and "cannot be" in response.json()["detail"]
    bad_value = sales_api.post(
        f"{URL}{handoff.pk}/outcome/", {"won": True, "value": "-1"}, format="json"
    )
    assert bad_value.status_code == 400
    assert Handoff.objects.get(pk=handoff.pk).status == HandoffStatus.NEW
    assert sales_api.post(f"{URL}999999/accept/").status_code == 404
