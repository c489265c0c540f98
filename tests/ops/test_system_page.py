"""The system health page (/ops/) and heartbeats from a real worker and beat."""

import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from messaging.models import Message, PendingReceipt, Status
from ops import heartbeats, metrics
from tests.factories import MessageFactory
from tests.processes import BIN, ROOT, celery_worker, child_env, stop, wait_for


@pytest.fixture(autouse=True)
def _forget_heartbeats():
    from django.core.cache import cache

    keys = [heartbeats.BEAT_KEY, heartbeats.WORKERS_KEY]
    keys += [heartbeats.queue_key(q) for q in heartbeats.QUEUES]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.mark.django_db
def test_it_shows_outbox_rates_receipts_and_heartbeats(client, admin_user):
    now = timezone.now()
    MessageFactory(priority="transactional")
    MessageFactory(priority="bulk", held=True)
    MessageFactory(priority="bulk")
    MessageFactory(status=Status.SENT, sent_at=now - timezone.timedelta(seconds=20))
    MessageFactory(status=Status.SENT, sent_at=now - timezone.timedelta(minutes=20))
    message = MessageFactory(status=Status.SENT, sent_at=now - timezone.timedelta(hours=3))
    PendingReceipt.objects.create(
        account=message.account, provider_message_id="p-1", status=Status.DELIVERED, occurred_at=now
    )
    heartbeats.beat_stamp()
    heartbeats.worker_stamp("bulk", "celery@bulk-1")
    client.force_login(admin_user)

    response = client.get(reverse("ops:system"))

    assert response.status_code == 200
    outbox = {row["lane"]: row for row in response.context["outbox"]}
    assert outbox["Transactional"] == {"lane": "Transactional", "queued": 1, "held": 0}
    assert outbox["Bulk"] == {"lane": "Bulk", "queued": 2, "held": 1}
    assert response.context["rate"] == {"minute": 1, "hour": 2}
    assert response.context["receipts"]["pending"] == 1
    html = response.content.decode()
    assert "celery@bulk-1" in html
    assert 'hx-trigger="every 10s"' in html
    assert Message.objects.filter(status=Status.QUEUED).count() == 3


@pytest.mark.django_db
def test_htmx_refresh_gets_only_the_panels(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("ops:system"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b"No worker has reported yet" in response.content


@pytest.mark.django_db
def test_queue_depths_count_what_waits_in_the_broker():
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        path = folder / "0_deadbeef.bulk.msg"
        path.write_text("{}")
        try:
            assert metrics.queue_depths()["bulk"] >= 1
        finally:
            path.unlink()
        return
    from ops.checks import redis_client

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    client = redis_client()
    key = f"{prefix}transactional"
    before = metrics.queue_depths()["transactional"]
    client.rpush(key, "x", "y")
    client.rpush(f"{key}{metrics.PRIORITY_SEP}9", "z")
    try:
        assert metrics.queue_depths()["transactional"] == before + 3
    finally:
        client.ltrim(key, 0, -3)  # drop the two we pushed (at the tail)
        client.delete(f"{key}{metrics.PRIORITY_SEP}9")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_beat_and_worker_make_health_green(client, tmp_path):
    from smsworks.celery import app

    app.control.purge()
    log = ROOT / "var" / "test-beat.log"
    with (
        celery_worker() as worker,
        open(log, "ab") as out,
    ):
        beat = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "smsworks",
                "beat",
                "-l",
                "info",
                "--schedule",
                str(tmp_path / "beat-schedule"),
                "--pidfile",
                str(tmp_path / "beat.pid"),
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(
                lambda: client.get(reverse("ops:health")).status_code == 200,
                timeout=90,
                interval=1,
                what="/health/ to turn green with a real beat and worker",
            )
            assert worker.poll() is None and beat.poll() is None
            body = client.get(reverse("ops:health")).json()
            assert "transactional: celery@" in body["checks"]["workers"]["detail"]
        finally:
            stop(beat)
    # With the worker gone, its heartbeats age out (here: a short limit).
    time.sleep(0.1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(heartbeats, "max_age", lambda: 0.0)
        assert client.get(reverse("ops:health")).status_code == 503
