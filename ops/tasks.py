from celery import shared_task

from ops import heartbeats


@shared_task(name="ops.heartbeat", ignore_result=True)
def heartbeat(queue: str) -> None:
    """Run by a worker from ``queue``: stamps that the queue is consumed."""
    hostname = heartbeat.request.hostname or "unknown"
    heartbeats.worker_stamp(queue, hostname)
