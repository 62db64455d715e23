"""A marketing manager opens the reports: every chart is drawn with data, and a screenshot kept."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from tests.browser.conftest import at_path
from tests.reports.pipeline_data import at, more_leads, pipeline_build

pytestmark = pytest.mark.browser
PERIOD = "date_from=2026-03-02&date_to=2026-03-29"

# For each canvas: is a Chart.js chart attached, how many data points does it hold, and did it
# paint any pixel (a chart that failed to draw leaves the canvas fully transparent)?
_CHART_STATE = """canvas => {
  const chart = window.Chart && window.Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) { painted++; } }
  const points = chart ? chart.data.datasets.reduce(
    (sum, set) => sum + set.data.reduce((a, b) => a + Number(b || 0), 0), 0) : 0;
  return {id: canvas.dataset.chart, attached: !!chart, points: points, painted: painted};
}"""


@pytest.fixture
def pipeline_data(transactional_db):  # type: ignore[no-untyped-def]
    cache.clear()
    data = pipeline_build()
    more_leads(data.model_a, 12)
    more_leads(data.model_b, 6, start=at(23))
    yield data
    cache.clear()


def _sign_in(page, user) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill("pw-" + user.username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(at_path("/"))


def test_every_dashboard_chart_is_drawn_with_data(page, screenshot, marketing_user, pipeline_data):
    _sign_in(page, marketing_user)
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="MQL pipeline reports")).to_be_visible()
    page.goto(f"/reports/?{PERIOD}")
    canvases = page.locator("canvas[data-chart]")
    # funnel, 2 × weekly MQLs, 2 histograms (models A and B), band conversion, SLA, rejections
    expect(canvases).to_have_count(8)
    states = [canvases.nth(i).evaluate(_CHART_STATE) for i in range(canvases.count())]
    for state in states:
        assert state["attached"], state
        assert state["points"] > 0, state
        assert state["painted"] > 500, state
    funnel = page.locator("#funnel table")
    expect(funnel.get_by_role("row", name="IQL")).to_contain_text("26")
    screenshot("reports-dashboard")


def test_model_filter_and_a_bad_range_in_the_browser(
    page, screenshot, marketing_user, pipeline_data
):
    _sign_in(page, marketing_user)
    page.goto(f"/reports/?{PERIOD}")
    page.get_by_label("Scoring model").select_option(label="B")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#funnel table").get_by_role("row", name="IQL")).to_contain_text("7")
    expect(page.locator("canvas[data-chart^='chart-histogram']")).to_have_count(1)
    page.get_by_label("From").fill("2026-04-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("must be on or before")
    screenshot("reports-bad-range")
