"""Parsing, validation and dumping of scoring-model definitions (rules as code)."""

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from scoring.definition import (
    ACCOUNT_FIELDS,
    LEAD_FIELDS,
    ActivityCriterion,
    AttributeCriterion,
    Band,
    Condition,
    DefinitionError,
    FrequencyCriterion,
    InactivityCriterion,
    Problem,
    dump_model,
    dumps_model,
    loads_model,
    parse_model,
    validate_condition,
    validate_criterion,
)

B2B_YAML = """
slug: b2b-saas
name: B2B SaaS
mql_threshold: 100
decay_half_life_days: 30
audience:
  - {field: lead.email_invalid, op: not_equals, value: true}
bands: [{label: hot, min: 100}, {label: cold, min: 0}, {label: warm, min: 50}]
grades: [{label: D, min: 0}, {label: C, min: 20}, {label: B, min: 50}, {label: A, min: 100}]
criteria:
  - {name: Target account, type: attribute, field: account.is_target_account, op: equals,
     value: true, points: 20}
  - {name: Visit, type: activity, kinds: [page_view], points: 1, count: each}
  - {name: Jobs page, type: activity, kinds: [page_view],
     where: [{field: url, op: contains, value: /jobs}], points: -10}
  - {name: Webinar, type: activity, kinds: [webinar_attended], points: 50, count: once,
     half_life_days: null}
  - {name: Busy week, type: frequency, kinds: [page_view], at_least: 4, within_days: 7,
     points: 15}
  - {name: Gone quiet, type: inactivity, days: 90, points: -20}
"""


def minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "m",
        "name": "M",
        "mql_threshold": 100,
        "bands": [{"label": "cold", "min": 0}],
        "criteria": [],
    }
    data.update(overrides)
    return data


def with_criterion(**criterion: Any) -> dict[str, Any]:
    return minimal(criteria=[{"name": "C", "points": 1, **criterion}])


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(DefinitionError) as excinfo:
        parse_model(data)
    return {p.path: p.message for p in excinfo.value.problems}


def test_parses_the_documented_example_into_typed_criteria() -> None:
    spec = loads_model(B2B_YAML)
    target, visit, jobs, webinar, busy, quiet = spec.criteria
    assert target == AttributeCriterion(
        name="Target account",
        points=20,
        condition=Condition("account.is_target_account", "equals", True),
    )
    assert visit == ActivityCriterion(name="Visit", points=1, kinds=("page_view",))
    assert jobs.where == (Condition("url", "contains", "/jobs"),)
    assert isinstance(webinar, ActivityCriterion)
    assert webinar.count == "once"
    assert webinar.half_life_days is None
    assert busy == FrequencyCriterion(
        name="Busy week", points=15, at_least=4, within_days=7, kinds=("page_view",)
    )
    assert quiet == InactivityCriterion(name="Gone quiet", points=-20, days=90)
    assert spec.audience == (Condition("lead.email_invalid", "not_equals", True),)


def test_bands_are_sorted_by_min() -> None:
    spec = loads_model(B2B_YAML)
    assert spec.bands == (Band("cold", 0), Band("warm", 50), Band("hot", 100))


def test_dump_then_parse_gives_the_same_spec() -> None:
    spec = loads_model(B2B_YAML)
    assert parse_model(dump_model(spec)) == spec


def test_dump_is_canonical_and_idempotent() -> None:
    once = dump_model(loads_model(B2B_YAML))
    assert dump_model(parse_model(once)) == once
    assert list(once) == [
        "slug",
        "name",
        "mql_threshold",
        "decay_half_life_days",
        "audience",
        "bands",
        "grades",
        "criteria",
    ]


def test_dump_omits_optional_keys_at_their_default() -> None:
    spec = parse_model(
        with_criterion(
            type="activity", count="each", description="", enabled=True, half_life_days=None
        )
    )
    assert dump_model(spec)["criteria"] == [{"name": "C", "type": "activity", "points": 1}]
    assert "description" not in dump_model(spec)


def test_dump_keeps_non_default_optional_keys() -> None:
    spec = parse_model(
        with_criterion(type="activity", count="per_day", cap=10, enabled=False, description="d")
    )
    assert dump_model(spec)["criteria"] == [
        {
            "name": "C",
            "type": "activity",
            "description": "d",
            "count": "per_day",
            "cap": 10,
            "points": 1,
            "enabled": False,
        }
    ]


def test_yaml_round_trip() -> None:
    spec = loads_model(B2B_YAML)
    assert loads_model(dumps_model(spec)) == spec


def test_json_round_trip() -> None:
    spec = loads_model(B2B_YAML)
    text = dumps_model(spec, "json")
    assert json.loads(text) == dump_model(spec)
    assert loads_model(text) == spec


def test_yaml_date_value_becomes_an_iso_string() -> None:
    spec = loads_model(
        "slug: m\nname: M\nmql_threshold: 1\nbands: [{label: a, min: 0}]\ncriteria:\n"
        "  - {name: Born, type: attribute, field: lead.birthday, op: equals, value: 1990-05-01,"
        " points: 1}\n"
    )
    assert isinstance(spec.criteria[0], AttributeCriterion)
    assert spec.criteria[0].condition.value == "1990-05-01"


def test_decimal_numbers_are_normalised_to_int_or_float() -> None:
    spec = parse_model(
        with_criterion(type="inactivity", days=Decimal("30"), points=Decimal("2.50"))
    )
    criterion = spec.criteria[0]
    assert isinstance(criterion, InactivityCriterion)
    assert (type(criterion.days), criterion.points) == (int, 2.5)


def test_invalid_yaml_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as excinfo:
        loads_model("slug: [unclosed")
    assert "not valid YAML" in excinfo.value.problems[0].message


def test_known_field_constants_match_the_documented_lists() -> None:
    assert "birthday" in LEAD_FIELDS and "created_at" in LEAD_FIELDS
    assert "employee_count" in ACCOUNT_FIELDS and "is_competitor" in ACCOUNT_FIELDS


# --- problems, each with its path ----------------------------------------------------------------


def test_reports_unknown_top_level_key() -> None:
    assert problems_of(minimal(colour="red")) == {"colour": "unknown key"}


def test_reports_missing_required_top_level_keys() -> None:
    found = problems_of({})
    assert set(found) == {"slug", "name", "mql_threshold", "bands", "criteria"}
    assert found["mql_threshold"] == "is required"


def test_reports_bad_slug() -> None:
    assert "slug" in problems_of(minimal(slug="B2B SaaS"))
    assert "slug" in problems_of(minimal(slug="a" * 51))


def test_reports_empty_bands() -> None:
    assert problems_of(minimal(bands=[])) == {"bands": "must have at least one band"}


def test_reports_duplicate_band_min_and_label() -> None:
    found = problems_of(
        minimal(
            bands=[{"label": "a", "min": 0}, {"label": "b", "min": 0}, {"label": "a", "min": 5}]
        )
    )
    assert found == {"bands[1].min": "duplicate min", "bands[2].label": "duplicate label"}


def test_reports_non_numeric_band_min_in_grades() -> None:
    assert problems_of(minimal(grades=[{"label": "A", "min": "high"}])) == {
        "grades[0].min": "must be a number"
    }


def test_reports_unknown_criterion_key_for_its_type() -> None:
    found = problems_of(with_criterion(type="frequency", at_least=3, within_days=7, cap=5))
    assert found == {"criteria[0] (C).cap": "unknown key"}


def test_reports_unknown_criterion_type() -> None:
    assert problems_of(with_criterion(type="magic")) == {
        "criteria[0] (C).type": "must be one of attribute, activity, frequency, inactivity"
    }


def test_reports_unknown_lead_field() -> None:
    found = problems_of(with_criterion(type="attribute", field="lead.shoe_size", op="is_set"))
    assert list(found) == ["criteria[0] (C).field"]


def test_reports_field_without_owner() -> None:
    found = problems_of(with_criterion(type="attribute", field="email", op="is_set"))
    assert found == {"criteria[0] (C).field": "must start with 'lead.' or 'account.'"}


def test_accepts_any_attribute_key() -> None:
    spec = parse_model(
        with_criterion(type="attribute", field="account.attributes.tier", op="is_set")
    )
    assert isinstance(spec.criteria[0], AttributeCriterion)


def test_reports_bad_operator() -> None:
    found = problems_of(with_criterion(type="attribute", field="lead.email", op="like", value="x"))
    assert list(found) == ["criteria[0] (C).op"]


def test_reports_missing_value() -> None:
    found = problems_of(with_criterion(type="attribute", field="lead.country", op="equals"))
    assert found == {"criteria[0] (C).value": "is required for equals"}


def test_reports_value_given_to_is_set() -> None:
    found = problems_of(
        with_criterion(type="attribute", field="lead.phone", op="is_set", value="x")
    )
    assert found == {"criteria[0] (C).value": "must not be given for is_set"}


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("in", []),
        ("in", "DE"),
        ("between", [1]),
        ("between", [200, 100]),
        ("between", [1, "x"]),
        ("gte", "ten"),
        ("contains", ""),
        ("equals", "   "),
        ("equals", [1]),
    ],
)
def test_reports_value_of_the_wrong_shape_for_its_operator(op: str, value: object) -> None:
    found = problems_of(
        with_criterion(type="attribute", field="account.employee_count", op=op, value=value)
    )
    assert any(path.startswith("criteria[0] (C).value") for path in found)


def test_reports_numeric_operator_on_a_date_field() -> None:
    found = problems_of(with_criterion(type="attribute", field="lead.birthday", op="gte", value=1))
    assert found == {"criteria[0] (C).op": "lead.birthday is a date; gte does not apply"}


@pytest.mark.parametrize("points", ["10", True, None, float("nan"), 1.234, 10**9])
def test_reports_bad_points(points: object) -> None:
    found = problems_of(
        minimal(criteria=[{"name": "C", "type": "inactivity", "days": 1, "points": points}])
    )
    assert list(found) == ["criteria[0] (C).points"]


@pytest.mark.parametrize("days", [0, -5, "7"])
def test_reports_non_positive_days(days: object) -> None:
    assert list(problems_of(with_criterion(type="inactivity", days=days))) == [
        "criteria[0] (C).days"
    ]


def test_reports_bad_activity_options() -> None:
    found = problems_of(
        with_criterion(type="activity", count="twice", cap=0, window_days=-1, half_life_days="x")
    )
    assert set(found) == {
        "criteria[0] (C).count",
        "criteria[0] (C).cap",
        "criteria[0] (C).window_days",
        "criteria[0] (C).half_life_days",
    }


def test_reports_bad_frequency_options() -> None:
    found = problems_of(with_criterion(type="frequency", at_least=1, within_days=0))
    assert set(found) == {"criteria[0] (C).at_least", "criteria[0] (C).within_days"}


def test_reports_problems_inside_where_and_kinds() -> None:
    found = problems_of(
        with_criterion(
            type="activity",
            kinds=["page_view", ""],
            where=[{"field": "url", "op": "contains"}, "url contains /jobs"],
        )
    )
    assert set(found) == {
        "criteria[0] (C).kinds[1]",
        "criteria[0] (C).where[0].value",
        "criteria[0] (C).where[1]",
    }


def test_where_accepts_any_property_key() -> None:
    spec = parse_model(
        with_criterion(
            type="activity", where=[{"field": "utm_medium", "op": "equals", "value": "cpc"}]
        )
    )
    assert isinstance(spec.criteria[0], ActivityCriterion)


def test_reports_bad_audience_condition() -> None:
    found = problems_of(minimal(audience=[{"field": "lead.age", "op": "gte", "value": 18}]))
    assert list(found) == ["audience[0].field"]


def test_reports_duplicate_criterion_names() -> None:
    criterion = {"name": "Visit", "type": "activity", "points": 1}
    found = problems_of(minimal(criteria=[criterion, criterion]))
    assert found == {"criteria[1] (Visit).name": "duplicates the name of criteria[0]"}


def test_reports_missing_name_without_a_name_in_the_path() -> None:
    found = problems_of(minimal(criteria=[{"type": "activity", "points": 1}]))
    assert found == {"criteria[0].name": "is required"}


def test_reports_every_problem_at_once() -> None:
    data = minimal(
        slug="Bad Slug",
        extra=1,
        criteria=[
            {"name": "A", "type": "attribute", "field": "lead.nope", "op": "equals", "points": "x"},
            {"name": "B", "type": "inactivity", "days": 0, "points": 1, "enabled": "yes"},
        ],
    )
    with pytest.raises(DefinitionError) as excinfo:
        parse_model(data)
    paths = [p.path for p in excinfo.value.problems]
    assert set(paths) == {
        "extra",
        "slug",
        "criteria[0] (A).field",
        "criteria[0] (A).value",
        "criteria[0] (A).points",
        "criteria[1] (B).days",
        "criteria[1] (B).enabled",
    }
    assert "criteria[1] (B).days: must be greater than 0" in str(excinfo.value)


# --- single criterion / condition validation ---------------------------------------------------


def test_validate_criterion_uses_bare_paths_without_index() -> None:
    problems = validate_criterion({"name": "Jobs", "type": "activity", "points": "-10"})
    assert problems == [Problem("points", "must be a number")]


def test_validate_criterion_with_index_places_it_in_the_model() -> None:
    problems = validate_criterion({"name": "Jobs", "type": "activity"}, 3)
    assert problems == [Problem("criteria[3] (Jobs).points", "is required")]


def test_validate_criterion_accepts_a_valid_criterion() -> None:
    assert (
        validate_criterion({"name": "Quiet", "type": "inactivity", "days": 90, "points": -20}) == []
    )


def test_validate_condition_scopes() -> None:
    condition = {"field": "url", "op": "contains", "value": "/jobs"}
    assert validate_condition(condition, scope="activity") == []
    assert [p.path for p in validate_condition(condition, "audience[0]")] == ["audience[0].field"]


def test_validate_condition_rejects_a_non_mapping() -> None:
    assert validate_condition(["lead.email"]) == [
        Problem("", "must be a mapping with field, op and value")
    ]


def test_date_value_survives_a_dump_round_trip() -> None:
    spec = parse_model(
        with_criterion(
            type="attribute", field="lead.birthday", op="equals", value=dt.date(2000, 1, 2)
        )
    )
    assert parse_model(dump_model(spec)) == spec


def test_falsy_count_is_reported_not_silently_each():
    from scoring.definition import DefinitionError, parse_model

    data = {
        "slug": "m", "name": "M", "mql_threshold": 10, "bands": [{"label": "a", "min": 0}],
        "criteria": [{"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 1, "count": 0}],
    }  # fmt: skip
    with pytest.raises(DefinitionError) as caught:
        parse_model(data)
    assert [p.path for p in caught.value.problems] == ["criteria[0] (Visit).count"]
