"""Celery tasks: thin triggers. The deliveries table is the queue of record; beat's
sweep finds due retries (and any delivery whose kick was lost)."""

from __future__ import annotations

from celery import shared_task

from integrations import delivery


@shared_task(name="integrations.deliver_due")
def deliver_due() -> dict:
    counts = delivery.deliver_due()
    if counts["more"]:
        deliver_due.delay()
    return counts
