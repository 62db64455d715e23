"""Backtests: a definition scored as the leads stood at a past date, judged by what came after."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from learning.backtest import backtest_of
from scoring.definition import parse_model
from scoring.models import Activity, Lead, LeadOutcome
from tests.factories import ActivityFactory, LeadFactory, LeadOutcomeFactory
from tests.learning.conftest import MODEL, START

AT = START + timedelta(days=70)  # half-way through the world's leads
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def _spec(**changes):  # type: ignore[no-untyped-def]
    return parse_model({**MODEL, **changes})


def test_the_leads_are_those_known_and_open_at_the_date(world):
    found = backtest_of(_spec(), AT, now=NOW)
    decided = set(LeadOutcome.objects.filter(occurred_at__lte=AT).values_list("lead_id", flat=True))
    assert found.leads == Lead.objects.count() - len(decided)
    won_after = LeadOutcome.objects.filter(occurred_at__gt=AT, outcome="won")
    assert found.converted == won_after.exclude(lead_id__in=decided).count()
    assert found.auc is not None and found.auc > 0.5
    assert sum(d.leads for d in found.deciles) == found.leads
    assert sum(b.leads for b in found.bands) == found.leads
    assert [b.label for b in found.bands] == ["hot", "warm", "cold"]


def test_precision_and_recall_at_the_threshold(db):
    spec = _spec(audience=[], mql_threshold=10)
    hot_won, hot_lost, cold_won, cold_open = (LeadFactory() for _ in range(4))
    for lead in (hot_won, hot_lost):
        ActivityFactory(lead=lead, kind="demo_request", occurred_at=AT - timedelta(days=1))
    LeadOutcomeFactory(lead=hot_won, outcome="won", occurred_at=AT + timedelta(days=3))
    LeadOutcomeFactory(lead=hot_lost, outcome="lost", occurred_at=AT + timedelta(days=3))
    LeadOutcomeFactory(lead=cold_won, outcome="converted", occurred_at=AT + timedelta(days=5))
    found = backtest_of(spec, AT, now=NOW)
    assert (found.leads, found.converted, found.mqls, found.mqls_converted) == (4, 2, 2, 1)
    assert found.precision == 0.5 and found.recall == 0.5
    assert cold_open.pk  # open then and still open: a lead that did not convert


def test_what_happened_after_the_date_does_not_score(world):
    before = backtest_of(_spec(), AT, now=NOW)
    # Leads without the newsletter stay below the threshold (at most 20 points) until they sign up.
    quiet = Lead.objects.exclude(activities__kind="newsletter_signup")[:50]
    for lead in quiet:
        Activity.objects.create(
            lead=lead, kind="newsletter_signup", occurred_at=AT + timedelta(hours=1)
        )
    after = backtest_of(_spec(), AT, now=NOW)
    assert (after.auc, after.mqls, after.deciles) == (before.auc, before.mqls, before.deciles)
    assert sum(w.mqls for w in after.weeks) > sum(w.mqls for w in before.weeks)


def test_new_mqls_are_counted_in_the_week_they_cross(db):
    spec = _spec(audience=[], mql_threshold=10)
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind="demo_request", occurred_at=AT + timedelta(days=10))
    weeks = backtest_of(spec, AT, now=AT + timedelta(days=30)).weeks
    assert [w.mqls for w in weeks] == [0, 1, 0, 0]


@pytest.mark.parametrize("user", ["marketing_user", "sales_user"])
def test_the_page_compares_the_draft_with_the_live_version(client, world, user, request):
    client.force_login(request.getfixturevalue(user))
    url = reverse("learning:backtest", args=["learn"])
    html = client.get(url, {"at": AT.date().isoformat()}).content.decode()
    assert "Ranks converters first (AUC)" in html and "New MQLs per week since" in html
    partial = client.get(url, {"at": "2099-01-01"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Pick a day in the past" in partial and "<html" not in partial
    assert client.get(url, {"at": "not a day"}).status_code == 200
    editor = client.get(reverse("rules_admin:model", args=["learn"])).content.decode()
    assert "Backtest: how it would have done" in editor
