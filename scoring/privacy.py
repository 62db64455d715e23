"""A person's data rights: everything stored about a lead, as one document, and its erasure.

`person_export` gathers the lead, its activities, scores with explanations, score events,
handoffs with their log, outcomes, the tracking visitors identified as the lead (with their
anonymous visits), the webhook deliveries that carried the lead and its unscorable record. The
account is a company, not the person: the export names it and nothing more.

`person_erase` deletes all of that in one transaction. Webhook deliveries are deleted rather
than blanked: the payload (and the receiver's answer in `last_error`, which may echo it) is the
only thing a delivery holds, a blanked one could still be resent, and its key names rows that no
longer exist; the endpoints stay. The admin's history (django.contrib.admin's LogEntry) records
the erasure, by whom and when, with the lead's id and the counts, never a name or an address,
and the entries it already had about the lead lose their description (the lead's name).
"""

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from integrations.models import PendingVisit, Visitor, WebhookDelivery

from .models import (
    Activity,
    Handoff,
    HandoffAction,
    Lead,
    LeadOutcome,
    LeadScore,
    PendingRescore,
    ScoreEvent,
    UnscorableLead,
)

# Who may export and erase a person: only admins hold it (scoring.roles).
PERMISSION = "scoring.delete_lead"
EXPORT_FORMAT = "leadscoring.person-export/1"
# Operations read this logger's lines; the durable record is the admin's history.
audit_logger = logging.getLogger("leadscoring.privacy")

# What an erasure counts, in the order reports list it.
ERASED_KINDS = (
    "leads", "activities", "scores", "score_events", "handoffs", "handoff_actions", "outcomes",
    "visitors", "pending_visits", "pending_rescores", "unscorable_records",
    "webhook_deliveries", "admin_log_entries_anonymised",
)  # fmt: skip


def can_handle_personal_data(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.has_perm(PERMISSION))


# --- values -----------------------------------------------------------------------------------


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _stable(value: Any) -> Any:
    """Free-form JSON with its object keys sorted: the same document on every database."""
    if isinstance(value, dict):
        return {str(key): _stable(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_stable(item) for item in value]
    return value


def _username(user: AbstractBaseUser | None) -> str | None:
    return None if user is None else user.get_username()


# --- what names the person --------------------------------------------------------------------


def _deliveries_of(lead: Lead) -> models.QuerySet[WebhookDelivery]:
    """Deliveries whose payload carried this lead (by id or e-mail) or one of its events."""
    named = Q(payload__data__lead__id=lead.pk)
    if lead.email:
        named |= Q(payload__data__lead__email__iexact=lead.email)
    event_ids = list(ScoreEvent.objects.filter(lead=lead).values_list("pk", flat=True))
    if event_ids:
        named |= Q(event_key__in=[f"score_event:{pk}" for pk in event_ids])
    for handoff_id in Handoff.objects.filter(lead=lead).values_list("pk", flat=True):
        named |= Q(event_key__startswith=f"handoff:{handoff_id}:")
    return WebhookDelivery.objects.filter(named)


def _visitors_of(lead: Lead) -> models.QuerySet[Visitor]:
    return Visitor.objects.filter(lead=lead)


# --- export -----------------------------------------------------------------------------------


def _lead_fields(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.pk,
        "external_id": lead.external_id,
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "job_title": lead.job_title,
        "seniority": lead.seniority,
        "phone": lead.phone,
        "country": lead.country,
        "birthday": _iso(lead.birthday),
        "source": lead.source,
        "lifecycle_stage": lead.lifecycle_stage,
        "owner": _username(lead.owner),
        "unsubscribed": lead.unsubscribed,
        "email_invalid": lead.email_invalid,
        "attributes": _stable(lead.attributes),
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
    }


def _activities(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "id": a.pk, "kind": a.kind, "occurred_at": _iso(a.occurred_at), "channel": a.channel,
            "source": a.source, "external_id": a.external_id,
            "properties": _stable(a.properties), "received_at": _iso(a.created_at),
        }
        for a in Activity.objects.filter(lead=lead).order_by("occurred_at", "pk")
    ]  # fmt: skip


def _scores(lead: Lead) -> list[dict[str, Any]]:
    rows = (
        LeadScore.objects.filter(lead=lead)
        .select_related("scoring_model", "version")
        .with_probability()
    )
    return [
        {
            "model": s.scoring_model.slug, "model_name": s.scoring_model.name,
            "version": s.version.number, "total": _decimal(s.total), "fit": _decimal(s.fit),
            "engagement": _decimal(s.engagement), "band": s.band, "grade": s.grade, "mql": s.mql,
            "explanation": _stable(s.explanation), "computed_at": _iso(s.computed_at),
            "probability": s.probability, "probability_factors": s.probability_factors,
        }
        for s in rows.order_by("scoring_model__slug", "pk")
    ]  # fmt: skip


def _score_events(lead: Lead) -> list[dict[str, Any]]:
    rows = ScoreEvent.objects.filter(lead=lead).select_related("scoring_model", "version")
    return [
        {
            "id": e.pk, "model": e.scoring_model.slug, "version": e.version.number,
            "kind": e.kind, "from_total": _decimal(e.from_total), "to_total": _decimal(e.to_total),
            "from_band": e.from_band, "to_band": e.to_band, "reason": e.reason,
            "occurred_at": _iso(e.occurred_at),
        }
        for e in rows.order_by("occurred_at", "pk")
    ]  # fmt: skip


def _handoffs(lead: Lead) -> list[dict[str, Any]]:
    actions = HandoffAction.objects.select_related("user").order_by("at", "pk")
    rows = (
        Handoff.objects.filter(lead=lead)
        .select_related("scoring_model", "owner")
        .prefetch_related(models.Prefetch("actions", queryset=actions))
    )
    return [
        {
            "id": h.pk, "model": h.scoring_model.slug, "status": h.status,
            "owner": _username(h.owner), "score_at_handoff": _decimal(h.score_at_handoff),
            "trigger": h.trigger, "sla_due_at": _iso(h.sla_due_at),
            "sla_breached_at": _iso(h.sla_breached_at), "reason": h.reason, "note": h.note,
            "outcome_value": _decimal(h.outcome_value), "created_at": _iso(h.created_at),
            "updated_at": _iso(h.updated_at),
            "actions": [
                {"kind": a.kind, "user": _username(a.user), "at": _iso(a.at), "detail": a.detail}
                for a in h.actions.all()
            ],
        }
        for h in rows.order_by("created_at", "pk")
    ]  # fmt: skip


def _outcomes(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "outcome": o.outcome, "occurred_at": _iso(o.occurred_at), "value": _decimal(o.value),
            "source": o.source,
        }
        for o in LeadOutcome.objects.filter(lead=lead).order_by("occurred_at", "pk")
    ]  # fmt: skip


def _visitors(lead: Lead) -> list[dict[str, Any]]:
    rows = (
        _visitors_of(lead)
        .select_related("site")
        .prefetch_related(
            models.Prefetch("pending", queryset=PendingVisit.objects.order_by("occurred_at", "pk"))
        )
    )
    return [
        {
            "site": v.site.name, "visitor_id": v.visitor_id,
            "first_seen_at": _iso(v.first_seen_at), "last_seen_at": _iso(v.last_seen_at),
            "identified_at": _iso(v.identified_at),
            "pending_visits": [
                {
                    "event_id": p.event_id, "kind": p.kind, "occurred_at": _iso(p.occurred_at),
                    "properties": _stable(p.properties),
                }
                for p in v.pending.all()
            ],
        }
        for v in rows.order_by("first_seen_at", "pk")
    ]  # fmt: skip


def _deliveries(lead: Lead) -> list[dict[str, Any]]:
    rows = _deliveries_of(lead).select_related("endpoint")
    return [
        {
            "id": d.pk, "endpoint": d.endpoint.name, "event": d.event, "event_key": d.event_key,
            "status": d.status, "attempts": d.attempts, "last_status_code": d.last_status_code,
            "last_error": d.last_error, "created_at": _iso(d.created_at),
            "last_attempt_at": _iso(d.last_attempt_at), "delivered_at": _iso(d.delivered_at),
            "payload": _stable(d.payload),
        }
        for d in rows.order_by("created_at", "pk")
    ]  # fmt: skip


def _unscorable(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "reason": u.reason, "first_seen": _iso(u.first_seen), "last_seen": _iso(u.last_seen),
            "times_seen": u.times_seen,
        }
        for u in UnscorableLead.objects.filter(lead=lead)
    ]  # fmt: skip


def person_export(*, lead: Lead, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about the lead's person, JSON-ready: ISO timestamps, decimals as text,
    lists oldest first, keys in a fixed order (free-form JSON sorted by key)."""
    lead = Lead.objects.select_related("account", "owner").get(pk=lead.pk)
    account = lead.account
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now or timezone.now()),
        "lead": _lead_fields(lead),
        # A company, not the person: which one, nothing more.
        "account": None if account is None else {"name": account.name, "domain": account.domain},
        "activities": _activities(lead),
        "scores": _scores(lead),
        "score_events": _score_events(lead),
        "handoffs": _handoffs(lead),
        "outcomes": _outcomes(lead),
        "visitors": _visitors(lead),
        "webhook_deliveries": _deliveries(lead),
        "unscorable": _unscorable(lead),
    }


# --- erasure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureReport:
    lead_id: int
    erased_at: datetime
    by: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _person_rows(lead: Lead) -> dict[str, models.QuerySet[models.Model]]:
    """What is about the person, by kind, besides the lead row and the admin's history."""
    return {
        "activities": Activity.objects.filter(lead=lead),
        "scores": LeadScore.objects.filter(lead=lead),
        "score_events": ScoreEvent.objects.filter(lead=lead),
        "handoffs": Handoff.objects.filter(lead=lead),
        "handoff_actions": HandoffAction.objects.filter(handoff__lead=lead),
        "outcomes": LeadOutcome.objects.filter(lead=lead),
        # Deleted, not left anonymous as deleting the lead alone would: the browser's id is the
        # person's too.
        "visitors": _visitors_of(lead),
        "pending_visits": PendingVisit.objects.filter(visitor__lead=lead),
        "pending_rescores": PendingRescore.objects.filter(lead=lead),
        "unscorable_records": UnscorableLead.objects.filter(lead=lead),
        "webhook_deliveries": _deliveries_of(lead),
    }


def person_data_counts(*, lead: Lead) -> dict[str, int]:
    """How many rows of each kind an erasure of the lead would delete now."""
    counts = dict.fromkeys(ERASED_KINDS, 0)
    counts["leads"] = 1
    counts.update({kind: rows.count() for kind, rows in _person_rows(lead).items()})
    return counts


def _deleted(queryset: models.QuerySet[models.Model]) -> int:
    """Rows of the queryset's own model that its delete removed (not those it cascaded to)."""
    _, per_model = queryset.delete()
    return per_model.get(queryset.model._meta.label, 0)


def _anonymise_admin_history(objects: dict[type[models.Model], list[int]]) -> int:
    """The admin's history keeps a description (str()) of every object it changed: for a lead
    its name or e-mail, for a handoff or score the lead's. Only the description goes; which
    object, who and when stay."""
    changed = 0
    for model, ids in objects.items():
        if ids:
            changed += LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model),
                object_id__in=[str(pk) for pk in ids],
            ).update(
                object_repr=Concat(
                    Value(f"{model._meta.model_name} "),
                    "object_id",
                    Value(" (erased)"),
                    output_field=models.CharField(),
                )
            )
    return changed


@transaction.atomic(durable=True)
def person_erase(*, lead: Lead, by: AbstractBaseUser, now: datetime | None = None) -> ErasureReport:
    """Delete the lead and everything about its person; return how many rows of each kind.

    The lead row is locked first, so a write for the lead that starts meanwhile (a score, an
    activity) waits and then finds the lead gone. Accounts and webhook endpoints stay.
    """
    now = now or timezone.now()
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    lead_id = lead.pk
    rows = _person_rows(lead)
    history: dict[type[models.Model], list[int]] = {
        model: list(rows[kind].values_list("pk", flat=True))
        for model, kind in (
            (Handoff, "handoffs"), (LeadScore, "scores"), (LeadOutcome, "outcomes"),
            (Visitor, "visitors"),
        )
    }  # fmt: skip
    history[Lead] = [lead_id]
    counts = dict.fromkeys(ERASED_KINDS, 0)
    # In this order: deliveries are found through the lead's events and handoffs, and each
    # delete is of rows nothing else points to any more (so none cascades further).
    for kind in (
        "webhook_deliveries", "handoff_actions", "handoffs", "scores", "score_events",
        "activities", "outcomes", "pending_visits", "visitors", "pending_rescores",
        "unscorable_records",
    ):  # fmt: skip
        counts[kind] = _deleted(rows[kind])
    counts["leads"] = _deleted(Lead.objects.filter(pk=lead_id))
    counts["admin_log_entries_anonymised"] = _anonymise_admin_history(history)

    LogEntry.objects.create(
        action_time=now,
        user_id=by.pk,
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=str(lead_id),
        object_repr=f"lead {lead_id} (erased)",
        action_flag=DELETION,
        change_message="Personal data erased: " + json.dumps(counts),
    )
    report = ErasureReport(lead_id=lead_id, erased_at=now, by=by.get_username(), counts=counts)
    transaction.on_commit(
        lambda: audit_logger.warning(
            "Personal data of lead %s erased by user %s: %s", lead_id, by.pk, json.dumps(counts)
        )
    )
    return report
