"""API keys: made, checked and revoked here. A key is smsw_<prefix>_<secret>; the
prefix finds the row (unique index), sha256(secret) proves it. The lookup is
cached for a moment so that a send costs no database query for the key, and each
web process keeps its own copy of a valid key's lookup for API_KEY_LOCAL_SECONDS
so that a send costs no Redis round trip for it either. Revoking clears the shared
cache and the revoking process's copy at once: the key stops working there at once
and in every other process within API_KEY_LOCAL_SECONDS."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from api import conf
from api.models import ApiKey, Scope

KEY_PREFIX = "smsw"


@dataclass(frozen=True)
class Principal:
    """The key a request authenticated with, as the views need it."""

    id: int
    prefix: str
    scopes: frozenset[str]
    rate_limit: int
    created_by_id: int | None

    def has(self, scope: str) -> bool:
        return scope in self.scopes


class ApiUser:
    """request.user for a key: authenticated, but no Django user (no session rights)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def __str__(self) -> str:
        return f"api key {self.principal.prefix}"

    def has_perm(self, perm: str, obj=None) -> bool:
        return False


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _cache_key(prefix: str) -> str:
    return f"api:key:{prefix}"


def parse(raw: str) -> tuple[str, str] | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    if len(parts[1]) > 16 or len(parts[2]) > 200:
        return None
    return parts[1], parts[2]


def api_key_create(
    *, name: str, scopes: list[str], created_by: AbstractBaseUser | None, rate_limit: int = 6000
) -> tuple[ApiKey, str]:
    """Make a key; returns the row and the full key, which is never shown again."""
    unknown = set(scopes) - set(Scope.values)
    if unknown or not scopes:
        raise ValueError(f"unknown or missing scopes: {sorted(unknown)}")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=sorted(set(scopes)),
        rate_limit=rate_limit,
        created_by=created_by,
    )
    cache.delete(_cache_key(prefix))
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


def api_key_revoke(*, key: ApiKey, by: AbstractBaseUser | None) -> bool:
    """Revoke a key (a conditional update: False when it was already revoked)."""
    changed = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    prefix = key.prefix
    _local.pop(prefix, None)
    cache.delete(_cache_key(prefix))
    # And again after commit: a request may have cached the key in between.
    transaction.on_commit(lambda: cache.delete(_cache_key(prefix)))
    if changed:
        key.refresh_from_db()
    return bool(changed)


# This process's copies of valid keys' lookups: prefix -> (until, secret hash, principal).
_local: dict[str, tuple[float, str, Principal]] = {}
_LOCAL_MAX = 1000


def authenticate(raw: str) -> Principal | None:
    """The principal of a full key, or None when it is unknown, wrong or revoked."""
    parsed = parse(raw)
    if parsed is None:
        return None
    prefix, secret = parsed
    now = time.monotonic()
    local = _local.get(prefix)
    if local is not None and local[0] > now:
        _, secret_hash, principal = local
        if not hmac.compare_digest(secret_hash, _hash(secret)):
            return None
        _touch(principal.id)
        return principal
    entry = cache.get(_cache_key(prefix))
    if entry is None:
        row = (
            ApiKey.objects.filter(prefix=prefix)
            .values("id", "secret_hash", "scopes", "rate_limit", "created_by_id", "revoked_at")
            .first()
        )
        # Unknown prefixes are cached too (as revoked), so guessing costs no query.
        entry = {
            "id": row["id"] if row else 0,
            "hash": row["secret_hash"] if row else "",
            "scopes": list(row["scopes"]) if row else [],
            "rate_limit": row["rate_limit"] if row else 0,
            "created_by_id": row["created_by_id"] if row else None,
            "revoked": (row is None) or row["revoked_at"] is not None,
        }
        cache.set(_cache_key(prefix), entry, conf.get("API_KEY_CACHE_SECONDS"))
    if entry["revoked"] or not hmac.compare_digest(entry["hash"], _hash(secret)):
        return None
    principal = Principal(
        id=entry["id"],
        prefix=prefix,
        scopes=frozenset(entry["scopes"]),
        rate_limit=entry["rate_limit"],
        created_by_id=entry["created_by_id"],
    )
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[prefix] = (now + conf.get("API_KEY_LOCAL_SECONDS"), entry["hash"], principal)
    _touch(principal.id)
    return principal


# When this process last asked the shared cache about each key's last use (monotonic).
_touched: dict[int, float] = {}


def _touch(key_id: int) -> None:
    """Record the last use, at most once a minute per key: a process asks the shared
    cache at most once a minute per key, and only the first process to ask writes."""
    every = conf.get("API_KEY_TOUCH_SECONDS")
    now = time.monotonic()
    if now - _touched.get(key_id, -every) < every:
        return
    _touched[key_id] = now
    if cache.add(f"api:key-used:{key_id}", 1, every):
        ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())
