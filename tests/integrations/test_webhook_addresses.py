"""Webhooks go to public hosts only: a private, loopback or link-local address is refused when
the endpoint is saved and again before each delivery (a name may point elsewhere later)."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.addresses import webhook_address_problem
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.webhooks import deliveries_for_handoffs, webhook_deliver
from scoring.models import Handoff
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _public_only(settings):  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False


@pytest.fixture
def resolves_to(monkeypatch):  # type: ignore[no-untyped-def]
    """Make every host name resolve to the given address (no network here)."""

    def point(address: str) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        monkeypatch.setattr(
            socket, "getaddrinfo",
            lambda *args, **kwargs: [(family, socket.SOCK_STREAM, 6, "", (address, 0))],
        )  # fmt: skip

    return point


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook", "http://[::1]/hook", "http://10.0.0.5/crm",
        "http://192.168.1.20/crm", "http://172.16.0.1/", "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/", "http://0.0.0.0/", "http://100.64.0.1/",
    ],
)  # fmt: skip
def test_literal_private_and_local_addresses_are_refused(url):
    assert "private or local address" in webhook_address_problem(url)


def test_a_name_that_resolves_to_a_private_address_is_refused(resolves_to):
    resolves_to("10.1.2.3")
    assert "crm.intern.example is a private or local address (10.1.2.3)" in (
        webhook_address_problem("https://crm.intern.example/hook")
    )
    resolves_to("93.184.215.14")
    assert webhook_address_problem("https://crm.example.com/hook") is None


def test_an_unknown_host_is_named(monkeypatch):
    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert webhook_address_problem("https://nowhere.example/") == (
        "The host nowhere.example cannot be found."
    )


def test_the_admin_form_refuses_a_private_endpoint(client, admin_user_role):
    client.force_login(admin_user_role)
    response = client.post(
        "/admin/integrations/webhookendpoint/add/",
        {"name": "Metadata", "url": "http://169.254.169.254/latest/", "events": ["lead.mql"],
         "active": "on", "secret": "s3cret-s3cret-s3cret"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "private or local address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_delivery_to_a_host_that_now_points_inside_is_refused_without_a_request(
    web_model, resolves_to, monkeypatch
):
    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example.com/hook", events=[WebhookEvent.HANDOFF_CREATED]
    )
    handoff = Handoff.objects.create(
        lead=LeadFactory(), scoring_model=web_model, score_at_handoff=12,
        sla_due_at=timezone.now() + timedelta(hours=8),
    )  # fmt: skip
    [delivery_id] = deliveries_for_handoffs(handoff_ids=[handoff.pk], action="created")
    WebhookDelivery.objects.filter(pk=delivery_id).update(status=WebhookDelivery.Status.PENDING)
    resolves_to("127.0.0.1")
    sent = []
    monkeypatch.setattr("integrations.webhooks.requests.post", lambda *a, **k: sent.append(a))
    delivery = webhook_deliver(delivery_id=delivery_id)
    assert sent == []
    assert delivery.last_error.startswith("Refused: crm.example.com is a private or local address")
    assert delivery.endpoint == endpoint and delivery.last_status_code is None
