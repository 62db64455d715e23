"""Scoring models through the API: read, draft edits with every problem listed, publish."""

import pytest

from scoring.models import PendingRescore, ScoringModel
from tests.api.conftest import MODEL

pytestmark = pytest.mark.django_db
URL = "/api/v1/scoring-models/"


def test_list_and_detail_show_the_published_version_and_the_draft(
    marketing_api, web_model, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        [row] = marketing_api.get(URL).json()["results"]
    assert row["slug"] == "web" and row["published_version"]["number"] == 1
    detail = marketing_api.get(f"{URL}web/").json()
    assert [c["name"] for c in detail["draft"]["criteria"]] == ["Visit", "Webinar"]


def test_a_bad_draft_lists_every_problem_and_saves_nothing(marketing_api, web_model):
    draft = marketing_api.get(f"{URL}web/").json()["draft"]
    draft["mql_threshold"] = "lots"
    draft["criteria"][0]["points"] = None
    response = marketing_api.put(f"{URL}web/draft/", draft, format="json")
    assert response.status_code == 400
    paths = [p["path"] for p in response.json()["problems"]]
    assert len(paths) == 2 and any("mql_threshold" in p for p in paths)
    assert ScoringModel.objects.get(slug="web").mql_threshold == 50


def test_edit_the_draft_then_publish_a_new_version(marketing_api, web_model):
    draft = marketing_api.get(f"{URL}web/").json()["draft"]
    draft["criteria"][0]["points"] = 7
    saved = marketing_api.put(f"{URL}web/draft/", draft, format="json")
    assert saved.status_code == 200
    assert saved.json()["published_version"]["number"] == 1
    published = marketing_api.post(
        f"{URL}web/publish/", {"note": "visits count more"}, format="json"
    )
    assert published.status_code == 200
    assert published.json()["number"] == 2 and published.json()["note"] == "visits count more"
    assert published.json()["definition"]["criteria"][0]["points"] == 7


def test_create_a_new_model_as_draft(marketing_api, web_model):
    response = marketing_api.post(URL, {**MODEL, "slug": "retail", "name": "Retail"}, format="json")
    assert response.status_code == 201 and response.json()["published_version"] is None
    clash = marketing_api.post(URL, MODEL, format="json")
    assert clash.status_code == 400
    assert not PendingRescore.objects.exists()
