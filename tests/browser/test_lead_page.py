"""A sales user opens a lead and sees every score explained, its history and the timeline."""

import pytest
from playwright.sync_api import expect

from scoring.models import Lead
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_the_buyer_persona_is_explained_point_by_point(demo, page, screenshot):
    lead = Lead.objects.get(email="sanne.devries@van-der-berg-logistiek.nl")
    sign_in(page, "sales")
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
    sign_in(page, "sales")
    page.goto(f"/leads/{lead.pk}/")
    expect(page.locator(".stars").first).to_contain_text("★★★★")
    expect(page.locator("table.explanation").first).to_contain_text("Store locator")
    screenshot("lead-consumer-stars")


def test_leads_are_linked_from_the_overview(demo, page):
    sign_in(page, "sales")
    page.locator("main").get_by_role("link").filter(has_text="de Vries").first.click()
    expect(page.get_by_role("heading", name="Why this score").first).to_be_visible()
