"""Lead and account writes from the API; each asks for the rescoring it needs."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from scoring.ingest import rescore_request
from scoring.models import Account, Lead


def _assign(instance: Lead | Account, data: Mapping[str, Any]) -> None:
    for name, value in data.items():
        setattr(instance, name, value)
    instance.save()


@transaction.atomic
def lead_save(*, lead: Lead | None, data: Mapping[str, Any]) -> Lead:
    """Create (lead=None) or change a lead from validated fields; its scores follow."""
    lead = lead if lead is not None else Lead()
    _assign(lead, data)
    rescore_request([lead.pk])
    return lead


@transaction.atomic
def account_save(*, account: Account | None, data: Mapping[str, Any]) -> Account:
    """Create or change an account; the scores of its leads follow (fit uses account fields)."""
    account = account if account is not None else Account()
    _assign(account, data)
    rescore_request(account.leads.values_list("pk", flat=True))
    return account


def lead_for_upsert(*, external_id: str | None, email: str | None) -> Lead | None:
    """The lead an upsert changes: by external id first, else by e-mail; locked until commit."""
    # The results are annotated: LeadQuerySet (scoring.models) does not name its model, so its
    # methods answer untyped rows.
    leads = Lead.objects.select_for_update()
    if external_id:
        found: Lead | None = leads.filter(external_id=external_id).first()
        if found is not None:
            return found
    if email:
        by_email: Lead | None = leads.with_emails([email]).first()
        return by_email
    return None


def account_for_upsert(*, external_id: str) -> Account | None:
    return Account.objects.select_for_update().filter(external_id=external_id).first()
