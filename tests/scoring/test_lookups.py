"""Lookups that keep hot queries cheap: ids as one array, leads by e-mail along their index."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scoring.models import Activity, Lead
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_any_of_finds_what_in_finds():
    leads = [LeadFactory() for _ in range(4)]
    wanted = [leads[0].pk, leads[2].pk, 10**12]
    assert set(Lead.objects.filter(pk__any_of=wanted)) == set(Lead.objects.filter(pk__in=wanted))
    assert set(Lead.objects.filter(pk__any_of=wanted)) == {leads[0], leads[2]}
    assert not Lead.objects.filter(pk__any_of=[]).exists()


def test_any_of_on_a_relation_and_on_text():
    first, second = LeadFactory(external_id="crm-1"), LeadFactory(external_id="crm-2")
    ActivityFactory(lead=first)
    ActivityFactory(lead=second)
    assert list(
        Activity.objects.filter(lead_id__any_of=[second.pk]).values_list("lead_id", flat=True)
    ) == [second.pk]
    assert list(Lead.objects.filter(external_id__any_of=["crm-2", "crm-9"])) == [second]


@pytest.mark.postgres
def test_any_of_sends_thousands_of_ids_as_one_parameter():
    lead = LeadFactory()
    ids = [lead.pk, *range(10**9, 10**9 + 5000)]
    with CaptureQueriesContext(connection) as queries:
        assert list(Lead.objects.filter(pk__any_of=ids)) == [lead]
    sql = queries.captured_queries[-1]["sql"]
    assert "= ANY(" in sql and "::bigint[]" in sql
    assert " IN (" not in sql


def test_with_emails_ignores_case_blanks_and_leads_without_an_address():
    anna = LeadFactory(email="Anna.Schmidt@Example.DE")
    LeadFactory(email="")
    LeadFactory(email="bob@example.nl")
    found = Lead.objects.with_emails([" anna.schmidt@example.de ", "", "nobody@example.com"])
    assert list(found.values_list("pk", "email_ci")) == [(anna.pk, "anna.schmidt@example.de")]
    assert not Lead.objects.with_emails([""]).exists()


@pytest.mark.postgres
def test_with_emails_can_use_the_unique_index():
    # The index covers only leads with an address; iexact (upper()) or a bare lower() IN can
    # never use it, so each lookup would read every lead.
    LeadFactory(email="anna@example.de")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = Lead.objects.with_emails(["anna@example.de"]).explain()
    assert "lead_email_ci_unique" in plan
    unusable = Lead.objects.filter(email__iexact="anna@example.de").explain()
    assert "lead_email_ci_unique" not in unusable
