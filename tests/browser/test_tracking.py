"""The tracking snippet on the demo page: anonymous page views, then a sign-up identifies the
visitor and the lead's stored score goes up by the earlier visits."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from django.conf import settings
from playwright.sync_api import expect

from integrations.models import PendingVisit, TrackingSite
from scoring.models import Lead, LeadScore
from scoring.services import scoring_model_load
from tests.browser.conftest import at_path
from tests.factories import AccountFactory, LeadFactory
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
    page.wait_for_url(at_path("/"))


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


def _shop_page(live_server_url: str, site_key: str, *, consent: bool = False) -> bytes:
    """A customer's page, with the snippet as the setup screen gives it."""
    required = ' data-consent="required"' if consent else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Firma · Preise</title>"
        f'<script src="{live_server_url}/static/js/track.js" data-site-key="{site_key}"'
        f"{required} defer></script></head><body><h1>Preise</h1></body></html>"
    ).encode()


@pytest.fixture
def shop(tracked, live_server):  # type: ignore[no-untyped-def]
    """A customer's website on a server of its own (another origin than the product's), every
    path a page with the snippet; tracked by the site."""
    site, lead = tracked
    pages = {"consent": False}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = _shop_page(live_server.url, site.site_key, consent=pages["consent"])
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    site.allowed_origins = [url]
    site.save(update_fields=["allowed_origins"])
    yield url, lead, pages
    server.shutdown()


def test_a_tracked_pricing_page_view_scores_the_pricing_page_points(shop, page):
    shop_url, lead, _pages = shop
    # The demo's B2B model scores people at a company.
    Lead.objects.filter(pk=lead.pk).update(account=AccountFactory(name="Kunde GmbH"))
    library = settings.BASE_DIR / "scoring" / "model_library" / "b2b-saas.yaml"
    model, _version = scoring_model_load(data=yaml.safe_load(library.read_text()))
    page.goto(f"{shop_url}/pricing?plan=team")
    page.wait_for_function("window.leadscoring !== undefined")
    assert page.evaluate("leadscoring.identify('eva@kunde.de')") is True

    def pricing_points():  # type: ignore[no-untyped-def]
        score = LeadScore.objects.filter(lead=lead, scoring_model=model).first()
        explained = {c["criterion"]: c["points"] for c in (score.explanation if score else [])}
        return explained.get("Pricing page")

    assert wait_for(pricing_points, timeout=60) == 10
    url = lead.activities.get(kind="page_view").properties["url"]
    assert url == f"{shop_url}/pricing?plan=team"  # stored as the browser saw it


def test_with_consent_required_nothing_is_tracked_until_the_site_says_so(shop, page):
    shop_url, _lead, pages = shop
    pages["consent"] = True
    page.goto(f"{shop_url}/pricing")
    page.wait_for_function("window.leadscoring !== undefined")
    page.evaluate("leadscoring.track('download', {file: 'x.pdf'}); leadscoring.flush()")
    page.wait_for_timeout(500)  # what would have been sent has had its time to arrive
    assert not PendingVisit.objects.exists()
    assert page.evaluate("localStorage.getItem('leadscoring_vid')") is None

    page.evaluate("leadscoring.consent(true); leadscoring.flush()")
    visit = wait_for(lambda: PendingVisit.objects.filter(kind="page_view").first(), timeout=20)
    assert visit.properties["url"] == f"{shop_url}/pricing"
    assert page.evaluate("localStorage.getItem('leadscoring_vid')") == visit.visitor.visitor_id

    page.evaluate("leadscoring.consent(false); leadscoring.track('download'); leadscoring.flush()")
    page.wait_for_timeout(500)
    assert not PendingVisit.objects.filter(kind="download").exists()
    assert page.evaluate("localStorage.getItem('leadscoring_vid')") is None
