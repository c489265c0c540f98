"""Posting events to endpoints: claim due deliveries, sign, POST, log each attempt,
retry with backoff for a day, then give up; disable endpoints that keep failing.

No network I/O happens inside a transaction: a delivery is claimed (a lease, in a
committed transaction) before it is posted, and the outcome recorded after.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.models import Delivery, DeliveryAttempt, Endpoint, Event
from integrations.payloads import iso

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Smsworks-Signature"
USER_AGENT = "smsworks-webhooks/1"
TIMEOUT_SECONDS = 10.0
LEASE_SECONDS = 60
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY_SECONDS = 30.0
LONGEST_WAIT_SECONDS = 6 * 3600.0
# An endpoint is switched off when it has not answered 2xx for this long...
DISABLE_AFTER_FAILING = timedelta(hours=24)
# ...or when this many deliveries in a row were given up on.
DISABLE_AFTER_DEAD = 50
CLAIM_SIZE = 50
CONCURRENCY = 8
EXCERPT_BYTES = 1000


def envelope(event: Event) -> bytes:
    """The request body: the same bytes on every attempt of one event."""
    document = {
        "id": str(event.public_id),
        "type": event.type,
        "created_at": iso(event.created_at),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300, now=None) -> bool:
    """What a receiver does (docs/webhooks.md has the same in a few lines)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff_seconds(attempts: int) -> float:
    """Wait after the n-th failed attempt: 30 s, 1 min, 2 min, ... up to 6 h, with
    jitter so that many deliveries failing together do not retry in step."""
    base = min(LONGEST_WAIT_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.75, 1.25)


def next_attempt_at(*, created_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try again, or None when the retry window is over. The last retry is
    placed at the window's end rather than skipped."""
    deadline = created_at + RETRY_WINDOW
    if now >= deadline:
        return None
    return min(now + timedelta(seconds=backoff_seconds(attempts)), deadline)


@dataclass
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def claim(*, limit: int = CLAIM_SIZE) -> tuple[list[Delivery], datetime]:
    """Take up to `limit` due deliveries of active endpoints under a lease."""
    now = timezone.now()
    lease = now + timedelta(seconds=LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(
                status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED],
                next_attempt_at__lte=now,
                endpoint__is_active=True,
                endpoint__deleted_at__isnull=True,
            )
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return [], lease
        Delivery.objects.filter(id__in=ids).update(lease_until=lease)
    deliveries = list(
        Delivery.objects.filter(id__in=ids).select_related("endpoint", "event").order_by("id")
    )
    return deliveries, lease


def post(client: httpx.Client, delivery: Delivery) -> Outcome:
    body = envelope(delivery.event)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(delivery.endpoint.secret, body, int(time.time())),
        "Smsworks-Event": delivery.event.type,
        "Smsworks-Event-Id": str(delivery.event.public_id),
        "Smsworks-Delivery-Id": str(delivery.public_id),
    }
    started_at = timezone.now()
    clock = time.monotonic()
    outcome = Outcome(started_at=started_at, duration_ms=0)
    try:
        with client.stream("POST", delivery.endpoint.url, content=body, headers=headers) as answer:
            outcome.status_code = answer.status_code
            outcome.excerpt = _excerpt(answer)
        if not outcome.ok:
            outcome.error = f"HTTP {outcome.status_code}"
    except httpx.TimeoutException:
        outcome.error = f"No answer within {TIMEOUT_SECONDS:g} s."
    except httpx.HTTPError as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"[:500]
    outcome.duration_ms = int((time.monotonic() - clock) * 1000)
    return outcome


def _excerpt(answer: httpx.Response) -> str:
    """The start of the answer, without reading an endless body."""
    data = b""
    for chunk in answer.iter_bytes():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    return data[:EXCERPT_BYTES].decode("utf-8", "replace")


def record(delivery: Delivery, outcome: Outcome, lease: datetime) -> str:
    """Log the attempt and move the delivery on; returns its new status."""
    now = timezone.now()
    number = delivery.attempts + 1
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery_id=delivery.pk,
            number=number,
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error,
            response_excerpt=outcome.excerpt,
        )
        fields = {
            "attempts": number,
            "lease_until": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.ok:
            status = Delivery.Status.SUCCEEDED
            fields["completed_at"] = now
        else:
            retry_at = next_attempt_at(created_at=delivery.created_at, attempts=number, now=now)
            if retry_at is None:
                status = Delivery.Status.DEAD
                fields["completed_at"] = now
            else:
                status = Delivery.Status.FAILED
                fields["next_attempt_at"] = retry_at
        # Only while our lease holds: a worker that took it over owns the outcome.
        Delivery.objects.filter(pk=delivery.pk, lease_until=lease).update(status=status, **fields)
        _endpoint_health(delivery.endpoint_id, outcome.ok, status == Delivery.Status.DEAD, now)
    return status


def _endpoint_health(endpoint_id: int, ok: bool, dead: bool, now: datetime) -> None:
    endpoints = Endpoint.objects.filter(pk=endpoint_id)
    if ok:
        endpoints.exclude(failing_since=None, dead_streak=0).update(
            failing_since=None, dead_streak=0
        )
        return
    endpoints.filter(failing_since=None).update(failing_since=now)
    if dead:
        endpoints.update(dead_streak=F("dead_streak") + 1)
    endpoint = endpoints.only("is_active", "failing_since", "dead_streak").first()
    if endpoint is None or not endpoint.is_active:
        return
    reason = ""
    if endpoint.failing_since and endpoint.failing_since <= now - DISABLE_AFTER_FAILING:
        reason = (
            f"Switched off on {now:%Y-%m-%d %H:%M} UTC: no successful delivery since "
            f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC."
        )
    elif endpoint.dead_streak >= DISABLE_AFTER_DEAD:
        reason = (
            f"Switched off on {now:%Y-%m-%d %H:%M} UTC: {endpoint.dead_streak} deliveries "
            "in a row failed for 24 hours."
        )
    if reason and endpoints.filter(is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason
    ):
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
        from integrations.events import subscriptions_changed

        subscriptions_changed()


def deliver_due(*, budget_seconds: float = 50.0) -> dict:
    """Deliver what is due until nothing is left or the time budget is spent."""
    counts = {"succeeded": 0, "failed": 0, "dead": 0, "more": False}
    deadline = time.monotonic() + budget_seconds
    with (
        httpx.Client(
            timeout=TIMEOUT_SECONDS, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        ) as client,
        ThreadPoolExecutor(max_workers=CONCURRENCY) as pool,
    ):
        while True:
            if time.monotonic() >= deadline:
                counts["more"] = True
                break
            deliveries, lease = claim()
            if not deliveries:
                break
            # Only the HTTP calls run in threads; the database is used from this one.
            outcomes = list(pool.map(lambda d: post(client, d), deliveries))
            for delivery, outcome in zip(deliveries, outcomes, strict=True):
                counts[record(delivery, outcome, lease)] += 1
    return counts
