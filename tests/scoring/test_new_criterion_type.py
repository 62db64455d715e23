"""A new criterion type is one module: registered, it is read from rules as code, scored by the
engine, explained on the lead page, worded and edited in the rule editor, with nothing else
changed. The type here ("first touch": points once a lead has done any of `kinds`, unlike an
activity criterion without windows, decay or conditions) lives only in this test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, ClassVar

import polars as pl
import pytest

from pipeline.evidence import criterion_evidence
from rules_admin.describe import criterion_sentence
from rules_admin.forms import CriterionForm
from scoring import criteria
from scoring.criteria.base import Context, amounts
from scoring.criteria.reading import KINDS_FIELD, Number, Reader, Words, at, gettext_noop
from scoring.definition import DefinitionError, dump_model, parse_model
from scoring.engine import ActivityFact, LeadFacts, score_lead

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstTouch:
    type: ClassVar[str] = "first_touch"
    name: str
    description: str = ""
    kinds: tuple[str, ...] = ()
    points: Number
    enabled: bool = True


def _module() -> ModuleType:
    module = ModuleType("first_touch")

    def read(data: Mapping[str, Any], prefix: str, reader: Reader) -> dict[str, Any]:
        return {"kinds": reader.kinds(data.get("kinds"), at(prefix, "kinds"))}

    def evaluate(found: Sequence[FirstTouch], context: Context) -> list[pl.DataFrame]:
        return [
            amounts(
                context.seen(c.kinds)
                .group_by("m")
                .agg(amount=pl.lit(float(c.points)), evidence=pl.len())
            )
            for c in found
        ]

    def evidence(criterion: FirstTouch, context: Context) -> pl.DataFrame:
        seen = context.seen(criterion.kinds).sort("m", "occurred_at", descending=[False, True])
        return seen.select("m", "activity")

    def sentence(item: Mapping[str, Any], words: Words) -> str:
        template = gettext_noop("%(points)s for each %(kinds)s")
        return words(template, points=words.points(item.get("points")), kinds=words.kinds(item))

    module.__dict__.update(
        TYPE="first_touch", LABEL="First touch", SPEC=FirstTouch, KEYS=("kinds",), read=read,
        FIT=False, NEWEST_ONLY=False, READS_ACTIVITIES=True, evaluate=evaluate,
        evidence=evidence, time_dependent=lambda criterion, spec: False,
        window=lambda criterion: None, lead_paths=lambda criterion: [],
        property_keys=lambda criterion: [], decay=lambda criterion, spec: None,
        from_evidence=lambda criterion, spec, count: None, FIELDS=((KINDS_FIELD,),),
        sentence=sentence,
    )  # fmt: skip
    return module


@pytest.fixture
def first_touch(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = _module()
    monkeypatch.setitem(criteria.TYPES, "first_touch", module)
    return module


def _model(**criterion: Any) -> dict[str, Any]:
    item = {"name": "Touched", "type": "first_touch", "kinds": ["webinar"], "points": 7}
    return {"slug": "m", "name": "M", "mql_threshold": 10, "bands": [{"label": "all", "min": 0}],
            "criteria": [{**item, **criterion}]}  # fmt: skip


def _activity(kind: str, days_ago: int) -> ActivityFact:
    return ActivityFact(kind=kind, occurred_at=NOW - timedelta(days=days_ago), properties={})


def test_it_is_read_from_rules_as_code_and_dumped_back(first_touch: ModuleType) -> None:
    spec = parse_model(_model())
    assert spec.criteria == (FirstTouch(name="Touched", kinds=("webinar",), points=7),)
    assert parse_model(dump_model(spec)) == spec
    with pytest.raises(DefinitionError) as error:
        parse_model(_model(kinds="webinar", within_days=3))
    assert {str(p) for p in error.value.problems} == {
        "criteria[0] (Touched).within_days: unknown key",
        "criteria[0] (Touched).kinds: must be a list",
    }


def test_without_its_module_it_is_an_unknown_type() -> None:
    with pytest.raises(DefinitionError, match=r"criteria\[0\] \(Touched\)\.type: must be one of"):
        parse_model(_model())


def test_the_engine_scores_it_and_the_lead_page_shows_its_evidence(
    first_touch: ModuleType,
) -> None:
    spec = parse_model(_model())
    activities = [_activity("webinar", 3), _activity("page_view", 1), _activity("webinar", 9)]
    result = score_lead(spec, LeadFacts(fields={}), activities, NOW, "Europe/Berlin")
    assert result.total == 7
    assert [(c.criterion, c.points, c.evidence_count) for c in result.contributions] == [
        ("Touched", 7, 2)
    ]
    evidence = criterion_evidence(spec.criteria[0], LeadFacts(fields={}), activities, NOW, UTC)
    assert evidence.activities == (activities[0], activities[2])
    untouched = score_lead(spec, LeadFacts(fields={}), activities[1:2], NOW, "Europe/Berlin")
    assert untouched.total == 0


def test_the_editor_words_it_and_edits_its_fields(first_touch: ModuleType) -> None:
    assert criterion_sentence(_model()["criteria"][0]) == "+7 for each webinar"
    form = CriterionForm(
        data={
            "name": "Touched",
            "type": "first_touch",
            "points": "7",
            "enabled": "on",
            "kinds": "webinar, demo",
            "at_least": "3",
        }  # fmt: skip
    )
    assert ("first_touch", "First touch") in [(k, str(v)) for k, v in form.type_labels()]
    assert form.is_valid(), form.errors
    assert form.definition() == {
        "name": "Touched", "type": "first_touch", "kinds": ["webinar", "demo"], "points": 7,
    }  # fmt: skip
    rows = [(row.types, [f.name for f in row.fields]) for row in form.type_rows()]
    assert ("activity frequency inactivity first_touch", ["kinds"]) in rows
