"""Settings come from the environment; bad values fail at start with one clear message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_need_no_environment():
    result = _check()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL must be a postgres:// URL"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432"}, "DATABASE_URL names no database"),
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must start with redis://"),
        ({"DEBUG": "off"}, "SECRET_KEY must be set"),
        ({"DEBUG": "perhaps"}, "DEBUG must be one of"),
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
