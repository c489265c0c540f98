"""Writes about webhook endpoints: create, edit, delete, replay, test."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations import payloads
from integrations.events import events_emit, kick_deliveries, subscriptions_changed
from integrations.models import Delivery, Endpoint, EventType


@transaction.atomic
def endpoint_create(
    *, url: str, events: list[str], description: str = "", user: AbstractBaseUser | None = None
) -> Endpoint:
    endpoint = Endpoint.objects.create(
        url=url, events=sorted(set(events)), description=description, created_by=user
    )
    subscriptions_changed()
    return endpoint


@transaction.atomic
def endpoint_update(
    *, endpoint: Endpoint, url: str, events: list[str], description: str, is_active: bool
) -> Endpoint:
    endpoint.url, endpoint.description = url, description
    endpoint.events = sorted(set(events))
    fields = ["url", "description", "events", "is_active", "updated_at"]
    if is_active and not endpoint.is_active:
        # Switched back on: the failure history that switched it off starts over.
        endpoint.disabled_reason, endpoint.disabled_at = "", None
        endpoint.failing_since, endpoint.dead_streak = None, 0
        fields += ["disabled_reason", "disabled_at", "failing_since", "dead_streak"]
    elif not is_active and endpoint.is_active:
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = "Switched off by hand."
        fields += ["disabled_reason", "disabled_at"]
    endpoint.is_active = is_active
    endpoint.save(update_fields=fields)
    subscriptions_changed()
    if is_active:
        kick_deliveries()  # what waited while it was off
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Kept as a deleted row (its delivery log stays readable); nothing more is sent."""
    Endpoint.objects.filter(pk=endpoint.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), is_active=False, updated_at=timezone.now()
    )
    subscriptions_changed()


@transaction.atomic
def delivery_replay(*, delivery: Delivery) -> Delivery:
    """Send the same event to the same endpoint again, as a new delivery (with a fresh
    day of retries); the original and its attempts stay as they were."""
    endpoint = Endpoint.objects.live().filter(pk=delivery.endpoint_id).first()
    if endpoint is None:
        raise ValidationError("This endpoint was deleted.")
    if not endpoint.is_active:
        raise ValidationError("This endpoint is switched off: switch it on to replay.")
    replay = Delivery.objects.create(
        endpoint=endpoint,
        event_id=delivery.event_id,
        next_attempt_at=timezone.now(),
        replay_of=delivery,
    )
    kick_deliveries()
    return replay


@transaction.atomic
def endpoint_send_test(*, endpoint: Endpoint) -> Delivery:
    if not endpoint.is_active:
        raise ValidationError("This endpoint is switched off: switch it on to test it.")
    (event,) = events_emit(
        type=EventType.TEST, build=lambda: [payloads.test_event()], endpoints=[endpoint]
    )
    return Delivery.objects.get(event=event, endpoint=endpoint)
