"""What became of the demo's older leads: won, converted, lost or disqualified.

Pure, like the rest of the demo data: derived from its own `random.Random(seed)` (so the leads
and activities stay exactly as they were) and from each lead's activities before its outcome.
The chance of a win follows what sales would recognise (a demo or trial request, the pricing
page, a webinar, seniority, a target account, a cart) with plenty of noise, so that learning from
outcomes has something to find and something to correct in the shipped rules.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from scoring.models import LifecycleStage, OutcomeKind

if TYPE_CHECKING:
    from scoring.demo import ActivitySpec, LeadSpec

# Only leads known this long have an outcome; a share of those is still open.
MIN_AGE = timedelta(days=45)
DECIDED_SHARE = 0.7
_SIGNALS: Mapping[str, float] = {
    "demo_request": 1.6, "trial_signup": 1.4, "cart_add": 1.2, "webinar_attended": 0.7,
    "live_chat": 0.5, "content_download": 0.3, "email_click": 0.2, "newsletter_signup": 0.3,
}  # fmt: skip
_SENIORITY = {"c_level": 0.9, "director": 0.8, "head": 0.6, "manager": 0.2, "student": -2.0}


@dataclass(frozen=True)
class OutcomeSpec:
    lead: str  # external id
    outcome: str
    occurred_at: datetime
    value: Decimal | None


def _chance(lead: LeadSpec, before: Sequence[ActivitySpec], target: bool) -> float:
    logit = -2.2 + _SENIORITY.get(lead.seniority, 0.0) + (0.6 if target else 0.0)
    kinds = {kind for _, kind, _, _, _ in before}
    logit += sum(_SIGNALS.get(kind, 0.0) for kind in kinds)
    pricing = sum(1 for a in before if str(a[4].get("url", "")).startswith("/pricing"))
    visits = sum(1 for a in before if a[1] == "page_view")
    logit += (0.8 if pricing else 0.0) + 0.25 * math.log1p(visits)
    return 1 / (1 + math.exp(-logit))


def decide_outcomes(
    leads: Sequence[LeadSpec],
    activities: Sequence[ActivitySpec],
    targets: set[str],
    now: datetime,
    seed: int,
) -> list[OutcomeSpec]:
    """The outcomes of the older leads; moves each decided lead's lifecycle stage as the queue
    would (a win makes a customer, a disqualification disqualifies)."""
    rng = random.Random(seed * 7919 + 1)
    by_lead: dict[str, list[ActivitySpec]] = defaultdict(list)
    for activity in activities:
        by_lead[activity[0]].append(activity)
    outcomes = []
    for lead in leads:
        if lead.script or lead.created_at is None or now - lead.created_at < MIN_AGE:
            continue
        if rng.random() >= DECIDED_SHARE:
            continue
        span = (now - timedelta(days=2) - lead.created_at).total_seconds()
        at = lead.created_at + timedelta(seconds=rng.uniform(0.3, 1.0) * span)
        at = at.replace(microsecond=0)
        before = [a for a in by_lead[lead.external_id] if a[2] < at]
        b2c = lead.account is None
        if rng.random() < _chance(lead, before, lead.account in targets):
            kind = OutcomeKind.CONVERTED if b2c else OutcomeKind.WON
            value = Decimal(rng.randint(2, 60) * (10 if b2c else 500))
            lead.lifecycle_stage = LifecycleStage.CUSTOMER
        else:
            kind = OutcomeKind.DISQUALIFIED if rng.random() < 0.3 else OutcomeKind.LOST
            value = None
            if kind == OutcomeKind.DISQUALIFIED:
                lead.lifecycle_stage = LifecycleStage.DISQUALIFIED
        outcomes.append(OutcomeSpec(lead.external_id, kind.value, at, value))
    return outcomes
