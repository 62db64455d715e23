"""verify_scores past a lead that cannot be scored: it is reported as such, and every other
lead is checked as usual (it recomputes with the engine, at each score's own time)."""

from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from scoring import rescoring
from scoring.models import LeadScore
from scoring.rescoring import Drift, leads_rescore, scores_verify
from scoring.services import scoring_model_load
from tests.scoring.test_unscorable_rescore import (
    MODEL,
    NOW,
    leads_varied,
    poison_real,
    seam_install,
    trip,
)

pytestmark = pytest.mark.django_db
# A second model only for leads at a target account (every third of leads_varied).
TARGETS = {
    **MODEL, "slug": "targets", "name": "Targets",
    "audience": [{"field": "account.is_target_account", "op": "equals", "value": True}],
}  # fmt: skip


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def scored():
    """20 leads scored in MODEL, one of them since tampered with: the problem reported for it."""
    scoring_model_load(data=MODEL)
    leads = leads_varied()
    leads_rescore(now=NOW)
    tampered = leads[4]
    total = LeadScore.objects.get(lead=tampered).total
    LeadScore.objects.filter(lead=tampered).update(total=999)
    return leads, f"lead {tampered.pk} in m: total stored 999.00, recomputed {total}"


def verify_problems() -> list[str]:
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_scores", stderr=err)
    lines = err.getvalue().splitlines()
    assert str(failed.value) == f"{len(lines)} stored scores differ from a recomputation."
    return lines


def test_a_lead_that_cannot_be_scored_is_reported_and_the_others_checked(scored, monkeypatch):
    leads, tampered = scored
    bad = leads[8]
    seam_install(
        monkeypatch, lambda ids: trip(ids, bad.pk), seams=["scoring.rescoring.compute_scores"]
    )
    problems = verify_problems()
    reason = (
        "DataError: division by zero"
        if connection.vendor == "postgresql"
        else f"ValueError: lead {bad.pk}: an activity time nobody can read"
    )
    assert sorted(problems) == sorted([f"lead {bad.pk} in m: cannot be scored: {reason}", tampered])


def test_an_activity_time_beyond_reading_is_no_drift(scored):
    leads, tampered = scored
    poison_real(leads[13], "page_view")
    assert verify_problems() == [tampered]


def test_a_lead_failing_in_one_model_is_checked_in_the_others(monkeypatch):
    scoring_model_load(data=MODEL)
    scoring_model_load(data=TARGETS)
    leads = leads_varied(7)
    leads_rescore(now=NOW)
    bad = leads[3]  # at a target account: in both models
    real = rescoring.compute_scores

    def failing_in_m(*, lead_ids, models, now):
        if bad.pk in lead_ids and any(model.spec.slug == "m" for model in models):
            raise ArithmeticError("decimal overflow")
        return real(lead_ids=lead_ids, models=models, now=now)

    monkeypatch.setattr("scoring.rescoring.compute_scores", failing_in_m)
    cannot = Drift(bad.pk, "m", "cannot be scored: ArithmeticError: decimal overflow")
    assert scores_verify() == [cannot]
    # Its score in the other model is still checked.
    stored = LeadScore.objects.filter(lead=bad, scoring_model__slug="targets")
    band = stored.get().band
    stored.update(band="tampered")
    wrong = Drift(bad.pk, "targets", f"band stored tampered, recomputed {band}")
    assert set(scores_verify()) == {cannot, wrong}
