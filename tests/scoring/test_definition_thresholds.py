"""A negative or non-finite MQL threshold is refused everywhere a definition comes in."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from rules_admin import services as editor
from rules_admin.forms import ThresholdsForm
from scoring.definition import DefinitionError, Problem, loads_model, parse_model
from scoring.services import scoring_model_load

LIBRARY = Path(__file__).resolve().parents[2] / "scoring" / "model_library"
MODEL: dict[str, Any] = {
    "slug": "web", "name": "Web", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "hot", "min": 50}],
    "criteria": [{"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 5}],
}  # fmt: skip


def _problems(**changes: Any) -> list[Problem]:
    with pytest.raises(DefinitionError) as excinfo:
        parse_model({**MODEL, **changes})
    return excinfo.value.problems


@pytest.mark.parametrize("threshold", [-1, -0.01, Decimal("-5")])
def test_a_negative_mql_threshold_is_refused(threshold):
    assert _problems(mql_threshold=threshold) == [Problem("mql_threshold", "must not be negative")]


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), float("-inf"), Decimal("NaN")])
def test_a_non_finite_mql_threshold_is_refused(threshold):
    assert _problems(mql_threshold=threshold) == [Problem("mql_threshold", "must be a number")]


def test_a_zero_threshold_and_negative_band_mins_are_allowed():
    # Negative points exist, so a total (and a band) may lie below 0; docs/scoring-models.md.
    bands = [{"label": "lost", "min": -50}, {"label": "cold", "min": 0}]
    spec = parse_model({**MODEL, "mql_threshold": 0, "bands": bands})
    assert spec.mql_threshold == 0 and spec.bands[0].min == -50


def test_a_yaml_document_with_a_negative_threshold_names_the_path():
    text = "slug: web\nname: Web\nmql_threshold: -10\nbands: [{label: all, min: 0}]\ncriteria: []"
    with pytest.raises(DefinitionError, match=r"mql_threshold: must not be negative"):
        loads_model(text)


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.name)
def test_no_library_model_has_a_negative_threshold(path):
    assert loads_model(path.read_text()).mql_threshold >= 0


@pytest.mark.django_db
def test_the_editor_shows_the_problem_next_to_the_threshold_and_keeps_the_old_one():
    scoring_model, _ = scoring_model_load(data=MODEL)
    form = ThresholdsForm({"mql_threshold": "-5", "band_label_1": "all", "band_min_1": "0"})
    assert form.is_valid()
    with pytest.raises(DefinitionError) as excinfo:
        editor.thresholds_update(
            scoring_model=scoring_model,
            mql_threshold=form.cleaned_data["mql_threshold"],
            bands=form.ranges("band"),
            grades=form.ranges("grade"),
        )
    form.add_problems(excinfo.value.problems)
    assert form.errors["mql_threshold"] == ["must not be negative"]
    scoring_model.refresh_from_db()
    assert scoring_model.mql_threshold == 50


@pytest.mark.django_db
def test_the_editor_view_refuses_a_negative_threshold(client, marketing_user):
    scoring_model, _ = scoring_model_load(data=MODEL)
    client.force_login(marketing_user)
    data = {"mql_threshold": "-5", "band_label_1": "all", "band_min_1": "0"}
    response = client.post(
        reverse("rules_admin:thresholds", args=[scoring_model.slug]),
        data,
        headers={"HX-Request": "true"},
    )
    assert "must not be negative" in response.content.decode()
    scoring_model.refresh_from_db()
    assert scoring_model.mql_threshold == 50


@pytest.mark.django_db
def test_the_api_draft_update_refuses_a_negative_threshold(marketing_user):
    scoring_model_load(data=MODEL)
    api = APIClient()
    api.force_authenticate(marketing_user)
    response = api.put(
        "/api/v1/scoring-models/web/draft/", {**MODEL, "mql_threshold": -1}, format="json"
    )
    assert response.status_code == 400
    assert {"path": "mql_threshold", "message": "must not be negative"} in response.json()[
        "problems"
    ]
