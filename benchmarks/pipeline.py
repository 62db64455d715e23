"""The rescoring pipeline at scale, on PostgreSQL with live Celery workers.

Generates its own data in a scratch database (BENCH_LEADS leads, default 1,000,000, and
BENCH_ACTIVITIES activities, default 10,000,000, skewed: a few leads have many activities, most
have a few, recent ones more often than old ones, their kinds as often as in the demo data: about
half are visits, one in a hundred a demo or trial request), then measures:

- rescore_full_seconds: publish of the shipped B2B model -> every score stored, by the workers
  (then VACUUM ANALYZE, untimed, so the figures below see the tables in their steady state);
  last, rescore_full_seconds_one_worker: the same publish again with a single worker process,
  and rescore_workers_speedup, the ratio of the two;
- roofline_seconds: one hand-written SQL statement computing the same model's totals into a
  scratch table (the physical limit of this database for that model), and rescore_ratio;
- worker_peak_rss_mib: the largest peak resident size of any worker process;
- event_to_score_p95_ms: activities posted at 1,000/s for BENCH_EVENT_SECONDS (default 30) through
  the ingestion path, time until each lead's stored score reflects its activity;
- ingest_events_per_s: activities stored per second through that path, in batches of 1,000.

Then, on the same data, the pages (benchmarks/web.py; BENCH_WEB=0 skips them): queue, lead page
and dashboard p95 with BENCH_WEB_USERS (default 20) signed-in users working at once, each reading
a page for BENCH_WEB_THINK_SECONDS (default 1-3) before the next, and the rows per second of the
full CSV export of lead scores.

Settings: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/leadscoring_bench, dropped
and recreated), BENCH_REDIS_URL (default redis://127.0.0.1:6379/5, flushed), BENCH_WORKERS (worker
processes, default the number of cores).
"""

import contextlib
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _figure(name: str, value: float | int | str) -> None:
    print(f"{name}={value}", flush=True)


def _database_prepare(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _timed(label: str, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"# {label}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds


# --- data ----------------------------------------------------------------------------------------

_ACCOUNTS_SQL = """
INSERT INTO scoring_account (name, domain, industry, employee_count, country,
    is_target_account, is_competitor, attributes, created_at, updated_at)
SELECT 'Firma ' || i || ' GmbH', 'firma' || i || '.example', (ARRAY['software', 'retail',
    'manufacturing', 'finance'])[1 + i %% 4],
    (ARRAY[8, 15, 45, 120, 180, 600, 2500])[1 + (i * 13) %% 7],
    (ARRAY['DE', 'NL', 'AT', 'CH'])[1 + i %% 4], random() < 0.1, random() < 0.01, '{}', now(), now()
FROM generate_series(1, %(accounts)s) AS i
"""
_LEADS_SQL = """
INSERT INTO scoring_lead (email, first_name, last_name, job_title, seniority, phone, country,
    source, lifecycle_stage, unsubscribed, email_invalid, attributes, account_id,
    created_at, updated_at)
SELECT 'lead' || i || '@bench.example', 'Alex', 'Muster' || i,
    (ARRAY['CTO', 'Head of Marketing', 'Einkauf', 'Werkstudent', 'Student', 'Engineer'])
        [1 + i %% 6],
    (ARRAY['executive', 'director', 'manager', 'professional', 'student'])[1 + (i * 3) %% 5], '',
    'DE', (ARRAY['website', 'event', 'import', 'partner'])[1 + i %% 4],
    CASE WHEN i %% 50 = 0 THEN 'customer' ELSE 'lead' END, random() < 0.03, random() < 0.02, '{}',
    CASE WHEN i %% 5 = 0 THEN NULL
         ELSE (SELECT min(id) FROM scoring_account) + i %% %(accounts)s END,
    now() - random() * interval '730 days', now()
FROM generate_series(1, %(leads)s) AS i
"""
# Lead ids follow a power law (a few leads carry many activities), scattered over the id range
# by a multiplicative permutation; times lean towards the recent past; kinds come in the B2B mix
# of the demo data (%(kinds)s: a thousand slots, each kind in proportion to its weight).
_ACTIVITIES_SQL = """
INSERT INTO scoring_activity (lead_id, kind, occurred_at, channel, properties, source, created_at)
SELECT %(first)s + ((floor(%(leads)s * power(random(), 1.6))::bigint * 7919) %% %(leads)s),
    k.kind, now() - power(random(), 2) * interval '365 days',
    CASE WHEN k.kind LIKE 'email%%' OR k.kind = 'newsletter_signup' THEN 'email' ELSE 'web' END,
    CASE WHEN k.kind = 'page_view' THEN jsonb_build_object('url', (ARRAY['/', '/pricing',
        '/features', '/blog/scoring', '/jobs/developer', '/products/suite', '/pricing/enterprise',
        '/contact'])[1 + floor(random() * 8)::int]) ELSE '{}'::jsonb END,
    'bench', now()
FROM generate_series(1, %(activities)s) AS i
CROSS JOIN LATERAL (SELECT (%(kinds)s::text[])[1 + floor(random() * cardinality(%(kinds)s::text[])
    + i * 0)::int] AS kind) AS k
"""


def kind_slots(slots: int = 1000) -> list[str]:
    """The demo's B2B activity mix as `slots` kinds, each repeated in proportion to its weight."""
    from scoring.demo import ACTIVITY_MIX, WEBINAR_ATTENDANCE

    weights = {kind: b2b for kind, (b2b, _b2c) in ACTIVITY_MIX.items() if b2b}
    weights["webinar_attended"] = weights["webinar_registered"] * WEBINAR_ATTENDANCE
    total = sum(weights.values())
    return [kind for kind, weight in weights.items() for _ in range(round(slots * weight / total))]


def _without_indexes(cursor, table: str, fill: Callable[[], None]) -> None:  # type: ignore[no-untyped-def]
    """Fill a table with its plain indexes dropped (not those behind constraints), then build
    them once."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "WHERE t.relname = %s AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
        [table],
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    fill()
    for _, definition in indexes:
        cursor.execute(definition)


def data_generate(leads: int, activities: int) -> None:
    """Fill the scratch database set-based: foreign-key triggers off (the generated rows are
    consistent by construction) and indexes built after the rows."""
    from django.db import DatabaseError, connection

    accounts = max(1, leads // 20)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(_ACCOUNTS_SQL, {"accounts": accounts})
        _without_indexes(
            cursor,
            "scoring_lead",
            lambda: cursor.execute(_LEADS_SQL, {"accounts": accounts, "leads": leads}),
        )
        cursor.execute("SELECT min(id) FROM scoring_lead")
        first = cursor.fetchone()[0]
        params = {"first": first, "leads": leads, "activities": activities, "kinds": kind_slots()}
        _without_indexes(
            cursor, "scoring_activity", lambda: cursor.execute(_ACTIVITIES_SQL, params)
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("VACUUM ANALYZE")
        # The loader's gigabytes written out now, not while the publish is timed (a checkpoint
        # needs a superuser or pg_checkpoint; without either the publish pays for them).
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")


def _vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- workers -------------------------------------------------------------------------------------


def _process_tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids += _process_tree(int(child))
    return pids


def _peak_rss_mib(pid: int) -> float:
    peak = 0
    for each in _process_tree(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def worker_start(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    from leadscoring.celery import app

    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "celery", "-A", "leadscoring", "worker", "-Q", "default,bulk",
         f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
         "--loglevel=WARNING", "-n", f"bench-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not start")
    return worker


# --- measurements --------------------------------------------------------------------------------


def rescore_full(description: str = "") -> tuple[float, int]:
    """Publish the B2B model (with this description: a new version, the same scores) and wait
    until its run has stored every score."""
    from scoring.definition import dump_model, loads_model
    from scoring.models import RescoreRun
    from scoring.services import scoring_model_load

    spec = loads_model((ROOT / "scoring" / "model_library" / "b2b-saas.yaml").read_text())
    data = dump_model(spec) | ({"description": description} if description else {})
    started = time.perf_counter()
    model, version = scoring_model_load(data=data, note="benchmark")
    while True:
        run = RescoreRun.objects.filter(version=version).first()
        if run is not None and run.status != RescoreRun.Status.RUNNING:
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if run.status != RescoreRun.Status.DONE:
        raise RuntimeError(f"rescore run ended {run.status} ({run.failed} leads failed)")
    return seconds, model.pk


# The b2b-saas model by hand: one statement, totals only (no explanations), into a scratch table.
ROOFLINE_SQL = """
CREATE UNLOGGED TABLE roofline AS
WITH now_ AS (SELECT now() AS t),
acts AS (
    SELECT a.lead_id, a.kind, a.properties ->> 'url' AS url,
           extract(epoch FROM (SELECT t FROM now_) - a.occurred_at) / 86400.0 AS age
    FROM scoring_activity a WHERE a.occurred_at <= (SELECT t FROM now_)
),
views AS (
    SELECT lead_id, age, count(*) OVER (PARTITION BY lead_id ORDER BY age
        RANGE BETWEEN CURRENT ROW AND 7 FOLLOWING) AS in_week
    FROM acts WHERE kind = 'page_view' AND age < 30
),
burst AS (SELECT lead_id, max(in_week) AS best FROM views GROUP BY lead_id),
per_lead AS (
    SELECT lead_id,
        round(least(count(*) FILTER (WHERE kind = 'page_view' AND age < 90), 30)::numeric, 2)
        + CASE WHEN bool_or(kind = 'page_view' AND url LIKE '/pricing%%' AND age < 30)
               THEN 10 ELSE 0 END
        + CASE WHEN bool_or(kind = 'page_view' AND url LIKE '%%/jobs%%') THEN -10 ELSE 0 END
        + CASE WHEN bool_or(kind = 'newsletter_signup') THEN 20 ELSE 0 END
        + round(least(coalesce(sum(10 * power(0.5, age / 60))
              FILTER (WHERE kind = 'content_download'), 0), 30)::numeric, 2)
        + coalesce(round((50 * power(0.5, min(age) FILTER (WHERE kind IN ('webinar_attended',
              'event_attended')) / 90))::numeric, 2), 0)
        + CASE WHEN bool_or(kind IN ('demo_request', 'trial_signup')) THEN 100 ELSE 0 END
        AS engagement,
        min(age) AS newest_age
    FROM acts GROUP BY lead_id
)
SELECT l.id AS lead_id,
    CASE WHEN ac.is_target_account THEN 20 ELSE 0 END
    + CASE WHEN ac.employee_count BETWEEN 100 AND 200 THEN 100 ELSE 0 END
    + CASE WHEN ac.employee_count <= 19 THEN 10 ELSE 0 END
    + CASE WHEN l.seniority IN ('executive', 'director') THEN 15 ELSE 0 END
    + CASE WHEN strpos(lower(l.job_title), 'student') > 0 THEN -30 ELSE 0 END
    + CASE WHEN ac.is_competitor THEN -100 ELSE 0 END
    + CASE WHEN l.email_invalid THEN -50 ELSE 0 END
    + CASE WHEN l.unsubscribed THEN -20 ELSE 0 END
    + coalesce(p.engagement, 0)
    + CASE WHEN coalesce(b.best, 0) >= 4 THEN 15 ELSE 0 END
    + CASE WHEN least(coalesce(p.newest_age, 1e9), extract(epoch FROM (SELECT t FROM now_)
          - l.created_at) / 86400.0) >= 90 THEN -20 ELSE 0 END AS total
FROM scoring_lead l
JOIN scoring_account ac ON ac.id = l.account_id AND ac.name <> ''
LEFT JOIN per_lead p ON p.lead_id = l.id
LEFT JOIN burst b ON b.lead_id = l.id
WHERE l.lifecycle_stage NOT IN ('customer', 'disqualified')
"""


def roofline(model_id: int) -> tuple[float, int]:
    """Seconds for the hand-written statement, and how many totals differ from the stored ones
    by more than decay drift (ages differ by the minutes between the two computations, so an
    activity crossing a window's edge meanwhile may still count)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS roofline")
        started = time.perf_counter()
        cursor.execute(ROOFLINE_SQL)
        seconds = time.perf_counter() - started
        # Decayed points drift by a cent now and then in the minutes between the two; a
        # difference beyond that (or a missing row) is a real one.
        cursor.execute(
            "SELECT count(*) FROM roofline r FULL JOIN (SELECT lead_id, total FROM "
            "scoring_leadscore WHERE scoring_model_id = %s) s USING (lead_id) "
            "WHERE r.total IS NULL OR s.total IS NULL OR abs(r.total - s.total) > 0.02",
            [model_id],
        )
        differing = cursor.fetchone()[0]
        cursor.execute("DROP TABLE roofline")
    return seconds, differing


def _audience_leads(sample: int) -> list[int]:
    from scoring.models import LeadScore

    ids = list(LeadScore.objects.values_list("lead_id", flat=True)[: sample * 20])
    return random.Random(3).sample(ids, min(sample, len(ids)))


def event_to_score(model_id: int, seconds: float, rate: int = 1000) -> tuple[float, int, int]:
    """Post activities at `rate`/s in batches every 10 ms; a second thread polls the stored
    scores and notes when each lead's computed_at passes the time its activity was posted."""
    from django.db import connection
    from django.utils import timezone

    from scoring.ingest import activities_ingest

    leads = _audience_leads(int(rate * seconds))
    posted: dict[int, float] = {}  # lead id -> wall time its activity was posted
    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    def poll() -> None:
        try:
            while True:
                with lock:
                    waiting = dict(posted)
                if not waiting and done.is_set():
                    return
                if waiting:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT lead_id, extract(epoch FROM computed_at) FROM "
                            "scoring_leadscore WHERE scoring_model_id = %s AND lead_id = ANY(%s)",
                            [model_id, list(waiting)],
                        )
                        seen_at = time.time()
                        for lead_id, computed in cursor.fetchall():
                            if float(computed) >= waiting[lead_id]:
                                latencies.append(seen_at - waiting[lead_id])
                                with lock:
                                    posted.pop(lead_id, None)
                time.sleep(0.02)
        finally:
            connection.close()

    poller = threading.Thread(target=poll)
    poller.start()
    batch = max(1, rate // 100)
    started = time.monotonic()
    for i in range(0, len(leads), batch):
        due = started + i / rate
        time.sleep(max(0.0, due - time.monotonic()))
        items = [
            {"lead_id": lead_id, "kind": "page_view", "properties": {"url": "/pricing"},
             "external_id": f"e2s-{lead_id}"}
            for lead_id in leads[i : i + batch]
        ]  # fmt: skip
        # Timed from the post (the ingest itself included): a flush may start before this
        # thread returns from the commit.
        sent = time.time()
        activities_ingest(items, source="bench", now=timezone.now())
        with lock:
            for item in items:
                posted[item["lead_id"]] = sent
    drain_deadline = time.monotonic() + 60
    while posted and time.monotonic() < drain_deadline:
        time.sleep(0.1)
    done.set()
    with lock:
        missing = len(posted)
        posted.clear()
    poller.join()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else float("nan")
    return p95, len(latencies), missing


def ingest_rate(total: int) -> float:
    from scoring.ingest import activities_ingest

    leads = _audience_leads(5000)
    rng = random.Random(11)
    batches = [
        [{"lead_id": rng.choice(leads), "kind": "email_open", "channel": "email",
          "external_id": f"ing-{b}-{i}", "properties": {"campaign": "november"}}
         for i in range(1000)]
        for b in range(max(1, total // 1000))
    ]  # fmt: skip
    started = time.perf_counter()
    created = sum(activities_ingest(batch, source="bench").created for batch in batches)
    return created / (time.perf_counter() - started)


def main() -> None:
    leads = int(os.environ.get("BENCH_LEADS", "1000000"))
    activities = int(os.environ.get("BENCH_ACTIVITIES", "10000000"))
    database_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/leadscoring_bench"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
    workers = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 2)))
    event_seconds = float(os.environ.get("BENCH_EVENT_SECONDS", "30"))

    _database_prepare(database_url)
    os.environ.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="leadscoring.settings",
    )  # fmt: skip
    # Production-like, as the web part: DEBUG off (no query log), a throwaway key.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(60))
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    redis.Redis.from_url(redis_url).flushdb()
    call_command("migrate", verbosity=0)
    _figure("bench_leads", leads)
    _figure("bench_activities", activities)
    _timed("data generated", lambda: data_generate(leads, activities))
    worker = worker_start({**os.environ}, workers)
    try:
        full, model_id = rescore_full()
        _figure("rescore_full_seconds", f"{full:.1f}")
        # The run wrote a million rows; let the later figures see the tables as autovacuum
        # leaves them before long, not while it is still catching up.
        _timed("vacuum after the rescore", _vacuum_analyze)
        line, differing = roofline(model_id)
        _figure("roofline_seconds", f"{line:.1f}")
        _figure("roofline_totals_differing", differing)
        _figure("rescore_ratio", f"{full / line:.2f}")
        p95, observed, missing = event_to_score(model_id, event_seconds)
        _figure("event_to_score_events", observed)
        _figure("event_to_score_missing", missing)
        rate = ingest_rate(100_000)
        if os.environ.get("BENCH_SOAK", "1") != "0":
            from benchmarks import soak

            soak.main(database_url, redis_url)
        _figure("worker_peak_rss_mib", f"{_peak_rss_mib(worker.pid):.0f}")
        _figure("event_to_score_p95_ms", f"{p95:.0f}")
        _figure("ingest_events_per_s", f"{rate:.0f}")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    # The same publish with one worker process: what adding workers gains.
    worker = worker_start({**os.environ}, 1)
    try:
        one, _model_id = rescore_full(description="The same rules, published again.")
        _figure("rescore_full_seconds_one_worker", f"{one:.1f}")
        _figure("rescore_workers_speedup", f"{one / full:.2f}")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    if os.environ.get("BENCH_WEB", "1") != "0":
        from benchmarks import web

        web.main(database_url, redis_url)


if __name__ == "__main__":
    main()
