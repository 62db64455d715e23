"""The tracking snippet on the demo page: anonymous page views, then a sign-up identifies the
visitor and the lead's stored score goes up by the earlier visits."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from integrations.models import PendingVisit, TrackingSite
from scoring.models import LeadScore
from scoring.services import scoring_model_load
from tests.factories import LeadFactory
from tests.integration.conftest import live_worker, wait_for  # noqa: F401 - fixture

pytestmark = pytest.mark.browser
MODEL = {
    "slug": "web", "name": "Web", "mql_threshold": 100,
    "bands": [{"label": "cold", "min": 0}, {"label": "warm", "min": 5}],
    "criteria": [{"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 2}],
}  # fmt: skip


@pytest.fixture
def tracked(request, transactional_db, live_server, admin_user_role):  # type: ignore[no-untyped-def]
    if settings.REDIS_URL:
        # Rescoring runs in a worker when there is a broker; start a real one.
        request.getfixturevalue("live_worker")
    lead = LeadFactory(email="eva@kunde.de")
    scoring_model_load(data=MODEL)  # publishes; the rescore gives the lead its first score
    wait_for(lambda: LeadScore.objects.filter(lead=lead).exists(), timeout=60)
    site = TrackingSite.objects.create(name="Demo shop", allowed_origins=[live_server.url])
    return site, lead


def _sign_in(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login/")
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill("pw-ada")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def test_identifying_on_the_demo_page_raises_the_leads_score(tracked, page, screenshot):
    site, lead = tracked
    before = LeadScore.objects.get(lead=lead).total
    assert before == 0
    _sign_in(page)
    page.goto(f"/tracking/demo/{site.site_key}/")
    expect(page.get_by_role("heading", name="Website tracking demo: Demo shop")).to_be_visible()
    expect(page.locator("#visitor-id")).not_to_have_text("…")
    page.get_by_role("link", name="Pricing").click()
    page.get_by_role("link", name="Webinar").click()
    page.get_by_role("button", name="Download the brochure").click()
    wait_for(lambda: PendingVisit.objects.filter(kind="page_view").count() == 3, timeout=20)
    wait_for(lambda: PendingVisit.objects.filter(kind="download").exists(), timeout=20)
    assert LeadScore.objects.get(lead=lead).total == before  # still anonymous
    screenshot("tracking-demo-anonymous")

    page.get_by_label("E-mail for our newsletter").fill("Eva@Kunde.de")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#thanks")).to_be_visible()

    # Three earlier page views plus the thank-you page, 2 points each.
    score = wait_for(lambda: LeadScore.objects.filter(lead=lead, total__gte=8).first(), timeout=60)
    assert score.band == "warm"
    kinds = sorted(lead.activities.values_list("kind", flat=True))
    assert kinds == ["download", "form_submit", *["page_view"] * 4]
    assert not PendingVisit.objects.exists()
    screenshot("tracking-demo-identified")


def test_the_snippet_names_a_refused_event_and_its_neighbours_are_kept(tracked, page):
    site, _ = tracked
    _sign_in(page)
    page.goto(f"/tracking/demo/{site.site_key}/")
    expect(page.locator("#visitor-id")).not_to_have_text("…")
    with page.expect_console_message(lambda m: "event refused" in m.text) as warning:
        stored = page.evaluate(
            "leadscoring.track('Brochure Download'); leadscoring.track('video_play');"
            "leadscoring.flush()"
        )
    assert stored is True
    assert ".name: lower-case letters" in warning.value.text
    wait_for(lambda: PendingVisit.objects.filter(kind="video_play").exists(), timeout=20)
    assert not PendingVisit.objects.filter(kind__iexact="brochure download").exists()
