"""Web latency and export throughput, measured against a real WSGI server (gunicorn).

`main()` measures the pages on the database the pipeline benchmark generated (1M leads by
default), signed in as a user of the sales and admin roles. The parts can be used on their own:

    with serve("postgres://postgres@127.0.0.1:5432/bench", port=8765, workers=2) as base_url:
        p95 = measure(base_url, "marketing", "demo-marketing",
                      {"queue": "/queue/", "dashboard": "/reports/"}, users=20, seconds=20)
        rows, rows_per_s = export_rows_per_s(base_url, "marketing", "demo-marketing",
                                       "/reports/exports/leads.csv")
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# The export figure is taken over at least this many rows (the activity log has enough).
EXPORT_ROWS = 1_000_000
_CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


class BenchmarkError(RuntimeError):
    """The measurement is not valid: the server refused a sign-in or answered with an error."""


def signed_in_session(base_url: str, username: str, password: str) -> requests.Session:
    """A browser-like session (cookies, CSRF token) signed in through the login form."""
    session = requests.Session()
    page = session.get(f"{base_url}/login/", timeout=30)
    token = _CSRF_FIELD.search(page.content)
    if page.status_code != 200 or not token:
        raise BenchmarkError(f"GET /login/ answered {page.status_code} without a login form")
    answer = session.post(
        f"{base_url}/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token.group(1).decode(),
        },
        headers={"Referer": f"{base_url}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise BenchmarkError(f"signing in as {username!r} failed ({answer.status_code})")
    return session


def p95(samples: list[float]) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


def measure(
    base_url: str,
    username: str,
    password: str,
    paths: dict[str, str | list[str]],
    users: int = 20,
    seconds: float = 20,
    think: tuple[float, float] = (0.0, 0.0),
    served: list[int] | None = None,
) -> dict[str, float]:
    """p95 response time in ms per named path, with `users` signed-in users working at once.

    Each simulated user has its own session and cycles through the names (starting at a
    different one) until `seconds` have passed and it has requested every name at least once;
    a name with several paths (say, different leads' pages) takes the next of them each time.
    Between two pages a user reads for a random time within `think` seconds (none by default:
    every user fires the next request at once). Any answer other than 200 makes the whole
    measurement invalid. `served`, when given, receives the number of answers.
    """
    base_url = base_url.rstrip("/")
    choices = {name: [p] if isinstance(p, str) else list(p) for name, p in paths.items()}
    sessions = [signed_in_session(base_url, username, password) for _ in range(users)]
    names = list(paths)
    timings: dict[str, list[float]] = {name: [] for name in names}
    errors: list[str] = []
    lock = threading.Lock()
    start_together = threading.Barrier(users)

    def user(index: int, session: requests.Session) -> None:
        reading = random.Random(index)
        start_together.wait()
        deadline = time.perf_counter() + seconds
        # Users who read arrive spread over one reading time, not all in the same millisecond.
        time.sleep(reading.uniform(0, think[1]))
        done = 0
        while not errors and (time.perf_counter() < deadline or done < len(names)):
            if done:
                time.sleep(reading.uniform(*think))
            name = names[(index + done) % len(names)]
            path = choices[name][(index + done // len(names)) % len(choices[name])]
            began = time.perf_counter()
            try:
                response = session.get(base_url + path, timeout=60)
            except requests.RequestException as error:
                with lock:
                    errors.append(f"{name} {path}: {error}")
                return
            elapsed_ms = (time.perf_counter() - began) * 1000
            with lock:
                if response.status_code != 200:
                    errors.append(f"{name} {path}: {response.status_code}")
                timings[name].append(elapsed_ms)
            done += 1

    threads = [
        threading.Thread(target=user, args=(i, session), daemon=True)
        for i, session in enumerate(sessions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for session in sessions:
        session.close()
    if errors:
        raise BenchmarkError("; ".join(sorted(set(errors))[:5]))
    if served is not None:
        served.append(sum(len(samples) for samples in timings.values()))
    return {name: round(p95(samples), 1) for name, samples in timings.items()}


def export_rows_per_s(base_url: str, username: str, password: str, path: str) -> tuple[int, float]:
    """Data rows of a streamed CSV export, and rows per second from the request to the last
    byte."""
    session = signed_in_session(base_url.rstrip("/"), username, password)
    began = time.perf_counter()
    with session.get(base_url.rstrip("/") + path, stream=True, timeout=600) as response:
        if response.status_code != 200:
            raise BenchmarkError(f"{path}: {response.status_code}")
        response.raw.decode_content = True
        text = io.TextIOWrapper(response.raw, encoding="utf-8", newline="")
        rows = sum(1 for _row in csv.reader(text)) - 1  # minus the header
    seconds = time.perf_counter() - began
    session.close()
    return rows, rows / seconds if seconds else 0.0


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2, allow_redirects=False).status_code < 500
    except requests.RequestException:
        return False


@contextmanager
def serve(
    database_url: str,
    port: int,
    workers: int = 2,
    *,
    threads: int = 4,
    redis_url: str = "",
    startup_seconds: float = 30,
) -> Iterator[str]:
    """Run gunicorn with leadscoring.wsgi on 127.0.0.1:`port` until the block ends.

    Production-like: DEBUG off (static files collected first), a throwaway SECRET_KEY, plain
    HTTP cookies so the benchmark can sign in. Yields the base URL once the server answers.
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn
        [
            sys.executable, "-m", "gunicorn", "leadscoring.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads),
            # Clients that pause between pages keep their connection, as behind a proxy.
            "--keep-alive", "75", "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while not _answers(f"{base_url}/login/"):
            if server.poll() is not None:
                raise BenchmarkError(f"gunicorn exited with {server.returncode}")
            if time.monotonic() > deadline:
                raise BenchmarkError(f"gunicorn did not answer within {startup_seconds} s")
            time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def bench_user() -> tuple[str, str]:
    """A user who may work the queue, see the dashboards and export; a fresh password each run."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from scoring.roles import ADMIN, SALES

    password = secrets.token_urlsafe(16)
    user, _ = get_user_model().objects.get_or_create(username="bench-sales-admin")
    user.set_password(password)
    user.save()
    user.groups.set(Group.objects.filter(name__in=[SALES, ADMIN]))
    return user.get_username(), password


def lead_paths(count: int) -> list[str]:
    """Pages of leads with handoffs, spread over the id range (each has scores and history)."""
    from scoring.models import Handoff

    ids = list(Handoff.objects.order_by("pk").values_list("lead_id", flat=True)[: count * 500])
    return [f"/leads/{lead_id}/" for lead_id in ids[:: max(1, len(ids) // count)][:count]]


def _latest_days_holding(rows: int, *, oldest: date) -> date:
    """The first day of the shortest range up to today holding at least `rows` activities
    (`oldest` when even the longest range holds fewer)."""
    from django.utils import timezone

    from scoring.models import Activity

    nth = Activity.objects.order_by("-occurred_at").values_list("occurred_at", flat=True)
    found = nth[rows - 1 : rows].first()
    return max(oldest, timezone.localdate(found)) if found else oldest


def _think_range(text: str) -> tuple[float, float]:
    """ "1-3" -> (1.0, 3.0); "2" -> (2.0, 2.0); "0" -> no reading time."""
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main(database_url: str, redis_url: str) -> None:
    """queue_p95_ms, lead_page_p95_ms, dashboard_p95_ms, leads_list_p95_ms, lead_search_p95_ms
    and the export figures on the generated data; Django must already be set up against
    `database_url`."""
    from reports.forms import MAX_DAYS
    from reports.selectors import dashboard_refresh, default_filters

    users = int(os.environ.get("BENCH_WEB_USERS", "20"))
    seconds = float(os.environ.get("BENCH_WEB_SECONDS", "30"))
    # People read a page before the next click: 1 to 3 s, as in common load-test setups.
    # "0" makes every user fire the next request at once (a stress test, not users).
    think = _think_range(os.environ.get("BENCH_WEB_THINK_SECONDS", "1-3"))
    port = int(os.environ.get("BENCH_WEB_PORT", "8765"))
    from django.db import connection
    from django.utils import timezone

    username, password = bench_user()
    # Statistics as autovacuum would have them a little after the bulk writes of the pipeline
    # benchmark; without them the planner misjudges the fresh tables badly.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # The dashboards are computed ahead by beat (reports.tasks); the first visitor after a
    # change would wait this long.
    started = time.perf_counter()
    for filters in default_filters():
        dashboard_refresh(filters=filters)
    print(f"dashboard_compute_seconds={time.perf_counter() - started:.1f}", flush=True)
    paths: dict[str, str | list[str]] = {
        "queue": "/queue/",
        "lead_page": lead_paths(50),
        "dashboard": "/reports/",
        "leads_list": ["/leads/", "/leads/?sort=newest", "/leads/?band=hot&page=3"],
        # A name, part of an e-mail address, a company: as people type them.
        "lead_search": ["/leads/?q=Muster4711", "/leads/?q=lead123%40bench", "/leads/?q=Firma+77"],
    }
    with serve(database_url, port, workers=4, threads=2, redis_url=redis_url) as base_url:
        served: list[int] = []
        began = time.perf_counter()
        figures = measure(
            base_url, username, password, paths,
            users=users, seconds=seconds, think=think, served=served,
        )  # fmt: skip
        print(f"web_users={users}")
        print(f"web_think_seconds={think[0]:g}-{think[1]:g}")
        print(f"web_requests_per_s={served[0] / (time.perf_counter() - began):.1f}")
        for name, value in figures.items():
            print(f"{name}_p95_ms={value:.0f}", flush=True)
        # Every lead score: the generated leads were created within the longest range allowed.
        today = timezone.localdate()
        since = today - timedelta(days=MAX_DAYS - 1)
        export = f"/reports/exports/leads.csv?date_from={since}&date_to={today}"
        rows, rate = export_rows_per_s(base_url, username, password, export)
        print(f"export_lead_scores_rows={rows}")
        print(f"export_lead_scores_rows_per_s={rate:.0f}", flush=True)
        # The activity log over the latest days that hold EXPORT_ROWS activities (or all).
        since = _latest_days_holding(EXPORT_ROWS, oldest=since)
        export = f"/reports/exports/activities.csv?date_from={since}&date_to={today}"
        rows, rate = export_rows_per_s(base_url, username, password, export)
        print(f"export_rows={rows}")
        print(f"export_rows_per_s={rate:.0f}", flush=True)
