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


FREEZE_PROBE = """
import gc
from celery.signals import worker_process_init
from smsworks.celery import app
app.loader.import_default_modules()
worker_process_init.send(sender=None)
print(gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_a_worker_process_leaves_what_it_loaded_out_of_the_collectors_walks():
    """As a prefork child starts, everything loaded (the tasks and Django) goes to the
    permanent generation: a full collection walks only what tasks made since."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    frozen, tracked = map(int, result.stdout.split())
    assert frozen > 50_000
    assert tracked < 2_000
