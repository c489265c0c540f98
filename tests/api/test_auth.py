"""Keys: bearer authentication, revocation, scopes, last use and the rate limit."""

from __future__ import annotations

import hashlib
import threading
import uuid

import pytest
from rest_framework.test import APIClient

from api.keys import api_key_create, api_key_revoke, authenticate
from api.models import ApiKey

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages"


def _code(response) -> str:
    return response.json()["error"]["code"]


def test_the_key_is_stored_hashed_and_shown_once(key_owner):
    key, full = api_key_create(name="CRM", scopes=["send"], created_by=key_owner)

    prefix, _, secret = full.removeprefix("smsw_").partition("_")
    assert prefix == key.prefix
    row = ApiKey.objects.get()
    assert secret not in row.secret_hash and len(row.secret_hash) == 64
    assert authenticate(full).id == key.pk
    assert authenticate(full[:-1] + ("A" if full[-1] != "A" else "B")) is None


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer smsw_nope_nope", "Token abc", "Bearer not-a-key", "Basic dXNlcjpwdw=="],
)
def test_missing_or_unknown_keys_get_401_json(header, db):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(URL)
    assert response.status_code == 401
    assert _code(response) == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_stops_working_at_once(make_client, key_owner):
    client = make_client("read")
    assert client.get(URL).status_code == 200  # now cached

    assert api_key_revoke(key=client.key, by=key_owner)

    response = client.get(URL)
    assert response.status_code == 401
    assert _code(response) == "unauthenticated"
    assert not api_key_revoke(key=client.key, by=key_owner)


def test_a_key_revoked_by_another_process_stops_working_here_within_seconds(
    make_client, monkeypatch
):
    from types import SimpleNamespace

    from django.core.cache import cache
    from django.utils import timezone

    from api import conf, keys

    clock = [1000.0]
    monkeypatch.setattr(keys, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    client = make_client("read")
    assert client.get(URL).status_code == 200  # this process keeps a copy
    # Another web process revokes it: the row and the shared cache, not our copy.
    ApiKey.objects.filter(pk=client.key.pk).update(revoked_at=timezone.now())
    cache.delete(keys._cache_key(client.key.prefix))

    clock[0] += conf.get("API_KEY_LOCAL_SECONDS") - 0.1
    assert client.get(URL).status_code == 200  # the copy is still fresh
    clock[0] += 0.2
    assert client.get(URL).status_code == 401


def test_a_wrong_secret_fails_even_while_the_key_is_remembered(make_client):
    client = make_client("read")
    assert client.get(URL).status_code == 200
    prefix = client.key.prefix

    assert authenticate(f"smsw_{prefix}_not-the-secret") is None
    assert authenticate(client.full_key) is not None


def test_a_key_without_the_scope_gets_403(make_client):
    reader = make_client("read")
    response = reader.post(URL, {"to": "+447912345001", "body": "x"}, format="json")
    assert response.status_code == 403
    assert _code(response) == "forbidden"
    assert "send" in response.json()["error"]["message"]

    contacts_only = make_client("contacts")
    assert contacts_only.get(URL).status_code == 403
    assert contacts_only.get("/api/v1/campaigns").status_code == 403
    assert make_client("read").get("/api/v1/campaigns").status_code == 200


def test_last_use_is_recorded_at_most_once_a_minute(make_client):
    client = make_client("read")
    client.get(URL)
    first = ApiKey.objects.get(pk=client.key.pk).last_used_at
    assert first is not None

    client.get(URL)
    assert ApiKey.objects.get(pk=client.key.pk).last_used_at == first


def test_the_rate_limit_answers_429_with_retry_after(make_client, steady_clock):
    client = make_client("read", rate_limit=3)
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]

    response = client.get(URL)

    assert response.status_code == 429
    assert _code(response) == "rate_limited"
    assert int(response["Retry-After"]) == 30  # the window's end
    # Another key has its own window.
    assert client.get(URL).status_code == 429
    assert make_client("read", rate_limit=3).get(URL).status_code == 200


def test_the_rate_limit_works_on_the_django_cache_without_redis(
    make_client, settings, steady_clock
):
    settings.REDIS_URL = ""
    client = make_client("read", rate_limit=2)
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 429]


def test_the_rate_limit_survives_redis_dropping_the_connection_or_the_script(
    make_client, settings, steady_clock, monkeypatch
):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    import redis

    from api import throttle

    client = make_client("read", rate_limit=3)
    assert client.get(URL).status_code == 200
    # The server ends this thread's connection (a restart or an idle timeout)...
    mine = throttle._redis(settings.REDIS_URL)
    admin = redis.Redis.from_url(settings.REDIS_URL)
    assert admin.client_kill_filter(_id=mine.client_id()) == 1
    assert client.get(URL).status_code == 200
    # ... or no longer knows the script (a restart, SCRIPT FLUSH): a script of its
    # own, never loaded, stands for that here (a flush would touch other test runs).
    fresh = f"{throttle._HIT}-- {uuid.uuid4()}\n"
    monkeypatch.setattr(throttle, "_HIT", fresh)
    monkeypatch.setattr(throttle, "_HIT_SHA", hashlib.sha1(fresh.encode()).hexdigest())  # noqa: S324
    assert not admin.script_exists(throttle._HIT_SHA)[0]
    assert client.get(URL).status_code == 200
    # Every one of them was counted.
    assert client.get(URL).status_code == 429


def test_each_thread_counts_on_its_own_connection(settings, steady_clock):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    from concurrent.futures import ThreadPoolExecutor

    from api import throttle

    name = f"threads:{uuid.uuid4()}"
    together = threading.Barrier(4)

    def ten_hits(_):
        together.wait(timeout=10)
        waits = [throttle.hit(name, limit=30, window=60) for _ in range(10)]
        return throttle._redis(settings.REDIS_URL), waits

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(ten_hits, range(4)))
    waits = sorted(w for _, ws in results for w in ws)
    assert waits[:30] == [0.0] * 30 and all(w > 0 for w in waits[30:])
    assert len({id(client) for client, _ in results}) == 4


def test_a_session_user_is_not_an_api_client(client, admin_user):
    client.force_login(admin_user)
    response = client.get(URL)
    assert response.status_code == 401
