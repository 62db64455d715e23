"""factory_boy factories for the domain models."""

from datetime import UTC, datetime

import factory

from scoring.models import Account, Activity, Lead, LeadOutcome


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    external_id = factory.Sequence(lambda n: f"A-{n:04d}")
    name = factory.Sequence(lambda n: f"Firma {n} GmbH")
    domain = factory.Sequence(lambda n: f"firma{n}.de")
    employee_count = 50
    country = "DE"


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    external_id = factory.Sequence(lambda n: f"L-{n:05d}")
    email = factory.Sequence(lambda n: f"lead{n}@example.de")
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Muster{n}")
    created_at = datetime(2026, 1, 1, tzinfo=UTC)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = "page_view"
    occurred_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    channel = "web"
    properties = factory.LazyFunction(dict)
    source = "test"


class LeadOutcomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadOutcome

    lead = factory.SubFactory(LeadFactory)
    outcome = "won"
    occurred_at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    source = "test"
