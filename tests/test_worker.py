"""A real Celery worker process on the real broker runs a task enqueued on commit."""

import uuid

import pytest
from django.db import transaction

from smsworks.celery import app, ping
from smsworks.models import WorkerHeartbeat
from tests.processes import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_it_runs_a_task_enqueued_on_commit_in_a_real_worker():
    app.control.purge()
    marker = f"test-{uuid.uuid4()}"
    with celery_worker() as worker:
        with transaction.atomic():
            transaction.on_commit(lambda: ping.delay(marker))
            # Not sent yet: the task only leaves when the transaction commits.
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(marker=marker).exists(),
            timeout=60,
            what="the worker to write the heartbeat",
        )
        assert worker.poll() is None, "the worker process exited"
    assert WorkerHeartbeat.objects.filter(marker=marker).count() == 1
