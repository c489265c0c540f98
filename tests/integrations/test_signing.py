"""Signing, verification and the retry schedule (no database, no network)."""

import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta

from integrations import delivery
from integrations.delivery import backoff_seconds, next_attempt_at, sign, verify


def test_it_signs_timestamp_dot_body_with_hmac_sha256():
    body = b'{"id":"e1","type":"message.received"}'
    header = sign("whsec_abc", body, 1_700_000_000)
    expected = hmac.new(b"whsec_abc", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_it_verifies_its_own_signature_and_rejects_changes():
    body = b'{"a":1}'
    header = sign("s1", body, 1_700_000_000)
    assert verify("s1", body, header, now=1_700_000_010)
    assert not verify("s2", body, header, now=1_700_000_010)  # another secret
    assert not verify("s1", b'{"a":2}', header, now=1_700_000_010)  # another body
    tampered = header.replace("t=1700000000", "t=1700000001")
    assert not verify("s1", body, tampered, now=1_700_000_010)  # another time


def test_it_rejects_old_and_malformed_signatures():
    body = b"{}"
    header = sign("s", body, 1_700_000_000)
    assert not verify("s", body, header, now=1_700_000_000 + 301)  # replayed later
    for bad in ("", "t=abc,v1=00", "v1=00", "garbage"):
        assert not verify("s", body, bad, now=1_700_000_000)


def test_backoff_doubles_from_30_seconds_up_to_6_hours_with_jitter():
    random.seed(7)
    for attempts, base in [(1, 30), (2, 60), (3, 120), (6, 960), (20, 6 * 3600)]:
        for _ in range(20):
            wait = backoff_seconds(attempts)
            assert base * 0.75 <= wait <= base * 1.25


def test_retries_stop_after_24_hours_with_a_last_try_at_the_end():
    created = datetime(2026, 1, 1, tzinfo=UTC)
    early = next_attempt_at(created_at=created, attempts=1, now=created + timedelta(seconds=1))
    assert early is not None and early <= created + timedelta(minutes=1)

    late = created + timedelta(hours=23, minutes=59)
    last = next_attempt_at(created_at=created, attempts=12, now=late)
    assert last == created + delivery.RETRY_WINDOW  # capped at the window's end

    assert (
        next_attempt_at(created_at=created, attempts=13, now=created + timedelta(hours=24)) is None
    )


def test_a_whole_day_of_failures_is_about_a_dozen_attempts():
    random.seed(11)
    created = now = datetime(2026, 1, 1, tzinfo=UTC)
    attempts = 0
    while now is not None:
        attempts += 1
        now = next_attempt_at(created_at=created, attempts=attempts, now=now)
    assert 10 <= attempts <= 16
