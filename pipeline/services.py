"""Writes of the sales queue: automatic assignment, SLA breaches, claiming, saved filters."""

import logging
from collections.abc import Mapping
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from scoring.handoffs import HandoffError, handoff_assign
from scoring.models import OPEN_HANDOFF_STATUSES, Handoff, HandoffAction, HandoffStatus
from scoring.roles import SALES
from scoring.signals import handoff_changed

from .models import AssignmentRule, RoundRobinTurn, SavedQueueFilter

logger = logging.getLogger(__name__)

SLA_BATCH = 1000
_ROUND_ROBIN_KEY = "sales"


def sales_team() -> QuerySet:
    """The users who work handoffs: active members of the sales role."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=SALES)
        .distinct()
        .order_by("pk")
    )


def can_work_handoffs(user: AbstractBaseUser) -> bool:
    return user.has_perm("scoring.work_handoff")


def _rule_matches(rule: AssignmentRule, handoff: Handoff) -> bool:
    if rule.scoring_model_id not in (None, handoff.scoring_model_id):
        return False
    lead, account = handoff.lead, handoff.lead.account
    if rule.match == AssignmentRule.Match.ACCOUNT:
        return account is not None and rule.account_id == account.pk
    if rule.match == AssignmentRule.Match.COUNTRY:
        country = lead.country or (account.country if account else "")
        return country.casefold() == rule.value.casefold()
    return account is not None and account.industry.casefold() == rule.value.casefold()


def assignment_rule_for(handoff: Handoff) -> AssignmentRule | None:
    """The first active rule (in position order) that matches the handoff's lead."""
    rules = AssignmentRule.objects.filter(active=True, assignee__is_active=True).select_related(
        "assignee"
    )
    return next((rule for rule in rules if _rule_matches(rule, handoff)), None)


def round_robin_next() -> AbstractBaseUser | None:
    """The next sales user in turn (by id, wrapping around); None without a sales team.

    Must run inside a transaction: the turn row stays locked until it commits.
    """
    team = list(sales_team())
    if not team:
        return None
    RoundRobinTurn.objects.get_or_create(key=_ROUND_ROBIN_KEY)
    turn = RoundRobinTurn.objects.select_for_update().get(key=_ROUND_ROBIN_KEY)
    after = [user for user in team if turn.last_user_id is not None and user.pk > turn.last_user_id]
    chosen = (after or team)[0]
    turn.last_user = chosen
    turn.save(update_fields=["last_user"])
    return chosen


def round_robin_enabled() -> bool:
    return bool(getattr(settings, "PIPELINE_ROUND_ROBIN", True))


@transaction.atomic
def handoff_autoassign(*, handoff_id: int) -> AbstractBaseUser | None:
    """Give an open handoff without owner to the user its rules name, else the next in turn.

    Returns the new owner, or None when the handoff is taken, closed, or nobody fits.
    """
    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("lead", "lead__account")
        .filter(pk=handoff_id, owner__isnull=True, status__in=OPEN_HANDOFF_STATUSES)
        .first()
    )
    if handoff is None:
        return None
    rule = assignment_rule_for(handoff)
    owner = rule.assignee if rule else (round_robin_next() if round_robin_enabled() else None)
    if owner is None:
        return None
    handoff_assign(handoff_id=handoff.pk, user=None, owner=owner)
    return owner


def on_handoff_changed(sender: object, handoff_id: int, action: str, **kwargs: object) -> None:
    """Receiver: assign each new handoff that came without an owner."""
    if action != HandoffAction.Kind.CREATED:
        return
    try:
        handoff_autoassign(handoff_id=handoff_id)
    except Exception:
        # The handoff exists and stays claimable from the queue; other receivers must still run.
        logger.exception("Automatic assignment of handoff %s failed", handoff_id)


def handoff_claim(*, handoff_id: int, user: AbstractBaseUser) -> Handoff:
    """A sales user takes the handoff for themselves."""
    if not can_work_handoffs(user):
        raise HandoffError(_("You may not work handoffs."))
    return handoff_assign(handoff_id=handoff_id, user=user, owner=user)


def handoff_reassign(*, handoff_id: int, user: AbstractBaseUser, owner_id: int) -> Handoff:
    """Hand the handoff to another member of the sales team."""
    owner = sales_team().filter(pk=owner_id).first()
    if owner is None:
        raise HandoffError(_("Choose someone from the sales team."))
    return handoff_assign(handoff_id=handoff_id, user=user, owner=owner)


def handoffs_mark_sla_breached(*, now: datetime | None = None) -> int:
    """Mark new handoffs whose follow-up time has passed, once each, with a logged action.

    Set-based, in batches; rows another run holds are skipped (that run marks them), so
    concurrent runs never log a breach twice. Returns how many were marked.
    """
    now = now or timezone.now()
    marked = 0
    while True:
        with transaction.atomic():
            ids = list(
                Handoff.objects.select_for_update(skip_locked=True)
                .filter(status=HandoffStatus.NEW, sla_due_at__lt=now, sla_breached_at__isnull=True)
                .order_by("sla_due_at", "pk")
                .values_list("pk", flat=True)[:SLA_BATCH]
            )
            if not ids:
                return marked
            Handoff.objects.filter(pk__in=ids).update(sla_breached_at=now, updated_at=now)
            HandoffAction.objects.bulk_create(
                HandoffAction(handoff_id=pk, kind=HandoffAction.Kind.SLA_BREACHED, at=now)
                for pk in ids
            )
            transaction.on_commit(lambda ids=ids: _announce_breaches(ids))
        marked += len(ids)
        if len(ids) < SLA_BATCH:
            return marked


def _announce_breaches(ids: list[int]) -> None:
    for pk in ids:
        handoff_changed.send(sender=Handoff, handoff_id=pk, action=HandoffAction.Kind.SLA_BREACHED)


def saved_filter_save(
    *, user: AbstractBaseUser, name: str, params: Mapping[str, str]
) -> SavedQueueFilter:
    """Save (or overwrite, by name) the user's filter; empty values are left out."""
    name = name.strip()
    if not name:
        raise ValueError(_("Give the filter a name."))
    kept = {key: str(value) for key, value in params.items() if value not in (None, "")}
    saved, _created = SavedQueueFilter.objects.update_or_create(
        user=user, name=name[:80], defaults={"params": kept}
    )
    return saved


def saved_filter_delete(*, user: AbstractBaseUser, saved_filter_id: int) -> bool:
    deleted, _rows = SavedQueueFilter.objects.filter(Q(pk=saved_filter_id) & Q(user=user)).delete()
    return bool(deleted)
