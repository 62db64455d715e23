"""The rule editor in a real browser: edit, preview, publish, propose, and roles refused."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import at_path

pytestmark = pytest.mark.browser
MODEL = "/rules/b2b-saas/"


def _sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.goto("/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(f"demo-{username}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(at_path("/"))


def test_marketing_adds_a_criterion_previews_publishes_and_sees_it_on_a_lead(
    demo, page, screenshot
):
    _sign_in(page, "marketing")
    page.get_by_role("link", name="Scoring rules").click()
    page.get_by_role("link", name="B2B SaaS").click()
    changed = page.locator("#whatif-changed")
    expect(changed).to_have_text("0")
    screenshot("rule-editor-1-model")

    page.get_by_role("link", name="Add a criterion").click()
    form = page.locator("#criterion-form")
    form.get_by_label("Name", exact=True).fill("Has a job title")
    form.get_by_label("Points", exact=True).fill("7")
    form.get_by_label("Field", exact=True).fill("lead.job_title")
    form.get_by_label("Field", exact=True).blur()  # closes its suggestions list
    form.get_by_label("Condition", exact=True).first.select_option("is_set")
    screenshot("rule-editor-2-criterion-form")
    form.get_by_role("button", name="Save in the draft").click()

    criterion = page.locator('[data-criterion="Has a job title"]')
    expect(criterion).to_contain_text("+7 when the lead's job title is filled in")
    expect(changed).not_to_have_text("0")
    lead_id = page.locator("details.affected").first.get_attribute("data-lead")
    screenshot("rule-editor-3-whatif")

    page.get_by_label("What changed and why").fill("Leads who tell us their role are worth more")
    page.get_by_role("button", name="Publish the draft").click()
    status = page.locator(".run-status")
    expect(status).to_have_attribute("data-status", "done")
    expect(page.locator("#progress progress")).to_have_attribute("value", "100")
    expect(page.locator(".message")).to_contain_text("Version 2 is live")
    screenshot("rule-editor-4-published")

    page.goto(f"/leads/{lead_id}/")
    row = page.locator("table.explanation tr", has_text="Has a job title").first
    expect(row).to_contain_text("+7")
    screenshot("rule-editor-5-lead-explanation")

    page.goto(MODEL + "history/")
    expect(page.get_by_text("Leads who tell us their role are worth more")).to_be_visible()
    expect(page.locator("ul.diff li.added")).to_contain_text("Has a job title")
    screenshot("rule-editor-6-history")


def test_a_sales_proposal_is_applied_by_marketing(demo, page, screenshot):
    _sign_in(page, "sales")
    page.goto(MODEL + "proposals/")
    form = page.locator("#propose")
    form.get_by_label("I propose to").select_option("change")
    form.get_by_label("Criterion", exact=True).select_option("Visit")
    form.get_by_label("Why", exact=True).fill("Readers of many pages call us back")
    form.get_by_label("Name", exact=True).fill("Visit")
    form.get_by_label("Type", exact=True).select_option("activity")
    form.get_by_label("Points", exact=True).fill("2")
    form.get_by_label("Activity kinds", exact=True).fill("page_view")
    screenshot("proposal-1-sales-form")
    form.get_by_role("button", name="Send the proposal").click()
    expect(page.get_by_text("Your proposal was sent to marketing.")).to_be_visible()
    page.get_by_label("Comment", exact=True).fill("Seen in ten calls this month")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator("#thread")).to_contain_text("Seen in ten calls this month")
    proposal_url = page.url

    _sign_in(page, "marketing")
    page.goto(proposal_url)
    expect(page.locator("#thread")).to_contain_text("Seen in ten calls this month")
    screenshot("proposal-2-marketing-view")
    page.get_by_role("button", name="Apply to the draft").click()
    expect(page.get_by_text("The proposal is in the draft")).to_be_visible()
    expect(page.locator('[data-criterion="Visit"]')).to_contain_text("+2 for each page_view")
    screenshot("proposal-3-applied")


def test_sales_is_refused_when_publishing(demo, page, screenshot):
    _sign_in(page, "sales")
    page.goto(MODEL)
    expect(page.get_by_role("heading", name="B2B SaaS")).to_be_visible()
    expect(page.get_by_role("button", name="Publish the draft")).to_have_count(0)
    screenshot("sales-model-read-only")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        MODEL + "publish/",
        form={"note": "sneaky"},
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    assert response.status == 403
    from scoring.models import ScoringModel

    assert ScoringModel.objects.get(slug="b2b-saas").versions.count() == 1
