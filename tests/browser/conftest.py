"""Headless Chromium (Debian's package, driven by Playwright) against Django's live server.

Screenshots go to $SCREENSHOT_DIR (default artifacts/screenshots), which CI keeps.
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# Playwright's sync API keeps an event loop in this thread; the ORM calls that tests make
# alongside it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is missing: run `make browser` (installs Debian's chromium)")
    return path


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# Each refusal by the content security policy, also those Chromium does not log itself (it logs
# most as "Refused to ... Content Security Policy ..." console errors).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} refused ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
});
"""


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    refused: list[str] = []

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        if "Content Security Policy" in message.text or message.text.startswith("CSP violation"):
            refused.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    yield page
    context.close()
    # Every page's scripts and styles keep to the policy (settings: CONTENT_SECURITY_POLICY).
    assert refused == [], "\n".join(refused)


@pytest.fixture
def screenshot(page):  # type: ignore[no-untyped-def]
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def demo(transactional_db):  # type: ignore[no-untyped-def]
    """The demo data, as `make run` seeds it (its users sign in with "demo-" and their name)."""
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", force=True, stdout=StringIO())


def sign_in(page, username: str, *, language: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Sign in on the sign-in page as a demo user (in the language picked there, by its own
    name: "Deutsch") and land on the overview."""
    page.goto("/login/")
    if language is None:
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(f"demo-{username}")
        page.get_by_role("button", name="Sign in").click()
    else:  # the labels are in that language now
        page.get_by_label("Language").select_option(label=language)
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(f"demo-{username}")
        page.locator("button[type=submit]").last.click()
    page.wait_for_url(at_path("/"))


def at_path(path: str) -> Callable[[str], bool]:
    """For `page.wait_for_url`: the page at this path, loaded with its scripts.

    A glob such as "**/" would match the page still showing (the sign-in page ends in "/" too),
    and a filter changed before htmx has loaded changes nothing.
    """
    return lambda url: urlsplit(url).path == path
