"""A sales user opens a lead and sees every score explained, its history and the timeline."""

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from scoring.models import Lead

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db):  # type: ignore[no-untyped-def]
    call_command("seed_demo", force=True, stdout=StringIO())


def _sign_in(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login/")
    page.get_by_label("User name").fill("sales")
    page.get_by_label("Password").fill("demo-sales")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def test_the_buyer_persona_is_explained_point_by_point(demo, page, screenshot):
    lead = Lead.objects.get(email="sanne.devries@van-der-berg-logistiek.nl")
    _sign_in(page)
    page.goto(f"/leads/{lead.pk}/")
    expect(page.get_by_role("heading", name="Sanne de Vries")).to_be_visible()
    expect(page.locator("#account")).to_contain_text("Van der Berg Logistiek B.V.")
    explanation = page.locator("table.explanation").first
    webinar = explanation.get_by_role("row").filter(has_text="Webinar or event")
    expect(webinar).to_contain_text("Digitale Beschaffung im Mittelstand")
    expect(explanation.get_by_role("row").filter(has_text="Demo request")).to_contain_text("+100")
    expect(page.get_by_text("of the MQL threshold").first).to_be_visible()
    expect(page.locator("figure.chart svg polyline.series").first).to_be_visible()
    screenshot("lead-buyer")

    page.get_by_role("link", name="← Handoff queue").click()
    expect(page.get_by_role("heading", name="Handoff queue")).to_be_visible()


def test_a_consumer_shows_star_bands(demo, page, screenshot):
    lead = Lead.objects.get(email="tanja.berger@gmx.de")
    _sign_in(page)
    page.goto(f"/leads/{lead.pk}/")
    expect(page.locator(".stars").first).to_contain_text("★★★★")
    expect(page.locator("table.explanation").first).to_contain_text("Store locator")
    screenshot("lead-consumer-stars")


def test_leads_are_linked_from_the_overview(demo, page):
    _sign_in(page)
    page.locator("main").get_by_role("link").filter(has_text="de Vries").first.click()
    expect(page.get_by_role("heading", name="Why this score").first).to_be_visible()
