"""Sliding-window rate limits: per API key (every request) and per number (OTP).

With Redis: two fixed-window counters weighted into a sliding window, checked and
counted by one Lua script (one round trip, atomic across web processes). Without
Redis (the embedded demo) the same arithmetic runs on the Django cache."""

from __future__ import annotations

import hashlib
import math
import threading
import time

from django.conf import settings
from django.core.cache import cache as django_cache
from rest_framework.throttling import BaseThrottle

from api.keys import Principal

# KEYS[1] this window's counter, KEYS[2] the previous one; ARGV: limit, window (s), now (s).
# Returns 0 when the request is allowed (and counted), else seconds to wait.
_HIT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local into = (now % window) / window
if previous * (1 - into) + current >= limit then
  if current >= limit or previous == 0 then
    return math.max(1, math.ceil(window - (now % window)))
  end
  local needed = 1 - (limit - current) / previous
  return math.max(1, math.ceil((needed - into) * window))
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], window * 2 + 1)
return 0
"""


_HIT_SHA = hashlib.sha1(_HIT.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
_local = threading.local()


def _redis(url: str):
    """This thread's own Redis connection: the throttle runs on every API request, and
    a pooled client's checkout (with a poll of the socket) cost a third of the round
    trip."""
    clients = _local.__dict__.setdefault("clients", {})
    client = clients.get(url)
    if client is None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One retry: a connection the server dropped while idle fails on first use.
        client = clients[url] = redis.Redis.from_url(
            url, single_connection_client=True, retry=Retry(NoBackoff(), 1)
        )
    return client


def _run_hit(keys: list[str], args: list[object]) -> object:
    from redis.exceptions import NoScriptError

    client = _redis(settings.REDIS_URL)
    try:
        return client.evalsha(_HIT_SHA, len(keys), *keys, *args)
    except NoScriptError:  # a Redis restarted or flushed since: load it again
        client.script_load(_HIT)
        return client.evalsha(_HIT_SHA, len(keys), *keys, *args)


def _now() -> float:
    return time.time()


def hit(name: str, *, limit: int, window: int) -> float:
    """Count one event against `name`; returns 0 when allowed, else seconds to wait
    (the event is then not counted)."""
    now = _now()
    index = int(now // window)
    current = f"{settings.REDIS_KEY_PREFIX}smsworks:rate:{name}:{index}"
    previous = f"{settings.REDIS_KEY_PREFIX}smsworks:rate:{name}:{index - 1}"
    if settings.REDIS_URL:
        return float(_run_hit([current, previous], [limit, window, now]))
    return _hit_in_cache(current, previous, limit, window, now)


def _hit_in_cache(current: str, previous: str, limit: int, window: int, now: float) -> float:
    counts = django_cache.get_many([current, previous])
    count, before = counts.get(current, 0), counts.get(previous, 0)
    into = (now % window) / window
    if before * (1 - into) + count >= limit:
        if count >= limit or before == 0:
            return max(1.0, math.ceil(window - (now % window)))
        needed = 1 - (limit - count) / before
        return max(1.0, math.ceil((needed - into) * window))
    django_cache.add(current, 0, window * 2 + 1)
    try:
        django_cache.incr(current)
    except ValueError:  # expired between add and incr
        django_cache.set(current, 1, window * 2 + 1)
    return 0.0


class ApiKeyRateThrottle(BaseThrottle):
    """Per key: `rate_limit` requests per minute, sliding. 429 with Retry-After."""

    window = 60

    def __init__(self) -> None:
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        principal = request.auth
        if not isinstance(principal, Principal):
            return True
        self._wait = hit(f"key:{principal.id}", limit=principal.rate_limit, window=self.window)
        return self._wait == 0

    def wait(self) -> float | None:
        return self._wait or None
