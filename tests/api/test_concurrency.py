"""Idempotency under concurrency: identical requests racing through a live server
send once (the unique (api_key, key) index makes the later ones wait and replay)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

from messaging.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (SQLite: one)"
)
def test_racing_repeats_send_once(live_server, make_client, sender):
    client = make_client("send")
    headers = {"Authorization": f"Bearer {client.full_key}", "Idempotency-Key": "race-1"}
    payload = {"to": "+447912345801", "body": "Only once"}

    def post(_):
        return httpx.post(
            f"{live_server.url}/api/v1/messages", json=payload, headers=headers, timeout=60
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(8)))

    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["id"] for r in responses}) == 1
    assert Message.objects.count() == 1
