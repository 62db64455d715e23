"""Handoffs to sales: opened when a lead becomes an MQL, then accepted, rejected, qualified, closed.

Every action moves the lead's lifecycle stage along, is logged with user and time, and is
announced with the `handoff_changed` signal after commit. An outcome recorded outside the queue
(the CRM import) closes the lead's open handoffs the same way (`outcomes_close_handoffs`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Case, F, Field, Max, Value, When
from django.utils import timezone

from scoring.definition import ModelSpec
from scoring.lookups import int_array
from scoring.models import (
    OPEN_HANDOFF_STATUSES,
    Activity,
    Handoff,
    HandoffAction,
    HandoffStatus,
    Lead,
    LeadOutcome,
    LifecycleStage,
    OutcomeKind,
    RejectionReason,
)
from scoring.staging import insert_rows

from .priority import opening_columns, opening_priorities
from .signals import handoff_changed

# Stages a lead leaves when it becomes an MQL; later stages are not moved back.
_BEFORE_MQL = (LifecycleStage.SUBSCRIBER, LifecycleStage.LEAD, LifecycleStage.RECYCLED)


class HandoffError(ValueError):
    """An action that the handoff's current status does not allow, or bad input for it."""


@dataclass(frozen=True)
class MqlCrossing:
    lead_id: int
    scoring_model_id: int
    spec: ModelSpec
    total: Decimal
    at: datetime
    band: str = ""
    trigger_kind: str = ""
    trigger_at: datetime | None = None


def sla_hours(spec: ModelSpec, trigger_kind: str) -> float:
    """The model's follow-up time, or the shorter one its triggering activity kind asks for."""
    for kind_sla in spec.sla_by_kind:
        if kind_sla.kind == trigger_kind:
            return float(kind_sla.hours)
    return float(spec.sla_hours)


def handoffs_announce(handoff_ids: Sequence[int], action: str) -> None:
    """Send `handoff_changed` for these handoffs once the current transaction commits."""
    ids = list(handoff_ids)
    transaction.on_commit(
        lambda: handoff_changed.send(sender=Handoff, handoff_ids=ids, action=action)
    )


def handoffs_open(*, crossings: Sequence[MqlCrossing]) -> list[int]:
    """Hand leads that just became MQLs to sales (one open handoff per lead and model); returns
    the new handoffs' ids.

    Runs inside the caller's transaction; a lead already with sales in that model is skipped.
    On PostgreSQL one statement opens them all (a publish can open hundreds of thousands at
    once); elsewhere plain rows are built here, with the trigger the crossings carry.
    """
    if not crossings:
        return []
    if connection.vendor == "postgresql":
        created = _handoffs_open_sql(crossings)
    else:
        created = _handoffs_open_rows(crossings)
    handoffs_announce(created, HandoffAction.Kind.CREATED)
    return created


def _trigger_text(kind: str, at: datetime | None) -> str:
    return f"{kind} at {at.isoformat()}"[:200] if at else ""


def _handoffs_open_rows(crossings: Sequence[MqlCrossing]) -> list[int]:
    lead_ids = sorted({c.lead_id for c in crossings})
    already_open = set(
        Handoff.objects.filter(
            lead_id__any_of=lead_ids,
            scoring_model_id__any_of=sorted({c.scoring_model_id for c in crossings}),
            status__in=OPEN_HANDOFF_STATUSES,
        ).values_list("lead_id", "scoring_model_id")
    )
    owners = dict(
        Lead.objects.filter(pk__any_of=lead_ids, owner__isnull=False).values_list("pk", "owner_id")
    )
    opening: list[MqlCrossing] = []
    rows: list[tuple[object, ...]] = []
    for c in crossings:
        if (c.lead_id, c.scoring_model_id) in already_open:
            continue
        already_open.add((c.lead_id, c.scoring_model_id))
        due = c.at + timedelta(hours=sla_hours(c.spec, c.trigger_kind))
        owner = owners.get(c.lead_id)
        opening.append(c)
        rows.append(
            (c.lead_id, c.scoring_model_id, owner, c.total,
             _trigger_text(c.trigger_kind, c.trigger_at), due, c.at)
        )  # fmt: skip
    if not rows:
        return []
    fields: tuple[str, ...] = ("lead_id", "scoring_model_id", "owner_id", "score_at_handoff",
                               "trigger", "sla_due_at", "created_at")  # fmt: skip
    # Opened with their queue priority: each handoff written once.
    extra = opening_priorities(opening, now=timezone.now())
    names = tuple(extra[0])
    fields += names
    rows = [(*row, *(more[name] for name in names)) for row, more in zip(rows, extra, strict=True)]
    created = insert_rows(Handoff, fields, rows)
    insert_rows(
        HandoffAction,
        ("handoff_id", "kind", "at"),
        [(pk, HandoffAction.Kind.CREATED, c.at) for pk, c in zip(created, opening, strict=True)],
    )
    Lead.objects.filter(
        pk__any_of=sorted({row[0] for row in rows}), lifecycle_stage__in=_BEFORE_MQL
    ).update(lifecycle_stage=LifecycleStage.MQL, updated_at=timezone.now())
    return created


def _sla_hours_sql(crossings: Sequence[MqlCrossing], params: dict[str, object]) -> str:
    """`sla_hours` of each opening row (`f.trigger_kind` of the model `f.scoring_model_id`)."""
    specs = {c.scoring_model_id: c.spec for c in crossings}

    def add(value: object) -> str:
        name = f"o_{len(params)}"
        params[name] = value
        return f"%({name})s"

    models = []
    for model_id, spec in specs.items():
        kinds = " ".join(
            f"WHEN {add(kind_sla.kind)} THEN {add(float(kind_sla.hours))}::float8"
            for kind_sla in spec.sla_by_kind
        )
        default = f"{add(float(spec.sla_hours))}::float8"
        hours = f"CASE f.trigger_kind {kinds} ELSE {default} END" if kinds else default
        models.append(f"WHEN {add(model_id)}::bigint THEN {hours}")
    return f"(CASE f.scoring_model_id {' '.join(models)} END)"


# The trigger as `_trigger_text` writes it: Python's isoformat of the UTC time (no fraction
# when it has no microseconds).
_TRIGGER_SQL = (
    "CASE WHEN f.trigger_at IS NULL THEN '' ELSE left(f.trigger_kind || ' at ' "
    "|| to_char(f.trigger_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
    "|| CASE WHEN to_char(f.trigger_at AT TIME ZONE 'UTC', 'US') = '000000' THEN '' "
    "ELSE '.' || to_char(f.trigger_at AT TIME ZONE 'UTC', 'US') END || '+00:00', 200) END"
)


def _handoffs_open_sql(crossings: Sequence[MqlCrossing]) -> list[int]:
    """Open the handoffs in one statement: the lead's owner, the trigger (its latest activity
    by the time of the crossing), the SLA, the queue priority, the "created" action and the
    lifecycle stage."""
    now = timezone.now()
    params: dict[str, object] = {
        "o_leads": int_array(c.lead_id for c in crossings),
        "o_models": int_array(c.scoring_model_id for c in crossings),
        "o_totals": [c.total for c in crossings],
        "o_bands": [c.band for c in crossings],
        "o_ats": [c.at for c in crossings],
        "o_open": list(OPEN_HANDOFF_STATUSES),
        "o_before": list(_BEFORE_MQL),
        "o_mql": LifecycleStage.MQL.value,
        "o_now": now,
        "o_created": HandoffAction.Kind.CREATED.value,
    }
    columns = {
        "lead_id": "f.lead_id",
        "scoring_model_id": "f.scoring_model_id",
        "owner_id": "f.owner_id",
        "score_at_handoff": "f.total",
        "trigger": _TRIGGER_SQL,
        "sla_due_at": f"f.at + make_interval(secs => {_sla_hours_sql(crossings, params)} * 3600)",
        "created_at": "f.at",
        "updated_at": "%(o_now)s",
    }
    priority = opening_columns(now=now)
    columns.update(priority.columns)
    params.update(priority.params)
    meta = Handoff._meta
    for f in meta.concrete_fields:
        if f is not meta.pk and f.attname not in columns:
            name = f"o_default_{f.attname}"
            params[name] = f.get_db_prep_save(f.get_default(), connection)
            columns[f.attname] = f"%({name})s"
    # The keys are attribute names of concrete fields: get_field() gives the field itself.
    names = ", ".join(
        connection.ops.quote_name(cast("Field[Any, Any]", meta.get_field(n)).column)
        for n in columns
    )
    activity, lead = Activity._meta.db_table, Lead._meta.db_table
    action = HandoffAction._meta.db_table
    sql = f"""
WITH opening AS (
    SELECT DISTINCT ON (c.lead_id, c.scoring_model_id) c.*, l.owner_id, l.account_id,
        t.kind AS trigger_kind, t.occurred_at AS trigger_at
    FROM unnest(%(o_leads)s::bigint[], %(o_models)s::bigint[], %(o_totals)s::numeric[],
        %(o_bands)s::text[], %(o_ats)s::timestamptz[]) AS c(lead_id, scoring_model_id, total,
        band, at)
    -- each lead by its key, whatever the planner estimates
    JOIN LATERAL (SELECT owner_id, account_id FROM {lead} WHERE id = c.lead_id LIMIT 1) l ON true
    -- newest first along the lead's activity index, stopping at the first (of simultaneous
    -- ones, the kind last in code-point order, as Python compares them)
    LEFT JOIN LATERAL (SELECT kind, occurred_at FROM {activity} a WHERE a.lead_id = c.lead_id
        AND a.occurred_at <= c.at ORDER BY a.occurred_at DESC, a.kind COLLATE "C" DESC
        LIMIT 1) t ON true
    -- a lead already with sales, looked up by its key (a LIMIT keeps the planner from reading
    -- every open handoff instead, as it may when its statistics are behind)
    LEFT JOIN LATERAL (SELECT true AS found FROM {meta.db_table} h WHERE h.lead_id = c.lead_id
        AND h.scoring_model_id = c.scoring_model_id AND h.status = ANY(%(o_open)s) LIMIT 1) x
        ON true
    WHERE x.found IS NULL
    ORDER BY c.lead_id, c.scoring_model_id
),
opened AS (
    INSERT INTO {meta.db_table} ({names})
    SELECT {", ".join(columns.values())} FROM opening f {priority.joins}
    ORDER BY f.lead_id, f.scoring_model_id
    RETURNING id, lead_id, created_at
),
logged AS (
    INSERT INTO {action} (handoff_id, kind, at, user_id, detail)
    SELECT id, %(o_created)s, created_at, NULL, '' FROM opened
),
moved AS (
    UPDATE {lead} l SET lifecycle_stage = %(o_mql)s, updated_at = %(o_now)s
    WHERE l.id = ANY(%(o_leads)s::bigint[]) AND l.lifecycle_stage = ANY(%(o_before)s)
        AND EXISTS (SELECT 1 FROM opened o WHERE o.lead_id = l.id)
)
SELECT id FROM opened ORDER BY id
"""  # noqa: S608 - fixed names; values are parameters
    with connection.cursor() as cursor:
        # psycopg adapts each parameter (receivers' ones are plain objects to the type checker);
        # the stubs list a fixed set of Python types.
        cursor.execute(sql, cast("Mapping[str, Any]", params))
        return [pk for (pk,) in cursor.fetchall()]


_ALLOWED_FROM = {
    HandoffAction.Kind.ACCEPTED: (HandoffStatus.NEW,),
    HandoffAction.Kind.REJECTED: (HandoffStatus.NEW, HandoffStatus.ACCEPTED),
    HandoffAction.Kind.QUALIFIED: (HandoffStatus.ACCEPTED,),
    HandoffAction.Kind.WON: (HandoffStatus.ACCEPTED, HandoffStatus.QUALIFIED),
    HandoffAction.Kind.LOST: (HandoffStatus.ACCEPTED, HandoffStatus.QUALIFIED),
}
_STATUS_AFTER = {
    HandoffAction.Kind.ACCEPTED: HandoffStatus.ACCEPTED,
    HandoffAction.Kind.REJECTED: HandoffStatus.REJECTED,
    HandoffAction.Kind.QUALIFIED: HandoffStatus.QUALIFIED,
    HandoffAction.Kind.WON: HandoffStatus.WON,
    HandoffAction.Kind.LOST: HandoffStatus.LOST,
}
_STAGE_AFTER = {
    HandoffAction.Kind.ACCEPTED: LifecycleStage.SAL,
    # Rejected and lost leads go back to marketing's nurturing.
    HandoffAction.Kind.REJECTED: LifecycleStage.RECYCLED,
    HandoffAction.Kind.QUALIFIED: LifecycleStage.SQL,
    HandoffAction.Kind.WON: LifecycleStage.CUSTOMER,
    HandoffAction.Kind.LOST: LifecycleStage.RECYCLED,
}


@transaction.atomic
def _act(
    handoff_id: int,
    action: HandoffAction.Kind,
    user: User | None,
    *,
    detail: str = "",
    reason: str | None = None,
    note: str | None = None,
    value: Decimal | None = None,
) -> Handoff:
    handoff = Handoff.objects.select_for_update().select_related("lead").get(pk=handoff_id)
    if handoff.status not in _ALLOWED_FROM[action]:
        raise HandoffError(
            f"A handoff that is {handoff.get_status_display().lower()} cannot be "
            f"{HandoffAction.Kind(action).label.lower()}."
        )
    now = timezone.now()
    handoff.status = _STATUS_AFTER[action]
    fields = ["status", "updated_at"]
    if reason is not None:
        handoff.reason, fields = reason, [*fields, "reason"]
    if note:
        handoff.note, fields = note, [*fields, "note"]
    if value is not None:
        handoff.outcome_value, fields = value, [*fields, "outcome_value"]
    if handoff.owner_id is None and user is not None:
        handoff.owner, fields = user, [*fields, "owner"]
    handoff.save(update_fields=fields)
    HandoffAction.objects.create(handoff=handoff, kind=action, user=user, at=now, detail=detail)
    Lead.objects.filter(pk=handoff.lead_id).update(
        lifecycle_stage=_STAGE_AFTER[action], updated_at=now
    )
    if action in (HandoffAction.Kind.WON, HandoffAction.Kind.LOST):
        LeadOutcome.objects.create(
            lead_id=handoff.lead_id,
            outcome=OutcomeKind.WON if action == HandoffAction.Kind.WON else OutcomeKind.LOST,
            occurred_at=now,
            value=value,
            source="handoff",
        )
    handoffs_announce([handoff.pk], action)
    return handoff


def handoff_accept(*, handoff_id: int, user: User) -> Handoff:
    """Sales accepts the lead (SAL) and owns it from now on when nobody did."""
    return _act(handoff_id, HandoffAction.Kind.ACCEPTED, user)


def handoff_reject(*, handoff_id: int, user: User, reason_code: str, note: str = "") -> Handoff:
    """Sales sends the lead back to marketing with one of the configured reasons."""
    reason = RejectionReason.objects.filter(code=reason_code, active=True).first()
    if reason is None:
        raise HandoffError(f"Unknown rejection reason {reason_code!r}.")
    return _act(
        handoff_id,
        HandoffAction.Kind.REJECTED,
        user,
        detail=f"{reason.label}: {note}" if note else reason.label,
        reason=reason.label,
        note=note,
    )


def handoff_qualify(*, handoff_id: int, user: User, note: str = "") -> Handoff:
    """Sales confirms a real opportunity (SQL)."""
    return _act(handoff_id, HandoffAction.Kind.QUALIFIED, user, detail=note, note=note)


def handoff_record_outcome(
    *, handoff_id: int, user: User, won: bool, value: object = None, note: str = ""
) -> Handoff:
    """Close the handoff as won or lost (with the deal value), recorded as the lead's outcome."""
    amount = None
    if value not in (None, ""):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise HandoffError(f"Deal value {value!r} is not a number.") from None
        if not amount.is_finite() or amount < 0:
            raise HandoffError("Deal value must be zero or more.")
    action = HandoffAction.Kind.WON if won else HandoffAction.Kind.LOST
    detail = note if amount is None else f"{amount} {note}".strip()
    return _act(handoff_id, action, user, detail=detail, note=note, value=amount)


# What an outcome recorded outside the queue does: the action that closes the lead's open
# handoffs, and the lead's stage after it (the one that action sets, but a disqualified lead
# becomes disqualified rather than going back to nurturing).
_OUTCOME_ACTION = {
    OutcomeKind.WON: HandoffAction.Kind.WON,
    OutcomeKind.CONVERTED: HandoffAction.Kind.WON,
    OutcomeKind.LOST: HandoffAction.Kind.LOST,
    OutcomeKind.DISQUALIFIED: HandoffAction.Kind.LOST,
}
_OUTCOME_STAGE = {
    **{kind: _STAGE_AFTER[action] for kind, action in _OUTCOME_ACTION.items()},
    OutcomeKind.DISQUALIFIED: LifecycleStage.DISQUALIFIED,
}
# Per lead, the outcome that acts: its kind, time and value.
_Acting = dict[int, tuple[OutcomeKind, datetime, Decimal | None]]


@dataclass(frozen=True)
class OutcomesApplied:
    closed_handoff_ids: list[int]
    moved_lead_ids: list[int]  # leads whose lifecycle stage changed


def outcomes_close_handoffs(
    outcomes: Sequence[tuple[int, str, datetime, Decimal | None]], *, origin: str = "CRM import"
) -> OutcomesApplied:
    """Close the loop for outcomes just stored as LeadOutcome rows elsewhere (lead id, outcome,
    occurred_at, value), as recording them in the queue does: the lead's open handoffs are
    closed as won (won, converted) or lost (lost, disqualified), logged at the outcome's time
    with `origin` and the value kept as the deal value, and the lead's stage moves.

    Only the lead's newest outcome acts (of one lead's outcomes given here, the newest, the last
    of equal times), so an old outcome recorded late moves nothing back. Runs inside the
    caller's transaction, with a fixed number of queries however many outcomes there are.
    """
    acting: _Acting = {}
    for lead_id, outcome, at, value in outcomes:
        if lead_id not in acting or at >= acting[lead_id][1]:
            acting[lead_id] = (OutcomeKind(outcome), at, value)
    if not acting:
        return OutcomesApplied([], [])
    stages: dict[LifecycleStage, list[int]] = {}
    for lead_id, stage, newest in (
        Lead.objects.filter(pk__any_of=sorted(acting))
        .values_list("pk", "lifecycle_stage")
        .annotate(newest=Max("outcomes__occurred_at"))
        .order_by()
    ):
        outcome, at, _ = acting[lead_id]
        if newest is not None and newest > at:
            del acting[lead_id]  # the lead has a newer outcome already
        elif stage != _OUTCOME_STAGE[outcome]:
            stages.setdefault(_OUTCOME_STAGE[outcome], []).append(lead_id)
    now = timezone.now()
    # The handoffs first, then the leads: the order in which the queue's actions lock them.
    closed = _handoffs_close(acting, origin=origin, now=now) if acting else []
    for stage, lead_ids in stages.items():
        Lead.objects.filter(pk__any_of=lead_ids).update(lifecycle_stage=stage, updated_at=now)
    return OutcomesApplied(closed, sorted(pk for ids in stages.values() for pk in ids))


def _handoffs_close(acting: _Acting, *, origin: str, now: datetime) -> list[int]:
    """Close these leads' open handoffs by their outcome; the closed handoffs' ids."""
    found = (
        Handoff.objects.select_for_update()
        .filter(lead_id__any_of=sorted(acting), status__in=OPEN_HANDOFF_STATUSES)
        .order_by("pk")
        .values_list("pk", "lead_id", "created_at")
    )
    # A handoff opened after the outcome is the lead's next round with sales, not this one.
    open_handoffs = [(pk, lead_id) for pk, lead_id, opened in found if opened <= acting[lead_id][1]]
    by_action: dict[HandoffAction.Kind, list[tuple[int, int]]] = {}
    for pk, lead_id in open_handoffs:
        by_action.setdefault(_OUTCOME_ACTION[acting[lead_id][0]], []).append((pk, lead_id))
    # An attribute name of a concrete field: get_field() gives the field itself.
    value_field = cast("Field[Any, Any]", Handoff._meta.get_field("outcome_value"))
    for action, handoffs in by_action.items():
        changes: dict[str, Any] = {"status": _STATUS_AFTER[action], "updated_at": now}
        deal_values = {lead_id: acting[lead_id][2] for _, lead_id in handoffs}
        if whens := [
            When(lead_id=lead_id, then=Value(value, output_field=value_field))
            for lead_id, value in sorted(deal_values.items())
            if value is not None
        ]:
            # The deal value where the outcome has one; a handoff's own one is kept otherwise.
            changes["outcome_value"] = Case(
                *whens, default=F("outcome_value"), output_field=value_field
            )
        Handoff.objects.filter(pk__any_of=[pk for pk, _ in handoffs]).update(**changes)
    rows = []
    for pk, lead_id in open_handoffs:
        outcome, at, value = acting[lead_id]
        detail = f"{origin}: {outcome.value}" + ("" if value is None else f" {value}")
        rows.append((pk, _OUTCOME_ACTION[outcome], at, detail))
    insert_rows(HandoffAction, ("handoff_id", "kind", "at", "detail"), rows)
    for action, handoffs in by_action.items():
        handoffs_announce([pk for pk, _ in handoffs], action)
    return [pk for pk, _ in open_handoffs]


@transaction.atomic
def handoff_assign(*, handoff_id: int, user: User | None, owner: User) -> Handoff:
    """Give the handoff to a sales user (claiming is assigning to oneself)."""
    handoff = Handoff.objects.select_for_update().get(pk=handoff_id)
    if handoff.status not in OPEN_HANDOFF_STATUSES:
        raise HandoffError("Only open handoffs can be assigned.")
    handoff.owner = owner
    handoff.save(update_fields=["owner", "updated_at"])
    HandoffAction.objects.create(
        handoff=handoff, kind=HandoffAction.Kind.ASSIGNED, user=user, detail=owner.get_username()
    )
    handoffs_announce([handoff.pk], HandoffAction.Kind.ASSIGNED)
    return handoff
