"""The articles' worked examples end to end: shipped models, stored leads, stored scores."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from scoring.models import LeadScore
from scoring.rescoring import leads_rescore
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]
LIBRARY = Path(settings.BASE_DIR) / "scoring" / "model_library"


@pytest.fixture
def library_models():
    for path in sorted(LIBRARY.glob("*.yaml")):
        call_command("load_scoring_model", str(path), stdout=StringIO())


def _score(lead, slug):
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    return LeadScore.objects.get(lead=lead, scoring_model__slug=slug)


def _did(lead, kind, days_ago, **properties):
    return ActivityFactory(
        lead=lead, kind=kind, occurred_at=NOW - timedelta(days=days_ago), properties=properties
    )


def test_tanja_collects_53_points(library_models):
    tanja = LeadFactory(
        first_name="Tanja", birthday=date(1991, 4, 2), attributes={"interest": "Malzubehör"}
    )
    _did(tanja, "newsletter_signup", 6)
    _did(tanja, "email_open", 5)
    for hour in (0, 1, 2):
        _did(tanja, "page_view", 3 + hour / 24, url="/products/paper/aquarell")
    _did(tanja, "page_view", 2, url="/products/paint/acryl")
    _did(tanja, "store_locator", 1)
    score = _score(tanja, "b2c-retail")
    assert score.total == Decimal("53.00")
    assert score.band == "4 stars" and score.mql is True
    explained = {c["criterion"]: (c["points"], c["evidence_count"]) for c in score.explanation}
    assert explained == {
        "Newsletter signup": (3, 1),
        "Newsletter opened": (5, 1),
        "Shared interests": (5, 1),
        "Shared birthday": (10, 1),
        "Browsing day": (10, 2),
        "Store locator": (20, 1),
    }


def test_target_account_starts_at_20_and_reaches_mql_at_100(library_models):
    account = AccountFactory(is_target_account=True, employee_count=50)
    lead = LeadFactory(account=account, created_at=NOW - timedelta(days=10))
    start = _score(lead, "b2b-saas")
    assert start.total == 20 and start.fit == 20 and start.mql is False
    for day in range(10):  # ten visits spread over four weeks (3 days apart: no busy week)
        _did(lead, "page_view", 28 - day * 3, url=f"/blog/{day}")
    _did(lead, "newsletter_signup", 20)
    _did(lead, "event_attended", 0)  # just attended: no decay yet
    score = _score(lead, "b2b-saas")
    assert score.total == Decimal("100.00")  # 20 + 10 * 1 + 20 + 50
    assert score.mql is True and score.band == "hot"


def test_four_visits_in_a_week_beat_four_visits_in_four_months(library_models):
    busy = LeadFactory(account=AccountFactory(), created_at=NOW - timedelta(days=200))
    spread = LeadFactory(account=AccountFactory(), created_at=NOW - timedelta(days=200))
    for day in (1, 2, 4, 6):
        _did(busy, "page_view", day, url="/features")
    for day in (1, 30, 60, 89):
        _did(spread, "page_view", day, url="/features")
    assert _score(busy, "b2b-saas").total > _score(spread, "b2b-saas").total


def test_company_size_100_to_200_scores_100_and_10_employees_scores_10(library_models):
    mid = LeadFactory(account=AccountFactory(employee_count=150), created_at=NOW)
    small = LeadFactory(account=AccountFactory(employee_count=10), created_at=NOW)
    assert _score(mid, "b2b-saas").fit == 100
    assert _score(small, "b2b-saas").fit == 10


def test_jobs_page_student_and_competitor_score_negative(library_models):
    student = LeadFactory(
        job_title="Werkstudent Marketing",
        account=AccountFactory(is_competitor=True),
        created_at=NOW,
    )
    _did(student, "page_view", 1, url="/jobs/werkstudent")
    score = _score(student, "b2b-saas")
    explained = {c["criterion"]: c["points"] for c in score.explanation}
    assert explained["Student"] == -30 and explained["Competitor"] == -100
    assert explained["Jobs page"] == -10 and explained["Visit"] == 1
    assert score.total == Decimal("-139.00") and score.band == "cold"


def test_one_lead_carries_two_scores_from_two_models(library_models, tmp_path):
    (tmp_path / "paper.yaml").write_text(
        "slug: paper-line\nname: Paper product line\nmql_threshold: 30\n"
        "bands: [{label: low, min: 0}, {label: high, min: 30}]\n"
        "criteria:\n"
        "  - {name: Paper interest, type: activity, kinds: [page_view, cart_add],"
        " where: [{field: product, op: equals, value: paper}], points: 15, count: per_day}\n"
    )
    call_command("load_scoring_model", str(tmp_path / "paper.yaml"), stdout=StringIO())
    lead = LeadFactory(account=AccountFactory(is_target_account=True), created_at=NOW)
    _did(lead, "page_view", 1, url="/products/paper", product="paper")
    _did(lead, "cart_add", 3, product="paper")
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    scores = dict(LeadScore.objects.filter(lead=lead).values_list("scoring_model__slug", "total"))
    assert scores == {"b2b-saas": Decimal("21.00"), "paper-line": Decimal("30.00")}


def test_audience_keeps_consumers_out_of_the_b2b_model(library_models):
    consumer = LeadFactory(created_at=NOW)
    customer = LeadFactory(account=AccountFactory(), lifecycle_stage="customer", created_at=NOW)
    leads_rescore(lead_ids=[consumer.pk, customer.pk], now=NOW)
    assert set(
        LeadScore.objects.filter(lead=consumer).values_list("scoring_model__slug", flat=True)
    ) == {"b2c-retail"}
    assert not LeadScore.objects.filter(lead=customer).exists()
