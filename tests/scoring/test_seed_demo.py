"""Demo data: realistic shape, demo users per role, idempotent, and the seed_demo command."""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Max

from scoring import roles
from scoring.demo import DEMO_LOGINS, SOURCE, build_demo_data, seed_demo
from scoring.models import Account, Activity, Lead, LeadOutcome

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.clock(NOW)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def summary(db):  # type: ignore[no-untyped-def]
    return seed_demo(now=NOW)


def _counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "accounts": Account.objects.count(),
        "leads": Lead.objects.count(),
        "activities": Activity.objects.count(),
        "outcomes": LeadOutcome.objects.count(),
    }


def test_generator_is_deterministic_and_pure() -> None:
    first, again = build_demo_data(now=NOW), build_demo_data(now=NOW)
    assert first == again
    assert build_demo_data(now=NOW, seed=7).leads != first.leads


@pytest.mark.django_db
def test_counts_are_in_the_expected_ranges(summary) -> None:  # type: ignore[no-untyped-def]
    counts = _counts()
    assert counts["users"] == 4
    assert 55 <= counts["accounts"] <= 65
    assert 280 <= counts["leads"] <= 320
    assert 3500 <= counts["activities"] <= 4500
    assert 120 <= counts["outcomes"] <= 240
    assert summary.created == counts
    assert summary.existing == {
        "users": 0, "accounts": 0, "leads": 0, "activities": 0, "outcomes": 0
    }  # fmt: skip


@pytest.mark.django_db
def test_accounts_look_like_german_and_dutch_companies(summary) -> None:  # type: ignore[no-untyped-def]
    names = set(Account.objects.values_list("name", flat=True))
    assert {
        "Müller Maschinenbau GmbH",
        "Van der Berg Logistiek B.V.",
        "Schreibwaren Schmidt KG",
    } <= names
    assert any(n.endswith(" GmbH") for n in names) and any(n.endswith(" B.V.") for n in names)
    countries = set(Account.objects.values_list("country", flat=True))
    assert {"DE", "NL"} <= countries <= {"DE", "NL", "AT", "BE", "CH"}
    assert 2 <= Account.objects.filter(is_competitor=True).count() <= 3
    assert Account.objects.filter(is_target_account=True).count() >= 5
    assert Account.objects.filter(employee_count__range=(10, 20)).exists()
    assert Account.objects.filter(employee_count__range=(100, 200)).count() >= 10
    assert not Account.objects.filter(annual_revenue__isnull=True).exists()
    assert Account.objects.filter(attributes__segment="mid-market").exists()
    assert all(
        re.fullmatch(r"A-\d{3}", x) for x in Account.objects.values_list("external_id", flat=True)
    )


@pytest.mark.django_db
def test_leads_cover_b2b_and_b2c(summary) -> None:  # type: ignore[no-untyped-def]
    b2b, b2c = Lead.objects.filter(account__isnull=False), Lead.objects.filter(account__isnull=True)
    assert b2b.count() >= 150 and 80 <= b2c.count() <= 120
    assert b2b.filter(job_title__in=["Student", "Werkstudent Marketing"]).count() >= 2
    assert {"website", "webinar", "trade_fair", "newsletter", "linkedin", "partner"} <= set(
        b2b.values_list("source", flat=True)
    )
    assert b2c.filter(attributes__interest="paper").exists()
    assert b2c.filter(attributes__interest="paint").exists()
    assert b2c.filter(birthday__isnull=False).count() >= 20
    stages = Counter(Lead.objects.values_list("lifecycle_stage", flat=True))
    # Still open: most leads; decided: the older ones (won leads are customers now).
    assert stages["lead"] + stages["subscriber"] > 0.5 * sum(stages.values())
    assert (
        stages["customer"] >= LeadOutcome.objects.filter(outcome__in=["won", "converted"]).count()
    )
    assert stages["disqualified"] >= LeadOutcome.objects.filter(outcome="disqualified").count()
    assert 1 <= Lead.objects.filter(unsubscribed=True).count() <= 30
    assert 1 <= Lead.objects.filter(email_invalid=True).count() <= 30
    emails = list(Lead.objects.values_list("email", flat=True))
    assert len(set(emails)) == len(emails) and all(e == e.lower() and "@" in e for e in emails)
    assert all(
        re.fullmatch(r"L-\d{4}", x) for x in Lead.objects.values_list("external_id", flat=True)
    )
    owners = set(b2b.filter(owner__isnull=False).values_list("owner__username", flat=True))
    assert owners == {"sales", "sales2"}
    assert not b2c.filter(owner__isnull=False).exists()
    tanja = Lead.objects.get(email="tanja.berger@gmx.de")
    assert tanja.account is None and tanja.attributes["interest"] == "paint"
    assert tanja.activities.filter(kind="store_locator").exists()


@pytest.mark.django_db
def test_activities_are_recent_varied_and_skewed(summary) -> None:  # type: ignore[no-untyped-def]
    activities = Activity.objects.all()
    assert not activities.exclude(source=SOURCE).exists()
    assert not activities.filter(occurred_at__gt=NOW).exists()
    assert not activities.filter(occurred_at__lt=NOW - timedelta(days=120)).exists()
    kinds = set(activities.values_list("kind", flat=True))
    assert {
        "page_view", "newsletter_signup", "email_open", "email_click", "content_download",
        "webinar_registered", "webinar_attended", "event_attended", "demo_request", "trial_signup",
        "live_chat", "cart_add", "store_locator", "form_submit",
    } <= kinds  # fmt: skip
    assert set(activities.values_list("channel", flat=True)) == {"web", "email", "event", "chat"}
    assert activities.filter(kind="page_view", properties__url="/pricing").exists()
    assert activities.filter(kind="page_view", properties__url__startswith="/jobs").exists()
    assert activities.filter(kind="cart_add", lead__account__isnull=True).exists()
    assert not activities.filter(kind="demo_request", lead__account__isnull=True).exists()

    per_lead = dict(Lead.objects.annotate(n=Count("activities")).values_list("pk", "n"))
    assert max(per_lead.values()) >= 40
    assert sum(1 for n in per_lead.values() if n <= 5) >= 100
    last = Lead.objects.annotate(last=Max("activities__occurred_at")).filter(last__isnull=False)
    assert last.filter(last__lt=NOW - timedelta(days=90)).count() >= 10
    # Bursts: some lead has 4+ page views within 7 days.
    views: dict[int, list[datetime]] = {}
    for lead_id, when in activities.filter(kind="page_view").values_list("lead_id", "occurred_at"):
        views.setdefault(lead_id, []).append(when)
    for times in views.values():
        times.sort()
    bursts = [
        lead_id
        for lead_id, times in views.items()
        if any(b - a <= timedelta(days=7) for a, b in zip(times, times[3:], strict=False))
    ]
    assert len(bursts) >= 5


@pytest.mark.django_db
def test_demo_users_sign_in_and_have_their_role(summary, client) -> None:  # type: ignore[no-untyped-def]
    for role, username, password in DEMO_LOGINS:
        user = get_user_model().objects.get(username=username)
        assert user.is_active and user.first_name and user.email
        assert user.is_superuser == user.is_staff == (role == roles.ADMIN)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert client.login(username=username, password=password), username
        client.logout()
    assert {r for r, _, _ in DEMO_LOGINS} == {roles.MARKETING, roles.SALES, roles.ADMIN}


@pytest.mark.django_db
def test_second_run_creates_and_changes_nothing(summary) -> None:  # type: ignore[no-untyped-def]
    before = _counts()
    stamps = (
        Lead.objects.aggregate(Max("updated_at"))["updated_at__max"],
        Account.objects.aggregate(Max("updated_at"))["updated_at__max"],
        tuple(get_user_model().objects.order_by("pk").values_list("password", flat=True)),
    )
    again = seed_demo(now=NOW + timedelta(days=3))
    assert again.total_created == 0
    assert again.created == {
        "users": 0, "accounts": 0, "leads": 0, "activities": 0, "outcomes": 0
    }  # fmt: skip
    assert again.existing == before
    assert _counts() == before
    assert stamps == (
        Lead.objects.aggregate(Max("updated_at"))["updated_at__max"],
        Account.objects.aggregate(Max("updated_at"))["updated_at__max"],
        tuple(get_user_model().objects.order_by("pk").values_list("password", flat=True)),
    )


@pytest.mark.django_db
def test_existing_email_is_not_duplicated(db) -> None:  # type: ignore[no-untyped-def]
    Lead.objects.create(email="Tanja.Berger@GMX.de", first_name="Tanja")
    result = seed_demo(now=NOW)
    assert Lead.objects.filter(email__iexact="tanja.berger@gmx.de").count() == 1
    assert result.existing["leads"] == 1


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        seed_demo(now=datetime(2026, 3, 2, 12, 0))  # noqa: DTZ001


@pytest.mark.django_db
def test_command_prints_counts_and_logins() -> None:
    out = StringIO()
    call_command("seed_demo", force=True, stdout=out)
    text = out.getvalue()
    assert "Sign in at http://127.0.0.1:8000/ as:" in text
    for role, username, password in DEMO_LOGINS:
        assert re.search(rf"{role}\s+{username}\s+{password}", text), (role, username)
    assert re.search(r"leads\s+\d+ created", text)
    out = StringIO()
    call_command("seed_demo", force=True, stdout=out)
    assert re.search(r"activities\s+0 created", out.getvalue())


@pytest.mark.django_db
def test_command_publishes_the_b2b_and_b2c_models_and_scores_every_lead() -> None:
    from scoring.models import Lead, LeadScore, ScoringModel

    call_command("seed_demo", force=True, stdout=StringIO())
    models = {m.slug: m for m in ScoringModel.objects.select_related("published_version")}
    assert set(models) == {"b2b-saas", "b2c-retail"}
    assert all(m.published_version.number == 1 for m in models.values())
    b2b = LeadScore.objects.filter(scoring_model__slug="b2b-saas")
    b2c = LeadScore.objects.filter(scoring_model__slug="b2c-retail")
    assert (
        b2b.count()
        == Lead.objects.filter(account__isnull=False)
        .exclude(lifecycle_stage__in=["customer", "disqualified"])
        .count()
    )
    assert b2c.count() == Lead.objects.filter(account__isnull=True).count()
    assert b2b.filter(mql=True).exists() and b2b.filter(total__lt=0).exists()
    assert len(set(b2c.values_list("band", flat=True))) >= 3  # stars spread out
    tanja = LeadScore.objects.get(lead__email="tanja.berger@gmx.de")
    assert tanja.total > 0 and tanja.explanation


@pytest.mark.django_db
def test_rerun_keeps_a_model_that_marketing_edited() -> None:
    from scoring.models import ScoringModel

    call_command("seed_demo", force=True, stdout=StringIO())
    ScoringModel.objects.filter(slug="b2b-saas").update(mql_threshold=80)
    out = StringIO()
    call_command("seed_demo", force=True, stdout=out)
    assert "b2b-saas: kept as it is" in out.getvalue()
    assert ScoringModel.objects.get(slug="b2b-saas").mql_threshold == 80


@pytest.mark.django_db
def test_command_refuses_without_debug(settings) -> None:
    from django.core.management import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())
