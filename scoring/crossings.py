"""Threshold crossings: a rescore that moves a lead into or out of MQL, or into another band.

Each crossing becomes a ScoreEvent with a readable reason; crossing into MQL opens a handoff.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl
from django.db import connection, transaction

from pipeline.handoffs import MqlCrossing, handoffs_open

from .engine import ActivityFact
from .lookups import int_array
from .models import LeadScore, ScoreEvent, ScoreEventKind
from .signals import score_events_recorded
from .staging import insert_rows

if TYPE_CHECKING:
    from .rescoring import PublishedModel, ScoreRow


@dataclass(frozen=True)
class StoredScore:
    total: Decimal
    band: str
    mql: bool
    version_id: int
    explanation_json: str  # parsed only for the few scores that cross a threshold

    @property
    def explanation(self) -> list[dict[str, Any]]:
        explanation: list[dict[str, Any]] = json.loads(self.explanation_json or "[]")
        return explanation


STORED_SCHEMA = {
    "lead_id": pl.Int64, "scoring_model_id": pl.Int64, "total_before": pl.Int64,
    "band_before": pl.String, "mql_before": pl.Boolean, "version_before": pl.Int64,
}  # fmt: skip


def scores_lock(*, lead_ids: Sequence[int], model_ids: Sequence[int]) -> pl.DataFrame:
    """The stored scores of these leads (total in cents, band, mql, version), locked until
    commit so crossings are seen only once."""
    if not lead_ids or not model_ids:
        return pl.DataFrame(schema=STORED_SCHEMA)
    table = LeadScore._meta.db_table
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    params: list[int | str]
    if connection.vendor == "postgresql":
        # One array each: thousands of placeholders cost more to build than the query to run.
        leads, models, params = (
            "BETWEEN %s AND %s AND lead_id = ANY(%s::bigint[])",
            "= ANY(%s::bigint[])",
            [min(lead_ids), max(lead_ids), int_array(lead_ids), int_array(model_ids)],
        )
    else:
        leads = "IN (" + ", ".join(["%s"] * len(lead_ids)) + ")"
        models = "IN (" + ", ".join(["%s"] * len(model_ids)) + ")"
        params = [*lead_ids, *model_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lead_id, scoring_model_id, CAST(total * 100 AS bigint), band, mql, "  # noqa: S608
            # "+ 0": by lead, through the unique index, whatever the statistics say about
            # the models.
            f"version_id FROM {table} WHERE lead_id {leads} "
            f"AND scoring_model_id + 0 {models} ORDER BY lead_id, scoring_model_id{lock}",
            params,
        )
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=STORED_SCHEMA, orient="row")


def stored_explanations(keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The stored explanations (JSON text) of these (lead, model) scores, in one query."""
    wanted = set(keys)
    if not wanted:
        return {}
    lead_ids = sorted({lead_id for lead_id, _ in wanted})
    model_ids = sorted({model_id for _, model_id in wanted})
    table = LeadScore._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT lead_id, scoring_model_id, CAST(explanation AS text) FROM {table} "  # noqa: S608
            f"WHERE lead_id IN ({', '.join(['%s'] * len(lead_ids))}) "
            f"AND scoring_model_id IN ({', '.join(['%s'] * len(model_ids))})",
            [*lead_ids, *model_ids],
        )
        return {
            (lead_id, model_id): text
            for lead_id, model_id, text in cursor.fetchall()
            if (lead_id, model_id) in wanted
        }


def amount_text(value: Decimal) -> str:
    return f"{value:.2f}".removesuffix(".00")


def changes_text(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """The criteria whose points moved, biggest first: "Webinar +15, Inactive 30 days -10"."""
    old = {c["criterion"]: Decimal(str(c["points"])) for c in before}
    new = {c["criterion"]: Decimal(str(c["points"])) for c in after}
    deltas = [
        (name, new.get(name, Decimal(0)) - old.get(name, Decimal(0)))
        for name in dict.fromkeys([*new, *old])
    ]
    moved = sorted((d for d in deltas if d[1]), key=lambda d: -abs(d[1]))
    parts = [f"{name} {'+' if delta > 0 else ''}{amount_text(delta)}" for name, delta in moved[:4]]
    if len(moved) > 4:
        parts.append(f"{len(moved) - 4} more")
    return ", ".join(parts)


def _reason(before: StoredScore | None, row: "ScoreRow", threshold: Decimal, number: int) -> str:
    start = "new score" if before is None else f"score {amount_text(before.total)}"
    text = f"{start} → {amount_text(row.total)} (MQL at {amount_text(threshold)})"
    if before is not None and before.version_id != row.version_id:
        text += f"; rules changed (version {number})"
    changes = changes_text(before.explanation if before else [], row.explanation)
    return f"{text}; {changes}" if changes else f"{text}; time passed (decay or windows)"


_EVENT_FIELDS = (
    "lead_id", "scoring_model_id", "version_id", "kind", "from_total", "to_total", "from_band",
    "to_band", "reason", "occurred_at",
)  # fmt: skip


def crossings_record(
    *,
    changed: Sequence[tuple[StoredScore | None, "ScoreRow"]],
    models: Mapping[int, "PublishedModel"],
    latest: Mapping[int, ActivityFact],
) -> tuple[int, list[int]]:
    """Record the events of freshly written scores and open handoffs; returns how many events
    and the new handoffs' ids."""
    events: list[tuple[Any, ...]] = []
    crossings: list[MqlCrossing] = []
    for before, row in changed:
        model = models[row.scoring_model_id]
        threshold = Decimal(repr(model.spec.mql_threshold))
        kinds = []
        if row.mql and (before is None or not before.mql):
            kinds.append(ScoreEventKind.MQL_REACHED)
            trigger = latest.get(row.lead_id)
            crossings.append(
                MqlCrossing(
                    lead_id=row.lead_id,
                    scoring_model_id=row.scoring_model_id,
                    spec=model.spec,
                    total=row.total,
                    at=row.computed_at,
                    band=row.band,
                    trigger_kind=trigger.kind if trigger else "",
                    trigger_at=trigger.occurred_at if trigger else None,
                )
            )
        elif before is not None and before.mql and not row.mql:
            kinds.append(ScoreEventKind.MQL_LOST)
        if before is not None and before.band != row.band:
            kinds.append(ScoreEventKind.BAND_CHANGED)
        if not kinds:
            continue
        reason = _reason(before, row, threshold, model.version.number)
        events.extend(
            (
                row.lead_id, row.scoring_model_id, row.version_id, kind,
                before.total if before else None, row.total,
                before.band if before else "", row.band, reason, row.computed_at,
            )
            for kind in kinds
        )  # fmt: skip
    ids = insert_rows(ScoreEvent, _EVENT_FIELDS, events)
    if ids:
        transaction.on_commit(lambda: score_events_recorded.send(sender=ScoreEvent, event_ids=ids))
    return len(ids), handoffs_open(crossings=crossings)
