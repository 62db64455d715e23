"""Every page sends a content security policy that runs no inline script but those carrying the
request's nonce, and the pages keep to it: no inline script without the nonce, no inline event
handler, no javascript: link, no <style> element without the nonce."""

from html.parser import HTMLParser
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from integrations.models import TrackingSite
from scoring.models import Lead, ScoringModel

pytestmark = pytest.mark.django_db

# Types a browser runs as script; others (application/json, as the admin's data blocks) are data.
SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}


def _policy(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.wsgi_request.path}: no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


class _Inline(HTMLParser):
    """What of a page runs or styles inline."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []  # attributes of inline scripts
        self.styles: list[dict[str, str | None]] = []
        self.handlers: list[str] = []  # on...= attributes and javascript: URLs

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and "src" not in named:
            if (named.get("type") or "").lower() in SCRIPT_TYPES:
                self.scripts.append(named)
        if tag == "style":
            self.styles.append(named)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.handlers.append(f"<{tag} {name}={value!r}>")


def _check(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    path = response.wsgi_request.get_full_path()
    assert response.status_code == 200, path
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"], path
    script_src = policy["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, path
    assert "'unsafe-inline'" not in policy["style-src"], path
    nonces = {s.removeprefix("'nonce-").removesuffix("'") for s in script_src if "nonce-" in s}
    page = _Inline()
    page.feed(response.content.decode())
    for attributes in page.scripts + page.styles:
        assert attributes.get("nonce") in nonces, f"{path}: inline element without the nonce"
    assert page.handlers == [], path
    return policy


@pytest.fixture
def demo(db):  # type: ignore[no-untyped-def]
    call_command("seed_demo", force=True, stdout=StringIO())


def _main_pages() -> list[str]:
    model = ScoringModel.objects.order_by("pk").first()
    lead = Lead.objects.order_by("pk").first()
    site = TrackingSite.objects.create(name="Demo shop", allowed_origins=["http://testserver"])
    assert model is not None and lead is not None
    return [
        reverse("home"),
        reverse("pipeline:queue"),
        reverse("rules_admin:list"),
        reverse("rules_admin:model", args=[model.slug]),
        reverse("rules_admin:criterion_new", args=[model.slug]),
        reverse("rules_admin:proposals", args=[model.slug]),
        reverse("rules_admin:history", args=[model.slug]),
        reverse("pipeline:lead_detail", args=[lead.pk]),
        reverse("reports:dashboard"),
        reverse("tracking-demo", args=[site.site_key]),
        reverse("api-docs"),
        reverse("api:lead-list"),  # the API browser
        reverse("admin:index"),
        reverse("admin:scoring_lead_changelist"),
        reverse("admin:scoring_lead_change", args=[lead.pk]),
    ]


def test_the_sign_in_page(client):
    _check(client.get(reverse("login")))


def test_every_main_page_as_an_admin(client, demo, admin_user_role):
    client.force_login(admin_user_role)
    for path in _main_pages():
        _check(client.get(path, HTTP_ACCEPT="text/html"))


def test_the_nonce_is_new_for_every_response(client, demo, admin_user_role):
    client.force_login(admin_user_role)
    docs = reverse("api-docs")
    first, second = (_policy(client.get(docs))["script-src"] for _ in range(2))
    assert any("nonce-" in s for s in first) and first != second


def test_the_api_docs_inline_script_and_style_carry_the_nonce(client):
    response = client.get(reverse("api-docs"))  # public, like the schema
    policy = _check(response)
    page = _Inline()
    page.feed(response.content.decode())
    assert len(page.scripts) == 1 and len(page.styles) == 1  # SwaggerUIBundle({...}) and its CSS
    assert any("nonce-" in s for s in policy["style-src"])


def test_htmx_is_told_not_to_add_its_indicator_style(client, demo, admin_user_role):
    client.force_login(admin_user_role)
    page = client.get(reverse("pipeline:queue")).content.decode()
    assert "htmx.min.js" in page
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in page


def test_the_criterion_form_swapped_in_by_htmx_has_no_inline_script(client, demo, admin_user_role):
    # Its response's nonce is not the page's: an inline script in it would be refused.
    client.force_login(admin_user_role)
    model = ScoringModel.objects.order_by("pk").first()
    assert model is not None
    response = client.get(
        reverse("rules_admin:criterion_new", args=[model.slug]), HTTP_HX_REQUEST="true"
    )
    page = _Inline()
    page.feed(response.content.decode())
    assert "js/criterion-fields.js" in response.content.decode()
    assert page.scripts == []


def test_a_lockout_page_keeps_the_policy(client, admin_user_role):
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "ada", "password": "wrong"})
    assert response.status_code == 429
    assert _policy(response)["default-src"] == ["'self'"]
