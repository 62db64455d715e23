"""The admin is no way around the rules: its writes go through the services, or there are none.

An admin's edit of a lead, an account or an activity queues the leads behind it for rescoring,
as the API's writes do, and their scores follow once the flush has run. Handoffs, scoring models
and their criteria cannot be changed there even by a sales or marketing user someone made staff.
"""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scoring.ingest import activities_ingest
from scoring.models import (
    Activity,
    Handoff,
    HandoffAction,
    HandoffStatus,
    Lead,
    LeadOutcome,
    LeadScore,
    PendingRescore,
    ScoringModel,
    ScoringModelVersion,
)
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, LeadFactory

pytestmark = pytest.mark.django_db

MODEL = {
    "slug": "fit", "name": "Fit", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "hot", "min": 50}],
    "criteria": [
        {"name": "Decision maker", "type": "attribute", "field": "lead.seniority",
         "op": "equals", "value": "C-level", "points": 30},
        {"name": "Target account", "type": "attribute", "field": "account.is_target_account",
         "op": "equals", "value": True, "points": 20},
        {"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 5},
    ],
}  # fmt: skip


class _Form(HTMLParser):
    """The fields of a page's main form as a browser would send them."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        name = a.get("name", "")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
            elif kind != "submit":
                self.data[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._textarea:
                self.data[self._textarea] = self.data[self._textarea].removeprefix("\n")
            self._textarea = None


def _form_of(client: Client, url: str) -> dict[str, str]:
    page = client.get(url)
    assert page.status_code == 200, url
    parser = _Form()
    parser.feed(page.content.decode())
    return parser.data


@pytest.fixture
def scored(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """A published model, and a lead on a plain account with one visit, scored: 5 points."""
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model, _ = scoring_model_load(data=MODEL)
    lead = LeadFactory(account=AccountFactory(), seniority="Manager")
    with django_capture_on_commit_callbacks(execute=True):
        activities_ingest([{"lead_id": lead.pk, "kind": "page_view", "external_id": "v-1"}])
    assert _total(lead) == 5
    return scoring_model, lead


def _total(lead: Lead) -> float:
    return float(LeadScore.objects.get(lead=lead).total)


def _queued(*leads: Lead) -> bool:
    waiting = set(PendingRescore.objects.values_list("lead_id", flat=True))
    return {lead.pk for lead in leads} <= waiting


@pytest.fixture
def admin_client(client, admin_user_role):  # type: ignore[no-untyped-def]
    client.force_login(admin_user_role)
    return client


def test_an_admins_lead_edit_queues_the_lead_and_its_score_follows(
    admin_client, scored, django_capture_on_commit_callbacks
):
    _, lead = scored
    url = reverse("admin:scoring_lead_change", args=[lead.pk])
    data = _form_of(admin_client, url) | {"seniority": "C-level", "_save": "Save"}
    with django_capture_on_commit_callbacks() as after_commit:
        response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _queued(lead)
    assert _total(lead) == 5  # not yet: the flush runs after commit
    for callback in after_commit:
        callback()
    assert _total(lead) == 35
    assert not PendingRescore.objects.exists()


def test_a_lead_added_in_the_admin_is_scored(
    admin_client, scored, django_capture_on_commit_callbacks
):
    url = reverse("admin:scoring_lead_add")
    data = _form_of(admin_client, url) | {
        "email": "neu@kunde.de", "seniority": "C-level", "_save": "Save",
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _total(Lead.objects.get(email="neu@kunde.de")) == 30


def test_an_admins_account_edit_rescores_its_leads(
    admin_client, scored, django_capture_on_commit_callbacks
):
    _, lead = scored
    colleague = LeadFactory(account=lead.account)
    url = reverse("admin:scoring_account_change", args=[lead.account.pk])
    data = _form_of(admin_client, url) | {"is_target_account": "on", "_save": "Save"}
    with django_capture_on_commit_callbacks() as after_commit:
        response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _queued(lead, colleague)
    for callback in after_commit:
        callback()
    assert (_total(lead), _total(colleague)) == (25, 20)


def test_deleting_an_activity_or_an_account_in_the_admin_rescores_the_lead(
    admin_client, scored, django_capture_on_commit_callbacks
):
    _, lead = scored
    lead.account.is_target_account = True
    lead.account.save()
    with django_capture_on_commit_callbacks(execute=True):
        activities_ingest([{"lead_id": lead.pk, "kind": "page_view", "external_id": "v-2"}])
    assert _total(lead) == 30
    activity = Activity.objects.filter(lead=lead).first()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:scoring_activity_delete", args=[activity.pk]), {"post": "yes"}
        )
    assert _total(lead) == 25
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:scoring_account_delete", args=[lead.account.pk]), {"post": "yes"}
        )
    lead.refresh_from_db()
    assert lead.account is None and _total(lead) == 5


def test_activities_cannot_be_added_or_edited_in_the_admin(admin_client, scored):
    _, lead = scored
    activity = Activity.objects.get(lead=lead)
    assert admin_client.get(reverse("admin:scoring_activity_add")).status_code == 403
    change = reverse("admin:scoring_activity_change", args=[activity.pk])
    assert admin_client.get(change).status_code == 200  # shown, read-only
    data = {"lead": lead.pk, "kind": "demo_request", "occurred_at_0": "2026-01-01",
            "occurred_at_1": "10:00:00", "source": "admin", "properties": "{}"}  # fmt: skip
    assert admin_client.post(change, data).status_code == 403
    assert Activity.objects.get(pk=activity.pk).kind == "page_view"


@pytest.fixture
def handoff(scored, sales_user):  # type: ignore[no-untyped-def]
    scoring_model, lead = scored
    return Handoff.objects.create(
        lead=lead, scoring_model=scoring_model, owner=sales_user, score_at_handoff=55,
        sla_due_at=timezone.now() + timezone.timedelta(days=2),
    )  # fmt: skip


@pytest.mark.parametrize("role", ["sales_user", "marketing_user", "admin_user_role"])
def test_no_one_changes_a_handoff_in_the_admin_not_even_staff(client, request, role, handoff):
    user = request.getfixturevalue(role)
    user.is_staff = True  # what the demo users were: the admin must hold even then
    user.save()
    client.force_login(user)
    url = reverse("admin:scoring_handoff_change", args=[handoff.pk])
    won = {"lead": handoff.lead_id, "scoring_model": handoff.scoring_model_id, "status": "won",
           "score_at_handoff": "999", "sla_due_at_0": "2099-01-01", "sla_due_at_1": "00:00:00",
           "outcome_value": "1000000"}  # fmt: skip
    assert client.post(url, won).status_code == 403
    assert client.post(reverse("admin:scoring_handoff_add"), won).status_code == 403
    delete = reverse("admin:scoring_handoff_delete", args=[handoff.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    handoff.refresh_from_db()
    assert (handoff.status, handoff.score_at_handoff, handoff.outcome_value) == (
        HandoffStatus.NEW,
        55,
        None,
    )
    assert not LeadOutcome.objects.exists() and not HandoffAction.objects.exists()


@pytest.mark.parametrize("role", ["marketing_user", "admin_user_role"])
def test_no_one_edits_scoring_models_or_criteria_in_the_admin_not_even_staff(
    client, request, role, scored
):
    scoring_model, _ = scored
    user = request.getfixturevalue(role)
    user.is_staff = True
    user.save()
    client.force_login(user)
    url = reverse("admin:scoring_scoringmodel_change", args=[scoring_model.pk])
    lowered = {"slug": "fit", "name": "Fit", "mql_threshold": "-1", "sla_hours": "1",
               "criteria-TOTAL_FORMS": "0", "criteria-INITIAL_FORMS": "0"}  # fmt: skip
    assert client.post(url, lowered).status_code == 403
    assert client.post(reverse("admin:scoring_scoringmodel_add"), lowered).status_code == 403
    version = ScoringModelVersion.objects.get(scoring_model=scoring_model)
    version_url = reverse("admin:scoring_scoringmodelversion_change", args=[version.pk])
    assert client.post(version_url, {"note": "changed"}).status_code == 403
    assert client.get(reverse("admin:scoring_scoringmodelversion_add")).status_code == 403
    scoring_model = ScoringModel.objects.get(pk=scoring_model.pk)
    assert scoring_model.mql_threshold == 50 and scoring_model.criteria.count() == 3
