"""Reads of the lead page: profile, explained scores with history, timeline, events and handoffs.

A fixed number of queries whatever the lead's activities, scores or handoffs: the list parts are
loaded with select_related / prefetch_related and the timeline is paged.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone

from scoring.definition import parse_model
from scoring.engine import applies_to
from scoring.models import Activity, Handoff, HandoffAction, Lead, LeadScore, ScoreEvent
from scoring.rescoring import activity_fact, lead_facts, published_models

from .charts import LineChart, line_chart
from .evidence import ExplainedCriterion, explain, score_history

HISTORY_DAYS = 90
TIMELINE_PAGE_SIZE = 30
EVENTS_SHOWN = 50
_STARS = re.compile(r"^\s*(\d+)\s*stars?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Stars:
    filled: int
    of: int

    @property
    def symbols(self) -> str:
        return "★" * self.filled + "☆" * max(0, self.of - self.filled)


@dataclass(frozen=True)
class ExplainedScore:
    score: LeadScore
    threshold: float
    percent_of_threshold: int | None
    stars: Stars | None
    criteria: list[ExplainedCriterion]
    recomputed_differs: bool
    chart: LineChart | None


@dataclass(frozen=True)
class LeadPage:
    lead: Lead
    scores: list[ExplainedScore]
    timeline: Page[Activity]
    events: list[ScoreEvent]
    handoffs: list[Handoff]
    history_days: int


def _stars(labels: list[str], band: str) -> Stars | None:
    """Star bands ("1 star" ... "5 stars") as filled stars out of the best band's count."""
    counts = [int(m.group(1)) for label in labels if (m := _STARS.match(label))]
    if not counts or len(counts) != len(labels):
        return None
    match = _STARS.match(band)
    return Stars(int(match.group(1)), max(counts)) if match else None


def lead_page_get(
    *, lead_id: int, timeline_page: int | str | None = 1, now: datetime | None = None
) -> LeadPage:
    now = now or timezone.now()
    tz = timezone.get_default_timezone()
    lead = get_object_or_404(Lead.objects.select_related("account", "owner"), pk=lead_id)
    facts = lead_facts(lead)
    rows = Activity.objects.filter(lead=lead).values_list(
        "kind", "occurred_at", "channel", "properties"
    )
    activities = [activity_fact(k, at, ch, props or {}) for k, at, ch, props in rows]
    current = {m.scoring_model_id: m for m in published_models()}

    scores = []
    stored = (
        LeadScore.objects.filter(lead=lead)
        .select_related("scoring_model", "version")
        .with_probability()
    )
    for score in stored.order_by("scoring_model__name"):
        spec = parse_model(score.version.definition)
        # The explanation as computed: that version's rules, at the time it was computed.
        criteria = explain(spec, score.explanation, facts, activities, score.computed_at, tz)
        threshold = float(spec.mql_threshold)
        chart = None
        published = current.get(score.scoring_model_id)
        if published is not None and applies_to(published.spec, facts):
            history = score_history(
                published.spec, facts, activities, until=now, days=HISTORY_DAYS, tz=tz
            )
            chart = line_chart(
                [(p.at, p.total) for p in history],
                threshold=float(published.spec.mql_threshold),
            )
        scores.append(
            ExplainedScore(
                score=score,
                threshold=threshold,
                percent_of_threshold=round(float(score.total) * 100 / threshold)
                if threshold > 0
                else None,
                stars=_stars([b.label for b in spec.bands], score.band),
                criteria=criteria,
                recomputed_differs=not all(c.consistent for c in criteria),
                chart=chart,
            )
        )

    timeline = Paginator(
        Activity.objects.filter(lead=lead).order_by("-occurred_at", "-pk"), TIMELINE_PAGE_SIZE
    ).get_page(timeline_page)
    events = list(
        ScoreEvent.objects.filter(lead=lead).select_related("scoring_model")[:EVENTS_SHOWN]
    )
    handoffs = list(
        Handoff.objects.filter(lead=lead)
        .select_related("scoring_model", "owner")
        .prefetch_related(
            Prefetch("actions", queryset=HandoffAction.objects.select_related("user"))
        )
        .order_by("-created_at", "-pk")
    )
    return LeadPage(lead, scores, timeline, events, handoffs, HISTORY_DAYS)
