"""Anyone who works with leads finds one from the top bar, narrows the list and opens it."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_marketing_finds_a_lead_from_the_top_bar_and_opens_it(demo, page, screenshot):
    sign_in(page, "marketing")
    search = page.get_by_role("searchbox", name="Find a lead")
    search.fill("meijer")
    search.press("Enter")
    page.wait_for_url("**/leads/?q=meijer")
    expect(page.get_by_role("heading", name="Leads")).to_be_visible()
    rows = page.locator("tr.lead-row")
    expect(rows.first).to_contain_text("Meijer")
    for text in rows.all_inner_texts():
        assert "meijer" in text.lower()
    screenshot("leads-search-marketing")

    # Narrowed in place: the hot band of the model only, still matching the search.
    page.get_by_label("Band").select_option(label="hot")
    page.wait_for_url("**band=hot**")
    expect(page.get_by_role("status")).to_contain_text("scored in")
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Why this score").first).to_be_visible()


@pytest.mark.parametrize(("language", "heading", "status"), [("Deutsch", "Leads", "bewertet in")])
def test_the_list_reads_in_german_on_a_phone(demo, page, screenshot, language, heading, status):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "sales", language=language)
    page.goto("/leads/")
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(status)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("leads-phone-de", full_page=False)
