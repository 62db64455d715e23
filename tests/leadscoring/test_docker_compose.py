"""docker-compose.yml cannot run here (no Docker engine), so check it agrees with the settings."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS_SOURCE = (ROOT / "leadscoring" / "settings.py").read_text()
ENV_READ_BY_SETTINGS = set(re.findall(r'(?:env\.\w+|_bool)\(\s*"([A-Z_]+)"', SETTINGS_SOURCE))


def test_full_stack_services_are_defined():
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(COMPOSE["services"])


def test_every_app_service_sets_the_variables_settings_need():
    for name in ("web", "worker", "beat"):
        env = COMPOSE["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert env["REDIS_URL"].startswith("redis://"), name
        assert "SECRET_KEY" in env and env["DEBUG"] == "false", name


def test_compose_sets_only_variables_that_settings_read():
    for name in ("web", "worker", "beat"):
        unknown = set(COMPOSE["services"][name]["environment"]) - ENV_READ_BY_SETTINGS
        assert not unknown, f"{name} sets variables settings never read: {unknown}"


def test_database_and_broker_point_at_their_services():
    env = COMPOSE["services"]["web"]["environment"]
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert COMPOSE["services"]["postgres"]["environment"]["POSTGRES_DB"] in env["DATABASE_URL"]


def test_worker_consumes_both_queues_and_beat_runs_the_schedule():
    assert "-Q default,bulk" in COMPOSE["services"]["worker"]["command"]
    assert "beat" in COMPOSE["services"]["beat"]["command"]
