"""Ingestion tokens, and the admin screens for tracked sites, webhooks and their deliveries."""

import pytest

from integrations.models import (
    IngestionToken,
    TrackingSite,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from integrations.tokens import ingestion_token_create
from tests.integrations.conftest import ORIGIN

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_only_as_a_digest():
    token, key = ingestion_token_create(name="Shop")
    assert key.startswith("lsi_") and token.prefix == key[:8]
    assert key not in token.digest and IngestionToken.objects.get().digest == token.digest


def test_admin_creates_a_token_and_shows_the_key_once(client, admin_user_role):
    client.force_login(admin_user_role)
    response = client.post(
        "/admin/integrations/ingestiontoken/add/", {"name": "Web forms", "source": "webforms"},
        follow=True,
    )  # fmt: skip
    token = IngestionToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any(token.prefix in m and "not shown again" in m for m in shown)
    assert token.created_by == admin_user_role


def test_site_origins_must_be_plain_origins(client, admin_user_role):
    client.force_login(admin_user_role)
    bad = client.post("/admin/integrations/trackingsite/add/",
                      {"name": "Shop", "allowed_origins": '["https://shop.example/path"]', "active": "on"})  # fmt: skip
    assert bad.status_code == 200 and "is not an origin" in bad.content.decode()
    ok = client.post("/admin/integrations/trackingsite/add/",
                     {"name": "Shop", "allowed_origins": '["HTTPS://Shop.example/"]', "active": "on"})  # fmt: skip
    assert ok.status_code == 302
    assert TrackingSite.objects.get().allowed_origins == ["https://shop.example"]


def test_admin_pages_for_integrations_load(client, admin_user_role, site):
    client.force_login(admin_user_role)
    endpoint = WebhookEndpoint.objects.create(name="CRM", url="https://crm.example/hook",
                                              events=[WebhookEvent.LEAD_MQL])  # fmt: skip
    WebhookDelivery.objects.create(endpoint=endpoint, event=WebhookEvent.LEAD_MQL,
                                   event_key="score_event:1", payload={}, status="failed")  # fmt: skip
    for url in ["/admin/integrations/trackingsite/", f"/admin/integrations/trackingsite/{site.pk}/change/",
                "/admin/integrations/webhookendpoint/add/", "/admin/integrations/webhookdelivery/",
                "/admin/integrations/ingestiontoken/", "/admin/integrations/visitor/"]:  # fmt: skip
        assert client.get(url).status_code == 200, url
    change = client.get(f"/admin/integrations/trackingsite/{site.pk}/change/").content.decode()
    assert f"/tracking/demo/{site.site_key}/" in change


def test_demo_page_shows_the_snippet_and_warns_about_a_missing_origin(
    client, admin_user_role, site
):
    client.force_login(admin_user_role)
    page = client.get(f"/tracking/demo/{site.site_key}/").content.decode()
    assert f'data-site-key="{site.site_key}"' in page and "/static/js/track.js" in page
    assert "is not among the site's allowed origins" in page
    site.allowed_origins = [ORIGIN, "http://testserver"]
    site.save()
    page = client.get(f"/tracking/demo/{site.site_key}/").content.decode()
    assert "is not among" not in page


def test_demo_page_is_for_signed_in_staff_only(client, outsider, site):
    assert client.get(f"/tracking/demo/{site.site_key}/").status_code == 302
    client.force_login(outsider)
    assert client.get(f"/tracking/demo/{site.site_key}/").status_code == 302
