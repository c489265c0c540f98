"""Chooses the database and broker for the test run before Django loads settings.

Loaded with ``-p tests.backends_plugin`` (see pyproject.toml) so that it runs
before pytest-django reads the settings. PostgreSQL and Redis at their default
local addresses are used when they answer; otherwise SQLite and the embedded
broker. With CI=true both real services are required.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/smsworks"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"


def _postgres_answers(url: str) -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    parts = urlsplit(url)
    try:
        with psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=2,
        ):
            return True
    except Exception:
        return False


def _redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _choose() -> tuple[str, str]:
    in_ci = os.environ.get("CI", "").lower() == "true"
    if os.environ.get("SMSWORKS_TEST_BACKENDS") == "embedded":
        # Test the embedded default even where PostgreSQL and Redis run.
        os.environ["DATABASE_URL"] = os.environ["REDIS_URL"] = ""
        os.environ.setdefault("DATABASE_TEST_NAME", str(_ROOT / "var" / f"test-{_RUN}.sqlite3"))
        return "SQLite, forced", "the embedded filesystem broker, forced"
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    problems = []
    if _postgres_answers(database_url):
        os.environ["DATABASE_URL"] = database_url
        os.environ.setdefault("DATABASE_TEST_NAME", f"test_smsworks_{_RUN}")
        parts = urlsplit(database_url)
        db = f"PostgreSQL at {parts.hostname}:{parts.port or 5432}"
    else:
        problems.append(f"PostgreSQL is not reachable at {database_url}")
        os.environ["DATABASE_URL"] = ""
        os.environ.setdefault("DATABASE_TEST_NAME", str(_ROOT / "var" / f"test-{_RUN}.sqlite3"))
        db = "SQLite"
    if _redis_answers(redis_url):
        os.environ["REDIS_URL"] = redis_url
        broker = f"Redis at {redis_url}"
    else:
        problems.append(f"Redis is not reachable at {redis_url}")
        os.environ["REDIS_URL"] = ""
        broker = "the embedded filesystem broker"
    if in_ci and problems:
        raise pytest.UsageError("CI needs the real services: " + "; ".join(problems))
    return db, broker


os.environ["SMSWORKS_IGNORE_DOTENV"] = "1"
# Each run gets its own test database and Redis key space, so that two runs on one
# machine (or a run and `make run`) never share a database or a queue.
_RUN = f"{os.getpid()}"
_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("REDIS_KEY_PREFIX", f"test{_RUN}:")
# Uploads and exports of a test run stay out of the install's own var/media.
os.environ.setdefault("MEDIA_ROOT", str(_ROOT / "var" / "test-media" / _RUN))
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
# Live-server threads must not keep connections, or the test database cannot be dropped.
os.environ.setdefault("CONN_MAX_AGE", "0")
os.environ.setdefault("SMSWORKS_FAST_PASSWORD_HASHER", "1")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop
TESTED_ON = _choose()


def pytest_report_header(config) -> str:
    return f"smsworks testing on: database = {TESTED_ON[0]}; broker = {TESTED_ON[1]}"


def pytest_unconfigure(config) -> None:
    import shutil

    cache_dir = _ROOT / "var" / "cache" / os.environ.get("REDIS_KEY_PREFIX", "").strip(":")
    if os.environ.get("REDIS_KEY_PREFIX"):
        shutil.rmtree(cache_dir, ignore_errors=True)
    media = os.environ.get("MEDIA_ROOT", "")
    if media.startswith(str(_ROOT / "var" / "test-media")):
        shutil.rmtree(media, ignore_errors=True)
