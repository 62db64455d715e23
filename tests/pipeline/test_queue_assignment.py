"""Who gets a new handoff: the first matching rule, else the next sales user in turn."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from pipeline.handoffs import HandoffError
from pipeline.models import AssignmentRule
from pipeline.services import (
    handoff_autoassign,
    handoff_claim,
    handoff_reassign,
    handoffs_autoassign,
    round_robin_next,
)
from scoring.ingest import activities_ingest
from scoring.models import Handoff, HandoffAction, HandoffStatus
from scoring.roles import SALES
from tests.factories import AccountFactory, LeadFactory
from tests.pipeline.conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(django_user_model):  # type: ignore[no-untyped-def]
    sales = Group.objects.get(name=SALES)
    users = []
    for name in ("sales_a", "sales_b", "sales_c"):
        user = django_user_model.objects.create_user(username=name, password="pw-" + name)
        user.groups.add(sales)
        users.append(user)
    return users


def _rule(position: int, match: str, assignee, value: str = "", **extra) -> AssignmentRule:  # type: ignore[no-untyped-def]
    return AssignmentRule.objects.create(
        position=position, match=match, value=value, assignee=assignee, **extra
    )


def test_round_robin_takes_turns_in_id_order_and_wraps(team):
    picks = [round_robin_next() for _ in range(4)]
    assert picks == [team[0], team[1], team[2], team[0]]


def test_round_robin_skips_deactivated_users(team):
    team[1].is_active = False
    team[1].save()
    assert [round_robin_next() for _ in range(3)] == [team[0], team[2], team[0]]


def test_round_robin_without_a_sales_team_assigns_nobody(make_handoff):
    handoff = make_handoff()
    assert handoff_autoassign(handoff_id=handoff.pk) is None
    handoff.refresh_from_db()
    assert handoff.owner is None


def test_with_no_rule_and_no_sales_team_new_handoffs_are_not_even_locked(
    make_handoff, django_assert_num_queries
):
    # A publish can open hundreds of thousands of handoffs; with no one to give them to, the
    # rules and the team are asked for, and the handoffs left alone.
    handoffs = [make_handoff() for _ in range(3)]
    with django_assert_num_queries(4):  # savepoint, rules, team, release
        assert handoffs_autoassign(handoff_ids=[h.pk for h in handoffs]) == {}
    assert not Handoff.objects.filter(owner__isnull=False).exists()


def test_a_country_rule_wins_over_round_robin(make_handoff, team):
    _rule(0, AssignmentRule.Match.COUNTRY, team[2], value="nl")
    dutch = make_handoff(country="NL")
    german = make_handoff(country="DE")
    assert handoff_autoassign(handoff_id=dutch.pk) == team[2]
    assert handoff_autoassign(handoff_id=german.pk) == team[0]  # no rule: round-robin


def test_an_industry_rule_matches_the_account_industry(make_handoff, team):
    _rule(0, AssignmentRule.Match.INDUSTRY, team[1], value="Logistics")
    assert handoff_autoassign(handoff_id=make_handoff(industry="logistics").pk) == team[1]


def test_an_account_rule_sends_the_accounts_leads_to_its_owner(make_handoff, team):
    handoff = make_handoff()
    _rule(0, AssignmentRule.Match.ACCOUNT, team[2], account=handoff.lead.account)
    assert handoff_autoassign(handoff_id=handoff.pk) == team[2]


def test_rules_are_tried_in_position_order(make_handoff, team):
    _rule(5, AssignmentRule.Match.COUNTRY, team[0], value="DE")
    _rule(1, AssignmentRule.Match.INDUSTRY, team[1], value="logistics")
    assert handoff_autoassign(handoff_id=make_handoff(country="DE").pk) == team[1]


def test_inactive_rules_and_rules_of_other_models_are_skipped(make_handoff, team, model):
    from scoring.models import ScoringModel

    other = ScoringModel.objects.create(slug="other", name="Other")
    _rule(0, AssignmentRule.Match.COUNTRY, team[2], value="DE", active=False)
    _rule(1, AssignmentRule.Match.COUNTRY, team[2], value="DE", scoring_model=other)
    _rule(2, AssignmentRule.Match.COUNTRY, team[1], value="DE", scoring_model=model)
    assert handoff_autoassign(handoff_id=make_handoff(country="DE").pk) == team[1]


def test_assignment_is_logged_and_leaves_owned_or_closed_handoffs_alone(make_handoff, team):
    owned = make_handoff(owner=team[2])
    closed = make_handoff(status=HandoffStatus.REJECTED)
    fresh = make_handoff()
    assert handoff_autoassign(handoff_id=owned.pk) is None
    assert handoff_autoassign(handoff_id=closed.pk) is None
    assert handoff_autoassign(handoff_id=fresh.pk) == team[0]
    assert handoff_autoassign(handoff_id=fresh.pk) is None  # already taken: no second turn
    action = fresh.actions.get()
    assert (action.kind, action.user, action.detail) == ("assigned", None, "sales_a")


def test_many_handoffs_are_assigned_at_once_with_rules_first_then_in_turn(
    make_handoff, team, django_assert_max_num_queries
):
    _rule(0, AssignmentRule.Match.COUNTRY, team[2], value="NL")
    handoffs = [make_handoff(country=country) for country in ("DE", "NL", "DE", "DE", "NL", "DE")]
    owned = make_handoff(owner=team[1])
    # Queries grow with the team (one update per owner), never with the number of handoffs.
    with django_assert_max_num_queries(15):
        owners = handoffs_autoassign(handoff_ids=[h.pk for h in handoffs] + [owned.pk])
    assert [owners.get(h.pk) for h in handoffs] == [
        team[0], team[2], team[1], team[2], team[2], team[0]
    ]  # fmt: skip
    assert owned.pk not in owners
    assert round_robin_next() == team[1]  # the turn continues after the last one given out
    for handoff in handoffs:
        handoff.refresh_from_db()
        assert handoff.owner == owners[handoff.pk]
        assert handoff.actions.get(kind="assigned").detail == owners[handoff.pk].username


def test_a_handoff_created_by_rescoring_is_assigned_after_commit(
    model, team, django_capture_on_commit_callbacks
):
    lead = LeadFactory(account=AccountFactory(is_target_account=True), country="DE")
    items = [
        {"lead_id": lead.pk, "kind": "webinar_attended", "external_id": "w1",
         "occurred_at": (NOW - timedelta(hours=2)).isoformat()},
    ] + [
        {"lead_id": lead.pk, "kind": "page_view", "external_id": f"p{days}",
         "occurred_at": (NOW - timedelta(days=days)).isoformat(), "properties": {"url": "/pricing"}}
        for days in (1, 2, 3)
    ]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        activities_ingest(items, now=NOW)
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.owner == team[0]
    assert list(handoff.actions.values_list("kind", flat=True)) == ["created", "assigned"]


def test_with_round_robin_off_new_handoffs_wait_to_be_claimed(make_handoff, team, settings):
    settings.PIPELINE_ROUND_ROBIN = False
    handoff = make_handoff()
    assert handoff_autoassign(handoff_id=handoff.pk) is None
    _rule(0, AssignmentRule.Match.COUNTRY, team[1], value="DE")
    assert handoff_autoassign(handoff_id=handoff.pk) == team[1]  # rules still apply


def test_claim_and_reassign(make_handoff, team, sales_user, marketing_user):
    handoff = make_handoff(owner=team[0])
    assert handoff_claim(handoff_id=handoff.pk, user=sales_user).owner == sales_user
    assert (
        handoff_reassign(handoff_id=handoff.pk, user=sales_user, owner_id=team[1].pk).owner
        == team[1]
    )
    with pytest.raises(HandoffError):
        handoff_reassign(handoff_id=handoff.pk, user=sales_user, owner_id=marketing_user.pk)
    with pytest.raises(HandoffError):
        handoff_claim(handoff_id=handoff.pk, user=marketing_user)
    handoff.refresh_from_db()
    assert handoff.owner == team[1]
    kinds = list(handoff.actions.values_list("kind", "user__username"))
    assert kinds == [(HandoffAction.Kind.ASSIGNED, "sam"), (HandoffAction.Kind.ASSIGNED, "sam")]


def test_a_rule_needs_its_value_or_account(team):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        AssignmentRule(match=AssignmentRule.Match.COUNTRY, value=" ", assignee=team[0]).full_clean()
    with pytest.raises(ValidationError):
        AssignmentRule(match=AssignmentRule.Match.ACCOUNT, assignee=team[0]).full_clean()
