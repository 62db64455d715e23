"""An admin exports a person's data from the lead page, then erases the person."""

import json

import pytest
from playwright.sync_api import expect

from scoring.models import Activity, Handoff, Lead
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser
EMAIL = "sanne.devries@van-der-berg-logistiek.nl"


def test_an_admin_exports_and_then_erases_a_person(demo, page, screenshot, tmp_path):
    lead = Lead.objects.get(email=EMAIL)
    activities = Activity.objects.filter(lead=lead).count()
    assert activities and Handoff.objects.filter(lead=lead).exists()
    sign_in(page, "admin")
    page.goto(f"/leads/{lead.pk}/")
    section = page.locator("#personal-data")
    expect(section).to_contain_text("Only admins see this.")
    section.scroll_into_view_if_needed()
    screenshot("privacy-lead-page-actions")

    with page.expect_download() as download_info:
        section.get_by_role("link", name="Export personal data").click()
    download = download_info.value
    assert download.suggested_filename == f"lead-{lead.pk}-personal-data.json"
    saved = tmp_path / download.suggested_filename  # personal data: not among the artifacts
    download.save_as(saved)
    exported = json.loads(saved.read_text(encoding="utf-8"))
    assert exported["lead"]["email"] == EMAIL and len(exported["activities"]) == activities

    section.get_by_role("link", name="Erase this person").click()
    expect(page.get_by_role("heading", name="Erase Sanne de Vries?")).to_be_visible()
    expect(page.locator("#erase-what")).to_contain_text(f"{activities} activities")
    confirmation = page.get_by_label(f"Type {EMAIL} to confirm")
    confirmation.fill("sanne")  # not the whole address: nothing happens
    page.get_by_role("button", name="Erase this person").click()
    expect(page.get_by_text("What you typed does not match; nothing was erased.")).to_be_visible()
    assert Lead.objects.filter(pk=lead.pk).exists()
    screenshot("privacy-erase-confirm")

    page.get_by_label(f"Type {EMAIL} to confirm").fill(EMAIL.upper())
    page.get_by_role("button", name="Erase this person").click()
    page.wait_for_url("**/queue/")
    message = page.locator(".message.success")
    expect(message).to_contain_text(f"Lead {lead.pk} was erased")
    expect(message).to_contain_text(f"{activities} activities")
    expect(message).not_to_contain_text("Sanne")
    expect(page.locator("main")).not_to_contain_text("Sanne de Vries")
    screenshot("privacy-erased-queue")
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert not Activity.objects.filter(lead_id=lead.pk).exists()

    assert page.goto(f"/leads/{lead.pk}/").status == 404


def test_sales_sees_no_personal_data_actions(demo, page):
    lead = Lead.objects.get(email=EMAIL)
    sign_in(page, "sales")
    page.goto(f"/leads/{lead.pk}/")
    expect(page.get_by_role("heading", name="Sanne de Vries")).to_be_visible()
    expect(page.locator("#personal-data")).to_have_count(0)
    assert page.goto(f"/leads/{lead.pk}/erase/").status == 403
    assert page.goto(f"/leads/{lead.pk}/").status == 200
