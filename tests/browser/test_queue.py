"""A sales user works the handoff queue in the browser: accept, qualify, record a win, reject."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from scoring.models import Handoff, HandoffStatus, LeadOutcome
from tests.browser.conftest import at_path, sign_in

pytestmark = pytest.mark.browser


def _row_id(row) -> int:  # type: ignore[no-untyped-def]
    return int(row.get_attribute("id").removeprefix("handoff-"))


def test_sales_works_the_queue_and_opens_a_lead(demo, page, screenshot):
    sign_in(page, "sales")
    page.get_by_role("link", name="Handoff queue").click()
    page.wait_for_url(at_path("/queue/"))
    expect(page.get_by_role("heading", name="Handoff queue")).to_be_visible()
    expect(page.locator("tr.queue-row").first).to_be_visible()
    screenshot("queue-sales")

    # Only my handoffs: the filter swaps the table in place and keeps the URL shareable.
    page.get_by_label("Owner").select_option(label="Me")
    page.wait_for_url("**/queue/?*owner=me*")
    expect(page.locator("tr.queue-row").first).to_be_visible()
    first, second = page.locator("tr.queue-row").nth(0), page.locator("tr.queue-row").nth(1)
    won_id, rejected_id = _row_id(first), _row_id(second)
    won_row, rejected_row = (
        page.locator(f"#handoff-{won_id}"),
        page.locator(f"#handoff-{rejected_id}"),
    )
    expect(won_row.get_by_text("Why here:")).to_be_visible()

    won_row.get_by_role("button", name="Accept").click()
    expect(won_row.get_by_text("Accepted (SAL)", exact=True)).to_be_visible()
    expect(won_row.get_by_role("status")).to_contain_text("sales accepted")
    screenshot("queue-accepted")

    won_row.get_by_role("button", name="Qualify").click()
    expect(won_row.get_by_text("Qualified (SQL)", exact=True)).to_be_visible()

    won_row.get_by_text("Record outcome…").click()
    won_row.get_by_label("Won").check()
    won_row.get_by_label("Deal value (€)").fill("24500")
    won_row.get_by_role("button", name="Save outcome").click()
    expect(won_row.get_by_text("Won", exact=True)).to_be_visible()
    expect(won_row.get_by_text("€ 24,500")).to_be_visible()

    rejected_row.get_by_text("Reject…").click()
    rejected_row.get_by_label("Reason").select_option(label="Wrong persona / no decision maker")
    rejected_row.get_by_label("Note for marketing").fill("Works in HR, not purchasing")
    screenshot("queue-reject-form")
    rejected_row.get_by_role("button", name="Reject and send back to marketing").click()
    expect(rejected_row.get_by_text("Back with marketing for nurturing.")).to_be_visible()
    screenshot("queue-worked")

    won = Handoff.objects.get(pk=won_id)
    assert won.status == HandoffStatus.WON and won.outcome_value == Decimal(24500)
    assert LeadOutcome.objects.get(lead=won.lead).outcome == "won"
    rejected = Handoff.objects.get(pk=rejected_id)
    assert rejected.status == HandoffStatus.REJECTED
    assert rejected.reason == "Wrong persona / no decision maker"
    assert list(won.actions.values_list("kind", flat=True))[-3:] == ["accepted", "qualified", "won"]

    # The rejection is visible to marketing in the queue's "Rejected" view.
    page.get_by_label("Owner").select_option(label="Anyone")
    page.get_by_label("Status").select_option(label="Rejected")
    expect(page.locator(f"#handoff-{rejected_id}")).to_contain_text("Works in HR")

    # Open the lead and see why it scored.
    page.locator(f"#handoff-{rejected_id}").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Why this score").first).to_be_visible()
    expect(page.locator("table.explanation").first).to_be_visible()
    expect(page.get_by_role("heading", name="Handoffs to sales")).to_be_visible()
    expect(page.locator("#handoffs")).to_contain_text("Wrong persona / no decision maker")
    screenshot("lead-from-queue")


def test_marketing_sees_the_queue_without_actions(demo, page, screenshot):
    sign_in(page, "marketing")
    page.goto("/queue/")
    expect(page.get_by_text("only sales can act on handoffs")).to_be_visible()
    expect(page.locator("tr.queue-row").first).to_be_visible()
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    screenshot("queue-marketing")


def test_a_sales_user_saves_a_filter(demo, page, screenshot):
    sign_in(page, "sales")
    page.goto("/queue/?owner=me&model=b2b-saas")
    page.get_by_placeholder("Name for these filters").fill("My B2B leads")
    page.get_by_role("button", name="Save these filters").click()
    expect(page.get_by_text("Saved the filter")).to_be_visible()
    page.goto("/queue/")
    page.get_by_role("link", name="My B2B leads").click()
    page.wait_for_url("**/queue/?*model=b2b-saas*")
    expect(page.get_by_label("Model")).to_have_value("b2b-saas")
    screenshot("queue-saved-filter")


PHONE = {"width": 390, "height": 844}


def test_on_a_phone_each_handoff_is_a_card_with_its_action_in_reach(demo, page, screenshot):
    page.set_viewport_size(PHONE)
    sign_in(page, "sales")
    page.get_by_role("link", name="Handoff queue").click()
    page.wait_for_url(at_path("/queue/"))
    page.get_by_label("Owner").select_option(label="Me")
    page.wait_for_url("**/queue/?*owner=me*")
    row = page.locator("tr.queue-row").first
    expect(row).to_be_visible()
    # Nothing sideways: the page is as wide as the phone, the row's action on screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    accept = row.get_by_role("button", name="Accept")
    box = accept.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] >= 40  # a finger's size
    # The lead comes first, then its action, then the facts, each with its label.
    lead_box = row.locator(".lead-cell").bounding_box()
    assert lead_box is not None and lead_box["y"] < box["y"]
    label = row.locator("td.sla").evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Follow up by"'

    expect(page.get_by_role("link", name="Reports")).to_be_attached()
    screenshot("queue-phone-sales", full_page=False)  # what the phone shows first
    row.scroll_into_view_if_needed()
    screenshot("queue-phone-first-card", full_page=False)

    accept.click()
    expect(row.get_by_role("status")).to_contain_text("sales accepted")
    qualify = row.get_by_role("button", name="Qualify").bounding_box()
    assert qualify is not None and qualify["x"] + qualify["width"] <= PHONE["width"]
    screenshot("queue-phone-accepted", full_page=False)
