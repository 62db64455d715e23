"""The queue page: who may see and act, filters, saved filters, HTMX partials, query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from pipeline.models import SavedQueueFilter
from pipeline.selectors import lead_sources
from scoring.models import Handoff, HandoffAction, HandoffStatus, LeadOutcome, LifecycleStage
from tests.pipeline.conftest import NOW

pytestmark = pytest.mark.django_db
QUEUE = reverse("pipeline:queue")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _url(handoff) -> str:  # type: ignore[no-untyped-def]
    return reverse("pipeline:handoff", args=[handoff.pk])


def _act(client, handoff, action: str, data=None, **extra):  # type: ignore[no-untyped-def]
    return client.post(_url(handoff), {"action": action, **(data or {})}, **extra)


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(QUEUE)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_people_without_a_role_may_not_see_the_queue(client, outsider):
    client.force_login(outsider)
    assert client.get(QUEUE).status_code == 403


def test_marketing_sees_the_queue_but_may_not_act(client, marketing_user, make_handoff):
    handoff = make_handoff()
    client.force_login(marketing_user)
    page = client.get(QUEUE)
    assert page.status_code == 200
    assert str(handoff.lead).encode() in page.content
    assert b"only sales can act" in page.content
    assert b'value="accept"' not in page.content and b"?form=reject" not in page.content
    for action in ("claim", "accept", "reject", "qualify", "outcome", "reassign"):
        assert _act(client, handoff, action).status_code == 403
    assert client.get(_url(handoff), {"form": "reject"}).status_code == 403
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.NEW and handoff.owner is None


def test_the_queue_shows_the_priority_hint_and_links_the_lead(client, sales_user, make_handoff):
    handoff = make_handoff(employees=900, intent="decision", due_in=-1)
    client.force_login(sales_user)
    content = client.get(QUEUE).content.decode()
    assert reverse("pipeline:lead_detail", args=[handoff.lead_id]) in content
    assert "Large company, ready to buy" in content
    assert "sla-overdue" in content and "overdue by" in content


def test_due_soon_handoffs_stand_out(client, sales_user, make_handoff):
    make_handoff(due_in=2)
    client.force_login(sales_user)
    content = client.get(QUEUE).content.decode()
    assert "sla-due_soon" in content and "due in 2" in content


def test_an_empty_queue_says_what_to_expect(client, sales_user):
    client.force_login(sales_user)
    assert b"No open handoffs" in client.get(QUEUE).content


def _ids(response) -> set[int]:  # type: ignore[no-untyped-def]
    return {h.pk for h in response.context["page"].object_list}


def test_filters_by_owner_band_source_sla_and_status(client, sales_user, make_handoff):
    mine = make_handoff(owner=sales_user, source="webinar", band="warm")
    nobodys = make_handoff(source="partner", due_in=-1)
    accepted = make_handoff(status=HandoffStatus.ACCEPTED)
    rejected = make_handoff(status=HandoffStatus.REJECTED, reason="Competitor")
    client.force_login(sales_user)
    assert _ids(client.get(QUEUE)) == {mine.pk, nobodys.pk, accepted.pk}
    assert _ids(client.get(QUEUE, {"owner": "me"})) == {mine.pk}
    assert _ids(client.get(QUEUE, {"owner": "none"})) == {nobodys.pk, accepted.pk}
    assert _ids(client.get(QUEUE, {"band": "warm"})) == {mine.pk}
    assert _ids(client.get(QUEUE, {"source": "partner"})) == {nobodys.pk}
    assert _ids(client.get(QUEUE, {"sla": "overdue"})) == {nobodys.pk}
    assert _ids(client.get(QUEUE, {"sla": "met"})) == {accepted.pk}
    assert _ids(client.get(QUEUE, {"status": "rejected"})) == {rejected.pk}
    assert _ids(client.get(QUEUE, {"model": "b2b", "status": "all"})) == {
        mine.pk, nobodys.pk, accepted.pk, rejected.pk,
    }  # fmt: skip


def test_malformed_filters_fall_back_to_the_default(client, sales_user, make_handoff):
    handoff = make_handoff()
    client.force_login(sales_user)
    response = client.get(QUEUE, {"owner": "robert'); drop", "status": "nonsense", "page": "x"})
    assert response.status_code == 200
    assert _ids(response) == {handoff.pk}


def test_a_filter_change_over_htmx_returns_only_the_table(client, sales_user, make_handoff):
    make_handoff()
    client.force_login(sales_user)
    response = client.get(QUEUE, {"owner": "none"}, HTTP_HX_TARGET="queue-table", **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="queue-table">')
    assert "<html" not in content and "queue-filters" not in content


def test_accept_over_htmx_swaps_the_row_and_logs_the_action(client, sales_user, make_handoff):
    handoff = make_handoff()
    client.force_login(sales_user)
    response = _act(client, handoff, "accept", **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith(f'<tr id="handoff-{handoff.pk}"')
    assert "Accepted (SAL)" in content and "<html" not in content
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.ACCEPTED and handoff.owner == sales_user
    assert handoff.lead.lifecycle_stage == LifecycleStage.SAL
    action = handoff.actions.get(kind=HandoffAction.Kind.ACCEPTED)
    assert action.user == sales_user and action.at == NOW


def test_a_refused_action_shows_its_error_in_the_row(client, sales_user, make_handoff):
    handoff = make_handoff(status=HandoffStatus.QUALIFIED)
    client.force_login(sales_user)
    content = _act(client, handoff, "accept", **HTMX).content.decode()
    assert 'class="row-error"' in content and "cannot be accepted" in content
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.QUALIFIED


def test_reject_needs_a_reason_and_recycles_the_lead(client, sales_user, make_handoff):
    handoff = make_handoff()
    client.force_login(sales_user)
    missing = _act(client, handoff, "reject", {"note": "?"}, **HTMX).content.decode()
    assert "row-error" in missing and "Reason" in missing
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.NEW
    response = _act(
        client, handoff, "reject", {"reason": "wrong-persona", "note": "works in HR"}, **HTMX
    )
    assert "Back with marketing" in response.content.decode()
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.REJECTED
    assert (handoff.reason, handoff.note) == ("Wrong persona / no decision maker", "works in HR")
    assert handoff.lead.lifecycle_stage == LifecycleStage.RECYCLED


def test_qualify_then_record_a_won_outcome_with_its_value(client, sales_user, make_handoff):
    handoff = make_handoff(status=HandoffStatus.ACCEPTED)
    client.force_login(sales_user)
    _act(client, handoff, "qualify", {"note": "budget confirmed"}, **HTMX)
    bad = _act(client, handoff, "outcome", {"result": "won", "value": "-5"}, **HTMX)
    assert "row-error" in bad.content.decode()
    _act(client, handoff, "outcome", {"result": "won", "value": "12500.50"}, **HTMX)
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.WON and handoff.outcome_value == Decimal("12500.50")
    outcome = LeadOutcome.objects.get(lead=handoff.lead)
    assert (outcome.outcome, outcome.value) == ("won", Decimal("12500.50"))
    assert list(handoff.actions.values_list("kind", flat=True)) == ["qualified", "won"]


def test_without_javascript_an_action_redirects_back_with_a_message(
    client, sales_user, make_handoff
):
    handoff = make_handoff()
    client.force_login(sales_user)
    response = _act(client, handoff, "claim", {"next": f"{QUEUE}?owner=me"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{QUEUE}?owner=me"
    assert b"You now own this handoff." in response.content
    evil = _act(client, handoff, "accept", {"next": "https://evil.example/"})
    assert evil.url == QUEUE


def test_reassign_only_to_the_sales_team(client, sales_user, marketing_user, make_handoff):
    handoff = make_handoff(owner=sales_user)
    client.force_login(sales_user)
    content = _act(client, handoff, "reassign", {"owner": marketing_user.pk}, **HTMX)
    assert "row-error" in content.content.decode()
    handoff.refresh_from_db()
    assert handoff.owner == sales_user


def test_a_row_opens_one_form_at_a_time_and_the_page_carries_none(client, sales_user, make_handoff):
    handoff = make_handoff(status=HandoffStatus.ACCEPTED)
    client.force_login(sales_user)
    page = client.get(QUEUE).content.decode()
    assert 'name="reason"' not in page and 'name="result"' not in page
    assert f"{_url(handoff)}?form=reject" in page and f"{_url(handoff)}?form=outcome" in page

    reject = client.get(_url(handoff), {"form": "reject", "next": f"{QUEUE}?owner=me"}, **HTMX)
    content = reject.content.decode()
    assert content.lstrip().startswith(f'<tr id="handoff-{handoff.pk}"')
    assert 'name="reason"' in content and "Wrong persona / no decision maker" in content
    assert 'name="action" value="reject"' in content
    assert f'value="{QUEUE}?owner=me"' in content  # back to the filtered queue afterwards
    outcome = client.get(_url(handoff), {"form": "outcome"}, **HTMX).content.decode()
    assert 'name="result"' in outcome and 'name="reason"' not in outcome
    reassign = client.get(_url(handoff), {"form": "reassign"}, **HTMX).content.decode()
    assert f'<option value="{sales_user.pk}"' in reassign

    cancelled = client.get(_url(handoff), **HTMX).content.decode()
    assert "row-form" not in cancelled and "?form=reject" in cancelled


def test_a_refused_form_stays_open_with_its_error(client, sales_user, make_handoff):
    handoff = make_handoff()
    client.force_login(sales_user)
    content = _act(client, handoff, "reject", {"note": "?"}, **HTMX).content.decode()
    assert "row-error" in content and 'name="reason"' in content


def test_without_javascript_a_form_opens_on_its_own_page(client, sales_user, make_handoff):
    handoff = make_handoff()
    client.force_login(sales_user)
    page = client.get(_url(handoff), {"form": "reject", "next": "https://evil.example/"})
    content = page.content.decode()
    assert page.status_code == 200 and "<html" in content and 'name="reason"' in content
    assert '"https://evil.example/"' not in content  # neither a link nor a form's next
    assert f'href="{QUEUE}"' in content
    done = _act(client, handoff, "reject", {"reason": "competitor"}, follow=True)
    assert b"went back to marketing" in done.content
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.REJECTED


def test_unknown_handoff_or_action(client, sales_user, make_handoff):
    client.force_login(sales_user)
    missing = client.post(reverse("pipeline:handoff", args=[999]), {"action": "accept"})
    assert missing.status_code == 404
    handoff = make_handoff()
    content = _act(client, handoff, "explode", **HTMX).content.decode()
    assert "Unknown action" in content
    assert client.get(_url(handoff), {"form": "accept"}, **HTMX).status_code == 404


def test_saved_filters_belong_to_their_user(client, sales_user, admin_user_role, make_handoff):
    client.force_login(sales_user)
    response = client.post(
        reverse("pipeline:saved_filter_save"),
        {"name": "My overdue", "owner": "me", "sla": "overdue", "status": "open", "band": ""},
    )
    assert response.status_code == 302 and "owner=me" in response.url
    saved = SavedQueueFilter.objects.get(user=sales_user)
    assert saved.params == {"owner": "me", "sla": "overdue", "status": "open"}
    assert f"?{saved.querystring}".encode() in client.get(QUEUE).content.replace(b"&amp;", b"&")
    # Saving under the same name replaces it.
    client.post(
        reverse("pipeline:saved_filter_save"), {"name": "My overdue", "band": "hot"}, follow=True
    )
    assert SavedQueueFilter.objects.get(user=sales_user).params == {"band": "hot"}
    # Nobody else sees or deletes it.
    client.force_login(admin_user_role)
    assert b"My overdue" not in client.get(QUEUE).content
    client.post(reverse("pipeline:saved_filter_delete", args=[saved.pk]))
    assert SavedQueueFilter.objects.filter(pk=saved.pk).exists()
    client.force_login(sales_user)
    client.post(reverse("pipeline:saved_filter_delete", args=[saved.pk]))
    assert not SavedQueueFilter.objects.exists()


def test_a_saved_filter_needs_a_name(client, sales_user):
    client.force_login(sales_user)
    response = client.post(reverse("pipeline:saved_filter_save"), {"name": "  "}, follow=True)
    assert b"This field is required" in response.content
    assert not SavedQueueFilter.objects.exists()


def test_pages_of_25(client, sales_user, make_handoff):
    for _ in range(27):
        make_handoff()
    client.force_login(sales_user)
    first, second = client.get(QUEUE), client.get(QUEUE, {"page": 2})
    assert len(_ids(first)) == 25 and len(_ids(second)) == 2
    assert not _ids(first) & _ids(second)


def test_a_long_queue_is_counted_only_up_to_a_limit(client, sales_user, make_handoff, monkeypatch):
    monkeypatch.setattr("pipeline.selectors.COUNT_LIMIT", 3)
    for _ in range(4):
        make_handoff()
    client.force_login(sales_user)
    page = client.get(QUEUE).content.decode()
    assert "more than 3 handoffs" in page and len(_ids(client.get(QUEUE))) == 4
    Handoff.objects.filter(pk=Handoff.objects.first().pk).update(status=HandoffStatus.WON)
    assert "3 handoffs" in client.get(QUEUE).content.decode()


def test_the_source_filter_offers_every_lead_source(make_handoff):
    for source in ("website", "partner", "website", "event", ""):
        make_handoff(source=source)
    assert lead_sources() == ["event", "partner", "website"]


def _queue_queries(client, django_assert_max_num_queries, user, limit: int) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user)
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(QUEUE)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("status", [HandoffStatus.NEW, HandoffStatus.ACCEPTED])
def test_the_queue_query_count_does_not_grow_with_rows(
    client, sales_user, make_handoff, django_assert_max_num_queries, status
):
    for _ in range(5):
        make_handoff(owner=sales_user, status=status, due_in=-1)
    few = _queue_queries(client, django_assert_max_num_queries, sales_user, 20)
    for i in range(25):
        make_handoff(owner=sales_user if i % 2 else None, status=status, consumer=i % 3 == 0)
    many = _queue_queries(client, django_assert_max_num_queries, sales_user, 20)
    assert few == many


def test_an_htmx_row_action_costs_a_fixed_number_of_queries(
    client, sales_user, make_handoff, django_assert_max_num_queries
):
    handoff = make_handoff()
    client.force_login(sales_user)
    with django_assert_max_num_queries(30):
        _act(client, handoff, "accept", **HTMX)


def test_breach_marking_shows_in_the_handoff_history(make_handoff, client, sales_user):
    from pipeline.services import handoffs_mark_sla_breached

    handoff = make_handoff(due_in=-1)
    handoffs_mark_sla_breached(now=NOW + timedelta(minutes=1))
    client.force_login(sales_user)
    content = client.get(reverse("pipeline:lead_detail", args=[handoff.lead_id])).content.decode()
    assert "SLA breached" in content
