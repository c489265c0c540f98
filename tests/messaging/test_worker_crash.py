"""SIGKILL a real worker in the middle of a batch: every message is still sent
exactly once, by the simulator's own record."""

from __future__ import annotations

import pytest

from messaging import dispatch, tasks
from messaging.models import Message, Priority, Status
from messaging.services import message_send
from smsworks.celery import app
from tests.processes import celery_worker, kill, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(engine, live_server):
    sim, sender = engine["simulator"], engine["sender"]
    sender.messages_per_second = 100  # the first claim takes 100 of the 300
    sender.save()
    app.control.purge()
    sim.config(rate_slow=1.0, slow_ms=5000)  # the batch is accepted, its answer is late
    for i in range(300):
        message_send(
            to=f"+4479121{i:05d}", body=f"Offer {i}", sender=sender, priority=Priority.BULK
        )
    env = {
        "MESSAGING_WEBHOOK_BASE_URL": live_server.url,
        "MESSAGING_SENDING_LEASE_SECONDS": str(LEASE_SECONDS),
    }

    with celery_worker(concurrency=1, env=env) as worker:
        tasks.kick_dispatch(sender.pk, "bulk")
        wait_for(lambda: sim.stats()["accepted"] > 0, timeout=120, what="a batch in flight")
        kill(worker)

    in_flight = Message.objects.filter(status=Status.SENDING).count()
    assert in_flight > 0, "the kill should have caught a batch in flight"
    sim.config(rate_slow=0.0)

    # After the lease, the reconciler asks the provider instead of resending.
    reconciled = {"sent": 0, "requeued": 0, "failed": 0, "later": 0}

    def reconcile() -> bool:
        for key, value in dispatch.reconcile_leases().items():
            reconciled[key] += value
        return not Message.objects.filter(status=Status.SENDING).exists()

    wait_for(reconcile, timeout=LEASE_SECONDS + 30, interval=0.5, what="stale claims reconciled")
    assert reconciled["sent"] + reconciled["requeued"] == in_flight
    assert reconciled["failed"] == 0

    with celery_worker(concurrency=1, env=env):
        tasks.kick_dispatch(sender.pk, "bulk")
        wait_for(
            lambda: not Message.objects.filter(status__in=[Status.QUEUED, Status.SENDING]).exists(),
            timeout=90,
            what="every message to be sent",
        )

    references = [line["reference"] for line in sim.record_lines()]
    assert len(references) == 300
    assert len(set(references)) == 300
    assert sim.stats()["duplicates"] == 0
    assert set(references) == {str(u) for u in Message.objects.values_list("uuid", flat=True)}
