"""Heartbeats in the cache: proof that beat schedules and that each queue is consumed.

Beat sends ``ops.heartbeat`` to every queue every few seconds. Publishing it
stamps the beat heartbeat (in the beat process, see ``ops.apps``); the worker
that runs it stamps its queue's heartbeat and its own.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

QUEUES = ("transactional", "bulk", "default")
# Beat sends a heartbeat to each queue every 10 s (CELERY_BEAT_SCHEDULE, "ops-heartbeat-*");
# older than OPS_HEARTBEAT_MAX_AGE seconds means dead.
BEAT_KEY = "ops:heartbeat:beat"
WORKERS_KEY = "ops:heartbeat:workers"
KEEP = 24 * 3600


def max_age() -> float:
    return float(getattr(settings, "OPS_HEARTBEAT_MAX_AGE", 60))


def queue_key(queue: str) -> str:
    return f"ops:heartbeat:queue:{queue}"


def beat_stamp(now: float | None = None) -> None:
    cache.set(BEAT_KEY, now if now is not None else time.time(), KEEP)


def worker_stamp(queue: str, hostname: str, now: float | None = None) -> None:
    now = now if now is not None else time.time()
    cache.set(queue_key(queue), {"at": now, "hostname": hostname}, KEEP)
    # Read-modify-write: two workers racing may drop one stamp until the next beat.
    workers = cache.get(WORKERS_KEY) or {}
    workers[hostname] = {**workers.get(hostname, {}), queue: now}
    # Forget workers silent for a day.
    workers = {
        host: queues
        for host, queues in workers.items()
        if max(queues.values(), default=0) > now - KEEP
    }
    cache.set(WORKERS_KEY, workers, KEEP)


def beat_last() -> float | None:
    return cache.get(BEAT_KEY)


def queue_last(queue: str) -> dict | None:
    return cache.get(queue_key(queue))


def workers_last() -> dict[str, dict[str, float]]:
    return cache.get(WORKERS_KEY) or {}
