"""Events and their deliveries, written in the transaction of the change they report.

Most changes happen with no endpoint listening, so the first question ("does any
active endpoint subscribe to this type?") is answered from the cache: one cache
read, no query and no payload built when the answer is no.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from integrations.models import Delivery, Endpoint, Event

log = logging.getLogger(__name__)

SUBSCRIPTIONS_KEY = "integrations:subscribed-types:v1"
# Bounds how long a stale answer can live if an invalidation raced a read.
SUBSCRIPTIONS_TTL = 30


def subscribed_types() -> frozenset[str]:
    try:
        cached = cache.get(SUBSCRIPTIONS_KEY)
    except Exception:  # the cache is an optimisation: never lose an event to it
        log.exception("subscription cache unreadable")
        cached = None
    if cached is not None:
        return frozenset(cached)
    types: set[str] = set()
    for events in Endpoint.objects.live().filter(is_active=True).values_list("events", flat=True):
        types.update(events)
    try:
        cache.set(SUBSCRIPTIONS_KEY, sorted(types), SUBSCRIPTIONS_TTL)
    except Exception:
        log.exception("subscription cache unwritable")
    return frozenset(types)


def subscriptions_changed() -> None:
    """Forget the cached answer now and again when the change commits (a reader in
    between could have cached what it saw before the commit)."""

    def forget() -> None:
        try:
            cache.delete(SUBSCRIPTIONS_KEY)
        except Exception:
            log.exception("subscription cache not cleared")

    forget()
    transaction.on_commit(forget)


def kick_deliveries() -> None:
    """Start the delivery task once the events are committed."""

    def kick() -> None:
        from integrations import tasks

        try:
            tasks.deliver_due.delay()
        except Exception:
            # The deliveries are stored; beat's sweep picks them up.
            log.exception("could not start the webhook delivery task")

    transaction.on_commit(kick)


def events_emit(
    *, type: str, build: Callable[[], list[dict]], endpoints: list[Endpoint] | None = None
) -> list[Event]:
    """Write events of one type (payloads from `build`, called only when needed) and a
    delivery to each subscribed endpoint, set-based, in the caller's transaction."""
    if endpoints is None:
        if type not in subscribed_types():
            return []
        endpoints = [
            e
            for e in Endpoint.objects.live().filter(is_active=True).only("id", "events")
            if type in e.events
        ]
    if not endpoints:
        return []
    payloads = build()
    if not payloads:
        return []
    events = Event.objects.bulk_create(
        [Event(type=type, payload=p) for p in payloads], batch_size=1000
    )
    now = timezone.now()
    Delivery.objects.bulk_create(
        [
            Delivery(endpoint_id=e.pk, event=ev, next_attempt_at=now)
            for ev in events
            for e in endpoints
        ],
        batch_size=1000,
    )
    kick_deliveries()
    return events


def emit_safely(*, type: str, build: Callable[[], list[dict]]) -> None:
    """For signal receivers: a failure here must never undo the change being
    reported (an inbound text, a receipt), so it is contained in a savepoint."""
    try:
        if type not in subscribed_types():
            return  # the common case: no savepoint, no query
        with transaction.atomic():
            events_emit(type=type, build=build)
    except Exception:
        log.exception("could not record %s events", type)
