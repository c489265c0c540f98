"""End to end with real processes: a real inbound webhook and a real receipt make
events, a real Celery worker delivers them, and the receiver, in its own process,
checks each signature and records each body."""

import json
import time
import uuid
from contextlib import contextmanager

import pytest
from django.urls import reverse

from integrations.models import Delivery, DeliveryAttempt, Event, EventType
from integrations.services import endpoint_send_test
from integrations.tasks import deliver_due
from messaging import tasks as messaging_tasks
from messaging.models import Status
from smsworks.celery import app, ping
from smsworks.models import WorkerHeartbeat
from tests.factories import ContactFactory, MessageFactory, ProviderAccountFactory, SenderFactory
from tests.processes import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@contextmanager
def ready_worker():
    """A real worker, used only once it has run a task (so it consumes every queue)."""
    app.control.purge()
    with celery_worker() as worker:
        marker = f"integrations-{uuid.uuid4()}"
        ping.delay(marker)
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(marker=marker).exists(),
            timeout=90,
            what="the worker to start",
        )
        yield worker


def wait_as_beat_would(predicate, *, what: str, receiver, timeout: float = 90):
    """Wait, sending the periodic sweeps every 10 s as beat does in production
    (apply receipts, deliver what is due): a kick lost on a busy broker is then
    picked up as it would be in a real install, instead of failing the test."""
    started = time.monotonic()
    swept = started

    def check():
        nonlocal swept
        if time.monotonic() - swept >= 10:
            swept = time.monotonic()
            messaging_tasks.apply_receipts.delay()
            deliver_due.delay()
        return predicate()

    try:
        return wait_for(check, timeout=timeout, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {_state(receiver)}") from exc


def _state(receiver) -> str:
    """What to print when a wait times out."""
    deliveries = list(Delivery.objects.values_list("status", "attempts", "last_error"))
    return f"events={Event.objects.count()} deliveries={deliveries} requests={receiver.requests()}"


def _post(client, account, kind, payload) -> None:
    url = reverse(f"messaging:webhook_{kind}", args=[account.public_id])
    response = client.post(
        f"{url}?token={account.webhook_secret}",
        json.dumps(payload),
        content_type="application/json",
    )
    assert response.status_code == 200


def test_a_text_and_a_receipt_reach_the_receiver_signed(client, receiver, endpoint_for):
    account = ProviderAccountFactory(backend="console", credentials={})
    sender = SenderFactory(account=account, value="+447900000201", metadata={"team": "sales"})
    contact = ContactFactory(phone="+447700900201", first_name="Grace", custom={"plan": "pro"})
    sent = MessageFactory(
        sender=sender,
        to_number=contact.phone,
        contact=contact,
        status=Status.SENT,
        provider_message_id="prov-201",
        body="Your order shipped",
    )
    endpoint_for(
        f"{receiver.url}/ok", [EventType.MESSAGE_RECEIVED, EventType.MESSAGE_STATUS_CHANGED]
    )

    with ready_worker() as worker:
        _post(
            client,
            account,
            "inbound",
            {"from": contact.phone, "to": sender.value, "body": "Thanks!"},
        )
        _post(client, account, "receipts", {"id": "prov-201", "status": "delivered"})
        # The webhook kicks the receipts task too, unless this process kicked it a moment ago.
        messaging_tasks.apply_receipts.delay()

        wait_as_beat_would(
            lambda: Delivery.objects.filter(status="succeeded").count() == 2,
            what="both deliveries to succeed",
            receiver=receiver,
        )
        requests = receiver.requests()
        assert worker.poll() is None

    assert all(r["verified"] for r in requests)
    assert sorted(r["event"] for r in requests) == ["message.received", "message.status_changed"]
    (received,) = receiver.bodies("message.received")
    assert received["type"] == "message.received"
    data = received["data"]
    assert data["message"]["text"] == "Thanks!"
    assert data["contact"]["fields"] == {"plan": "pro"}
    assert data["number"]["metadata"] == {"team": "sales"}
    assert data["last_sent"]["id"] == str(sent.uuid)
    (status,) = receiver.bodies("message.status_changed")
    assert status["data"]["message"]["id"] == str(sent.uuid)
    assert status["data"]["message"]["status"] == "delivered"
    assert DeliveryAttempt.objects.filter(status_code=200).count() == 2


def test_a_failing_receiver_is_retried_by_the_worker_and_a_replay_resends(
    client, admin_user, receiver, endpoint_for
):
    endpoint = endpoint_for(f"{receiver.url}/flaky/1")

    with ready_worker() as worker:
        delivery = endpoint_send_test(endpoint=endpoint)  # kicks the task on commit
        wait_as_beat_would(
            lambda: DeliveryAttempt.objects.filter(delivery=delivery).exists(),
            what="the first attempt",
            receiver=receiver,
        )
        delivery.refresh_from_db()
        assert (delivery.status, delivery.last_status_code) == ("failed", 500)

        # A retry is due later; move its time to now and let the sweep find it.
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
        deliver_due.delay()
        wait_as_beat_would(
            lambda: Delivery.objects.filter(pk=delivery.pk, status="succeeded").exists(),
            what="the retry to succeed",
            receiver=receiver,
        )

        client.force_login(admin_user)
        response = client.post(reverse("integrations:delivery_replay", args=[delivery.pk]))
        assert response.status_code == 302
        wait_as_beat_would(
            lambda: Delivery.objects.filter(replay_of=delivery, status="succeeded").exists(),
            what="the replay to succeed",
            receiver=receiver,
        )
        assert worker.poll() is None

    statuses = [r["status"] for r in receiver.requests()]
    assert statuses == [500, 200, 200]
    assert len({r["body"] for r in receiver.requests()}) == 1  # one event, three times
    codes = list(
        DeliveryAttempt.objects.filter(delivery=delivery)
        .order_by("number")
        .values_list("status_code", flat=True)
    )
    assert codes == [500, 200]
