"""The editor's pages: roles enforced on the server, validation next to the field, HTMX partials."""

import re

import pytest
from django.urls import reverse

from rules_admin.models import Proposal
from scoring.models import Criterion, Handoff, HandoffStatus, RescoreRun, ScoringModelVersion
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

NEW_CRITERION = {
    "name": "CTO", "type": "attribute", "points": "40", "enabled": "on",
    "field": "lead.job_title", "op": "equals", "value": "CTO",
}  # fmt: skip


def field_errors(response, name):
    """The error texts shown inside the form field `name`'s own box."""
    html = response.content.decode()
    boxes = re.findall(r'<div class="field[^"]*">(.*?)</div>', html, flags=re.S)
    box = next(b for b in boxes if f'name="{name}"' in b)
    return " ".join(re.findall(r'field-error">([^<]*)<', box))


def _login(client, user):
    client.force_login(user)
    return client


def url(name, model, *args):
    return reverse(f"rules_admin:{name}", args=[model.slug, *args])


@pytest.mark.parametrize(
    "name,method",
    [("criterion_new", "post"), ("thresholds", "post"), ("publish", "post")],
)
def test_sales_may_not_edit_or_publish(client, sales_user, published, name, method):
    response = getattr(_login(client, sales_user), method)(url(name, published), NEW_CRITERION)
    assert response.status_code == 403
    assert not Criterion.objects.filter(name="CTO").exists()


def test_an_outsider_sees_no_rules(client, outsider, published):
    assert _login(client, outsider).get(reverse("rules_admin:list")).status_code == 403
    assert client.get(url("model", published)).status_code == 403


def test_sales_sees_the_rules_read_only(client, sales_user, published):
    page = _login(client, sales_user).get(url("model", published)).content.decode()
    assert "Target account" in page and "+20 when the company" in page
    assert "Add a criterion" not in page and "Publish the draft" not in page
    assert "propose a change" in page


def test_marketing_adds_a_criterion_in_place(client, marketing_user, published):
    response = _login(client, marketing_user).post(
        url("criterion_new", published), NEW_CRITERION, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "draft-changed"
    assert response.headers["HX-Retarget"] == "#criteria"
    assert "+40 when the lead" in response.content.decode()
    assert Criterion.objects.get(scoring_model=published, name="CTO").params == {
        "field": "lead.job_title", "op": "equals", "value": "CTO",
    }  # fmt: skip


def test_problems_show_next_to_their_field(client, marketing_user, published):
    bad = {**NEW_CRITERION, "name": "Target account", "field": "lead.shoe_size", "op": "between"}
    response = _login(client, marketing_user).post(
        url("criterion_new", published), bad, headers={"HX-Request": "true"}
    )
    assert "unknown lead field" in field_errors(response, "field")
    assert "must be a list [low, high]" in field_errors(response, "value")
    assert "HX-Trigger" not in response.headers
    fixed = {**bad, "field": "lead.job_title", "op": "equals"}
    response = client.post(url("criterion_new", published), fixed, headers={"HX-Request": "true"})
    assert "duplicates the name" in field_errors(response, "name")
    assert Criterion.objects.filter(scoring_model=published).count() == 7


def test_edit_duplicate_reorder_toggle_delete(client, marketing_user, published):
    _login(client, marketing_user)
    visit = Criterion.objects.get(scoring_model=published, name="Visit")
    form = client.get(url("criterion_edit", published, visit.pk)).context["form"]
    assert form.initial["kinds"] == "page_view" and form.initial["cap"] == 10
    client.post(url("criterion_action", published, visit.pk, "duplicate"))
    copy = Criterion.objects.get(scoring_model=published, name="Visit (2)")
    assert not copy.enabled and copy.params == visit.params
    names = lambda: list(published.criteria.values_list("name", flat=True))  # noqa: E731
    assert names().index("Visit (2)") == names().index("Visit") + 1
    client.post(url("criterion_action", published, copy.pk, "up"))
    assert names().index("Visit (2)") == names().index("Visit") - 1
    client.post(url("criterion_action", published, copy.pk, "toggle"))
    copy.refresh_from_db()
    assert copy.enabled
    client.post(url("criterion_action", published, copy.pk, "delete"))
    assert "Visit (2)" not in names()


def test_thresholds_and_bands_are_validated(client, marketing_user, published):
    _login(client, marketing_user)
    data = {"mql_threshold": "80", "band_label_1": "C", "band_min_1": "0", "band_label_2": "B",
            "band_min_2": "0", "grade_label_1": "A", "grade_min_1": "0"}  # fmt: skip
    response = client.post(url("thresholds", published), data, headers={"HX-Request": "true"})
    assert "duplicate min" in response.content.decode()
    data["band_min_2"] = "40"
    response = client.post(url("thresholds", published), data, headers={"HX-Request": "true"})
    assert response.headers["HX-Trigger"] == "draft-changed"
    published.refresh_from_db()
    assert published.mql_threshold == 80
    assert published.bands == [{"label": "C", "min": 0}, {"label": "B", "min": 40}]


def test_whatif_panel_shows_the_draft_effect(client, marketing_user, published, frozen):
    _login(client, marketing_user)
    client.post(url("thresholds", published), {"mql_threshold": "1", "band_label_1": "all",
                                               "band_min_1": "0"})  # fmt: skip
    response = client.get(url("whatif", published))
    whatif = response.context["whatif"]
    assert whatif.newly_mql > 0
    assert f'id="whatif-newly">+{whatif.newly_mql}<' in response.content.decode()


def test_publish_needs_a_note_and_shows_the_rescore(
    client, marketing_user, published, django_capture_on_commit_callbacks
):
    _login(client, marketing_user)
    client.post(url("criterion_new", published), NEW_CRITERION)
    response = client.post(url("publish", published), {"note": ""})
    assert published.versions.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("publish", published), {"note": "CTOs buy"})
    response = client.get(response.url)
    version = ScoringModelVersion.objects.get(scoring_model=published, number=2)
    assert version.note == "CTOs buy" and version.published_by == marketing_user
    run = RescoreRun.objects.filter(scoring_model=published).latest("pk")
    assert run.version == version and run.status == RescoreRun.Status.DONE
    assert 'data-status="done"' in response.content.decode()
    partial = client.get(url("run", published, run.pk)).content.decode()
    assert "100%" in partial and "every 1s" not in partial


def test_history_diff_and_restore(client, marketing_user, published):
    _login(client, marketing_user)
    client.post(url("criterion_new", published), NEW_CRITERION)
    visit = Criterion.objects.get(scoring_model=published, name="Visit")
    client.post(url("criterion_action", published, visit.pk, "delete"))
    client.post(url("publish", published), {"note": "More fit, fewer visits"})
    page = client.get(url("history", published))
    diff = page.context["diff"]
    assert [c["name"] for c in diff.added] == ["CTO"]
    assert [c["name"] for c in diff.removed] == ["Visit"]
    assert "More fit, fewer visits" in page.content.decode()
    client.post(url("restore", published, 1))
    assert set(published.criteria.values_list("name", flat=True)) == {
        c["name"] for c in published.versions.get(number=1).definition["criteria"]
    }


def test_a_sales_proposal_applied_by_marketing(client, sales_user, marketing_user, published):
    _login(client, sales_user)
    proposal_data = {**NEW_CRITERION, "action": "change", "target": "Visit", "name": "Visit",
                     "type": "activity", "kinds": "page_view", "points": "2", "count": "each",
                     "reason": "Visitors who read a lot call us back"}  # fmt: skip
    response = client.post(url("proposals", published), proposal_data)
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and proposal.author == sales_user
    client.post(url("proposal", published, proposal.pk), {"text": "Seen in ten calls"})
    page = client.get(url("proposal", published, proposal.pk)).content.decode()
    assert "+2 for each page_view" in page and "Seen in ten calls" in page
    assert client.post(url("proposal_apply", published, proposal.pk)).status_code == 403
    _login(client, marketing_user)
    client.post(url("proposal", published, proposal.pk), {"text": "Agreed"})
    client.post(url("proposal_apply", published, proposal.pk))
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.APPLIED and proposal.decided_by == marketing_user
    visit = Criterion.objects.get(scoring_model=published, name="Visit")
    assert visit.points == 2 and "cap" not in visit.params
    assert [c.text for c in proposal.comments.all()] == ["Seen in ten calls", "Agreed"]


def test_a_declined_proposal_changes_nothing(client, sales_user, marketing_user, published):
    proposal = Proposal.objects.create(
        scoring_model=published, author=sales_user, reason="Too many", edits=[
            {"action": "remove", "name": "Target account"}],
    )  # fmt: skip
    _login(client, marketing_user).post(
        url("proposal_decline", published, proposal.pk), {"note": "Key accounts matter"}
    )
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.DECLINED
    assert published.criteria.filter(name="Target account").exists()


def test_rejection_reasons_are_evidence_on_the_proposals_page(client, sales_user, published):
    for reason in ["student", "student", "no_budget"]:
        Handoff.objects.create(
            lead=LeadFactory(), scoring_model=published, status=HandoffStatus.REJECTED,
            reason=reason, score_at_handoff=60, sla_due_at="2026-03-21T12:00:00Z",
        )  # fmt: skip
    response = _login(client, sales_user).get(url("proposals", published))
    counts = [(r.reason, r.count) for r in response.context["rejections"]]
    assert counts == [("student", 2), ("no_budget", 1)]


def _queries(client, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_list_pages_do_not_query_per_row(client, marketing_user, sales_user, published):
    from scoring.services import scoring_model_load
    from tests.rules_admin.conftest import MODEL

    _login(client, marketing_user)
    pages = [
        reverse("rules_admin:list"),
        url("proposals", published),
        url("model", published),
        url("history", published),
    ]

    def grow(start):
        for i in range(start, start + 3):
            scoring_model_load(data={**MODEL, "slug": f"m{i}", "name": f"M{i}"})
            scoring_model_load(data={**MODEL, "mql_threshold": 50 + i})  # one more version
            proposal = Proposal.objects.create(
                scoring_model=published, author=sales_user, reason=f"r{i}",
                edits=[{"action": "remove", "name": "Visit"}],
            )  # fmt: skip
            proposal.comments.create(author=marketing_user, text="ok")

    grow(0)
    before = [_queries(client, path) for path in pages]
    grow(3)
    assert [_queries(client, path) for path in pages] == before
    assert max(before) <= 14
