"""The outcomes page of a model: marketing and sales read it, marketing puts the suggestion into
the draft; nothing is published from here."""

import pytest
from django.urls import reverse

from scoring.models import ScoringModel
from scoring.services import scoring_model_draft_definition, scoring_model_load
from tests.factories import LeadFactory, LeadOutcomeFactory
from tests.learning.conftest import MODEL


def _page(slug: str = "learn", **query):  # type: ignore[no-untyped-def]
    return reverse("learning:model", args=[slug]), query


def test_marketing_reads_which_criteria_convert_and_the_suggestion(
    client, marketing_user, world, django_assert_max_num_queries
):
    client.force_login(marketing_user)
    url, query = _page(precision=60, per_week=5)
    with django_assert_max_num_queries(30):
        response = client.get(url, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert "400 leads of this model reached an outcome" in html
    assert "Demo request" in html and "converts better than average" in html
    assert "Suggested points" in html
    assert html.count("Put the suggestion into the draft") == 3  # volume, precision, capacity
    assert "predict the latest outcomes better than the rules as published" in html


def test_sales_reads_it_but_cannot_change_the_draft(client, sales_user, world):
    client.force_login(sales_user)
    response = client.get(reverse("learning:model", args=["learn"]))
    assert response.status_code == 200
    assert "Put the suggestion into the draft" not in response.content.decode()
    refused = client.post(reverse("learning:to_draft", args=["learn"]), {"threshold": 5})
    assert refused.status_code == 403


def test_an_outsider_sees_nothing(client, outsider, world):
    client.force_login(outsider)
    assert client.get(reverse("learning:model", args=["learn"])).status_code == 403


def test_the_suggestion_goes_into_the_draft_and_nothing_is_published(client, marketing_user, world):
    scoring_model, _leads = world
    live = ScoringModel.objects.get(pk=scoring_model.pk).published_version
    assert live is not None
    client.force_login(marketing_user)
    response = client.post(reverse("learning:to_draft", args=["learn"]), {"threshold": 9})
    assert response.status_code == 302
    assert response.url == reverse("rules_admin:model", args=["learn"])
    scoring_model = ScoringModel.objects.get(pk=scoring_model.pk)
    assert scoring_model.published_version == live
    draft = scoring_model_draft_definition(scoring_model=scoring_model)
    assert draft["mql_threshold"] == 9
    assert draft["criteria"] != MODEL["criteria"]
    page = client.get(response.url)
    assert "The suggested points are in the draft" in page.content.decode()


@pytest.mark.parametrize("threshold", ["", "-3", "ten", "1e400"])
def test_a_bad_threshold_changes_nothing_and_says_why(client, marketing_user, world, threshold):
    scoring_model, _leads = world
    before = scoring_model_draft_definition(scoring_model=scoring_model)
    client.force_login(marketing_user)
    response = client.post(
        reverse("learning:to_draft", args=["learn"]), {"threshold": threshold}, follow=True
    )
    assert response.status_code == 200
    assert "whole number of points" in response.content.decode()
    scoring_model.refresh_from_db()
    assert scoring_model_draft_definition(scoring_model=scoring_model) == before


def test_too_few_outcomes_say_so_and_offer_nothing(client, marketing_user, db):
    scoring_model_load(data={**MODEL, "audience": []})
    for outcome in ["won"] * 5 + ["lost"] * 40:
        LeadOutcomeFactory(lead=LeadFactory(), outcome=outcome)
    client.force_login(marketing_user)
    html = client.get(reverse("learning:model", args=["learn"])).content.decode()
    assert "Not enough outcomes to learn from yet: 5 converted and 40 others" in html
    assert "Put the suggestion into the draft" not in html
    refused = client.post(reverse("learning:to_draft", args=["learn"]), {"threshold": 5})
    assert refused.status_code == 302
    follow = client.get(refused.url).content.decode()
    assert "Nothing was changed" in follow


def test_a_model_without_outcomes_or_versions_answers(client, marketing_user, db):
    client.force_login(marketing_user)
    scoring_model_load(data=MODEL, publish=False)
    html = client.get(reverse("learning:model", args=["learn"])).content.decode()
    assert "Nothing is published yet" in html
    scoring_model_load(data=MODEL)
    html = client.get(reverse("learning:model", args=["learn"])).content.decode()
    assert "No lead of this model has reached an outcome yet" in html
    assert client.get(reverse("learning:model", args=["nope"])).status_code == 404


def test_odd_query_parameters_are_ignored(client, marketing_user, world):
    client.force_login(marketing_user)
    for query in ({"precision": "abc"}, {"precision": "500"}, {"per_week": "-1"}):
        assert client.get(reverse("learning:model", args=["learn"]), query).status_code == 200


def test_marketing_trains_the_chance_to_convert_from_the_page(
    client, marketing_user, world, django_capture_on_commit_callbacks
):
    client.force_login(marketing_user)
    html = client.get(reverse("learning:model", args=["learn"])).content.decode()
    assert "Not trained yet." in html and "Train the chance to convert" in html
    with django_capture_on_commit_callbacks(execute=True):  # the task runs in this process
        response = client.post(reverse("learning:train", args=["learn"]))
    assert response.status_code == 302
    html = client.get(response.url).content.decode()
    assert "Training started." in html
    assert "Version 1, trained" in html and "leads have their chance." in html
    assert "Train again on the latest outcomes" in html


def test_a_suggestion_that_predicts_worse_is_offered_only_as_a_hint(client, marketing_user, db):
    scoring_model_load(data={**MODEL, "criteria": MODEL["criteria"][2:3], "audience": []})
    for i in range(80):  # outcomes at random, and no criterion fires for anyone
        lead = LeadFactory()
        LeadOutcomeFactory(lead=lead, outcome="won" if i % 2 else "lost")
    client.force_login(marketing_user)
    html = client.get(reverse("learning:model", args=["learn"])).content.decode()
    assert "do not predict the latest outcomes better" in html
    assert "Put it into the draft anyway" in html


def test_a_field_value_is_one_click_from_a_prefilled_criterion(client, marketing_user, db):
    scoring_model_load(data={**MODEL, "criteria": MODEL["criteria"][1:], "audience": []})
    for i in range(120):
        director = i % 2 == 0
        lead = LeadFactory(seniority="director" if director else "staff")
        won = (i % 4 == 0) if director else (i % 20 == 1)
        LeadOutcomeFactory(lead=lead, outcome="won" if won else "lost")
    client.force_login(marketing_user)
    html = client.get(reverse("learning:model", args=["learn"])).content.decode()
    assert "Fields the model does not look at yet" in html
    assert "Seniority = director" in html
    url = reverse("rules_admin:criterion_new", args=["learn"])
    form = client.get(
        url, {"type": "attribute", "field": "lead.seniority", "op": "equals", "value": "director"}
    ).context["form"]
    assert (form.initial["field"], form.initial["op"], form.initial["value"]) == (
        "lead.seniority", "equals", "director",
    )  # fmt: skip
