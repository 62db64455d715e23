"""A person signs in as each demo role and sees the overview; an admin, the admin too."""

import pytest
from playwright.sync_api import expect

from scoring.demo import DEMO_LOGINS
from tests.browser.conftest import at_path

pytestmark = pytest.mark.browser


def _sign_in(page, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    assert "/login/" in page.url  # every page but login needs a signed-in user
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(at_path("/"))


@pytest.mark.parametrize(
    "role, username, password", [login for login in DEMO_LOGINS if login[1] != "sales2"]
)
def test_each_demo_role_signs_in_and_sees_overview_and_only_admins_the_admin(
    demo, page, screenshot, role, username, password
):
    _sign_in(page, username, password)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("#models").get_by_text("B2B SaaS", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Highest scores")).to_be_visible()
    screenshot(f"overview-{role}")
    if role != "admin":  # only admins are staff: no link, and the admin asks to sign in
        expect(page.get_by_role("link", name="Admin")).to_have_count(0)
        page.goto("/admin/")
        assert "/admin/login/" in page.url
        return
    page.get_by_role("link", name="Admin").click()
    leads = page.locator("#content-main").get_by_role("link", name="Leads", exact=True)
    expect(leads).to_be_visible()
    screenshot(f"admin-{role}")


def test_wrong_password_is_refused_with_a_message(demo, page, screenshot):
    page.goto("/login/")
    page.get_by_label("User name").fill("sales")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("did not match")).to_be_visible()
    screenshot("login-refused")


@pytest.mark.parametrize(
    ("language", "sign_in", "overview"),
    [("Deutsch", "Anmelden", "Übersicht"), ("Nederlands", "Inloggen", "Overzicht")],
)
def test_the_language_is_picked_on_the_sign_in_page_and_stays(
    demo, page, screenshot, language, sign_in, overview
):
    page.goto("/login/")
    page.get_by_label("Language").select_option(label=language)
    expect(page.get_by_role("heading", name=sign_in)).to_be_visible()
    screenshot(f"sign-in-{language.lower()}")
    page.locator("#id_username").fill("sales")
    page.locator("#id_password").fill("demo-sales")
    page.get_by_role("button", name=sign_in).click()
    expect(page.get_by_role("heading", name=overview)).to_be_visible()
