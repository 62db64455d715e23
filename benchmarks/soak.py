"""Sustained ingest while people work: does anything fail, and does scoring keep up?

A CRM-like client posts BENCH_SOAK_RATE activities a second (default 1,000, in batches of 100,
from 4 connections) to the bulk API with an ingestion token for BENCH_SOAK_SECONDS (default 300),
while BENCH_SOAK_USERS signed-in users (default 20) browse the queue and lead pages, reading 1 to
3 s between clicks, against a real server (gunicorn) and the running workers. Prints:

- soak_errors: answers other than success, to the client or the users (and refused items);
- soak_events_per_s: activities stored per second over the soak;
- soak_page_p95_ms: the users' page times;
- soak_pending_after_s: how long after the last post until no lead waits to be rescored.

Django must already be set up against the database, and a worker must be running.
"""

from __future__ import annotations

import os
import random
import threading
import time

import requests

from benchmarks import web

BATCH = 100
SENDERS = 4


def _ingest(
    base_url: str, key: str, lead_ids: list[int], rate: int, seconds: float
) -> tuple[int, list[str]]:
    """Post batches at `rate` items a second from SENDERS connections at once, as a CRM sync
    would; the number of items stored and every failure."""
    run = os.urandom(4).hex()  # ids of their own, so that a second run stores its posts too
    results: list[tuple[int, list[str]]] = []
    lock = threading.Lock()

    def send(sender: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        rng = random.Random(sender)
        stored, errors = 0, []
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < seconds:
            due = started + sent * SENDERS / rate
            time.sleep(max(0.0, due - time.monotonic()))
            items = [
                {"lead_id": rng.choice(lead_ids), "kind": rng.choice(["page_view", "email_open"]),
                 "properties": {"url": rng.choice(["/pricing", "/blog/a", "/features"])},
                 "external_id": f"soak-{run}-{sender}-{sent + n}"}
                for n in range(BATCH)
            ]  # fmt: skip
            sent += BATCH
            try:
                response = session.post(
                    f"{base_url}/api/v1/activities/bulk/", json={"activities": items}, timeout=30
                )
            except requests.RequestException as error:
                errors.append(f"post: {error}")
                continue
            if response.status_code >= 300:
                errors.append(f"post: {response.status_code} {response.text[:200]}")
                continue
            answer = response.json()
            stored += answer["created"]
            errors += [f"item: {r}" for r in answer.get("rejected", [])]
        session.close()
        with lock:
            results.append((stored, errors))

    senders = [threading.Thread(target=send, args=(n,)) for n in range(SENDERS)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    return sum(r[0] for r in results), [e for r in results for e in r[1]]


def _pending_drained(timeout: float) -> float:
    """Seconds until no lead waits to be rescored (the timeout when it never happens)."""
    from scoring.models import PendingRescore

    started = time.monotonic()
    while PendingRescore.objects.exists():
        if time.monotonic() - started > timeout:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def main(database_url: str, redis_url: str) -> None:
    from integrations.tokens import ingestion_token_create
    from scoring.models import LeadScore

    rate = int(os.environ.get("BENCH_SOAK_RATE", "1000"))
    seconds = float(os.environ.get("BENCH_SOAK_SECONDS", "300"))
    users = int(os.environ.get("BENCH_SOAK_USERS", "20"))
    port = int(os.environ.get("BENCH_WEB_PORT", "8765")) + 1
    lead_ids = list(LeadScore.objects.values_list("lead_id", flat=True)[:50_000])
    _token, key = ingestion_token_create(name="Soak benchmark", source="soak")
    username, password = web.bench_user()
    paths: dict[str, str | list[str]] = {"queue": "/queue/", "lead_page": web.lead_paths(50)}
    with web.serve(database_url, port, workers=4, threads=2, redis_url=redis_url) as base_url:
        browsing: dict[str, float] = {}
        failures: list[str] = []

        def browse() -> None:
            try:
                browsing.update(web.measure(
                    base_url, username, password, paths,
                    users=users, seconds=seconds, think=(1.0, 3.0),
                ))  # fmt: skip
            except web.BenchmarkError as error:
                failures.append(f"pages: {error}")

        people = threading.Thread(target=browse)
        people.start()
        began = time.monotonic()
        stored, errors = _ingest(base_url, key, lead_ids, rate, seconds)
        elapsed = time.monotonic() - began
        drained = _pending_drained(timeout=600)
        people.join()
    errors += failures
    for error in sorted(set(errors))[:5]:
        print(f"soak_error_example={error}")
    print(f"soak_errors={len(errors)}")
    print(f"soak_events_per_s={stored / elapsed:.0f}")
    if browsing:
        print(f"soak_page_p95_ms={max(browsing.values()):.0f}")
    print(f"soak_pending_after_s={drained:.1f}", flush=True)
