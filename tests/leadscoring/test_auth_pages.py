"""Every page but login needs a signed-in user; each role lands on the overview and the admin."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_page_is_public(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in" in response.content


@pytest.mark.parametrize("role_fixture", ["marketing_user", "sales_user", "admin_user_role"])
def test_each_role_signs_in_and_sees_overview_and_admin(client, request, role_fixture):
    user = request.getfixturevalue(role_fixture)
    response = client.post(
        reverse("login"), {"username": user.username, "password": "pw-" + user.username}
    )
    assert response.status_code == 302 and response.url == reverse("home")
    overview = client.get(reverse("home"))
    assert overview.status_code == 200
    assert b"Scoring models" in overview.content
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == 200
    assert b"Leads" in admin.content


def test_sales_cannot_edit_scoring_models_in_admin(client, sales_user):
    client.force_login(sales_user)
    response = client.get(reverse("admin:scoring_scoringmodel_add"))
    assert response.status_code == 403


def test_marketing_can_add_scoring_models_in_admin(client, marketing_user):
    client.force_login(marketing_user)
    assert client.get(reverse("admin:scoring_scoringmodel_add")).status_code == 200


def test_user_without_role_sees_no_admin_models(client, outsider):
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)
    response = client.get(reverse("admin:index"))
    assert b"Leads" not in response.content


def test_logout_ends_the_session(client, marketing_user):
    client.force_login(marketing_user)
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_admin_lead_score_page_explains_every_point(client, marketing_user):
    from io import StringIO

    from django.core.management import call_command

    from scoring.models import LeadScore

    call_command("seed_demo", force=True, stdout=StringIO())
    score = LeadScore.objects.filter(lead__email="tanja.berger@gmx.de").get()
    client.force_login(marketing_user)
    page = client.get(reverse("admin:scoring_leadscore_change", args=[score.pk])).content.decode()
    for contribution in score.explanation:
        assert contribution["criterion"] in page
    assert "Store locator" in page and "+20" in page
