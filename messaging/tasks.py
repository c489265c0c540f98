"""Celery tasks: thin triggers that take ids and call the engine. The outbox in
the database is the queue of record, so a lost task loses no work: beat's
dispatch_due finds due messages again within seconds."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.core.cache import cache

from messaging import dispatch, inbound, receipts

log = logging.getLogger(__name__)

LANE_QUEUE = {"transactional": "transactional", "bulk": "bulk"}


# Seconds after a dispatch kick in which no other kick of that sender and lane starts.
KICK_SECONDS = 1
# Until when (time.time()) this process knows a kick of (sender, lane) holds those
# seconds: it does not ask Redis again before then (the answer would be no).
_kick_held_until: dict[tuple[int, str], float] = {}


def kick_dispatch(sender_id: int, lane: str) -> None:
    """Start a dispatch for this sender and lane unless one was started a moment ago."""
    lane = str(lane)
    now = time.time()
    if _kick_held_until.get((sender_id, lane), 0.0) > now:
        return
    key = f"messaging:kick:{sender_id}:{lane}"
    try:
        # The value says when the hold ends, so that a process refused learns it too.
        if cache.add(key, now + KICK_SECONDS, timeout=KICK_SECONDS):
            held_until = now + KICK_SECONDS
            dispatch_sender.apply_async(args=[sender_id, lane], queue=LANE_QUEUE[lane])
        else:
            held_until = cache.get(key) or 0.0
        # A little early, so that clocks a few ms apart never skip a kick that is due.
        _kick_held_until[(sender_id, lane)] = held_until - 0.05
    except Exception:
        # The row is queued in the database; beat's dispatch_due will find it.
        log.exception("could not start a dispatch for sender %s", sender_id)


# acks_late is safe here: the claim (queued -> sending) guards every row, so a
# redelivered task only picks up what is still queued.
@shared_task(name="messaging.dispatch_sender", acks_late=True, reject_on_worker_lost=True)
def dispatch_sender(sender_id: int, lane: str) -> dict:
    report = dispatch.dispatch(sender_id=sender_id, lane=lane)
    if report.more:
        dispatch_sender.apply_async(args=[sender_id, lane], queue=LANE_QUEUE[lane])
    return {"sent": report.sent, "failed": report.failed, "retried": report.retried}


@shared_task(name="messaging.dispatch_due")
def dispatch_due() -> int:
    pairs = dispatch.due_lanes()
    for sender_id, lane in pairs:
        kick_dispatch(sender_id, lane)
    return len(pairs)


# When this process last asked for an apply_receipts run (time.monotonic()).
_receipts_kicked_at = -1.0


def kick_receipts() -> None:
    """Start applying receipts unless that was asked a moment ago. Called on every
    receipt webhook: within half a second of its own last ask a process does not
    even ask Redis (the shared 1 s key would refuse it in most cases anyway)."""
    global _receipts_kicked_at
    now = time.monotonic()
    if now - _receipts_kicked_at < 0.5:
        return
    _receipts_kicked_at = now
    try:
        if cache.add("messaging:kick:receipts", 1, timeout=1):
            apply_receipts.apply_async(countdown=0.2)
    except Exception:
        # The receipts are stored; beat's apply_receipts tick will apply them.
        log.exception("could not start applying receipts")


# How long one apply_receipts task keeps its worker process. A worker that also
# serves the transactional queue must not make a one-off send wait behind a
# backlog of receipts: past this, the task queues its own continuation (behind
# whatever is waiting) and ends.
APPLY_BUDGET_SECONDS = 1.0


@shared_task(name="messaging.apply_receipts")
def apply_receipts() -> dict:
    total = {"applied": 0, "stale": 0, "unmatched": 0}
    started = time.monotonic()
    while True:
        counts = receipts.receipts_apply()
        for key in total:
            total[key] += counts[key]
        if counts["applied"] + counts["stale"] + counts["unmatched"] < receipts.APPLY_LIMIT:
            return total
        if time.monotonic() - started >= APPLY_BUDGET_SECONDS:
            apply_receipts.apply_async()
            total["continued"] = 1
            return total


@shared_task(name="messaging.reconcile_leases")
def reconcile_leases() -> dict:
    return dispatch.reconcile_leases()


@shared_task(name="messaging.inbound_process", acks_late=True)
def inbound_process(message_id: int) -> bool:
    return inbound.inbound_process(message_id=message_id)


@shared_task(name="messaging.inbound_sweep")
def inbound_sweep() -> int:
    """Hand over inbound texts whose processing task was lost (crash, broker restart)."""
    from datetime import timedelta

    from django.utils import timezone

    from messaging.models import Direction, Message

    cutoff = timezone.now() - timedelta(seconds=30)
    ids = list(
        Message.objects.filter(
            direction=Direction.INBOUND, processed_at__isnull=True, received_at__lt=cutoff
        ).values_list("id", flat=True)[:1000]
    )
    for message_id in ids:
        inbound_process.delay(message_id)
    return len(ids)
