"""A person's data: the export holds every kind of row about the lead, the erasure leaves none."""

import json
import logging
from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.db import models

from integrations.models import WebhookDelivery, WebhookEndpoint
from reports.selectors import dashboard_compute, default_filters
from scoring.models import Account, Handoff, Lead
from scoring.privacy import ERASED_KINDS, person_data_counts, person_erase, person_export
from tests.privacy_data import person_with_everything

pytestmark = pytest.mark.django_db
EMAIL = "eva.erasmus@kunde.example"
OTHER = "otto.other@kunde.example"


@pytest.fixture
def person(sales_user):  # type: ignore[no-untyped-def]
    return person_with_everything(EMAIL, sales_user=sales_user)


@pytest.fixture
def bystander(person, sales_user):  # type: ignore[no-untyped-def]
    return person_with_everything(OTHER, sales_user=sales_user)


def _reverse_relations(model: type[models.Model]) -> list[models.ForeignObjectRel]:
    """Every relation pointing at the model, including those with related_name="+" (pending
    rescores, unscorable records), which `_meta.related_objects` leaves out."""
    return [
        f
        for f in model._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
    ]


def _rows_referencing(model: type[models.Model], ids: set[int]) -> dict[type, set[int]]:
    """The rows that point at these rows of the model, and at those, all the way down."""
    found: dict[type, set[int]] = {}
    for relation in _reverse_relations(model):
        related = relation.related_model
        pks = set(
            related._base_manager.filter(**{f"{relation.field.attname}__in": ids}).values_list(
                "pk", flat=True
            )
        )
        found.setdefault(related, set()).update(pks)
        if pks:
            for deeper, more in _rows_referencing(related, pks).items():
                found.setdefault(deeper, set()).update(more)
    return found


def _mentions(text: str, *needles: str) -> bool:
    return any(needle.lower() in text.lower() for needle in needles)


# --- export -----------------------------------------------------------------------------------


def test_the_export_holds_every_kind_of_data_about_the_person(person, bystander):
    export = person_export(lead=person)
    assert list(export) == [
        "format", "exported_at", "lead", "account", "activities", "scores", "score_events",
        "handoffs", "outcomes", "visitors", "webhook_deliveries", "unscorable",
    ]  # fmt: skip
    assert export["lead"]["email"] == EMAIL and export["lead"]["phone"] == "+49 30 1234567"
    assert export["lead"]["attributes"] == {"newsletter": "yes", "zip": "10115"}
    assert export["account"] == {"name": f"Kunde of {EMAIL}", "domain": "kunde.example"}
    assert [a["kind"] for a in export["activities"]] == ["page_view", "webinar_attended"]
    assert export["activities"][0]["properties"] == {"title": "Preise", "url": "/pricing"}
    [score] = export["scores"]
    assert score["model"] == "privacy" and score["mql"] is True and score["total"] == "55.00"
    assert {c["criterion"] for c in score["explanation"]} == {"Visit", "Webinar"}
    assert "mql_reached" in {e["kind"] for e in export["score_events"]}
    [handoff] = export["handoffs"]
    assert [a["kind"] for a in handoff["actions"]][-1] == "accepted"
    assert handoff["actions"][-1]["user"] == "sam"
    assert export["outcomes"] == [
        {"outcome": "won", "occurred_at": export["outcomes"][0]["occurred_at"],
         "value": "1200.50", "source": "crm"},
    ]  # fmt: skip
    [visitor] = export["visitors"]
    assert visitor["site"] == "Shop" and [p["event_id"] for p in visitor["pending_visits"]] == [
        "ev-1"
    ]
    events = {d["event"] for d in export["webhook_deliveries"]}
    assert {"lead.mql", "handoff.created", "handoff.accepted"} <= events
    assert all(
        d["payload"]["data"]["lead"]["id"] == person.pk for d in export["webhook_deliveries"]
    )
    assert export["unscorable"][0]["reason"] == f"could not read a date of {EMAIL}"
    # Nothing of the other person, who has the same kinds of rows.
    assert not _mentions(json.dumps(export), OTHER, f"browser-{bystander.pk}")


def test_the_export_is_json_with_iso_times_and_the_same_document_every_time(person):
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    first = json.dumps(person_export(lead=person, now=at))
    assert first == json.dumps(person_export(lead=person, now=at))
    export = json.loads(first)
    assert export["exported_at"] == "2026-05-01T12:00:00+00:00"
    assert datetime.fromisoformat(export["activities"][0]["occurred_at"]).tzinfo is not None
    assert export["lead"]["birthday"].startswith("1985-")


# --- erasure ----------------------------------------------------------------------------------


def test_erasure_leaves_no_row_that_references_the_lead(person, bystander, admin_user_role):
    before = _rows_referencing(Lead, {person.pk})
    # Every kind is there to be erased, so a model added later with a key to Lead shows up here
    # (and fails below) unless the erasure deletes its rows too.
    assert {model for model, pks in before.items() if not pks} == set()
    assert len(before) >= 10

    person_erase(lead=person, by=admin_user_role)

    assert not Lead.objects.filter(pk=person.pk).exists()
    after = _rows_referencing(Lead, {person.pk})
    assert {model.__name__: pks for model, pks in after.items() if pks} == {}
    for model, pks in before.items():
        assert not model._base_manager.filter(pk__in=pks).exists(), model.__name__


def test_webhook_deliveries_no_longer_contain_the_person(person, bystander, admin_user_role):
    def logged() -> list[str]:
        return [
            json.dumps(d.payload) + d.last_error + d.event_key
            for d in WebhookDelivery.objects.all()
        ]

    assert any(_mentions(text, EMAIL) for text in logged())
    endpoints = set(WebhookEndpoint.objects.values_list("pk", flat=True))
    others = set(
        WebhookDelivery.objects.filter(payload__data__lead__id=bystander.pk).values_list(
            "pk", flat=True
        )
    )

    report = person_erase(lead=person, by=admin_user_role)

    assert report.counts["webhook_deliveries"] >= 3
    assert not any(_mentions(text, EMAIL, f'"id": {person.pk},') for text in logged())
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == others
    assert set(WebhookEndpoint.objects.values_list("pk", flat=True)) == endpoints


def test_the_erasure_is_recorded_with_who_when_and_counts_but_no_personal_data(
    person, admin_user_role, caplog, django_capture_on_commit_callbacks
):
    name = person.full_name
    with caplog.at_level(logging.WARNING, logger="leadscoring.privacy"):
        with django_capture_on_commit_callbacks(execute=True):
            report = person_erase(lead=person, by=admin_user_role)

    entry = LogEntry.objects.get(action_flag=DELETION, object_id=str(person.pk))
    assert entry.user == admin_user_role and entry.action_time == report.erased_at
    assert json.loads(entry.change_message.removeprefix("Personal data erased: ")) == report.counts
    # The admin's earlier entry about the lead no longer carries its name either.
    for logged in LogEntry.objects.all():
        assert not _mentions(logged.object_repr + logged.change_message, EMAIL, name)
    [record] = [r for r in caplog.records if r.name == "leadscoring.privacy"]
    assert record.levelno == logging.WARNING
    assert str(person.pk) in record.getMessage()
    assert not _mentions(record.getMessage(), EMAIL, name)


def test_the_report_counts_what_was_there(person, admin_user_role):
    expected = person_data_counts(lead=person)
    report = person_erase(lead=person, by=admin_user_role)
    assert list(report.counts) == list(ERASED_KINDS)
    assert {k: v for k, v in report.counts.items() if k != "admin_log_entries_anonymised"} == {
        k: v for k, v in expected.items() if k != "admin_log_entries_anonymised"
    }
    assert report.counts["leads"] == 1 and report.counts["handoff_actions"] >= 2
    assert report.counts["admin_log_entries_anonymised"] == 1
    assert report.lead_id == person.pk and report.by == admin_user_role.username


def test_other_leads_and_the_account_are_untouched(person, bystander, admin_user_role):
    at = datetime(2026, 5, 1, tzinfo=UTC)
    before = person_export(lead=bystander, now=at)
    counts = person_data_counts(lead=bystander)

    person_erase(lead=person, by=admin_user_role)

    assert person_export(lead=bystander, now=at) == before
    assert person_data_counts(lead=bystander) == counts
    assert Account.objects.filter(name=f"Kunde of {EMAIL}").exists()


def test_a_failure_midway_erases_nothing(person, admin_user_role, monkeypatch):
    counts = person_data_counts(lead=person)

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(LogEntry.objects, "create", refuse)
    with pytest.raises(RuntimeError):
        person_erase(lead=person, by=admin_user_role)
    assert person_data_counts(lead=person) == counts


def test_reports_still_compute_after_an_erasure(person, bystander, admin_user_role):
    for filters in default_filters():
        dashboard_compute(filters=filters)
    person_erase(lead=person, by=admin_user_role)
    for filters in default_filters():
        dashboard = dashboard_compute(filters=filters)
        assert dashboard.funnel is not None
    assert Handoff.objects.filter(lead=bystander).exists()


def test_a_second_erasure_of_the_same_lead_finds_it_gone(person, admin_user_role):
    stale = Lead.objects.get(pk=person.pk)  # as a concurrent request holds it
    person_erase(lead=person, by=admin_user_role)
    with pytest.raises(Lead.DoesNotExist):
        person_erase(lead=stale, by=admin_user_role)
    assert LogEntry.objects.filter(action_flag=DELETION, object_id=str(person.pk)).count() == 1
