"""API settings with their defaults (override any of them in Django settings)."""

from __future__ import annotations

from django.conf import settings


def get(name: str):
    return getattr(settings, name, DEFAULTS[name])


DEFAULTS = {
    # Largest POST /messages/batch.
    "API_BATCH_MAX": 1000,
    # Seconds a key's lookup is cached (revoking a key also clears it at once).
    "API_KEY_CACHE_SECONDS": 30,
    # Seconds a web process keeps its own copy of a valid key's lookup: a key revoked
    # in another process stops working here within this time.
    "API_KEY_LOCAL_SECONDS": 2,
    # last_used_at is written at most this often per key.
    "API_KEY_TOUCH_SECONDS": 60,
    # Idempotency keys are kept this long.
    "API_IDEMPOTENCY_HOURS": 24,
    # One-time passwords.
    "API_OTP_DIGITS": 6,
    "API_OTP_TTL_SECONDS": 300,
    "API_OTP_MAX_ATTEMPTS": 5,
    # At most this many codes per number per window.
    "API_OTP_SENDS_PER_NUMBER": 3,
    "API_OTP_SEND_WINDOW_SECONDS": 600,
    "API_OTP_TEMPLATE": "Your code is {code}. It expires in {minutes} minutes.",
}
