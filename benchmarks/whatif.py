"""What-if preview over 100,000 leads: how long the rule editor waits for the draft's effect.

`run()` fills the configured database (a scratch one: see main) with BENCH_WHATIF_LEADS
leads (default 100,000) and their activities, publishes a B2B model and scores every lead once,
then times the preview for the edits people make most. Data from an earlier run (same slug) is
reused. Prints `name=value` lines; `whatif_seconds` is the typical edit (one criterion's points
changed and one profile criterion added), the others are single edits: the MQL threshold, a
window, decayed points, a property condition, a frequency, an inactivity period, and a new
decayed criterion over every kind of activity, an activity criterion widened to every
activity, and a changed audience. Each edit is timed REPEATS times; `whatif_p95_ms` is the 95th
percentile over all of them.
"""

import math
import os
import random
import secrets
import time
from datetime import timedelta

import django

SLUG = "bench-whatif"
# Each edit is timed this often; the figure per edit is the median, whatif_p95_ms is over all.
REPEATS = 3

KINDS = ["page_view"] * 8 + ["email_open", "content_download", "webinar_attended", "demo_request"]
URLS = ["/", "/pricing", "/features", "/blog/a", "/jobs/dev", "/products/x"]


def _model() -> dict:
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parent.parent / "scoring" / "model_library" / "b2b-saas.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(slug=SLUG, name="What-if benchmark", audience=[])
    return data


def _generate(count: int) -> None:
    from django.utils import timezone

    from scoring.models import Account, Activity, Lead

    rng = random.Random(11)
    now = timezone.now()
    accounts = Account.objects.bulk_create(
        Account(
            external_id=f"{SLUG}-a{i}",
            name=f"Firma {i}",
            employee_count=rng.choice([8, 15, 60, 150, 900]),
            is_target_account=rng.random() < 0.1,
            industry=rng.choice(["software", "retail", "logistics"]),
        )
        for i in range(count // 5)
    )
    for start in range(0, count, 5000):
        leads = Lead.objects.bulk_create(
            Lead(
                external_id=f"{SLUG}-l{i}",
                email=f"{SLUG}-{i}@example.test",
                job_title=rng.choice(["CTO", "Student", "Einkauf", "Head of IT"]),
                seniority=rng.choice(["executive", "director", "staff"]),
                account=rng.choice(accounts),
                created_at=now - timedelta(days=200),
            )
            for i in range(start, min(count, start + 5000))
        )
        Activity.objects.bulk_create(
            Activity(
                lead=lead,
                kind=rng.choice(KINDS),
                occurred_at=now - timedelta(days=rng.random() * 120),
                channel="web",
                properties={"url": rng.choice(URLS)},
                source="bench",
            )
            for lead in leads
            for _ in range(int(rng.paretovariate(1.3) * 2))
        )


def _prepare(count: int):  # type: ignore[no-untyped-def]
    from django.db import connection

    from scoring.models import Lead, ScoringModel
    from scoring.rescoring import leads_rescore
    from scoring.services import scoring_model_load

    existing = Lead.objects.filter(external_id__startswith=f"{SLUG}-l").count()
    written = existing < count
    if written:
        _generate(count - existing)
    model = ScoringModel.objects.filter(slug=SLUG).first()
    if model is None or model.published_version is None:
        model, _version = scoring_model_load(data=_model())
        leads_rescore(slugs=[SLUG])
        written = True
    if written:
        # As autovacuum would before long: without statistics the planner guesses badly, and
        # without the visibility map index-only scans visit every row's page.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    model.refresh_from_db()
    return model


def _timed(model, edit) -> float:  # type: ignore[no-untyped-def]
    from rules_admin.whatif import whatif_compute
    from scoring.services import scoring_model_load

    live = model.published_version.definition
    data = edit(_model() | {"criteria": [dict(c) for c in live["criteria"]]})
    scoring_model_load(data=data, publish=False)
    model.refresh_from_db()
    started = time.perf_counter()
    result = whatif_compute(scoring_model=model)
    seconds = time.perf_counter() - started
    scoring_model_load(data=live, publish=False)  # back to the live rules
    assert not result.problems, result.problems
    return seconds


def _points(criteria: list, name: str, points: float) -> list:
    return [{**c, "points": points} if c["name"] == name else c for c in criteria]


def _changed(criteria: list, name: str, **changes: object) -> list:
    return [{**c, **changes} if c["name"] == name else c for c in criteria]


def run() -> dict[str, float]:
    count = int(os.environ.get("BENCH_WHATIF_LEADS", "100000"))
    started = time.perf_counter()
    model = _prepare(count)
    setup = time.perf_counter() - started
    pricing = {"field": "url", "op": "contains", "value": "pricing"}
    not_jobs = {"field": "url", "op": "not_equals", "value": "/jobs/dev"}
    anything = {"name": "Any activity", "type": "activity", "points": 2, "half_life_days": 30,
                "cap": 40}  # fmt: skip
    senior = {"field": "lead.seniority", "op": "in", "value": ["executive", "director"]}
    cto = {"name": "CTO", "type": "attribute", "field": "lead.job_title", "op": "equals",
           "value": "CTO", "points": 25}  # fmt: skip
    edits = {
        "whatif_seconds": lambda d: d
        | {"criteria": _points(d["criteria"], "Newsletter signup", 30) + [cto]},
        "whatif_threshold_seconds": lambda d: d | {"mql_threshold": 60},
        "whatif_visit_window_seconds": lambda d: d
        | {
            "criteria": [
                {**c, "window_days": 30} if c["name"] == "Visit" else c for c in d["criteria"]
            ]
        },  # fmt: skip
        "whatif_decayed_points_seconds": lambda d: d
        | {"criteria": _points(d["criteria"], "Webinar or event", 70)},
        "whatif_condition_seconds": lambda d: d
        | {"criteria": _changed(d["criteria"], "Pricing page", where=[pricing, not_jobs])},
        "whatif_frequency_seconds": lambda d: d
        | {"criteria": _changed(d["criteria"], "Busy week", at_least=3)},
        "whatif_inactivity_seconds": lambda d: d
        | {"criteria": _changed(d["criteria"], "Gone quiet", days=60)},
        "whatif_new_decayed_seconds": lambda d: d | {"criteria": [*d["criteria"], anything]},
        # The pricing criterion widened to every activity: what-if reads them all.
        "whatif_widened_seconds": lambda d: d
        | {"criteria": _changed(d["criteria"], "Pricing page", kinds=[], where=[])},
        "whatif_audience_seconds": lambda d: d | {"audience": [senior]},
    }
    figures = {"whatif_leads": float(count), "whatif_setup_seconds": round(setup, 1)}
    times = []
    for name, edit in edits.items():
        tries = [_timed(model, edit) for _ in range(REPEATS)]
        times += tries
        figures[name] = round(sorted(tries)[len(tries) // 2], 3)
    times.sort()
    figures["whatif_p95_ms"] = round(times[math.ceil(0.95 * len(times)) - 1] * 1000)
    for name, value in figures.items():
        print(f"{name}={value}", flush=True)
    return figures


def main() -> None:
    """From `make bench`: in a scratch database of its own (BENCH_WHATIF_DATABASE_URL, dropped
    and recreated), migrated, then run()."""
    from benchmarks.pipeline import _database_prepare

    url = os.environ.get(
        "BENCH_WHATIF_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/leadscoring_whatif"
    )
    _database_prepare(url)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="leadscoring.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(60))
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run()


if __name__ == "__main__":
    main()
