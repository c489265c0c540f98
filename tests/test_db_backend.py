"""smsworks.postgres: the per-request health check without a round trip for a
connection that was in use moments ago, and Django's SELECT 1 otherwise."""

from __future__ import annotations

import select
import time

import psycopg
import pytest
from django.core.signals import request_finished, request_started
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _persistent_connection(monkeypatch):
    """PostgreSQL, with connections kept between requests as in production (the
    tests close them after each request: CONN_MAX_AGE=0)."""
    if connection.vendor != "postgresql":
        pytest.skip("the backend is PostgreSQL's")
    assert type(connection._connections[connection._alias]).__module__ == "smsworks.postgres.base"
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    yield
    connection.close()


@pytest.fixture
def pings(monkeypatch):
    """Counts Django's SELECT 1 health checks."""
    from smsworks.postgres.base import DatabaseWrapper

    count = []
    original = DatabaseWrapper.is_usable

    def counting(self):
        count.append(1)
        return original(self)

    monkeypatch.setattr(DatabaseWrapper, "is_usable", counting)
    return count


def _request(sql: str = "SELECT pg_backend_pid()"):
    """One request's worth of database use, with Django's request signals."""
    request_started.send(sender=None)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]
    finally:
        request_finished.send(sender=None)


def test_a_connection_used_moments_ago_is_not_pinged(pings):
    first = _request()
    assert connection.health_check_enabled
    pings.clear()

    assert [_request() for _ in range(5)] == [first] * 5
    assert pings == []


def test_an_idle_connection_gets_the_select_1(pings):
    first = _request()
    pings.clear()
    connection._alive_at -= 3600  # last used an hour ago

    assert _request() == first
    assert pings == [1]
    assert _request() == first and pings == [1]  # and then it is recent again


def test_a_connection_the_server_ended_is_replaced_before_the_first_query(pings):
    first = _request()
    pings.clear()
    with psycopg.connect(**_admin_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first])
    _wait_readable(connection.connection.fileno())

    second = _request()  # would fail without the check

    assert second != first
    assert pings == [1]  # it looked, found it dead, reconnected


def test_a_connection_in_a_transaction_is_checked_the_full_way(pings):
    _request()
    pings.clear()
    connection.connection.execute("BEGIN")  # left open, as a broken caller might
    try:
        assert not connection._quietly_open()
    finally:
        connection.connection.execute("ROLLBACK")
    assert connection._quietly_open()


def _admin_params() -> dict:
    settings = connection.settings_dict
    return {
        "host": settings["HOST"] or "127.0.0.1",
        "port": settings["PORT"] or 5432,
        "user": settings["USER"],
        "password": settings["PASSWORD"] or None,
        "dbname": settings["NAME"],
    }


def _wait_readable(fd: int, timeout: float = 5.0) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while not poller.poll(50):
        assert time.monotonic() < deadline, "the server did not end the session"
