"""Reads the environment once and turns it into typed settings values.

Kept apart from settings.py so that tests can feed it a plain dict and so that a
bad value becomes one clear line at start-up instead of a traceback.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


class ConfigError(Exception):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class Config:
    debug: bool
    secret_key: str
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    database: dict
    broker_url: str
    broker_is_embedded: bool
    redis_url: str
    time_zone: str
    default_region: str
    email: dict
    site_url: str


_DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "psql"}


def _parse_database(url: str, var_dir: Path, environment: dict[str, str]) -> dict:
    scheme = urlsplit(url).scheme
    if scheme not in _DATABASE_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL has an unsupported scheme {scheme!r}: use sqlite:///path "
            "or postgres://user:password@host:port/name"
        )
    try:
        db = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ConfigError(f"DATABASE_URL is malformed ({exc})") from exc
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = db.get("NAME") or ""
        if not name or name == ":memory:":
            raise ConfigError(
                "DATABASE_URL for SQLite needs a file path, e.g. sqlite:///var/db.sqlite3"
            )
        path = Path(name)
        if not path.is_absolute():
            path = BASE_DIR / path
        db["NAME"] = str(path)
        # WAL and IMMEDIATE transactions let web, worker and beat share one file
        # without "database is locked" errors under normal demo load.
        db["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        db["TEST"] = {
            "NAME": environment.get("DATABASE_TEST_NAME") or str(var_dir / "test.sqlite3")
        }
    else:
        if not db.get("NAME"):
            raise ConfigError(
                "DATABASE_URL for PostgreSQL needs a database name after the last '/'"
            )
        # Django's backend with a cheaper per-request health check (see its module).
        db["ENGINE"] = "smsworks.postgres"
        db["CONN_MAX_AGE"] = int(environment.get("CONN_MAX_AGE", "60"))
        db["CONN_HEALTH_CHECKS"] = True
        # JIT compilation costs more than it saves on short OLTP queries (segment counts).
        db.setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
        if environment.get("DATABASE_TEST_NAME"):
            db["TEST"] = {"NAME": environment["DATABASE_TEST_NAME"]}
    return db


def _parse_redis(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(
            f"REDIS_URL has an unsupported scheme {parts.scheme!r}: use redis://host:port/db"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError("REDIS_URL is malformed: it names no host (redis://host:port/db)")
    try:
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL is malformed ({exc})") from exc
    return url


def _secret_key(env: environ.Env, debug: bool, var_dir: Path) -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not debug:
        raise ConfigError("SECRET_KEY is not set: it is required when DEBUG is off")
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _strict_bool(environment: dict[str, str], name: str, *, default: bool) -> bool:
    """Unlike environ's bool, a typo such as DEBUG=ture is an error, not False."""
    if name not in environment:
        return default
    value = environment[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {environment[name]!r}")


def load(environment: dict[str, str], var_dir: Path = VAR_DIR) -> Config:
    """Build the configuration from an environment mapping (normally os.environ)."""
    env = environ.Env()
    env.ENVIRON = dict(environment)
    debug = _strict_bool(environment, "DEBUG", default=False)

    database_url = env.str("DATABASE_URL", default="") or f"sqlite:///{var_dir / 'db.sqlite3'}"
    redis_url = env.str("REDIS_URL", default="")
    if redis_url:
        broker_url, embedded = _parse_redis(redis_url), False
    else:
        broker_url, embedded = "filesystem://", True

    hosts = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if debug else [])
    site_url = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
    return Config(
        debug=debug,
        secret_key=_secret_key(env, debug, var_dir),
        allowed_hosts=hosts,
        csrf_trusted_origins=env.list("CSRF_TRUSTED_ORIGINS", default=[]),
        database=_parse_database(database_url, var_dir, environment),
        broker_url=broker_url,
        broker_is_embedded=embedded,
        redis_url=redis_url,
        time_zone=env.str("TIME_ZONE", default="UTC"),
        default_region=env.str("DEFAULT_PHONE_REGION", default="GB").upper(),
        email={
            "EMAIL_BACKEND": env.str("EMAIL_BACKEND", default="")
            or (
                "django.core.mail.backends.console.EmailBackend"
                if debug
                else "django.core.mail.backends.smtp.EmailBackend"
            ),
            "EMAIL_HOST": env.str("EMAIL_HOST", default="localhost"),
            "EMAIL_PORT": env.int("EMAIL_PORT", default=25),
            "EMAIL_HOST_USER": env.str("EMAIL_HOST_USER", default=""),
            "EMAIL_HOST_PASSWORD": env.str("EMAIL_HOST_PASSWORD", default=""),
            "EMAIL_USE_TLS": env.bool("EMAIL_USE_TLS", default=False),
            "DEFAULT_FROM_EMAIL": env.str("DEFAULT_FROM_EMAIL", default="smsworks@localhost"),
        },
        site_url=site_url,
    )
