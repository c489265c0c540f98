"""A token bucket per sender, shared by every worker, charged by segments.

With Redis the bucket is one hash updated by a Lua script (atomic across
workers and machines). Without Redis (the embedded demo) it is a RateBucket row
updated under a row lock. Both refill at the sender's messages-per-second and
hold at most BURST_SECONDS of it, so the backlog stays in our outbox, where it
can be paused and cancelled, never in the provider's queue.
"""

from __future__ import annotations

import time
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

BURST_SECONDS = 1.0

# KEYS[1] bucket; ARGV: rate/s, capacity, now (s), wanted, allow_debt (0/1).
# Returns the tokens granted. With allow_debt the full amount is granted and the
# bucket may go negative: transactional sends never wait, bulk pays it back.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local allow_debt = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local granted = 0
if allow_debt == 1 then
  granted = wanted
elseif tokens >= 1 then
  granted = math.min(wanted, math.floor(tokens))
end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], 3600)
return granted
"""


def _key(sender_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}smsworks:bucket:{sender_id}"


@cache
def _redis():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    return client, client.register_script(_TAKE)


def take(sender_id: int, rate: float, wanted: int, *, allow_debt: bool = False) -> int:
    """Take up to `wanted` tokens now; returns how many were granted (maybe 0)."""
    if wanted <= 0:
        return 0
    capacity = max(1.0, rate * BURST_SECONDS)
    if settings.REDIS_URL:
        _client, script = _redis()
        granted = script(
            keys=[_key(sender_id)],
            args=[rate, capacity, time.time(), wanted, int(allow_debt)],
        )
        return int(granted)
    return _take_in_database(sender_id, rate, capacity, wanted, allow_debt)


def charge(sender_id: int, rate: float, amount: int) -> None:
    """Take `amount` more tokens, going into debt if need be (segments beyond
    the one token per message that take() granted)."""
    if amount > 0:
        take(sender_id, rate, amount, allow_debt=True)


def wait_hint(rate: float) -> float:
    """How long to wait before asking again when no token was granted."""
    return min(1.0, max(0.01, 1.0 / max(rate, 0.001)))


def _take_in_database(
    sender_id: int, rate: float, capacity: float, wanted: int, allow_debt: bool
) -> int:
    from messaging.models import RateBucket

    now = timezone.now()
    with transaction.atomic():
        bucket, _ = RateBucket.objects.select_for_update().get_or_create(
            sender_id=sender_id, defaults={"tokens": capacity, "updated_at": now}
        )
        elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
        tokens = min(capacity, bucket.tokens + elapsed * rate)
        if allow_debt:
            granted = wanted
        else:
            granted = min(wanted, int(tokens)) if tokens >= 1 else 0
        bucket.tokens, bucket.updated_at = tokens - granted, now
        bucket.save(update_fields=["tokens", "updated_at"])
    return granted


def give_back(sender_id: int, rate: float, amount: int) -> None:
    """Return tokens that were granted but not used."""
    if amount <= 0:
        return
    capacity = max(1.0, rate * BURST_SECONDS)
    if settings.REDIS_URL:
        _client, script = _redis()
        script(
            keys=[_key(sender_id)],
            args=[rate, capacity, time.time(), -amount, 1],
        )
    else:
        _take_in_database(sender_id, rate, capacity, -amount, True)
