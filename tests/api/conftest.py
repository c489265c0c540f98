from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from smsworks.roles import Role
from tests.factories import SenderFactory, user_with_role


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Sender lookups and key touches are remembered per process; test rows come and go."""
    from api import keys, services

    services._senders.clear()
    keys._touched.clear()
    keys._local.clear()
    yield
    services._senders.clear()
    keys._touched.clear()
    keys._local.clear()


@pytest.fixture
def key_owner(db):
    return user_with_role(Role.ADMIN, username="keyowner")


@pytest.fixture
def sender(db):
    return SenderFactory(value="+447700900500", is_default=True)


@pytest.fixture
def make_client(key_owner):
    """make_client("send", "read") -> an APIClient carrying a fresh key with those scopes."""
    from api.keys import api_key_create

    def make(*scopes: str, rate_limit: int = 6000) -> APIClient:
        key, full = api_key_create(
            name="tests", scopes=list(scopes), created_by=key_owner, rate_limit=rate_limit
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {full}")
        client.key = key
        client.full_key = full
        return client

    return make


@pytest.fixture
def api(make_client):
    """A client whose key has every scope."""
    return make_client("send", "contacts", "campaigns", "read")


@pytest.fixture
def steady_clock(monkeypatch):
    """Rate windows at a fixed moment (mid-window), so no test straddles a boundary."""
    from api import throttle

    moment = 1_800_000_030.0  # 30 s into a minute
    monkeypatch.setattr(throttle, "_now", lambda: moment)
    _forget_rate_windows()
    yield moment
    _forget_rate_windows()


def _forget_rate_windows() -> None:
    """Every test at the same fixed moment shares window keys: start each empty."""
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(f"{settings.REDIS_KEY_PREFIX}*smsworks:rate:*"):
            client.delete(key)


# The engine fixtures (simulator process, provider account on it) of tests/messaging.
from tests.messaging.conftest import (  # noqa: E402, F401
    engine,
    engine_simulator,
    engine_simulator_process,
)
