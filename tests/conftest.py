"""Shared fixtures: a cast of users per role, and gating for tests that need real services.

Tests marked `postgres`, `redis` or `worker` need DATABASE_URL / REDIS_URL. Without them (plain
`make test` on a laptop) they are skipped with a reason; CI sets REQUIRE_SERVICES=1, which turns a
missing service into a failure so those tests can never silently stop running.
"""

import os
import time

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from hypothesis import settings as hypothesis_settings

from scoring.roles import ADMIN, MARKETING, SALES

# Property tests check results, not speed: a per-example deadline only fails on a busy machine.
hypothesis_settings.register_profile("project", deadline=None)
hypothesis_settings.load_profile("project")


def _has_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def _has_redis() -> bool:
    return bool(settings.REDIS_URL)


def _isolate_this_run() -> None:
    """Test runs side by side on one machine (two checkouts, or a run under a moved clock) share
    neither a test database nor the broker's queues and the cache: each run names its own, and
    the live workers it starts inherit the names."""
    run = str(os.getpid())
    if _has_postgres():
        db = settings.DATABASES["default"]
        db.setdefault("TEST", {})["NAME"] = f"test_{db['NAME']}_{run}"
    if _has_redis() and not settings.REDIS_KEY_PREFIX:
        prefix = f"test{run}:"
        settings.REDIS_KEY_PREFIX = prefix
        settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = prefix
        settings.CACHES["default"]["KEY_PREFIX"] = prefix
        os.environ["REDIS_KEY_PREFIX"] = prefix


_isolate_this_run()

# TEST_CLOCK_AHEAD_DAYS=365 runs the whole suite, and the live workers it starts, with the clock
# that many days ahead (a test marked `clock` still travels to its own date): no test may pass
# only on the day it was written. Chromium and the database keep their own clocks; the
# application passes its time to both.
CLOCK_AHEAD_DAYS = int(os.environ.get("TEST_CLOCK_AHEAD_DAYS") or 0)
_clock_ahead: list[time_machine.travel] = []


def pytest_configure(config: pytest.Config) -> None:
    if CLOCK_AHEAD_DAYS:
        # A timestamp taken now, not a naive datetime (read in the local time zone, which
        # Django's settings change): the live workers move theirs the same way when they start.
        _clock_ahead.append(time_machine.travel(time.time() + CLOCK_AHEAD_DAYS * 86400))
        _clock_ahead[0].start()
        time.time()  # a ticking travel starts to tick at the first reading: now, as the workers'


def pytest_unconfigure(config: pytest.Config) -> None:
    for travel in _clock_ahead:
        travel.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"clock moved {CLOCK_AHEAD_DAYS} days ahead" if CLOCK_AHEAD_DAYS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = []
    if not _has_postgres():
        missing.append(("postgres", "DATABASE_URL is not a PostgreSQL URL"))
    if not _has_redis():
        missing.append(("redis", "REDIS_URL is not set"))
        missing.append(("worker", "REDIS_URL is not set (a live worker needs a broker)"))
    if not _has_postgres():
        missing.append(("worker", "a live worker needs PostgreSQL (DATABASE_URL)"))
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    for item in items:
        for marker, reason in missing:
            if marker in item.keywords:
                if required:
                    raise pytest.UsageError(f"REQUIRE_SERVICES=1 but {reason} ({item.nodeid})")
                item.add_marker(pytest.mark.skip(reason=reason))
                break


# As the demo users (scoring.demo): only the admin is staff.
def _user(django_user_model, username: str, role: str | None, **extra):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(
        username=username, password="pw-" + username, email=f"{username}@example.test", **extra
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def marketing_user(django_user_model):  # type: ignore[no-untyped-def]
    return _user(django_user_model, "mia", MARKETING)


@pytest.fixture
def sales_user(django_user_model):  # type: ignore[no-untyped-def]
    return _user(django_user_model, "sam", SALES)


@pytest.fixture
def admin_user_role(django_user_model):  # type: ignore[no-untyped-def]
    return _user(django_user_model, "ada", ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(django_user_model):  # type: ignore[no-untyped-def]
    return _user(django_user_model, "otto", None)


@pytest.fixture(autouse=True)
def _clock(request):  # type: ignore[no-untyped-def]
    """A test marked `clock(at)` runs with the clock at `at`, ticking on: data fixed at a date
    and the code that reads the time then agree, whatever day the suite runs on."""
    marker = request.node.get_closest_marker("clock")
    if marker is None:
        yield
        return
    if "live_worker" in request.fixturenames:
        raise pytest.UsageError("a live worker reads its own clock; give its test real times")
    with time_machine.travel(marker.args[0], tick=True):
        yield


@pytest.fixture(autouse=True)
def _tasks_inline_without_worker(request):  # type: ignore[no-untyped-def]
    """Tasks run in the test's own process, as with no REDIS_URL, unless a live worker is used.

    So a test behaves the same on a laptop and in CI; only `live_worker` tests go through Redis.
    """
    from leadscoring.celery import app
    from scoring.ingest import flush_flag_clear

    # The app reads Django settings under the CELERY_ namespace, so the key carries it too.
    before = app.conf.CELERY_TASK_ALWAYS_EAGER
    app.conf.CELERY_TASK_ALWAYS_EAGER = "live_worker" not in request.fixturenames
    flush_flag_clear()
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER = before
