"""Settings defaults and switches, read from plain dicts through smsworks.config."""

import subprocess
import sys

import pytest

from smsworks.config import BASE_DIR, ConfigError, load


def test_it_defaults_to_sqlite_and_the_embedded_broker(tmp_path):
    config = load({"DEBUG": "true"}, var_dir=tmp_path)
    assert config.database["ENGINE"] == "django.db.backends.sqlite3"
    assert config.database["NAME"] == str(tmp_path / "db.sqlite3")
    assert config.broker_url == "filesystem://"
    assert config.broker_is_embedded
    assert config.default_region == "GB"
    assert config.time_zone == "UTC"


def test_it_switches_to_postgres_and_redis(tmp_path):
    config = load(
        {
            "DEBUG": "true",
            "DATABASE_URL": "postgres://app:pw@db.internal:6543/smsworks",
            "REDIS_URL": "redis://cache.internal:6380/2",
        },
        var_dir=tmp_path,
    )
    # Django's backend, with a cheaper per-request health check (smsworks/postgres).
    assert config.database["ENGINE"] == "smsworks.postgres"
    assert config.database["CONN_HEALTH_CHECKS"] is True
    assert (config.database["HOST"], config.database["PORT"]) == ("db.internal", 6543)
    assert config.database["NAME"] == "smsworks"
    assert config.broker_url == "redis://cache.internal:6380/2"
    assert not config.broker_is_embedded


def test_it_generates_a_development_secret_key_once(tmp_path):
    first = load({"DEBUG": "true"}, var_dir=tmp_path).secret_key
    second = load({"DEBUG": "true"}, var_dir=tmp_path).secret_key
    assert first == second and len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load({"DEBUG": "false"}, var_dir=tmp_path)
    assert not (tmp_path / "secret_key").exists()


def test_it_uses_the_given_secret_key_and_hosts_in_production(tmp_path):
    config = load(
        {"SECRET_KEY": "s" * 60, "ALLOWED_HOSTS": "sms.example.com,api.example.com"},
        var_dir=tmp_path,
    )
    assert not config.debug
    assert config.allowed_hosts == ["sms.example.com", "api.example.com"]
    assert config.email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"


def test_it_reads_region_time_zone_and_email(tmp_path):
    config = load(
        {
            "DEBUG": "1",
            "DEFAULT_PHONE_REGION": "us",
            "TIME_ZONE": "Europe/London",
            "EMAIL_HOST": "smtp.example.com",
            "EMAIL_PORT": "587",
            "EMAIL_USE_TLS": "true",
        },
        var_dir=tmp_path,
    )
    assert config.default_region == "US"
    assert config.time_zone == "Europe/London"
    assert config.email["EMAIL_HOST"] == "smtp.example.com"
    assert config.email["EMAIL_PORT"] == 587
    assert config.email["EMAIL_USE_TLS"] is True
    assert config.email["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"DATABASE_URL": "mysqlx://x/y"}, "DATABASE_URL has an unsupported scheme"),
        ({"DATABASE_URL": "postgres://localhost:5432/"}, "needs a database name"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL has an unsupported scheme"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL has an unsupported scheme"),
        ({"REDIS_URL": "redis://:6379/0"}, "REDIS_URL is malformed"),
        ({"REDIS_URL": "redis://localhost:port/0"}, "REDIS_URL is malformed"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
    ],
)
def test_it_rejects_malformed_values(tmp_path, environment, message):
    with pytest.raises(ConfigError, match=message):
        load({"DEBUG": "true", **environment}, var_dir=tmp_path)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "mysqlx://x/y", "DATABASE_URL has an unsupported scheme"),
        ("REDIS_URL", "http://localhost", "REDIS_URL has an unsupported scheme"),
    ],
)
def test_it_prints_one_clear_line_at_start_up(variable, value, message):
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "true", "SMSWORKS_IGNORE_DOTENV": "1", variable: value}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("smsworks: configuration error:")
    assert message in lines[0]
