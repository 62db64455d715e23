"""The learning benchmark's synthetic CRM worlds: deterministic, importable as they are, and with
outcomes that come after the lead they belong to."""

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import F

from benchmarks.worlds import WORLDS, world_write
from scoring.csv_import import ACCOUNT_COLUMNS, ACTIVITY_COLUMNS, LEAD_COLUMNS, OUTCOME_COLUMNS
from scoring.definition import loads_model
from scoring.models import Account, Activity, Lead, LeadOutcome

# The columns that are meant to land in attributes (leads, accounts) or properties (activities):
# anything else unknown to import_crm would be a misspelt column.
EXTRA = {
    "b2b": {
        "accounts": {"crm_system", "founded"},
        "leads": {"department"},
        "activities": {"url", "campaign", "asset", "webinar"},
    },
    "b2c": {
        "leads": {"age_band", "region", "newsletter", "loyalty", "device", "interest"},
        "activities": {"url", "category", "order_value", "campaign"},
    },
}
KNOWN = {"accounts": ACCOUNT_COLUMNS, "leads": LEAD_COLUMNS, "activities": ACTIVITY_COLUMNS}
REQUIRED = {
    "accounts": {"external_id", "name"},
    "leads": {"external_id"},
    "activities": {"lead_external_id", "kind", "occurred_at"},
    "outcomes": {"lead_external_id", "outcome", "occurred_at"},
}


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _header(folder: Path, name: str) -> set[str]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return set(next(csv.reader(handle)))


@pytest.mark.parametrize("world", WORLDS)
def test_a_seed_writes_the_same_files_and_another_seed_others(world, tmp_path):
    first = world_write(world, tmp_path / "first", 200, seed=5).parent
    again = world_write(world, tmp_path / "again", 200, seed=5).parent
    other = world_write(world, tmp_path / "other", 200, seed=6).parent
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
    assert (first / "activities.csv").read_bytes() != (other / "activities.csv").read_bytes()


@pytest.mark.parametrize("world", WORLDS)
def test_only_columns_import_crm_knows_and_the_extras_meant(world, tmp_path):
    model = world_write(world, tmp_path, 200, seed=1)
    files = {p.stem for p in tmp_path.glob("*.csv")}
    assert files == ({"accounts"} if world == "b2b" else set()) | {
        "leads",
        "activities",
        "outcomes",
    }
    for name in files:
        header = _header(tmp_path, name)
        assert REQUIRED[name] <= header, name
        if name == "outcomes":
            assert header <= OUTCOME_COLUMNS
        else:
            assert header - KNOWN[name] == EXTRA[world].get(name, set()), name
    spec = loads_model(model.read_text(encoding="utf-8"))  # a valid model, or DefinitionError
    assert spec.slug == f"bench-{world}" and len(spec.criteria) >= 10


@pytest.mark.parametrize("world", WORLDS)
def test_outcomes_follow_creation_and_activities_follow_outcomes_too(world, tmp_path):
    world_write(world, tmp_path, 1000, seed=3)
    leads = _rows(tmp_path, "leads")
    created = {r["external_id"]: datetime.fromisoformat(r["created_at"]) for r in leads}
    outcomes = {r["lead_external_id"]: r for r in _rows(tmp_path, "outcomes")}
    decided = {key: datetime.fromisoformat(r["occurred_at"]) for key, r in outcomes.items()}
    assert all(decided[key] > created[key] for key in decided)
    converted = sum(r["outcome"] in {"won", "converted"} for r in outcomes.values())
    assert 0.1 <= converted / len(outcomes) <= 0.3
    assert all(r["value"] for r in outcomes.values() if r["outcome"] in {"won", "converted"})
    activities = _rows(tmp_path, "activities")
    when = [(a["lead_external_id"], datetime.fromisoformat(a["occurred_at"])) for a in activities]
    assert all(at >= created[key] for key, at in when)
    later = [at for key, at in when if key in decided and at >= decided[key]]
    assert len(later) > len(decided) / 10  # what a look past the outcome would see


@pytest.mark.django_db
@pytest.mark.parametrize("world", WORLDS)
def test_a_small_world_imports_without_errors(world, tmp_path):
    model = world_write(world, tmp_path, 300, seed=2)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_crm", str(tmp_path), stdout=out, stderr=err)  # CommandError on any
    assert err.getvalue() == ""
    assert Lead.objects.count() == 300
    accounts = len(_rows(tmp_path, "accounts")) if world == "b2b" else 0
    assert Account.objects.count() == accounts
    assert Activity.objects.count() == len(_rows(tmp_path, "activities"))
    assert LeadOutcome.objects.count() == len(_rows(tmp_path, "outcomes")) > 0
    assert not LeadOutcome.objects.filter(occurred_at__lte=F("lead__created_at")).exists()
    extra = EXTRA[world]["leads"]
    assert all(set(lead.attributes) <= extra for lead in Lead.objects.all())
    call_command("load_scoring_model", str(model), stdout=out)
    assert f"bench-{world}: " in out.getvalue()
