"""`make bench`: print `name=value` figures. Timing lives here, never in the test suite.

First the pure engine on one core over in-memory frames of synthetic leads scored with the
shipped B2B model (BENCH_ENGINE_LEADS leads, default 200,000, with a skewed number of activities
each): all at once, and in chunks of a rescore's size (BENCH_ENGINE_CHUNK, default 1,000).
Then the rescoring pipeline at scale on PostgreSQL with live workers (benchmarks/pipeline.py;
BENCH_PIPELINE=0 skips it), with a soak of sustained ingest while 20 users browse
(benchmarks/soak.py; BENCH_SOAK=0 skips it), and the web pages on that same data
(benchmarks/web.py; BENCH_WEB=0 skips them). Then the what-if preview over 100,000 leads in a
database of its own (benchmarks/whatif.py; BENCH_WHATIF=0 skips it). Last, learning from outcomes
in synthetic CRM worlds, also in a database of its own (benchmarks/learning.py; BENCH_LEARNING=0
skips it).
"""

import os

# The engine's figure is for one core; set before polars starts its thread pool.
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from scoring.definition import loads_model
from scoring.engine import ActivityFact, LeadFacts, evaluate, facts_frames, moments_at

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["page_view"] * 8 + ["email_open", "content_download", "webinar_attended", "demo_request"]
URLS = ["/", "/pricing", "/features", "/blog/a", "/jobs/dev", "/products/x"]


def synthetic_leads(count: int, now: datetime, rng: random.Random) -> list[tuple[LeadFacts, list]]:
    leads = []
    for _ in range(count):
        account = {
            "name": "Firma GmbH",
            "employee_count": rng.choice([8, 15, 60, 150, 900]),
            "is_target_account": rng.random() < 0.1,
            "is_competitor": rng.random() < 0.01,
        }
        facts = LeadFacts(
            fields={"job_title": rng.choice(["CTO", "Student", "Einkauf"]), "seniority": "director",
                    "lifecycle_stage": "lead", "email_invalid": False, "unsubscribed": False},
            account_fields=account,
            account_attributes={},
            created_at=now - timedelta(days=200),
        )  # fmt: skip
        activities = [
            ActivityFact(
                kind=rng.choice(KINDS),
                occurred_at=now - timedelta(days=rng.random() * 150),
                properties={"url": rng.choice(URLS), "channel": "web"},
            )
            for _ in range(int(rng.paretovariate(1.2) * 3))
        ]
        leads.append((facts, activities))
    return leads


def main() -> None:
    count = int(os.environ.get("BENCH_ENGINE_LEADS", "200000"))
    chunk = int(os.environ.get("BENCH_ENGINE_CHUNK", "1000"))
    spec = loads_model((ROOT / "scoring" / "model_library" / "b2b-saas.yaml").read_text())
    now = datetime(2026, 6, 1, tzinfo=UTC)
    facts = synthetic_leads(count, now, random.Random(7))
    leads, activities = facts_frames(
        [spec],
        [(i, lead) for i, (lead, _acts) in enumerate(facts)],
        ((i, act) for i, (_lead, acts) in enumerate(facts) for act in acts),
    )
    moments = moments_at(leads.get_column("lead_id"), now)
    evaluate(spec, leads.head(100), activities.head(1000), moments.head(100), "Europe/Berlin")
    started = time.perf_counter()
    scores = evaluate(spec, leads, activities, moments, "Europe/Berlin")
    seconds = time.perf_counter() - started
    assert scores.totals.height == count
    started = time.perf_counter()
    for low in range(0, count, chunk):
        part = (pl.col("lead_id") >= low) & (pl.col("lead_id") < low + chunk)
        evaluate(spec, leads.filter(part), activities.filter(part), moments.filter(part),
                 "Europe/Berlin")  # fmt: skip
    chunked = time.perf_counter() - started
    print(f"engine_leads={count}")
    print(f"engine_activities={activities.height}")
    print(f"engine_threads={pl.thread_pool_size()}")
    print(f"engine_seconds={seconds:.3f}")
    print(f"engine_leads_per_s={count / seconds:.0f}")
    print(f"engine_chunk_leads={chunk}")
    print(f"engine_chunked_leads_per_s={count / chunked:.0f}", flush=True)
    if os.environ.get("BENCH_PIPELINE", "1") != "0":
        from benchmarks import pipeline

        pipeline.main()
    if os.environ.get("BENCH_WHATIF", "1") != "0":
        # Its own process and database: Django is set up once per process.
        subprocess.run([sys.executable, "-m", "benchmarks.whatif"], check=True, cwd=ROOT)  # noqa: S603
    if os.environ.get("BENCH_LEARNING", "1") != "0":
        subprocess.run([sys.executable, "-m", "benchmarks.learning"], check=True, cwd=ROOT)  # noqa: S603


if __name__ == "__main__":
    main()
