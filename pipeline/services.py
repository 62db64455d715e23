"""Writes of the sales queue: stored priorities, automatic assignment, SLA breaches, claiming,
saved filters."""

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from scoring.models import OPEN_HANDOFF_STATUSES, Handoff, HandoffAction, HandoffStatus
from scoring.roles import SALES
from scoring.staging import bulk_insert, copy_to_stage

from .handoffs import HandoffError, handoff_assign, handoffs_announce
from .models import AssignmentRule, RoundRobinTurn, SavedQueueFilter
from .priority import PRIORITY_FIELDS, priority_facts, stored_priority

logger = logging.getLogger(__name__)

SLA_BATCH = 1000
PRIORITY_BATCH = 2000
_ROUND_ROBIN_KEY = "sales"


def sales_team() -> QuerySet[User]:
    """The users who work handoffs: active members of the sales role."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=SALES)
        .distinct()
        .order_by("pk")
    )


def can_work_handoffs(user: User) -> bool:
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


def assignment_rules() -> list[AssignmentRule]:
    """The active rules with an active assignee, in the order they are tried."""
    return list(
        AssignmentRule.objects.filter(active=True, assignee__is_active=True).select_related(
            "assignee"
        )
    )


def assignment_rule_for(
    handoff: Handoff, rules: list[AssignmentRule] | None = None
) -> AssignmentRule | None:
    """The first active rule (in position order) that matches the handoff's lead."""
    rules = assignment_rules() if rules is None else rules
    return next((rule for rule in rules if _rule_matches(rule, handoff)), None)


def round_robin_take(count: int) -> list[User]:
    """The next `count` sales users in turn (by id, wrapping around); [] without a sales team.

    Must run inside a transaction: the turn row stays locked until it commits.
    """
    team = list(sales_team())
    if not team or count < 1:
        return []
    RoundRobinTurn.objects.get_or_create(key=_ROUND_ROBIN_KEY)
    turn = RoundRobinTurn.objects.select_for_update().get(key=_ROUND_ROBIN_KEY)
    last = turn.last_user_id
    start = next((i for i, user in enumerate(team) if last is not None and user.pk > last), 0)
    chosen = [team[(start + i) % len(team)] for i in range(count)]
    turn.last_user = chosen[-1]
    turn.save(update_fields=["last_user"])
    return chosen


def round_robin_next() -> User | None:
    """The next sales user in turn; None without a sales team."""
    return next(iter(round_robin_take(1)), None)


def round_robin_enabled() -> bool:
    return bool(getattr(settings, "PIPELINE_ROUND_ROBIN", True))


@transaction.atomic
def handoffs_autoassign(*, handoff_ids: Iterable[int]) -> dict[int, User]:
    """Give open handoffs without owner to the user their rules name, else the next in turn.

    Set-based: one query for the handoffs, one for the rules, one round-robin turn, one update
    per owner. Returns {handoff id: new owner}; taken, closed or unmatched handoffs are left out.
    """
    rules = assignment_rules()
    round_robin = round_robin_enabled()
    if not rules and not (round_robin and sales_team().exists()):
        return {}  # no one to give them to: they stay in the queue for sales to claim
    unowned = (
        Handoff.objects.select_for_update(of=("self",))
        .filter(pk__any_of=list(handoff_ids), owner__isnull=True, status__in=OPEN_HANDOFF_STATUSES)
        .order_by("pk")
    )
    owners: dict[int, User] = {}
    unmatched = []
    if rules:
        for handoff in unowned.select_related("lead", "lead__account"):
            rule = assignment_rule_for(handoff, rules)
            if rule is None:
                unmatched.append(handoff.pk)
            else:
                owners[handoff.pk] = rule.assignee
    else:
        # Without rules only the ids matter (a publish can open many thousands at once).
        unmatched = list(unowned.values_list("pk", flat=True))
    if unmatched and round_robin:
        owners.update(zip(unmatched, round_robin_take(len(unmatched)), strict=False))
    if owners:
        _owners_set(owners)
    return owners


def _owners_set(owners: Mapping[int, User]) -> None:
    now = timezone.now()
    by_owner: dict[int, list[int]] = {}
    for handoff_id, owner in owners.items():
        by_owner.setdefault(owner.pk, []).append(handoff_id)
    for owner_id, ids in by_owner.items():
        Handoff.objects.filter(pk__any_of=ids).update(owner_id=owner_id, updated_at=now)
    bulk_insert([
        HandoffAction(
            handoff_id=handoff_id, kind=HandoffAction.Kind.ASSIGNED, at=now,
            detail=owner.get_username(),
        )
        for handoff_id, owner in owners.items()
    ])  # fmt: skip
    handoffs_announce(list(owners), HandoffAction.Kind.ASSIGNED)


_PRIORITY_STAGE = (
    "id bigint, score_band text, size_band text, buyer_stage text, score_points float8, "
    "priority_base float8, priority_until timestamptz"
)


def handoffs_reprioritize(handoffs: QuerySet[Handoff], *, now: datetime | None = None) -> int:
    """Recompute and store the priority parts of these handoffs; returns how many.

    The rows are locked in id order before their facts are read, so concurrent refreshes of
    the same handoff neither deadlock nor store older facts over newer ones.
    """
    now = now or timezone.now()
    table = Handoff._meta.db_table
    with transaction.atomic():
        ids = list(
            handoffs.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True)
        )
        if not ids:
            return 0
        rows = [
            (facts.handoff_id, *stored_priority(facts))
            for facts in priority_facts(Handoff.objects.filter(pk__any_of=ids), now=now)
        ]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                staged = copy_to_stage(
                    cursor, name="handoff_priority_incoming", columns=_PRIORITY_STAGE, rows=rows
                )
                assignments = ", ".join(f"{name} = s.{name}" for name in PRIORITY_FIELDS)
                cursor.execute(
                    f"UPDATE {table} h SET {assignments} "  # noqa: S608 - fixed names
                    f"FROM ({staged}) s WHERE h.id = s.id"
                )
        else:
            Handoff.objects.bulk_update(
                [
                    Handoff(pk=pk, **dict(zip(PRIORITY_FIELDS, values, strict=True)))
                    for pk, *values in rows
                ],
                PRIORITY_FIELDS,
                batch_size=500,
            )
    return len(rows)


def priorities_refresh(*, due_only: bool = True, now: datetime | None = None) -> int:
    """Refresh the stored priority of the open handoffs: those due (a buying signal left the
    window, or never computed) or, with due_only=False, all of them; in batches by id."""
    now = now or timezone.now()
    selection = Handoff.objects.filter(status__in=OPEN_HANDOFF_STATUSES)
    if due_only:
        selection = selection.filter(priority_until__lte=now)
    refreshed, after = 0, 0
    while True:
        ids = list(
            selection.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:PRIORITY_BATCH]
        )
        if not ids:
            return refreshed
        refreshed += handoffs_reprioritize(Handoff.objects.filter(pk__in=ids), now=now)
        after = ids[-1]


def _reprioritize_after_commit(handoffs: QuerySet[Handoff]) -> None:
    """For receivers: what caused the refresh is committed already, and the signal's other
    receivers must still run, so a failure is logged (the nightly refresh puts the order right)."""
    try:
        handoffs_reprioritize(handoffs)
    except Exception:
        logger.exception("Refreshing the queue priority failed")


def on_scores_stored(
    sender: object, lead_ids: list[int], opened_handoff_ids: Sequence[int] = (), **kwargs: object
) -> None:
    """Receiver: new scores or activities may move these leads' open handoffs in the queue
    (those the same rescore opened got their priority then)."""
    handoffs = Handoff.objects.filter(lead_id__any_of=lead_ids, status__in=OPEN_HANDOFF_STATUSES)
    if opened_handoff_ids:
        handoffs = handoffs.exclude(pk__any_of=list(opened_handoff_ids))
    _reprioritize_after_commit(handoffs)


def handoff_autoassign(*, handoff_id: int) -> User | None:
    """Assign one handoff as `handoffs_autoassign` does; its new owner or None."""
    return handoffs_autoassign(handoff_ids=[handoff_id]).get(handoff_id)


def on_handoff_changed(
    sender: object, handoff_ids: list[int], action: str, **kwargs: object
) -> None:
    """Receiver: assign the new handoffs that came without an owner; a qualified lead moves up.

    (New handoffs get their priority when their lead's scores are stored, in the same commit.)
    """
    if action == HandoffAction.Kind.QUALIFIED:
        _reprioritize_after_commit(Handoff.objects.filter(pk__in=handoff_ids))
    if action != HandoffAction.Kind.CREATED:
        return
    try:
        handoffs_autoassign(handoff_ids=handoff_ids)
    except Exception:
        # The handoffs exist and stay claimable from the queue; other receivers must still run.
        logger.exception("Automatic assignment of %d handoffs failed", len(handoff_ids))


def handoff_claim(*, handoff_id: int, user: User) -> Handoff:
    """A sales user takes the handoff for themselves."""
    if not can_work_handoffs(user):
        raise HandoffError(_("You may not work handoffs."))
    return handoff_assign(handoff_id=handoff_id, user=user, owner=user)


def handoff_reassign(*, handoff_id: int, user: User, owner_id: int) -> Handoff:
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
            handoffs_announce(ids, HandoffAction.Kind.SLA_BREACHED)
        marked += len(ids)
        if len(ids) < SLA_BATCH:
            return marked


def saved_filter_save(*, user: User, name: str, params: Mapping[str, str]) -> SavedQueueFilter:
    """Save (or overwrite, by name) the user's filter; empty values are left out."""
    name = name.strip()
    if not name:
        raise ValueError(_("Give the filter a name."))
    kept = {key: str(value) for key, value in params.items() if value not in (None, "")}
    saved, _created = SavedQueueFilter.objects.update_or_create(
        user=user, name=name[:80], defaults={"params": kept}
    )
    return saved


def saved_filter_delete(*, user: User, saved_filter_id: int) -> bool:
    deleted, _rows = SavedQueueFilter.objects.filter(Q(pk=saved_filter_id) & Q(user=user)).delete()
    return bool(deleted)
