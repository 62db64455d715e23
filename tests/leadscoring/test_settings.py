"""Settings come from the environment; bad values fail at start with one clear message."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# Not passed on to the subprocesses: the caller of each sets what it tests (the suite sets DEBUG,
# the browser tests DJANGO_ALLOW_ASYNC_UNSAFE, which the deploy check refuses, the run its prefix).
_NOT_PASSED_ON = {
    "DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "NUM_PROXIES",
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_KEY_PREFIX",
}  # fmt: skip
# Production settings: DEBUG off and a real key (fresh each run; check --deploy wants 50+ chars).
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(64)}


def _manage(*args: str, clean: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    """manage.py in a subprocess: settings are read once, at start. `clean` passes no environment
    at all but PATH (what a fresh shell on a server has of ours: nothing)."""
    if clean:
        base = {"PATH": os.environ.get("PATH", "")}
    else:
        base = {k: v for k, v in os.environ.items() if k not in _NOT_PASSED_ON}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _check(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check` in development (DEBUG on) unless `env` says otherwise."""
    return _manage("check", **{"DEBUG": "true", **env})


def _settings(*names: str, clean: bool = False, **env: str) -> dict:
    """The named settings, as a process started with `env` has them."""
    code = "import json; from django.conf import settings as s; "
    code += f"print(json.dumps({{name: getattr(s, name) for name in {names!r}}}))"
    result = _manage("shell", "-c", code, clean=clean, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _dotenv_sets_debug() -> bool:
    dotenv = ROOT / ".env"
    return dotenv.exists() and any(
        line.strip().startswith("DEBUG") for line in dotenv.read_text().splitlines()
    )


def test_development_needs_only_debug():
    result = _check(DEBUG="true")
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(_dotenv_sets_debug(), reason="this checkout's .env sets DEBUG")
def test_debug_is_off_unless_set():
    # Nothing set at all: production settings, which refuse the development key.
    result = _manage("check", clean=True)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr.strip().splitlines()[-1]
    # A key and still no DEBUG: up, with DEBUG off.
    got = _settings("DEBUG", clean=True, SECRET_KEY=PRODUCTION["SECRET_KEY"])
    assert got == {"DEBUG": False}


def test_production_settings_pass_the_deploy_check():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, ALLOWED_HOSTS="example.com"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_defaults_are_https_only():
    got = _settings(
        "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY",
        "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "REST_FRAMEWORK", **PRODUCTION,
    )  # fmt: skip
    assert got.pop("REST_FRAMEWORK")["NUM_PROXIES"] == 0  # X-Forwarded-For is not believed
    assert got == {
        "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True, "CSRF_COOKIE_HTTPONLY": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True, "X_FRAME_OPTIONS": "DENY",
    }  # fmt: skip


def test_https_settings_follow_the_environment():
    env = {"SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "3600", "NUM_PROXIES": "2",
           "SECURE_HSTS_INCLUDE_SUBDOMAINS": "no", "SECURE_HSTS_PRELOAD": "off"}  # fmt: skip
    got = _settings(
        "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD", "NUM_PROXIES", **PRODUCTION, **env,
    )  # fmt: skip
    assert got == {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 3600, "NUM_PROXIES": 2,
                   "SECURE_HSTS_INCLUDE_SUBDOMAINS": False, "SECURE_HSTS_PRELOAD": False}  # fmt: skip


def test_plain_http_cookies_mean_no_redirect_to_https():
    # As the benchmark serves gunicorn: production settings on plain HTTP.
    got = _settings("SECURE_SSL_REDIRECT", SESSION_COOKIE_SECURE="false", **PRODUCTION)
    assert got == {"SECURE_SSL_REDIRECT": False}


def test_development_sends_no_https_only_settings():
    got = _settings("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE",
                    DEBUG="true")  # fmt: skip
    assert got == {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0,
                   "SESSION_COOKIE_SECURE": False}  # fmt: skip


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL must be a postgres:// URL"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432"}, "DATABASE_URL names no database"),
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must start with redis://"),
        ({"DEBUG": "off"}, "SECRET_KEY must be set"),
        ({"DEBUG": "perhaps"}, "DEBUG must be one of"),
        ({"NUM_PROXIES": "-1"}, "NUM_PROXIES must be 0"),
    ],
)
def test_bad_configuration_fails_with_one_clear_message(env, fragment):
    result = _check(**env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: Bad configuration:")
    assert fragment in last_line


def test_postgres_url_selects_psycopg_backend(monkeypatch):
    import environ

    config = environ.Env.db_url_config("postgres://postgres@127.0.0.1:5432/leadscoring")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "leadscoring"
