"""A chunk's scores computed and stored by PostgreSQL: one statement per model.

`scoring.sqlengine` turns activity, frequency and inactivity criteria into queries. Here the
audience and attribute conditions join them, and the same statement adds up the amounts, picks
band, grade and MQL, writes the explanation, upserts the scores and records the score events of
threshold crossings with their reasons, so no lead's values pass through Python. Only a little
comes back: the leads that became MQLs (Python opens their handoffs, see scoring.handoffs), the
new events' ids, and the leads the database left undecided (the engine scores them, see
sqlengine for what that means).

The amounts are the engine's to the cent: counts times points in the same float arithmetic,
printed as Python prints a float (`extra_float_digits`) before rounding half up; decayed sums
only where their float error cannot reach a half cent; everything else undecided.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection

from .crossings import amount_text
from .definition import (
    ActivityCriterion,
    AttributeCriterion,
    Band,
    Condition,
    Criterion,
    FrequencyCriterion,
    ModelSpec,
)
from .engine import round_points, to_decimal
from .handoffs import MqlCrossing
from .lookups import int_array
from .models import Account, Lead, LeadScore, ScoreEvent, ScoreEventKind
from .sqlengine import _ULP, ColumnValue, Params, acts_sql, condition_sql, criterion_sql

if TYPE_CHECKING:
    from .rescoring import PublishedModel

_SCORES = LeadScore._meta.db_table
# Scores are looked up by lead, through the unique index, in one scan: "scoring_model_id + 0"
# keeps the indexes that start with the model out of reach. Statistics taken before a model's
# scores existed make those look cheaper, and every chunk of a publish then read all the
# model's scores stored so far (chunks took 2 s at the start of a million leads, 4 s at the
# end). One scan, not one lookup per lead: planned on a table still empty, a lookup per lead
# may become a scan per lead of a table that another worker is filling.
_EVENTS = ScoreEvent._meta.db_table
# The columns' kinds for sqlengine.ColumnValue. Whether a date is set is plain; what its text
# is, Python (isoformat) and PostgreSQL may disagree on, so other tests of dates stay with the
# engine (the whole model then takes its path).
_KINDS = {
    "CharField": "string", "EmailField": "string", "TextField": "string",
    "IntegerField": "integer", "PositiveIntegerField": "integer", "BigIntegerField": "integer",
    "DecimalField": "decimal", "BooleanField": "boolean", "DateField": "date",
    "DateTimeField": "date",
}  # fmt: skip
_SET_OPS = ("is_set", "is_not_set")


@dataclass
class StoredChunk:
    """What one chunk's statements did, and what is left for Python."""

    leads: int = 0
    written: int = 0
    removed: int = 0
    scored: dict[int, int] = field(default_factory=dict)  # model id -> scores computed
    events: list[int] = field(default_factory=list)  # the score events recorded, by id
    reached: list[MqlCrossing] = field(default_factory=list)  # the leads that became MQLs
    undecided: dict[int, list[int]] = field(default_factory=dict)  # model id -> lead ids


def _field_value(path: str, op: str, params: Params) -> str | ColumnValue | None:
    """A lead or account field as `lead_value` reads it (NULL without an account): the jsonb
    of an attribute, or the column; None for a date tested for more than being set."""
    owner, _dot, name = path.partition(".")
    alias, model = ("d", Lead) if owner == "lead" else ("ac", Account)
    if name.startswith("attributes."):
        return f"({alias}.attributes -> {params.add(name.removeprefix('attributes.'))})"
    column = model._meta.get_field(name)
    kind = _KINDS.get(column.get_internal_type())
    if kind is None:
        return f"to_jsonb({alias}.{column.column})"
    if kind == "date" and op not in _SET_OPS:
        return None
    return ColumnValue(f"{alias}.{column.column}", kind)


def _lead_condition(condition: Condition, params: Params) -> str | None:
    value = _field_value(condition.field, condition.op, params)
    return None if value is None else condition_sql(condition, value, params)


def _capped(criterion: ActivityCriterion, amount: str, params: Params) -> str:
    if criterion.cap is None:
        return amount
    cap = params.add(float(criterion.cap))
    if criterion.points > 0:
        return f"least({amount}, {cap}::float8)"
    return f"greatest({amount}, -{cap}::float8)"


def _cents(amount: str) -> str:
    """A float8 amount rounded as `round_points` does: its shortest text, half up."""
    return f"round(({amount})::text::numeric, 2)"


def _decayed(criterion: ActivityCriterion, params: Params) -> tuple[str, str]:
    """The amount of a decayed sum (`worth`, of `n` terms) and whether it is sure: as
    sqlengine._decayed_amount, the running sum is off by at most (n + 1) ulps of n * |points|;
    an amount whose bounds round to different cents is left to the engine."""
    points = params.add(abs(float(criterion.points)))
    error = f"(CASE WHEN n > 1 THEN (n + 1) * {_ULP!r}::float8 * {points}::float8 * n ELSE 0 END)"
    low = f"({_capped(criterion, f'(worth - {error})', params)} * 100)"
    high = f"({_capped(criterion, f'(worth + {error})', params)} * 100)"
    sure = (
        f"(abs({high}) < 1e9 AND abs({low} - floor({low}) - 0.5) > 1e-6 "
        f"AND abs({high} - floor({high}) - 0.5) > 1e-6 "
        f"AND floor({low} + 0.5) = floor({high} + 0.5))"
    )
    return f"round(floor({low} + 0.5)::numeric / 100, 2)", sure


def _part_sql(
    position: int, criterion: Criterion, spec: ModelSpec, tz: tzinfo, params: Params
) -> str | None:
    """Rows (pos, lead_id, amount, evidence, unsure) of one criterion's contributions, and of
    the leads it is undecided for (unsure, no amount)."""
    rows = criterion_sql(criterion, spec, tz, params)
    if rows is None:
        return None
    fixed = params.add(round_points(criterion.points))
    amount, evidence, fires, sure = f"{fixed}::numeric", "n", "true", "true"
    if isinstance(criterion, FrequencyCriterion):
        fires = f"n >= {params.add(criterion.at_least)}"
    elif isinstance(criterion, ActivityCriterion):
        fires = "n > 0"
        if criterion.half_life_days or spec.decay_half_life_days:
            amount, sure = _decayed(criterion, params)
        else:
            product = f"{params.add(float(criterion.points))}::float8 * n::float8"
            amount = _cents(_capped(criterion, product, params))
    else:  # inactivity: a row where it fired
        evidence = "1"
    return (
        f"SELECT {position}, lead_id, (CASE WHEN NOT unsure AND {sure} THEN {amount} END), "
        f"{evidence}::bigint, unsure OR NOT {sure} "
        f"FROM ({rows}) AS p{position}(lead_id, n, worth, unsure) WHERE unsure OR {fires}"
    )


def _band_sql(bands: Sequence[Band], value: str, params: Params) -> str:
    """`band_for` as CASE: the highest min reached wins (the later band among equal mins)."""
    if not bands:
        return "''"
    ordered = sorted(bands, key=lambda band: band.min)
    whens = " ".join(
        f"WHEN {value} >= {params.add(to_decimal(band.min))}::numeric "
        f"THEN {params.add(band.label)}::text"
        for band in reversed(ordered)
    )
    return f"(CASE {whens} ELSE {params.add(ordered[0].label)}::text END)"


# A contribution's points as `Contribution.to_dict` stores them: a float, so 20 is 20.0.
_POINTS_TEXT = (
    "(CASE WHEN amount = trunc(amount) THEN trunc(amount)::text || '.0' "
    "ELSE trim_scale(amount)::text END)"
)


def _amount_sql(value: str) -> str:
    """`crossings.amount_text` of a numeric with at most two decimals."""
    return f"regexp_replace(round({value}, 2)::text, '\\.00$', '')"


# What `crossings.changes_text` says of each crossing: the criteria whose points moved between
# the explanations before and after, biggest first, those of the new one before the others.
_MOVED_SQL = f"""
SELECT lead_id, string_agg(part, ', ' ORDER BY rank) FILTER (WHERE rank <= 4)
    || CASE WHEN count(*) > 4 THEN ', ' || (count(*) - 4) || ' more' ELSE '' END AS changes
FROM (
    SELECT lead_id, name || ' ' || CASE WHEN delta > 0 THEN '+' ELSE '' END
        || {_amount_sql("delta")} AS part,
        row_number() OVER (PARTITION BY lead_id ORDER BY abs(delta) DESC, gone, pos) AS rank
    FROM (
        SELECT coalesce(n.lead_id, o.lead_id) AS lead_id, coalesce(n.name, o.name) AS name,
            n.name IS NULL AS gone, coalesce(n.pos, o.pos) AS pos,
            coalesce(n.points, 0) - coalesce(o.points, 0) AS delta
        FROM (SELECT c.lead_id, e ->> 'criterion' AS name, (e ->> 'points')::numeric AS points, pos
              FROM crossed c, jsonb_array_elements(c.explanation) WITH ORDINALITY AS x(e, pos)) n
        FULL JOIN (SELECT c.lead_id, e ->> 'criterion' AS name, (e ->> 'points')::numeric AS points,
              pos FROM crossed c,
              jsonb_array_elements(c.b_explanation) WITH ORDINALITY AS x(e, pos)) o
            ON o.lead_id = n.lead_id AND o.name = n.name
    ) deltas
    WHERE delta <> 0
) parts
GROUP BY lead_id
"""


def chunk_statement(
    model: PublishedModel, *, now: datetime, tz: tzinfo, dense: bool = False
) -> tuple[str, dict[str, Any]] | None:
    """The statement that scores and stores the leads %(c_ids)s (within %(c_low)s..%(c_high)s)
    in this model; None when some condition or criterion needs the engine. `dense`: the leads
    are most of their range (their activities are then found by the range alone).

    It also records the score events of the crossings, with their reasons. Its rows, seven
    columns each: ("c", lead, total, band) for each lead that became an MQL (for its handoff),
    ("e", event id) for each event, ("u", lead) for each undecided lead, and one
    ("n", written, -, -, removed, scored, leads)."""
    spec = model.spec
    params = Params(now=now)
    params.created = "people"
    audience = [_lead_condition(c, params) for c in spec.audience]
    enabled = [(p, c) for p, c in enumerate(spec.criteria) if c.enabled]
    attributes = [(p, c) for p, c in enabled if isinstance(c, AttributeCriterion)]
    others = [(p, c) for p, c in enabled if not isinstance(c, AttributeCriterion)]
    tests = [_lead_condition(c.condition, params) for _p, c in attributes]
    parts = [_part_sql(p, c, spec, tz, params) for p, c in others]
    if any(sql is None for sql in (*audience, *tests, *parts)):
        return None
    inside = " AND ".join(f"({sql})" for sql in audience) or "true"
    columns = "".join(f", {test} AS a{p}" for (p, _c), test in zip(attributes, tests, strict=True))
    contributions = [sql for sql in parts if sql]
    if attributes:
        values = ", ".join(
            f"({p}, w.a{p}, {params.add(round_points(c.points))}::numeric)" for p, c in attributes
        )
        contributions.append(
            "SELECT v.pos, w.lead_id, CASE WHEN v.m THEN v.amount END, 1::bigint, v.m IS NULL "
            f"FROM people w CROSS JOIN LATERAL (VALUES {values}) AS v(pos, m, amount) "
            "WHERE v.m IS NOT FALSE"
        )
    fit_positions = params.add([p for p, _c in attributes])
    bounds = ("%(c_low)s", "%(c_high)s")
    acts = (
        f"acts AS ({acts_sql([c for _p, c in others], params, bounds, every_lead=dense)}),"
        if others
        else ""
    )
    model_id, version_id = params.add(model.scoring_model_id), params.add(model.version.pk)
    threshold = params.add(to_decimal(spec.mql_threshold))
    mql_at = amount_text(Decimal(repr(spec.mql_threshold)))
    rules_changed = params.add(f"; rules changed (version {model.version.number})")
    reached, lost, band_changed = (
        params.add(kind.value)
        for kind in (ScoreEventKind.MQL_REACHED, ScoreEventKind.MQL_LOST,
                     ScoreEventKind.BAND_CHANGED)
    )  # fmt: skip
    union = " UNION ALL ".join(contributions) or (
        "SELECT 0, 0::bigint, 0::numeric, 0::bigint, false WHERE false"
    )
    # Each contribution's JSON up to its points (by position), completed by its amount.
    openings = params.add(
        [
            json.dumps({"criterion": c.name, "type": c.type})[:-1] + ', "points": '
            for c in spec.criteria
        ]
    )
    guard = (
        f"{_SCORES}.version_id < excluded.version_id OR ({_SCORES}.version_id = "
        f"excluded.version_id AND {_SCORES}.computed_at <= excluded.computed_at)"
    )
    updates = ", ".join(
        f"{c} = excluded.{c}"
        for c in ("version_id", "total", "fit", "engagement", "band", "grade", "mql",
                  "explanation", "computed_at")
    )  # fmt: skip
    sql = f"""
WITH leads AS (SELECT unnest(%(c_ids)s::bigint[]) AS lead_id),
people AS (
    SELECT l.lead_id, d.created_at, {inside} AS inside{columns}
    FROM leads l JOIN {Lead._meta.db_table} d ON d.id = l.lead_id
    LEFT JOIN {Account._meta.db_table} ac ON ac.id = d.account_id
    WHERE d.id BETWEEN %(c_low)s AND %(c_high)s
),
{acts}
contributions (pos, lead_id, amount, evidence, unsure) AS ({union}),
totals AS (
    SELECT lead_id, bool_or(unsure) AS unsure,
        sum(amount) FILTER (WHERE pos = ANY({fit_positions}::int[])) AS fit,
        sum(amount) FILTER (WHERE pos <> ALL({fit_positions}::int[])) AS engagement,
        '[' || string_agg(({openings}::text[])[pos + 1] || {_POINTS_TEXT}
            || ', "evidence_count": ' || evidence || '}}', ', ' ORDER BY pos) || ']' AS explanation
    FROM contributions GROUP BY lead_id
),
scored AS (
    SELECT s.*, {_band_sql(spec.bands, "s.fit + s.engagement", params)} AS band,
        {_band_sql(spec.grades, "s.fit", params)} AS grade
    FROM (SELECT w.lead_id, coalesce(t.fit, 0.00) AS fit, coalesce(t.engagement, 0.00)
            AS engagement, coalesce(t.explanation, '[]')::jsonb AS explanation
          FROM people w LEFT JOIN totals t ON t.lead_id = w.lead_id
          WHERE w.inside AND t.unsure IS NOT TRUE) s
),
before AS (  -- by lead (see _SCORES), in one scan of the chunk's range
    SELECT s.lead_id, s.id, s.total, s.band, s.mql, s.version_id, s.explanation
    FROM {_SCORES} s WHERE s.lead_id BETWEEN %(c_low)s AND %(c_high)s
        AND s.lead_id = ANY(%(c_ids)s::bigint[]) AND s.scoring_model_id + 0 = {model_id}
),
written AS (
    INSERT INTO {_SCORES} (lead_id, scoring_model_id, version_id, total, fit, engagement, band,
        grade, mql, explanation, computed_at)
    SELECT lead_id, {model_id}, {version_id}, fit + engagement, fit, engagement, band, grade,
        fit + engagement >= {threshold}::numeric, explanation, %(c_now)s FROM scored
    ORDER BY lead_id  -- new rows in the order every writer locks scores in
    ON CONFLICT (lead_id, scoring_model_id) DO UPDATE SET {updates} WHERE {guard}
    RETURNING lead_id, total, fit, engagement, band, grade, mql, explanation
),
removed AS (  -- by key, for the same reason
    DELETE FROM {_SCORES} s WHERE s.id = ANY(ARRAY(
        SELECT b.id FROM before b JOIN people w ON w.lead_id = b.lead_id WHERE NOT w.inside))
    RETURNING s.lead_id
),
crossed AS (
    SELECT w.lead_id, w.total, w.band, w.mql, w.explanation, b.lead_id IS NOT NULL AS had,
        b.total AS b_total, b.band AS b_band, b.mql AS b_mql, b.version_id AS b_version,
        b.explanation AS b_explanation
    FROM written w LEFT JOIN before b ON b.lead_id = w.lead_id
    WHERE (w.mql AND b.mql IS NOT TRUE) OR (b.mql AND NOT w.mql) OR b.band <> w.band
),
moved AS ({_MOVED_SQL}),
recorded AS (
    INSERT INTO {_EVENTS} (lead_id, scoring_model_id, version_id, kind, from_total, to_total,
        from_band, to_band, reason, occurred_at)
    SELECT c.lead_id, {model_id}, {version_id}, k.kind, c.b_total, c.total,
        coalesce(c.b_band, ''), c.band,
        -- the reason crossings.crossings_record gives
        CASE WHEN c.had THEN 'score ' || {_amount_sql("c.b_total")} ELSE 'new score' END
        || ' → ' || {_amount_sql("c.total")} || {params.add(f" (MQL at {mql_at})")}
        || CASE WHEN c.b_version <> {version_id} THEN {rules_changed} ELSE '' END
        || '; ' || coalesce(m.changes, 'time passed (decay or windows)'), %(c_now)s
    FROM crossed c LEFT JOIN moved m ON m.lead_id = c.lead_id CROSS JOIN LATERAL (VALUES
        (1, {reached}, c.mql AND c.b_mql IS NOT TRUE), (1, {lost}, c.b_mql AND NOT c.mql),
        (2, {band_changed}, c.b_band <> c.band)) AS k(position, kind, happened)
    WHERE k.happened
    ORDER BY c.lead_id, k.position
    RETURNING id
)
SELECT 'c', c.lead_id, c.total, c.band, NULL::bigint, NULL::bigint, NULL::bigint
FROM crossed c WHERE c.mql AND c.b_mql IS NOT TRUE
UNION ALL
SELECT 'u', w.lead_id, NULL, NULL, NULL, NULL, NULL
FROM people w LEFT JOIN totals t ON t.lead_id = w.lead_id
WHERE w.inside IS NULL OR (w.inside AND t.unsure)
UNION ALL
SELECT 'e', id, NULL, NULL, NULL, NULL, NULL FROM recorded
UNION ALL
SELECT 'n', (SELECT count(*) FROM written), NULL, NULL, (SELECT count(*) FROM removed),
    (SELECT count(*) FROM scored), (SELECT count(*) FROM people)
"""
    return sql, params.values


def statements(
    models: Sequence[PublishedModel], *, lead_ids: Sequence[int], now: datetime, tz: tzinfo
) -> dict[int, tuple[str, dict[str, Any]] | None]:
    """Per model id, its statement for these leads (None: the engine's path)."""
    dense = bool(lead_ids) and 2 * len(lead_ids) > max(lead_ids) - min(lead_ids) + 1
    return {m.scoring_model_id: chunk_statement(m, now=now, tz=tz, dense=dense) for m in models}


def scores_lock_all(*, lead_ids: Sequence[int], model_ids: Sequence[int]) -> None:
    """Lock the stored scores of these leads until commit (so a crossing is seen once), in the
    order every writer locks them, without reading them back."""
    if not lead_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            # The range lets the planner read the chunk's part of the unique index, not the
            # table (the array alone looks as if it matched every score); by lead (see _SCORES).
            f"SELECT count(*) FROM (SELECT 1 FROM {_SCORES} "
            "WHERE lead_id BETWEEN %s AND %s AND lead_id = ANY(%s::bigint[]) "
            "AND scoring_model_id + 0 = ANY(%s::bigint[]) "
            "ORDER BY lead_id, scoring_model_id FOR UPDATE) locked",
            [min(lead_ids), max(lead_ids), int_array(lead_ids), int_array(model_ids)],
        )


def chunk_store(
    *,
    lead_ids: Sequence[int],
    models: Sequence[PublishedModel],
    compiled: dict[int, tuple[str, dict[str, Any]] | None],
    now: datetime,
) -> StoredChunk:
    """Run the models' statements over the leads (inside the caller's transaction, with their
    scores locked)."""
    stored = StoredChunk()
    if not lead_ids:
        return stored
    ids = {"c_ids": int_array(lead_ids), "c_low": min(lead_ids), "c_high": max(lead_ids)}
    with connection.cursor() as cursor:
        # Floats print as Python's repr does (the shortest text that reads back the same); a
        # chunk's activities are sorted and grouped in memory rather than on disk.
        cursor.execute("SET LOCAL extra_float_digits = 1")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        for model in models:
            statement = compiled[model.scoring_model_id]
            assert statement is not None
            sql, params = statement
            cursor.execute(sql, {**params, **ids})
            undecided = []
            for kind, lead_id, total, band, removed, scored, leads in cursor.fetchall():
                if kind == "c":
                    stored.reached.append(
                        MqlCrossing(lead_id, model.scoring_model_id, model.spec, total, now, band)
                    )
                elif kind == "e":
                    stored.events.append(lead_id)
                elif kind == "u":
                    undecided.append(lead_id)
                else:
                    stored.written += lead_id
                    stored.removed += removed
                    stored.scored[model.scoring_model_id] = scored
                    stored.leads = max(stored.leads, leads)
            if undecided:
                stored.undecided[model.scoring_model_id] = undecided
    return stored
