"""Settings are parsed from the environment with safe defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from learninghub.settings import database_config, email_config, env_bool, env_list

ROOT = Path(__file__).resolve().parents[2]


def settings_in_subprocess(env: dict, expression: str) -> subprocess.CompletedProcess:
    """Import the settings module under ``env`` and print ``expression`` of it."""
    clean_env = {k: v for k, v in os.environ.items() if k not in {
        "DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "ALLOWED_HOSTS", "TIME_ZONE"}}
    clean_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", f"import learninghub.settings as s; print(repr(({expression})))"],
        cwd=ROOT, env=clean_env, capture_output=True, text=True, timeout=60,
    )


def test_sqlite_is_the_default_database(tmp_path):
    config = database_config("", tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == tmp_path / "db.sqlite3"


def test_postgres_url_uses_psycopg_with_a_pool(tmp_path):
    config = database_config("postgres://hub:secret@db.internal:6543/learning", tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"], config["PASSWORD"]) == (
        "db.internal", 6543, "learning", "hub", "secret")
    assert config["OPTIONS"]["pool"]["max_size"] >= 1
    assert config["CONN_MAX_AGE"] == 0
    assert config["CONN_HEALTH_CHECKS"] is True  # the pool checks connections before handing them out


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False),
                                               ("off", False), ("", False)])
def test_env_bool(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", False) is expected


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_email_defaults_to_console_and_parses_smtp():
    assert email_config(None)["EMAIL_BACKEND"].endswith("console.EmailBackend")
    smtp = email_config("smtp://mailer:p%40ss@mail.example:587?tls=1")
    assert smtp["EMAIL_HOST"] == "mail.example"
    assert smtp["EMAIL_PORT"] == 587
    assert smtp["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert smtp["EMAIL_USE_TLS"] is True
    with pytest.raises(ImproperlyConfigured):
        email_config("carrier-pigeon://coop")


def test_secret_key_is_required_without_debug():
    result = settings_in_subprocess({"DEBUG": "0"}, "s.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_gets_a_dev_key_and_local_hosts():
    result = settings_in_subprocess({"DEBUG": "1"}, "s.SECRET_KEY.startswith('django-insecure'), s.ALLOWED_HOSTS")
    assert result.returncode == 0, result.stderr
    assert "True" in result.stdout and "127.0.0.1" in result.stdout


def test_without_redis_tasks_run_in_process_and_cache_is_local():
    result = settings_in_subprocess({"DEBUG": "1"}, "s.CELERY_TASK_ALWAYS_EAGER, s.CACHES['default']['BACKEND']")
    assert result.stdout.strip() == "(True, 'django.core.cache.backends.locmem.LocMemCache')"


def test_redis_url_makes_redis_the_broker_and_cache():
    result = settings_in_subprocess(
        {"DEBUG": "1", "REDIS_URL": "redis://cache.internal:6379/2"},
        "s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL, s.CACHES['default']['BACKEND']",
    )
    assert result.stdout.strip() == (
        "(False, 'redis://cache.internal:6379/2', 'learninghub.kernel.cache.ResilientRedisCache')")


def test_time_zone_is_utc_by_default():
    result = settings_in_subprocess({"DEBUG": "1"}, "s.TIME_ZONE, s.USE_TZ")
    assert result.stdout.strip() == "('UTC', True)", result.stderr


def test_the_test_profile_needs_no_environment():
    result = subprocess.run(
        [sys.executable, "-c", "import learninghub.settings.test as s; "
                               "print(repr((s.DEBUG, bool(s.SECRET_KEY), s.CELERY_TASK_ALWAYS_EAGER)))"],
        cwd=ROOT, env={k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}},
        capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.strip() == "(False, True, True)", result.stderr
