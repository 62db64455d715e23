"""The lead page's personal data actions: admins only, a typed confirmation, then a clear message."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from scoring.models import Activity, Lead
from tests.privacy_data import person_with_everything

pytestmark = pytest.mark.django_db
EMAIL = "eva.erasmus@kunde.example"


@pytest.fixture(autouse=True)
def _language_restored():  # type: ignore[no-untyped-def]
    """A request in German or Dutch leaves that language active in the thread (LocaleMiddleware
    does not switch back); the next test must not start in it."""
    before = translation.get_language()
    yield
    translation.activate(before)


@pytest.fixture
def person(sales_user):  # type: ignore[no-untyped-def]
    return person_with_everything(EMAIL, sales_user=sales_user)


def _url(name: str, lead: Lead) -> str:
    return reverse(f"pipeline:{name}", args=[lead.pk])


def test_admins_see_both_actions_on_the_lead_page(client, admin_user_role, person):
    client.force_login(admin_user_role)
    page = client.get(_url("lead_detail", person)).content.decode()
    assert f'href="{_url("lead_personal_data", person)}"' in page
    assert f'href="{_url("lead_erase", person)}"' in page


@pytest.mark.parametrize("role", ["sales_user", "marketing_user"])
def test_sales_and_marketing_neither_see_nor_reach_them(client, person, role, request):  # type: ignore[no-untyped-def]
    client.force_login(request.getfixturevalue(role))
    page = client.get(_url("lead_detail", person))
    assert page.status_code == 200 and b'id="personal-data"' not in page.content
    assert client.get(_url("lead_personal_data", person)).status_code == 403
    assert client.get(_url("lead_erase", person)).status_code == 403
    assert client.post(_url("lead_erase", person), {"confirmation": EMAIL}).status_code == 403
    assert Lead.objects.filter(pk=person.pk).exists()


def test_the_export_is_a_json_download_not_kept_in_caches(client, admin_user_role, person):
    client.force_login(admin_user_role)
    response = client.get(_url("lead_personal_data", person))
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="lead-{person.pk}-personal-data.json"'
    )
    assert response["Cache-Control"] == "no-store"
    assert json.loads(response.content)["lead"]["email"] == EMAIL


def test_the_confirmation_page_says_what_goes_and_a_wrong_phrase_erases_nothing(
    client, admin_user_role, person
):
    client.force_login(admin_user_role)
    page = client.get(_url("lead_erase", person)).content.decode()
    assert "2 activities" in page and "1 handoff" in page and "3 webhook deliveries" in page
    assert f"Type {EMAIL} to confirm" in page
    refused = client.post(_url("lead_erase", person), {"confirmation": "eva"})
    assert refused.status_code == 400
    assert "nothing was erased" in refused.content.decode()
    assert Lead.objects.filter(pk=person.pk).exists()


def test_erasing_redirects_to_the_queue_with_what_was_erased(client, admin_user_role, person):
    client.force_login(admin_user_role)
    response = client.post(_url("lead_erase", person), {"confirmation": f"  {EMAIL.upper()} "})
    assert response.status_code == 302 and response["Location"] == reverse("pipeline:queue")
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith(f"Lead {person.pk} was erased, with everything stored about")
    assert "2 activities" in message and "1 tracked browser" in message
    assert EMAIL not in message and "Eva" not in message
    assert not Lead.objects.filter(pk=person.pk).exists()
    assert not Activity.objects.filter(lead_id=person.pk).exists()
    assert client.get(_url("lead_erase", person)).status_code == 404


def test_a_lead_without_an_address_is_confirmed_by_its_id(client, admin_user_role):
    lead = Lead.objects.create(first_name="Nameless")
    client.force_login(admin_user_role)
    assert f"Type {lead.pk} to confirm" in client.get(_url("lead_erase", lead)).content.decode()
    response = client.post(_url("lead_erase", lead), {"confirmation": str(lead.pk)}, follow=True)
    assert "nothing else was stored about the person" in response.content.decode()


@pytest.mark.parametrize(
    ("language", "action", "confirm", "done"),
    [
        ("de", "Diese Person löschen", "Geben Sie zur Bestätigung", "2 Aktivitäten"),
        ("nl", "Deze persoon wissen", "ter bevestiging", "2 activiteiten"),
    ],
)
def test_the_actions_speak_german_and_dutch(  # type: ignore[no-untyped-def]
    client, admin_user_role, person, language, action, confirm, done
):
    client.force_login(admin_user_role)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    assert action in client.get(_url("lead_detail", person), **headers).content.decode()
    page = client.get(_url("lead_erase", person), **headers).content.decode()
    assert confirm in page and done in page and "Export personal data" not in page
    response = client.post(_url("lead_erase", person), {"confirmation": EMAIL}, **headers)
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert done in message and "erased" not in message
