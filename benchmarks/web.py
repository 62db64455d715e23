"""Web latency and export throughput, measured against a real WSGI server (gunicorn).

Used by the benchmarks with their own generated database; nothing here creates data:

    with serve("postgres://postgres@127.0.0.1:5432/bench", port=8765, workers=2) as base_url:
        p95 = measure(base_url, "marketing", "demo-marketing",
                      {"queue": "/queue/", "dashboard": "/reports/"}, users=20, seconds=20)
        rows_per_s = export_rows_per_s(base_url, "marketing", "demo-marketing",
                                       "/reports/exports/leads.csv")
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
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
    paths: dict[str, str],
    users: int = 20,
    seconds: float = 20,
) -> dict[str, float]:
    """p95 response time in ms per named path, with `users` signed-in users requesting at once.

    Each simulated user has its own session and cycles through the paths (starting at a
    different one) until `seconds` have passed and it has requested every path at least once.
    Any answer other than 200 makes the whole measurement invalid.
    """
    base_url = base_url.rstrip("/")
    sessions = [signed_in_session(base_url, username, password) for _ in range(users)]
    names = list(paths)
    timings: dict[str, list[float]] = {name: [] for name in names}
    errors: list[str] = []
    lock = threading.Lock()
    start_together = threading.Barrier(users)

    def user(index: int, session: requests.Session) -> None:
        start_together.wait()
        deadline = time.perf_counter() + seconds
        done = 0
        while not errors and (time.perf_counter() < deadline or done < len(names)):
            name = names[(index + done) % len(names)]
            began = time.perf_counter()
            response = session.get(base_url + paths[name], timeout=60)
            elapsed_ms = (time.perf_counter() - began) * 1000
            with lock:
                if response.status_code != 200:
                    errors.append(f"{name} {paths[name]}: {response.status_code}")
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
    return {name: round(p95(samples), 1) for name, samples in timings.items()}


def export_rows_per_s(base_url: str, username: str, password: str, path: str) -> float:
    """Data rows per second of a streamed CSV export, from the request to its last byte."""
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
    return rows / seconds if seconds else 0.0


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
            "--log-level", "warning",
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
