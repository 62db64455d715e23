"""The engine's properties hold on both databases: where the suite runs on PostgreSQL (CI), the
tests of what the databases give the engine and of what is stored run once more on SQLite, the
embedded default, in a pytest of their own (settings are read once per process)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ON_SQLITE_TOO = [
    "tests/scoring/test_frames.py",
    "tests/scoring/test_bulk_differential.py",
    "tests/scoring/test_articles.py",
    "tests/scoring/test_unscorable_rescore.py",
    "tests/scoring/test_unscorable_verify.py",
]


@pytest.mark.postgres
def test_the_engine_tests_pass_on_sqlite_too():
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "REQUIRE_SERVICES", "PYTEST_ADDOPTS")
        and not name.startswith("PYTEST_")
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ON_SQLITE_TOO],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
