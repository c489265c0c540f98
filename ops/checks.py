"""Health checks: each answers quickly (a couple of seconds at most) with ok and a reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from ops import heartbeats

TIMEOUT = 2.0  # seconds, for the broker


@dataclass(frozen=True)
class Result:
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def check_database() -> Result:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return Result(False, f"database error: {type(exc).__name__}")
    return Result(True, f"{connection.vendor} answers")


def redis_client():
    import redis

    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
    )


def embedded_broker_folder() -> Path | None:
    folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("data_folder_in")
    return Path(folder) if folder else None


def check_broker() -> Result:
    folder = embedded_broker_folder()
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        if folder and folder.is_dir() and _writable(folder):
            return Result(True, "embedded broker folder is writable")
        return Result(False, f"embedded broker folder {folder} is missing or read-only")
    try:
        redis_client().ping()
    except Exception as exc:
        return Result(False, f"Redis does not answer: {type(exc).__name__}")
    return Result(True, "Redis answers")


def _writable(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)


def _age(stamp: float | None, now: float) -> str:
    return "never" if stamp is None else f"{max(0.0, now - stamp):.0f}s ago"


def check_beat() -> Result:
    now = time.time()
    last = heartbeats.beat_last()
    if last is not None and now - last <= heartbeats.max_age():
        return Result(True, f"beat sent a heartbeat {_age(last, now)}")
    return Result(
        False, f"no beat heartbeat for {heartbeats.max_age():.0f}s (last: {_age(last, now)})"
    )


def check_workers() -> Result:
    now = time.time()
    problems, seen = [], []
    for queue in heartbeats.QUEUES:
        last = heartbeats.queue_last(queue)
        at = last["at"] if last else None
        if at is None or now - at > heartbeats.max_age():
            problems.append(f"{queue}: no worker (last heartbeat {_age(at, now)})")
        else:
            seen.append(f"{queue}: {last['hostname']} {_age(at, now)}")
    if problems:
        return Result(False, "; ".join(problems))
    return Result(True, "; ".join(seen))


CHECKS: dict[str, Callable[[], Result]] = {
    "database": check_database,
    "broker": check_broker,
    "beat": check_beat,
    "workers": check_workers,
}


class UnknownCheck(ValueError):
    pass


def run(only: list[str] | None = None) -> dict[str, Result]:
    names = only or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise UnknownCheck(f"unknown check(s): {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    results = {}
    for name in names:
        try:
            results[name] = CHECKS[name]()
        except Exception as exc:  # a check that crashes is a failed check, never a 500
            results[name] = Result(False, f"check crashed: {type(exc).__name__}")
    return results


def parse_only(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()] or None
