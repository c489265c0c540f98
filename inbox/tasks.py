"""Thin tasks: take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from inbox import forwards, services


# acks_late is safe: the forward is claimed (a lease) before any network I/O.
@shared_task(name="inbox.forward_deliver", bind=True, max_retries=None, acks_late=True)
def forward_deliver(self, forward_id: int) -> str:
    delivery = forwards.forward_deliver(forward_id=forward_id)
    if delivery is None:
        return "not due"
    if delivery.retry_in is not None:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.status


@shared_task(name="inbox.tick")
def tick() -> dict:
    """Beat: wake snoozes that ran out; re-enqueue forwards whose task was lost."""
    return {
        "woken": services.conversations_wake_due(),
        "forwards": forwards.forwards_sweep(),
    }
