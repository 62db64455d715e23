"""PostgreSQL opens handoffs in one statement exactly as they are opened row by row.

Random leads (with or without an owner, an account of any size or revenue, any lifecycle stage,
an open or closed handoff already) with random activities around the window of buying signals,
crossing a model with random follow-up times: the handoffs, their queue priority, the "created"
actions and the leads' stages come out the same from the statement and from Python's rows.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import handoffs
from pipeline.handoffs import MqlCrossing
from scoring.definition import Band, KindSla, ModelSpec
from scoring.models import (
    OPEN_HANDOFF_STATUSES,
    Handoff,
    HandoffAction,
    HandoffStatus,
    Lead,
    LifecycleStage,
)
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.clock(NOW)]
KINDS = ("page_view", "demo_request", "cart_add", "content_download", "email_click", "email_open")

activities = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(KINDS),
            "url": st.sampled_from(
                ["/pricing", "/pricing/enterprise", "/Pricing", "/blog", "/x_pricing"]
            ),
            # Around both ends of the 30-day window, and after the crossing.
            "before": st.sampled_from([30 * 86400 + 1, 30 * 86400, 30 * 86400 - 1, 0])
            | st.integers(min_value=-600, max_value=40 * 86400),
            "microsecond": st.sampled_from([0, 1, 999999]),
        }
    ),
    max_size=4,
)
accounts = st.none() | st.fixed_dictionaries(
    {
        "employee_count": st.none() | st.sampled_from([0, 49, 50, 249, 250, 4000]),
        "annual_revenue": st.none()
        | st.sampled_from(
            [
                Decimal("10000000.00"),
                Decimal("10000000.01"),
                Decimal("50000000.00"),
                Decimal("50000000.01"),
            ]
        ),
    }  # fmt: skip
)
leads = st.fixed_dictionaries(
    {
        "owner": st.booleans(),
        "account": accounts,
        "stage": st.sampled_from(LifecycleStage.values),
        "handoff": st.none() | st.sampled_from(HandoffStatus.values),
        "activities": activities,
        "total": st.decimals(min_value=-100, max_value=400, places=2),
        "band": st.sampled_from(["", "warm", "hot"]),
    }
)
hours = st.sampled_from([24, 4, 0.5, 1 / 3, 72])
specs = st.builds(
    lambda threshold, sla, by_kind: ModelSpec(
        slug="m",
        name="m",
        mql_threshold=threshold,
        bands=(Band("x", 0),),
        criteria=(),
        sla_hours=sla,
        sla_by_kind=tuple(KindSla(kind, h) for kind, h in by_kind.items()),
    ),  # fmt: skip
    st.sampled_from([0, 50, 33.33, 120]),
    hours,
    st.dictionaries(st.sampled_from(KINDS), hours, max_size=3),
)


def _opened(spec: ModelSpec, drawn: list[dict], minutes: int, *, in_database: bool) -> list:
    """Open the drawn crossings one way; what the handoffs, actions and leads then hold, each
    lead named by its position."""
    at = NOW - timedelta(minutes=minutes)
    with transaction.atomic(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: NOW)
        if not in_database:
            patch.setattr(handoffs, "_handoffs_open_sql", handoffs._handoffs_open_rows)
        model, _version = scoring_model_load(
            data={"slug": "m", "name": "m", "mql_threshold": spec.mql_threshold,
                  "bands": [{"label": "x", "min": 0}],
                  "criteria": [{"name": "c", "type": "inactivity", "days": 1, "points": 1}]}
        )  # fmt: skip
        crossings, position = [], {}
        for i, values in enumerate(drawn):
            account = values["account"]
            owner = (
                get_user_model().objects.create(username=f"owner{i}") if values["owner"] else None
            )
            lead = LeadFactory(
                owner=owner,
                lifecycle_stage=values["stage"],
                account=None if account is None else AccountFactory(**account),
            )
            position[lead.pk] = i
            if values["handoff"]:
                Handoff.objects.create(
                    lead=lead, scoring_model=model, status=values["handoff"],
                    score_at_handoff=1, sla_due_at=NOW,
                )  # fmt: skip
            happened = []
            for a in values["activities"]:
                occurred = (at - timedelta(seconds=a["before"])).replace(
                    microsecond=a["microsecond"]
                )
                properties = {"url": a["url"]} if a["kind"] == "page_view" else {}
                ActivityFactory(
                    lead=lead, kind=a["kind"], occurred_at=occurred, properties=properties
                )
                if occurred <= at:
                    happened.append((occurred, a["kind"]))
            # Python's rows take the trigger from the crossing: the latest activity by then.
            trigger = max(happened, default=None)
            crossings.append(
                MqlCrossing(
                    lead_id=lead.pk, scoring_model_id=model.pk, spec=spec,
                    total=values["total"], at=at, band=values["band"],
                    trigger_kind=trigger[1] if trigger else "",
                    trigger_at=trigger[0] if trigger else None,
                )
            )  # fmt: skip
        opened = handoffs.handoffs_open(crossings=crossings)
        rows = sorted(
            (position[lead_id], *rest)
            for lead_id, *rest in Handoff.objects.filter(pk__in=opened).values_list(
                "lead_id", "owner__username", "score_at_handoff", "trigger", "sla_due_at",
                "created_at", "updated_at", "status", "sla_breached_at", "reason", "note",
                "outcome_value", "score_band", "size_band", "buyer_stage", "score_points",
                "priority_base", "priority_until",
            )
        )  # fmt: skip
        actions = sorted(
            (position[lead_id], *rest)
            for lead_id, *rest in HandoffAction.objects.filter(handoff_id__in=opened).values_list(
                "handoff__lead_id", "kind", "at", "user_id", "detail"
            )
        )
        stages = sorted(
            (position[pk], *rest)
            for pk, *rest in Lead.objects.filter(pk__in=position).values_list(
                "pk", "lifecycle_stage", "updated_at"
            )
        )
        transaction.set_rollback(True)
    return [len(opened), rows, actions, stages]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(spec=specs, drawn=st.lists(leads, min_size=1, max_size=4),
       minutes=st.integers(min_value=0, max_value=3))  # fmt: skip
def test_the_statement_opens_handoffs_as_python_rows_do(spec, drawn, minutes):
    in_database = _opened(spec, drawn, minutes, in_database=True)
    assert in_database == _opened(spec, drawn, minutes, in_database=False)
    # Every lead without an open handoff got one, with its "created" action.
    fresh = sum(values["handoff"] not in OPEN_HANDOFF_STATUSES for values in drawn)
    assert in_database[0] == len(in_database[1]) == len(in_database[2]) == fresh
