"""Rules as code: load_scoring_model / dump_scoring_model round trip, validation, publishing."""

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from scoring.models import Criterion, ScoringModel, ScoringModelVersion

pytestmark = pytest.mark.django_db

ISSUE_EXAMPLE = """
slug: b2b-saas
name: B2B SaaS
mql_threshold: 100
decay_half_life_days: null
bands: [{label: cold, min: 0}, {label: warm, min: 50}, {label: hot, min: 100}]
criteria:
  - {name: Target account, type: attribute, field: account.is_target_account, op: equals, value: true, points: 20}
  - {name: Visit, type: activity, kinds: [page_view], points: 1, count: each}
  - {name: Jobs page, type: activity, kinds: [page_view], where: [{field: url, op: contains, value: /jobs}], points: -10}
  - {name: Webinar, type: activity, kinds: [webinar_attended], points: 50, count: once}
  - {name: Busy week, type: frequency, kinds: [page_view], at_least: 4, within_days: 7, points: 15}
  - {name: Gone quiet, type: inactivity, days: 90, points: -20}
"""


def _dump(slug: str, fmt: str = "yaml", **kwargs: object) -> str:
    out = StringIO()
    call_command("dump_scoring_model", slug, format=fmt, stdout=out, **kwargs)
    return out.getvalue()


def test_load_creates_draft_and_publishes_version_one(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(ISSUE_EXAMPLE)
    out = StringIO()
    call_command("load_scoring_model", str(path), stdout=out)
    model = ScoringModel.objects.get(slug="b2b-saas")
    assert "published as version 1" in out.getvalue()
    assert model.published_version.number == 1
    assert list(model.criteria.values_list("name", flat=True)) == [
        "Target account", "Visit", "Jobs page", "Webinar", "Busy week", "Gone quiet",
    ]  # fmt: skip
    jobs = model.criteria.get(name="Jobs page")
    assert jobs.points == -10 and jobs.params["where"][0]["value"] == "/jobs"


def test_dump_then_load_then_dump_is_identical_in_yaml_and_json(tmp_path):
    (tmp_path / "m.yaml").write_text(ISSUE_EXAMPLE)
    call_command("load_scoring_model", str(tmp_path / "m.yaml"), stdout=StringIO())
    first_yaml, first_json = _dump("b2b-saas"), _dump("b2b-saas", "json")
    (tmp_path / "again.json").write_text(first_json)
    call_command("load_scoring_model", str(tmp_path / "again.json"), stdout=StringIO())
    assert _dump("b2b-saas") == first_yaml
    assert yaml.safe_load(first_yaml) == yaml.safe_load(first_json)


def test_loading_an_unchanged_model_does_not_publish_a_new_version(tmp_path):
    (tmp_path / "m.yaml").write_text(ISSUE_EXAMPLE)
    call_command("load_scoring_model", str(tmp_path / "m.yaml"), stdout=StringIO())
    out = StringIO()
    call_command("load_scoring_model", str(tmp_path / "m.yaml"), stdout=out)
    assert "unchanged, version 1 stays live" in out.getvalue()
    assert ScoringModelVersion.objects.count() == 1
    changed = ISSUE_EXAMPLE.replace("points: 50, count: once", "points: 60, count: once")
    (tmp_path / "m.yaml").write_text(changed)
    call_command("load_scoring_model", str(tmp_path / "m.yaml"), stdout=StringIO())
    assert ScoringModel.objects.get().published_version.number == 2
    old = _dump("b2b-saas", version_number=1)
    assert "points: 50" in old and "points: 60" in _dump("b2b-saas")


def test_invalid_file_reports_every_problem_and_saves_nothing(tmp_path):
    broken = ISSUE_EXAMPLE.replace("account.is_target_account", "account.favourite_colour")
    broken = broken.replace("op: contains", "op: resembles").replace("days: 90", "days: -5")
    broken = broken.replace("points: 15", "points: lots")
    (tmp_path / "bad.yaml").write_text(broken)
    err = StringIO()
    with pytest.raises(CommandError, match="4 problem"):
        call_command("load_scoring_model", str(tmp_path / "bad.yaml"), stderr=err)
    report = err.getvalue()
    assert "criteria[0]" in report and "field" in report
    assert "criteria[2]" in report and "op" in report
    assert "criteria[4]" in report and "points" in report
    assert "criteria[5]" in report and "days" in report
    assert not ScoringModel.objects.exists() and not Criterion.objects.exists()


def test_invalid_reload_keeps_the_existing_draft(tmp_path):
    (tmp_path / "m.yaml").write_text(ISSUE_EXAMPLE)
    call_command("load_scoring_model", str(tmp_path / "m.yaml"), stdout=StringIO())
    (tmp_path / "m.yaml").write_text(ISSUE_EXAMPLE.replace("points: 20", "points: twenty"))
    with pytest.raises(CommandError):
        call_command("load_scoring_model", str(tmp_path / "m.yaml"), stderr=StringIO())
    assert ScoringModel.objects.get().criteria.get(name="Target account").points == 20


def test_unknown_slug_names_the_known_ones(tmp_path):
    (tmp_path / "m.yaml").write_text(ISSUE_EXAMPLE)
    call_command("load_scoring_model", str(tmp_path / "m.yaml"), stdout=StringIO())
    with pytest.raises(CommandError, match="known: b2b-saas"):
        _dump("nope")


def test_shipped_model_library_loads(settings):
    from pathlib import Path

    library = Path(settings.BASE_DIR) / "scoring" / "model_library"
    for path in sorted(library.glob("*.yaml")):
        call_command("load_scoring_model", str(path), stdout=StringIO())
    assert set(ScoringModel.objects.values_list("slug", flat=True)) == {"b2b-saas", "b2c-retail"}
