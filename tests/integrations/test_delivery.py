"""The delivery worker's steps, run in this process against a receiver in its own
process: signed POSTs, attempts logged, retries with backoff, giving up after a
day, switching off an endpoint that keeps failing, replay."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations import delivery
from integrations.delivery import deliver_due
from integrations.events import subscribed_types
from integrations.models import Delivery, DeliveryAttempt, EventType
from integrations.services import delivery_replay, endpoint_send_test

pytestmark = pytest.mark.django_db


def _make_due(delivery_row: Delivery) -> None:
    """Move the clock: the retry is due now."""
    Delivery.objects.filter(pk=delivery_row.pk).update(next_attempt_at=timezone.now())


def test_it_posts_the_signed_event_and_logs_the_attempt(receiver, endpoint_for):
    endpoint = endpoint_for(f"{receiver.url}/ok")
    sent = endpoint_send_test(endpoint=endpoint)

    counts = deliver_due()

    assert counts["succeeded"] == 1
    (request,) = receiver.requests()
    assert request["verified"] is True
    assert request["event"] == "webhook.test"
    assert request["delivery"] == str(sent.public_id)
    body = json.loads(request["body"])
    assert body["id"] == str(sent.event.public_id)
    assert body["type"] == "webhook.test"
    assert "message" in body["data"]
    sent.refresh_from_db()
    assert (sent.status, sent.attempts, sent.last_status_code) == ("succeeded", 1, 200)
    assert sent.completed_at is not None and sent.lease_until is None
    attempt = DeliveryAttempt.objects.get(delivery=sent)
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
    assert "received" in attempt.response_excerpt
    assert deliver_due()["succeeded"] == 0  # nothing twice


def test_a_failing_receiver_is_retried_with_backoff_and_each_attempt_logged(receiver, endpoint_for):
    endpoint = endpoint_for(f"{receiver.url}/flaky/2")
    sent = endpoint_send_test(endpoint=endpoint)

    assert deliver_due()["failed"] == 1
    sent.refresh_from_db()
    assert (sent.status, sent.attempts, sent.last_status_code) == ("failed", 1, 500)
    wait = (sent.next_attempt_at - timezone.now()).total_seconds()
    assert 10 < wait < 60  # 30 s with jitter
    assert deliver_due()["failed"] == 0  # not due yet
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None

    _make_due(sent)
    assert deliver_due()["failed"] == 1
    sent.refresh_from_db()
    assert (sent.status, sent.attempts) == ("failed", 2)
    assert (sent.next_attempt_at - timezone.now()).total_seconds() > 30  # ~60 s

    _make_due(sent)
    assert deliver_due()["succeeded"] == 1
    sent.refresh_from_db()
    assert (sent.status, sent.attempts) == ("succeeded", 3)
    codes = list(
        DeliveryAttempt.objects.filter(delivery=sent).order_by("number").values_list("status_code")
    )
    assert codes == [(500,), (500,), (200,)]
    assert [r["status"] for r in receiver.requests()] == [500, 500, 200]
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # healthy again


def test_an_unreachable_endpoint_is_a_logged_failure(endpoint_for):
    from tests.simulator.process import free_port

    endpoint = endpoint_for(f"http://127.0.0.1:{free_port()}/nobody")
    sent = endpoint_send_test(endpoint=endpoint)
    assert deliver_due()["failed"] == 1
    attempt = DeliveryAttempt.objects.get(delivery=sent)
    assert attempt.status_code is None
    assert "Connect" in attempt.error


def test_after_a_day_of_failures_the_delivery_is_dead(receiver, endpoint_for):
    endpoint = endpoint_for(f"{receiver.url}/fail")
    sent = endpoint_send_test(endpoint=endpoint)
    Delivery.objects.filter(pk=sent.pk).update(
        created_at=timezone.now() - delivery.RETRY_WINDOW - timedelta(minutes=1)
    )
    assert deliver_due()["dead"] == 1
    sent.refresh_from_db()
    assert sent.status == "dead" and sent.completed_at is not None
    endpoint.refresh_from_db()
    assert endpoint.dead_streak == 1
    assert endpoint.is_active  # failing for minutes, not a day


def test_an_endpoint_failing_for_a_day_is_switched_off_with_a_notice(
    client, admin_user, receiver, endpoint_for
):
    endpoint = endpoint_for(f"{receiver.url}/fail", [EventType.MESSAGE_RECEIVED])
    endpoint.failing_since = timezone.now() - timedelta(hours=25)
    endpoint.save(update_fields=["failing_since"])
    sent = endpoint_send_test(endpoint=endpoint)
    assert EventType.MESSAGE_RECEIVED in subscribed_types()

    deliver_due()

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "no successful delivery since" in endpoint.disabled_reason
    assert subscribed_types() == frozenset()  # no more events are recorded for it
    sent.refresh_from_db()
    assert sent.status == "failed"  # kept: a replay or re-enable sends it later
    client.force_login(admin_user)
    page = client.get(reverse("integrations:endpoint_detail", args=[endpoint.pk]))
    assert b"This endpoint is switched off" in page.content
    assert b"no successful delivery since" in page.content


def test_many_dead_deliveries_in_a_row_switch_an_endpoint_off(receiver, endpoint_for):
    endpoint = endpoint_for(f"{receiver.url}/fail")
    endpoint.dead_streak = delivery.DISABLE_AFTER_DEAD - 1
    endpoint.save(update_fields=["dead_streak"])
    sent = endpoint_send_test(endpoint=endpoint)
    Delivery.objects.filter(pk=sent.pk).update(created_at=timezone.now() - timedelta(days=2))
    deliver_due()
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "in a row" in endpoint.disabled_reason


def test_a_replay_is_a_new_delivery_of_the_same_event(receiver, endpoint_for):
    endpoint = endpoint_for(f"{receiver.url}/ok")
    sent = endpoint_send_test(endpoint=endpoint)
    deliver_due()

    replay = delivery_replay(delivery=Delivery.objects.get(pk=sent.pk))
    deliver_due()

    first, second = receiver.requests()
    assert first["body"] == second["body"]  # the same event, byte for byte
    assert (first["delivery"], second["delivery"]) == (str(sent.public_id), str(replay.public_id))
    replay.refresh_from_db()
    assert (replay.status, replay.replay_of_id) == ("succeeded", sent.pk)


def test_a_lease_keeps_a_delivery_from_a_second_worker(receiver, endpoint_for):
    endpoint = endpoint_for(f"{receiver.url}/ok")
    endpoint_send_test(endpoint=endpoint)
    claimed, _ = delivery.claim()
    assert len(claimed) == 1
    again, _ = delivery.claim()
    assert again == []  # leased to the first claim
    Delivery.objects.filter(pk=claimed[0].pk).update(lease_until=timezone.now())
    taken_over, _ = delivery.claim()
    assert [d.pk for d in taken_over] == [claimed[0].pk]  # the lease ran out
