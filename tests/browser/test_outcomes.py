"""What the outcomes say about a model: marketing reads it and puts the suggested points into
the draft, sales only reads it, and it reads in German and Dutch on a phone."""

from decimal import Decimal

import pytest
from django.utils import translation
from playwright.sync_api import expect

from learning.lessons import VERDICT_WORDS
from scoring.models import ScoringModel
from scoring.services import scoring_model_draft_definition
from tests.browser.conftest import at_path, sign_in

pytestmark = pytest.mark.browser
PAGE = "/outcomes/b2b-saas/"
VERDICTS = (
    "converts better than average",
    "converts worse than average",
    "no clear difference",
    "too few leads to tell",
    "matched no lead with an outcome",
)


# The button that puts the suggestion into the draft: when it predicts better, and when not.
INTO_DRAFT = {
    "en": ("Put the suggestion into the draft", "Put it into the draft anyway"),
    "de": ("Vorschlag in den Entwurf übernehmen", "Trotzdem in den Entwurf übernehmen"),
    "nl": ("Voorstel in het concept zetten", "Toch in het concept zetten"),
}


def _points(definition: dict) -> dict[str, Decimal]:  # type: ignore[type-arg]
    return {c["name"]: Decimal(str(c["points"])) for c in definition["criteria"]}


def test_marketing_puts_the_suggested_points_into_the_draft(demo, page, screenshot):
    with translation.override("en"):
        assert {str(words) for words in VERDICT_WORDS.values()} == set(VERDICTS)
    model = ScoringModel.objects.select_related("published_version").get(slug="b2b-saas")
    published = model.published_version
    published_definition = published.definition

    sign_in(page, "marketing")
    page.get_by_role("link", name="Scoring rules").click()
    page.get_by_role("link", name="B2B SaaS").click()
    page.wait_for_url(at_path("/rules/b2b-saas/"))
    page.get_by_role("link", name="What the outcomes say").click()
    page.wait_for_url(at_path(PAGE))
    expect(page.get_by_role("heading", name="What the outcomes say about B2B SaaS")).to_be_visible()
    expect(page.get_by_role("heading", name="Which criteria convert")).to_be_visible()

    lessons = page.locator("table.lessons tbody tr")
    expect(lessons.first).to_be_visible()
    verdicts = lessons.locator("td[data-label=Verdict]").all_inner_texts()
    assert verdicts and all(any(v in text for v in VERDICTS) for text in verdicts), verdicts

    expect(page.get_by_role("heading", name="Suggested points")).to_be_visible()
    suggested_rows = page.locator("table.suggestion tbody tr")
    expect(suggested_rows.first).to_be_visible()
    suggested = {}
    for row in suggested_rows.all():
        name = row.locator("td").nth(0).inner_text().strip()
        points = row.locator("td").nth(2).locator("strong").inner_text().strip()
        suggested[name] = Decimal(points)
    assert suggested
    threshold = Decimal(page.locator("ul.thresholds input[name=threshold]").first.input_value())
    screenshot("outcomes-marketing")

    # Worded by whether the suggestion predicts the latest outcomes better than the rules.
    into_draft = page.locator("ul.thresholds button").first
    assert into_draft.inner_text() in INTO_DRAFT["en"]
    into_draft.click()
    page.wait_for_url(at_path("/rules/b2b-saas/"))
    expect(page.locator(".message.success")).to_contain_text(
        "The suggested points are in the draft"
    )
    screenshot("outcomes-into-draft")
    name, points = next((n, p) for n, p in suggested.items() if p)
    expect(page.locator(f'[data-criterion="{name}"]')).to_contain_text(f"{points:+} when")

    # The draft has the suggested points and threshold; what is live has not changed.
    model.refresh_from_db()
    definition = scoring_model_draft_definition(scoring_model=model)
    draft = _points(definition)
    for name, points in suggested.items():
        assert draft[name] == points, name
    assert Decimal(str(definition["mql_threshold"])) == threshold
    assert model.published_version_id == published.pk
    model.published_version.refresh_from_db()
    assert model.published_version.definition == published_definition
    assert _points(published_definition) != draft


def test_sales_reads_what_the_outcomes_say_without_changing_the_draft(demo, page, screenshot):
    sign_in(page, "sales")
    page.goto(PAGE)
    expect(page.get_by_role("heading", name="Which criteria convert")).to_be_visible()
    expect(page.locator("table.suggestion tbody tr").first).to_be_visible()
    expect(page.get_by_text("Marketing can put the suggestion into the draft")).to_be_visible()
    expect(page.locator("ul.thresholds button")).to_have_count(0)
    expect(page.get_by_role("link", name="add as a criterion to the draft")).to_have_count(0)
    screenshot("outcomes-sales")

    # Sales can still ask what threshold fits what it can call in a week.
    page.get_by_label("Leads sales can take a week").fill("5")
    page.get_by_role("button", name="Suggest a threshold").click()
    page.wait_for_url("**/outcomes/b2b-saas/?*per_week=5*")
    expect(page.locator("ul.thresholds")).to_contain_text("for that many leads a week")
    expect(page.locator("ul.thresholds button")).to_have_count(0)


# German shows the top of the page, Dutch its suggestion (each one phone screen).
@pytest.mark.parametrize(
    ("language", "code", "headings", "button", "shot", "section"),
    [
        (
            "Deutsch",
            "de",
            ("Was die Ergebnisse über B2B SaaS sagen", "Welche Kriterien konvertieren",
             "Vorgeschlagene Punkte", "MQL-Schwelle"),
            INTO_DRAFT["de"],
            "outcomes-phone-de",
            "body",
        ),
        (
            "Nederlands",
            "nl",
            ("Wat de resultaten zeggen over B2B SaaS", "Welke criteria converteren",
             "Voorgestelde punten", "MQL-drempel"),
            INTO_DRAFT["nl"],
            "outcomes-nl",
            "#suggestion",
        ),
    ],
)  # fmt: skip
def test_the_page_reads_in_the_language_on_a_phone(
    demo, page, screenshot, language, code, headings, button, shot, section
):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "marketing", language=language)
    page.goto(PAGE)
    for heading in headings:
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("ul.thresholds button").first).to_be_visible()
    assert page.locator("ul.thresholds button").first.inner_text() in button
    english = ("What the outcomes say", "Which criteria", "Suggested points", "MQL threshold")
    for text in page.locator("h1, h2, h3, .tabs, th").all_inner_texts():
        assert not any(words in text for words in english), text

    # Every verdict in the language's words, none left in English.
    with translation.override(code):
        translated = [str(words) for words in VERDICT_WORDS.values()]
    verdicts = page.locator("table.lessons td:last-child").all_inner_texts()
    assert verdicts
    for text in verdicts:
        assert not any(words in text for words in VERDICTS), text
        assert any(words in text for words in translated), text
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.evaluate(f"document.querySelector({section!r}).scrollIntoView()")
    screenshot(shot, full_page=False)


def test_a_model_with_too_few_outcomes_says_so(demo, page, screenshot):
    sign_in(page, "marketing")
    page.goto("/outcomes/b2c-retail/")
    expect(page.locator("#suggestion")).to_contain_text("Not enough outcomes to learn from yet")
    expect(page.locator("ul.thresholds button")).to_have_count(0)
    page.locator("#suggestion").scroll_into_view_if_needed()
    screenshot("outcomes-too-few", full_page=False)


def test_the_editor_backtests_the_draft_against_the_live_version(demo, page, screenshot):
    sign_in(page, "marketing")
    page.goto("/rules/b2b-saas/")
    expect(page.get_by_role("heading", name="Backtest: how it would have done")).to_be_visible()
    page.get_by_role("button", name="Test the draft and the live version").click()
    results = page.locator("#backtest-results")
    expect(results).to_contain_text("Ranks converters first (AUC)")
    expect(results).to_contain_text("New MQLs per week since")
    assert page.url.endswith("/rules/b2b-saas/")  # in place, in the editor
    rows = results.locator("table.backtest tbody tr")
    expect(rows).to_have_count(6)
    auc = rows.nth(2).locator("td").nth(1).inner_text()
    assert auc.endswith("%") and 0 <= int(auc.rstrip(" %")) <= 100
    results.scroll_into_view_if_needed()
    screenshot("backtest-editor")
