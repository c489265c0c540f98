"""What the system health page shows: queues, outbox, send rate, receipts, workers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from ops import checks, heartbeats

# kombu's Redis transport keeps priority messages in extra lists named queue + sep + level.
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)
# The send rate counts rows created in this window only, so that it uses the
# created_at index instead of scanning the whole message table.
RATE_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class Heartbeat:
    name: str
    age: float | None  # seconds, None: never
    ok: bool


def queue_depths() -> dict[str, int | None]:
    """Tasks waiting in each broker queue; None when the broker cannot be read."""
    depths: dict[str, int | None] = {}
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = checks.embedded_broker_folder()
        for queue in heartbeats.QUEUES:
            try:
                depths[queue] = sum(1 for _ in folder.glob(f"*.{queue}.msg")) if folder else None
            except OSError:
                depths[queue] = None
        return depths
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    try:
        client = checks.redis_client()
        for queue in heartbeats.QUEUES:
            names = [queue, *(f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS)]
            depths[queue] = sum(client.llen(f"{prefix}{name}") for name in names)
    except Exception:
        return dict.fromkeys(heartbeats.QUEUES)
    return depths


def outbox() -> list[dict]:
    """Queued outbound messages by lane (priority), with how many are held."""
    from messaging.models import Direction, Message, Priority, Status

    rows = (
        Message.objects.filter(direction=Direction.OUTBOUND, status=Status.QUEUED)
        .values("priority")
        .annotate(queued=Count("id"), held=Count("id", filter=Q(held=True)))
        .order_by()
    )
    by_lane = {row["priority"]: row for row in rows}
    sending = Message.objects.filter(status=Status.SENDING).count()
    lanes = []
    for lane in Priority:
        row = by_lane.get(lane.value, {})
        lanes.append(
            {"lane": lane.label, "queued": row.get("queued", 0), "held": row.get("held", 0)}
        )
    return [*lanes, {"lane": "In flight (sending)", "queued": sending, "held": 0}]


def send_rate() -> dict[str, int]:
    from messaging.models import Direction, Message

    now = timezone.now()
    recent = Message.objects.filter(direction=Direction.OUTBOUND, created_at__gte=now - RATE_WINDOW)
    counts = recent.aggregate(
        minute=Count("id", filter=Q(sent_at__gte=now - timedelta(minutes=1))),
        hour=Count("id", filter=Q(sent_at__gte=now - timedelta(hours=1))),
    )
    return {"minute": counts["minute"], "hour": counts["hour"]}


def receipt_lag() -> dict:
    from messaging.models import PendingReceipt

    agg = PendingReceipt.objects.aggregate(pending=Count("id"), oldest=Min("received_at"))
    age = (timezone.now() - agg["oldest"]).total_seconds() if agg["oldest"] else None
    return {"pending": agg["pending"], "oldest_age": age}


def heartbeat_rows() -> tuple[Heartbeat, list[Heartbeat], list[dict]]:
    now = time.time()
    limit = heartbeats.max_age()
    beat_at = heartbeats.beat_last()
    beat = Heartbeat("beat", None if beat_at is None else now - beat_at, False)
    beat = Heartbeat("beat", beat.age, beat.age is not None and beat.age <= limit)
    queues = []
    for queue in heartbeats.QUEUES:
        last = heartbeats.queue_last(queue)
        age = None if not last else now - last["at"]
        queues.append(Heartbeat(queue, age, age is not None and age <= limit))
    workers = []
    for host, stamps in sorted(heartbeats.workers_last().items()):
        age = now - max(stamps.values())
        workers.append({"hostname": host, "queues": sorted(stamps), "age": age, "ok": age <= limit})
    return beat, queues, workers
