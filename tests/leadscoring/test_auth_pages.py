"""Every page but login needs a signed-in user; each role lands on the overview, admins only
on the admin."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_sign_in_page_can_be_read_in_german_before_signing_in(client):
    switched = client.post("/i18n/setlang/", {"language": "de", "next": "/login/"})
    assert switched.status_code == 302 and switched["Location"] == "/login/"
    page = client.get("/login/")
    assert page.status_code == 200 and 'lang="de"' in page.content.decode()


def test_login_page_is_public(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in" in response.content


@pytest.mark.parametrize("role_fixture", ["marketing_user", "sales_user", "admin_user_role"])
def test_each_role_signs_in_and_sees_overview_and_only_admins_the_admin(
    client, request, role_fixture
):
    user = request.getfixturevalue(role_fixture)
    response = client.post(
        reverse("login"), {"username": user.username, "password": "pw-" + user.username}
    )
    assert response.status_code == 302 and response.url == reverse("home")
    overview = client.get(reverse("home"))
    assert overview.status_code == 200
    assert b"Scoring models" in overview.content
    admin_link = f'href="{reverse("admin:index")}"'.encode()
    assert (admin_link in overview.content) == (role_fixture == "admin_user_role")
    admin = client.get(reverse("admin:index"))
    if role_fixture == "admin_user_role":
        assert admin.status_code == 200
        assert b"Leads" in admin.content
    else:
        assert admin.status_code == 302 and admin.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("role_fixture", ["marketing_user", "sales_user", "admin_user_role"])
def test_no_role_edits_scoring_models_in_admin(client, request, role_fixture):
    client.force_login(request.getfixturevalue(role_fixture))
    response = client.get(reverse("admin:scoring_scoringmodel_add"))
    # Sales and marketing are not staff (to the admin's sign-in); admins see it read-only.
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or response.url.startswith(reverse("admin:login"))


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


def test_admin_lead_score_page_explains_every_point(client, admin_user_role):
    from io import StringIO

    from django.core.management import call_command

    from scoring.models import LeadScore

    call_command("seed_demo", force=True, stdout=StringIO())
    score = LeadScore.objects.filter(lead__email="tanja.berger@gmx.de").get()
    client.force_login(admin_user_role)
    page = client.get(reverse("admin:scoring_leadscore_change", args=[score.pk])).content.decode()
    for contribution in score.explanation:
        assert contribution["criterion"] in page
    assert "Store locator" in page and "+20" in page
