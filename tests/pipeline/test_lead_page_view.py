"""The lead page: profile, explained scores with stars and history, handoffs, timeline."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from pipeline.handoffs import handoff_accept
from scoring.models import Handoff, LeadScore
from scoring.rescoring import leads_rescore
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory
from tests.pipeline.conftest import NOW

pytestmark = pytest.mark.django_db
STARS = {
    "slug": "b2c", "name": "B2C stars", "mql_threshold": 20,
    "audience": [{"field": "account.name", "op": "is_not_set"}],
    "bands": [{"label": "1 star", "min": 0}, {"label": "2 stars", "min": 10},
              {"label": "3 stars", "min": 20}],
    "criteria": [{"name": "Store locator", "type": "activity", "kinds": ["store_locator"],
                  "points": 20, "count": "once"}],
}  # fmt: skip


@pytest.fixture(autouse=True)
def _frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _page(client, lead, params=None, **headers):  # type: ignore[no-untyped-def]
    return client.get(reverse("pipeline:lead_detail", args=[lead.pk]), params or {}, **headers)


@pytest.fixture
def scored_lead(model, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    lead = LeadFactory(
        account=AccountFactory(name="Müller Maschinenbau GmbH", is_target_account=True),
        job_title="Leitung Einkauf",
    )
    for days, url in ((1, "/pricing"), (2, "/blog/papier"), (3, "/contact")):
        ActivityFactory(lead=lead, occurred_at=NOW - timedelta(days=days), properties={"url": url})
    ActivityFactory(lead=lead, kind="webinar_attended", occurred_at=NOW - timedelta(days=10),
                    properties={"webinar": "Digitale Beschaffung"})  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        leads_rescore(lead_ids=[lead.pk], now=NOW)
    return lead


def test_the_page_explains_every_point_with_the_activities_behind_it(
    client, sales_user, scored_lead
):
    client.force_login(sales_user)
    content = _page(client, scored_lead).content.decode()
    score = LeadScore.objects.get(lead=scored_lead)
    assert "Müller Maschinenbau GmbH" in content and "Leitung Einkauf" in content
    for item in score.explanation:
        assert item["criterion"] in content
    assert "account.is_target_account" in content  # the profile value behind a fit criterion
    assert "/blog/papier" in content and "Digitale Beschaffung" in content
    assert f"<strong>{round(float(score.total))}%</strong> of the MQL threshold" in content
    assert "activities changed since" not in content
    assert "<svg" in content and 'class="series"' in content


def test_star_bands_show_as_stars(client, sales_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        scoring_model_load(data=STARS)
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind="store_locator", occurred_at=NOW - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        leads_rescore(lead_ids=[lead.pk], now=NOW)
    client.force_login(sales_user)
    content = _page(client, lead).content.decode()
    assert "★★★" in content and "3 stars" in content
    assert "A consumer: this lead belongs to no company." in content


def test_activity_arriving_after_the_score_is_flagged(client, sales_user, scored_lead):
    # Backdated activity inside the scored period that the stored score has not seen yet.
    ActivityFactory(lead=scored_lead, occurred_at=NOW - timedelta(days=5), properties={"url": "/x"})
    client.force_login(sales_user)
    assert "activities changed since" in _page(client, scored_lead).content.decode()


def test_handoff_history_lists_every_action(client, sales_user, scored_lead):
    handoff = Handoff.objects.get(lead=scored_lead)
    handoff_accept(handoff_id=handoff.pk, user=sales_user)
    client.force_login(sales_user)
    content = _page(client, scored_lead).content.decode()
    assert "Handed over" in content and "Accepted" in content and "Became MQL" in content


def test_the_timeline_pages_over_htmx(client, sales_user, model):
    lead = LeadFactory()
    for minutes in range(35):
        ActivityFactory(lead=lead, occurred_at=NOW - timedelta(minutes=minutes),
                        properties={"url": f"/page-{minutes}"})  # fmt: skip
    client.force_login(sales_user)
    full = _page(client, lead).content.decode()
    assert "/page-0" in full and "/page-34" not in full and "page 1 of 2" in full
    older = _page(
        client, lead, {"activities": 2}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline"
    )
    assert older.content.decode().lstrip().startswith('<div id="timeline">')
    assert "/page-34" in older.content.decode() and "<html" not in older.content.decode()


def test_a_lead_without_scores_or_handoffs_explains_the_empty_parts(client, marketing_user):
    lead = LeadFactory()
    client.force_login(marketing_user)
    content = _page(client, lead).content.decode()
    assert "This lead has no score yet" in content
    assert "Never handed to sales" in content
    assert "No activity recorded" in content


def test_who_may_see_a_lead(client, outsider, sales_user):
    lead = LeadFactory()
    client.force_login(outsider)
    assert _page(client, lead).status_code == 403
    client.force_login(sales_user)
    assert client.get(reverse("pipeline:lead_detail", args=[10**9])).status_code == 404


def test_the_lead_page_query_count_does_not_grow_with_its_lists(
    client, sales_user, model, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    lead = LeadFactory(account=AccountFactory(is_target_account=True))

    def grow(n: int, at) -> int:  # type: ignore[no-untyped-def]
        for i in range(n):
            ActivityFactory(lead=lead, occurred_at=NOW - timedelta(hours=i + 1),
                            properties={"url": "/pricing" if i % 2 else "/blog"})  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            leads_rescore(lead_ids=[lead.pk], now=at)
        with django_assert_max_num_queries(20) as captured:
            assert _page(client, lead).status_code == 200
        return len(captured)

    client.force_login(sales_user)
    Handoff.objects.create(lead=lead, scoring_model=model, score_at_handoff=1, sla_due_at=NOW,
                           status="lost")  # fmt: skip
    few = grow(5, NOW - timedelta(minutes=10))
    for _ in range(3):
        Handoff.objects.create(lead=lead, scoring_model=model, score_at_handoff=1,
                               sla_due_at=NOW, status="lost")  # fmt: skip
    assert grow(30, NOW) == few
