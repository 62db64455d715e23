"""PostgreSQL scores and stores whole chunks exactly as the engine scores each lead.

Random models (audiences and attribute criteria on lead, account and attribute values that are
awkward to coerce, beside random activity, frequency and inactivity criteria; random bands,
grades and thresholds) over random leads: after a rescore every stored score, explanation
included, equals the engine's on the lead as the database gives it back, and a lead outside the
audience has none. What the database cannot decide, the engine stores.
"""

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import sqlscores
from scoring.crossings import StoredScore, _reason
from scoring.definition import AttributeCriterion, Band, Condition, ModelSpec
from scoring.engine import applies_to, score_lead
from scoring.models import Handoff, Lead, LeadScore, ScoreEvent
from scoring.rescoring import (
    PublishedModel,
    ScoreRow,
    activities_by_lead,
    lead_facts,
    leads_rescore_chunk,
    published_models,
)
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, LeadFactory
from tests.scoring.test_sqlengine import (
    NOW,
    OPS,
    TRICKY_TEXT,
    TZ,
    activity,
    condition_on,
    criteria,
    json_values,
    points,
    store_history,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

PATHS = (
    "lead.job_title", "lead.seniority", "lead.attributes.x", "lead.birthday",
    "account.employee_count", "account.is_target_account", "account.annual_revenue",
    "account.name", "account.attributes.y",
)  # fmt: skip


@st.composite
def lead_conditions(draw: st.DrawFn) -> Condition:
    path = draw(st.sampled_from(PATHS))
    # A date is only ever asked whether it is set (anything else stays with the engine).
    op = draw(st.sampled_from(OPS[-2:] if path == "lead.birthday" else OPS))
    return condition_on(draw, path, op, ["ss", "1", "", "ue", "Fi", "e"])


attribute_criteria = st.builds(
    lambda condition, amount: AttributeCriterion(name="a", condition=condition, points=amount),
    lead_conditions(),
    points,
)
thresholds = st.integers(min_value=-60, max_value=120) | st.sampled_from([0.5, 10.01, 33.33])
bands = st.lists(
    st.builds(Band, st.sampled_from(["cold", "warm", "hot"]), thresholds), min_size=1, max_size=3
)


@st.composite
def models(draw: st.DrawFn) -> ModelSpec:
    chosen = draw(st.lists(attribute_criteria, max_size=3)) + draw(st.lists(criteria(), max_size=2))
    draw(st.randoms()).shuffle(chosen)
    return ModelSpec(
        slug="m",
        name="m",
        mql_threshold=draw(thresholds),
        decay_half_life_days=draw(st.none() | st.sampled_from([7, 30.5])),
        audience=tuple(draw(st.lists(lead_conditions(), max_size=2))),
        bands=tuple(draw(bands)),
        grades=tuple(draw(st.lists(st.builds(Band, st.sampled_from("ABC"), thresholds)))),
        criteria=tuple(replace(c, name=f"criterion {i}") for i, c in enumerate(chosen)),
    )


texts = st.sampled_from(TRICKY_TEXT)
accounts = st.none() | st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Firma GmbH", "", " ", "\xa0"]),
        "employee_count": st.none() | st.integers(min_value=0, max_value=500),
        "is_target_account": st.booleans(),
        "annual_revenue": st.none()
        | st.sampled_from([Decimal("0.00"), Decimal("1.10"), Decimal("250000.00")]),
        "attributes": st.dictionaries(st.just("y"), json_values, max_size=1),
    }
)
leads = st.fixed_dictionaries(
    {
        "job_title": texts,
        "seniority": st.sampled_from(["", "executive", "Executive", "7"]),
        "attributes": st.dictionaries(st.just("x"), json_values, max_size=1),
        "birthday": st.none() | st.dates(),
        "account": accounts,
        "activities": st.lists(activity, max_size=5),
    }
)


def _store(drawn: list[dict]) -> list[int]:
    ids = []
    for values in drawn:
        account = values["account"]
        lead = LeadFactory(
            job_title=values["job_title"],
            seniority=values["seniority"],
            attributes=values["attributes"],
            birthday=values["birthday"],
            account=None if account is None else AccountFactory(**account),
            created_at=NOW - timedelta(days=40),
        )
        store_history(lead, values["activities"])
        ids.append(lead.pk)
    return ids


def _published(spec: ModelSpec, revision: int = 1) -> PublishedModel:
    # A model row to store scores under (another revision: a newer version of it); the scores
    # follow the drawn spec.
    model, version = scoring_model_load(
        data={"slug": "m", "name": "m", "mql_threshold": revision,
              "bands": [{"label": "x", "min": 0}],
              "criteria": [{"name": "c", "type": "inactivity", "days": 1, "points": 1}]}
    )  # fmt: skip
    assert version is not None
    return PublishedModel(model.pk, version, spec)


def _assert_stored_as_the_engine_scores(spec: ModelSpec, lead_ids: list[int]) -> None:
    activities = activities_by_lead(lead_ids)
    stored = {s.lead_id: s for s in LeadScore.objects.filter(lead_id__in=lead_ids)}
    for lead in Lead.objects.filter(pk__in=lead_ids).select_related("account"):
        facts = lead_facts(lead)
        score = stored.get(lead.pk)
        if not applies_to(spec, facts):
            assert score is None, lead.pk
            continue
        expected = score_lead(spec, facts, activities.get(lead.pk, ()), NOW, TZ)
        assert score is not None, lead.pk
        assert (score.total, score.fit, score.engagement, score.band, score.grade, score.mql) == (
            expected.total,
            expected.fit,
            expected.engagement,
            expected.band,
            expected.grade or "",
            expected.mql,
        ), (spec, lead.pk)
        assert score.explanation == [c.to_dict() for c in expected.contributions]


@pytest.fixture
def berlin(settings):  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "Europe/Berlin"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(spec=models(), drawn=st.lists(leads, min_size=1, max_size=4), second=st.booleans())
def test_the_database_stores_what_the_engine_scores(berlin, spec, drawn, second):
    with transaction.atomic():
        model = _published(spec)
        # Every drawn model is one the database scores (the engine only for undecided leads).
        assert sqlscores.chunk_statement(model, now=NOW, tz=TZ) is not None
        lead_ids = _store(drawn)
        leads_rescore_chunk(lead_ids=lead_ids, models=[model], now=NOW)
        if second:
            # Scores already stored: rescored over them (a newer time), and leads moved out
            # of the audience lose theirs.
            Lead.objects.filter(pk=lead_ids[0]).update(job_title="Student", seniority="7")
            leads_rescore_chunk(lead_ids=lead_ids, models=[model], now=NOW)
        _assert_stored_as_the_engine_scores(spec, lead_ids)
        transaction.set_rollback(True)


def test_what_the_database_cannot_decide_the_engine_stores(monkeypatch):
    """A blank only str.strip() knows, and a decimal with more digits than a float keeps."""
    spec = ModelSpec(
        slug="m",
        name="m",
        mql_threshold=10,
        audience=(Condition("lead.attributes.x", "is_set"),),
        bands=(Band("low", 0), Band("high", 10)),
        criteria=(
            AttributeCriterion(
                name="Spend", condition=Condition("account.attributes.y", "gte", 1), points=20
            ),
        ),
    )
    lead_ids = _store(
        [
            {"job_title": "", "seniority": "", "attributes": {"x": x}, "birthday": None,
             "account": {"name": "A", "employee_count": None, "is_target_account": False,
                         "annual_revenue": None, "attributes": {"y": y}},
             "activities": []}
            for x, y in [("\xa0", 5), ("set", 0.12345678901234567), ("set", 2), ("", 3)]
        ]
    )  # fmt: skip
    undecided: list[int] = []
    chunk_store = sqlscores.chunk_store

    def noting(**kwargs):  # type: ignore[no-untyped-def]
        done = chunk_store(**kwargs)
        undecided.extend(i for ids in done.undecided.values() for i in ids)
        return done

    monkeypatch.setattr(sqlscores, "chunk_store", noting)
    summary = leads_rescore_chunk(lead_ids=lead_ids, models=[_published(spec)], now=NOW)
    assert sorted(undecided) == lead_ids[:2]
    assert summary.scores_written == 2  # "\xa0" is blank to the engine: outside the audience
    _assert_stored_as_the_engine_scores(spec, lead_ids)
    high = LeadScore.objects.get(lead_id=lead_ids[2])
    assert (high.total, high.band, high.mql) == (Decimal("20.00"), "high", True)


def test_amounts_are_the_engines_to_the_cent():
    """0.011 x 5 is 0.05499999999999999 in floats (the engine's 0.05, where fifteen digits
    would say 0.055 and round up); a decayed 1.0055 rounds half up to 1.01; a total that
    equals a band's minimum is in that band."""
    from scoring.definition import ActivityCriterion

    spec = ModelSpec(
        slug="m",
        name="m",
        mql_threshold=1.06,
        bands=(Band("low", 0), Band("high", 1.06), Band("top", 1.07)),
        grades=(Band("none", 0), Band("some", 0.01)),
        criteria=(
            ActivityCriterion(name="Visit", kinds=("page_view",), points=0.011),
            ActivityCriterion(
                name="Webinar", kinds=("webinar_attended",), points=1.0055, count="once",
                half_life_days=30,
            ),
            AttributeCriterion(
                name="Target", condition=Condition("account.is_target_account", "equals", True),
                points=0,
            ),
        ),
    )  # fmt: skip
    history = [("page_view", 3600.0 * h, "web", {}) for h in range(1, 6)]
    account = {"name": "A", "employee_count": None, "is_target_account": True,
               "annual_revenue": None, "attributes": {}}  # fmt: skip
    lead_ids = _store(
        [{"job_title": "", "seniority": "", "attributes": {}, "birthday": None,
          "account": account, "activities": [*history, ("webinar_attended", 0.0, "web", {})]}]
    )  # fmt: skip
    leads_rescore_chunk(lead_ids=lead_ids, models=[_published(spec)], now=NOW)
    _assert_stored_as_the_engine_scores(spec, lead_ids)
    score = LeadScore.objects.get(lead_id=lead_ids[0])
    assert (score.total, score.fit, score.band, score.grade, score.mql) == (
        Decimal("1.06"), Decimal("0.00"), "high", "none", True
    )  # fmt: skip
    assert score.explanation == [
        {"criterion": "Visit", "type": "activity", "points": 0.05, "evidence_count": 5},
        {"criterion": "Webinar", "type": "activity", "points": 1.01, "evidence_count": 1},
        {"criterion": "Target", "type": "attribute", "points": 0.0, "evidence_count": 1},
    ]


def _crossings(lead_ids: list[int]) -> tuple[list[tuple], list[tuple]]:
    """The score events and handoffs of these leads, each lead named by its position."""
    position = {pk: i for i, pk in enumerate(lead_ids)}
    events = [
        (position[lead_id], *rest)
        for lead_id, *rest in ScoreEvent.objects.filter(lead_id__in=lead_ids)
        .order_by("lead_id", "id")
        .values_list("lead_id", "kind", "from_total", "to_total", "from_band", "to_band",
                     "reason", "occurred_at")
    ]  # fmt: skip
    handoffs = sorted(
        (position[lead_id], *rest)
        for lead_id, *rest in Handoff.objects.filter(lead_id__in=lead_ids).values_list(
            "lead_id", "score_at_handoff", "trigger", "sla_due_at", "created_at"
        )
    )
    return events, handoffs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(spec=models(), later=models(), drawn=st.lists(leads, min_size=1, max_size=4),
       move=st.booleans())  # fmt: skip
def test_the_database_records_crossings_as_python_does(berlin, spec, later, drawn, move):
    """Events with their reasons (a new score, then a newer version over it) and handoffs with
    their trigger, from the statement and from Python's path alike."""

    def crossings(*, in_database: bool) -> tuple[list[tuple], list[tuple]]:
        with transaction.atomic(), pytest.MonkeyPatch.context() as patch:
            if not in_database:
                patch.setattr(
                    sqlscores,
                    "statements",
                    lambda models, **_kwargs: {m.scoring_model_id: None for m in models},
                )
            lead_ids = _store(drawn)
            first = _published(spec)
            # A day earlier: some of the drawn activities have not happened yet.
            leads_rescore_chunk(lead_ids=lead_ids, models=[first], now=NOW - timedelta(days=1))
            if move:
                Lead.objects.filter(pk=lead_ids[0]).update(job_title="Student", seniority="7")
            second = _published(later, revision=2)
            assert second.version.pk > first.version.pk
            leads_rescore_chunk(lead_ids=lead_ids, models=[second], now=NOW)
            found = _crossings(lead_ids)
            transaction.set_rollback(True)
        return found

    in_database = crossings(in_database=True)
    assert in_database == crossings(in_database=False)
    assert len(in_database[0]) >= len(in_database[1])  # every handoff came with its event


criterion_names = st.sampled_from(["c0", "c1", "c2", "c3", "c4", "c5", "Old one", "Old two"])
moved_points = st.sampled_from([-10, -5, 0, 2.5, 5, 10, 12.25])
explanations_before = st.lists(
    st.tuples(criterion_names, moved_points), unique_by=lambda pair: pair[0], max_size=8
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(points=st.lists(moved_points, min_size=6, max_size=6),
       befores=st.lists(st.none() | explanations_before, min_size=1, max_size=4),
       newer=st.booleans())  # fmt: skip
def test_the_databases_reasons_are_pythons(points, befores, newer):
    """Ties between criteria that moved alike, more than four of them, criteria gone from the
    new version: the database words each event's reason as crossings._reason does."""
    spec = ModelSpec(
        slug="m",
        name="m",
        mql_threshold=-1000,
        bands=(Band("all", -1000),),
        criteria=tuple(
            AttributeCriterion(name=f"c{i}", condition=Condition("lead.email", "is_set"), points=p)
            for i, p in enumerate(points)
        ),
    )
    with transaction.atomic():
        older = _published(spec)
        model = _published(spec, revision=2) if newer else older
        lead_ids = _store([{"job_title": "", "seniority": "", "attributes": {}, "birthday": None,
                            "account": None, "activities": []}] * len(befores))  # fmt: skip
        stored = {}
        for lead_id, before in zip(lead_ids, befores, strict=True):
            if before is None:
                continue
            explanation = [
                {"criterion": name, "type": "attribute", "points": float(p), "evidence_count": 1}
                for name, p in before
            ]
            score = LeadScore.objects.create(
                lead_id=lead_id, scoring_model_id=model.scoring_model_id,
                version_id=older.version.pk, total=Decimal("12.50"), fit=Decimal("12.50"),
                engagement=0, band="some", grade="", mql=False, explanation=explanation,
                computed_at=NOW - timedelta(days=1),
            )  # fmt: skip
            stored[lead_id] = StoredScore(
                score.total, score.band, score.mql, score.version_id, json.dumps(explanation)
            )
        assert sqlscores.chunk_statement(model, now=NOW, tz=TZ) is not None
        leads_rescore_chunk(lead_ids=lead_ids, models=[model], now=NOW)
        after = {s.lead_id: s for s in LeadScore.objects.filter(lead_id__in=lead_ids)}
        for event in ScoreEvent.objects.filter(lead_id__in=lead_ids):
            score = after[event.lead_id]
            row = ScoreRow(
                score.lead_id, score.scoring_model_id, score.version_id, score.total, score.fit,
                score.engagement, score.band, score.grade, score.mql, score.explanation, NOW,
            )  # fmt: skip
            expected = _reason(
                stored.get(event.lead_id), row, Decimal("-1000"), model.version.number
            )
            assert event.reason == expected
        kinds = sorted(
            ScoreEvent.objects.filter(lead_id__in=lead_ids).values_list("kind", "lead_id")
        )
        assert kinds == sorted(
            [("mql_reached", lead_id) for lead_id in lead_ids]
            + [("band_changed", lead_id) for lead_id in stored]
        )
        transaction.set_rollback(True)


def test_a_chunk_reads_scores_by_lead_whatever_the_statistics_say():
    """Statistics taken before a model had scores make the indexes that start with the model
    look cheapest; a chunk read through them reads every score of the model stored so far (a
    publish over a million leads slowed from 2 to 4 s a chunk). Its reads go by lead."""
    model = {
        "name": "M", "mql_threshold": 50, "bands": [{"label": "cold", "min": 0}],
        "criteria": [{"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"],
                      "points": 50}],
    }  # fmt: skip
    scoring_model_load(data={**model, "slug": "known"})
    ids = [lead.pk for lead in Lead.objects.bulk_create(
        [Lead(email=f"lead{i}@example.com") for i in range(400)])]  # fmt: skip
    known = published_models(slugs=["known"])
    leads_rescore_chunk(lead_ids=ids, models=known, now=NOW)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {LeadScore._meta.db_table}")
    scoring_model_load(data={**model, "slug": "new"})  # unknown to the statistics
    with CaptureQueriesContext(connection) as queries:
        leads_rescore_chunk(lead_ids=ids[:100], models=published_models(), now=NOW)
    reads = [q["sql"] for q in queries if LeadScore._meta.db_table in q["sql"]
             and q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]  # fmt: skip
    assert len(reads) >= 2  # the lock and the chunk's statement
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # an index, then: which one?
        for sql in reads:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(line for (line,) in cursor.fetchall())
            assert "one_score_per_model" in plan and "score_model_" not in plan
