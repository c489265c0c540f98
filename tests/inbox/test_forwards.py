"""Email and webhook forwards: retried with backoff, never lost, never doubled."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from inbox import forwards, tasks
from inbox.models import Forward, Rule, RuleAction
from tests.inbox.conftest import receive
from tests.messaging.httpfake import FakeResponse, HTTPFake

pytestmark = pytest.mark.django_db

FAILING = "tests.inbox.mailbackends.FailingBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def forward_rule(kind, target) -> Rule:
    rule = Rule.objects.create(name="Forward")
    RuleAction.objects.create(rule=rule, kind=kind, text=target)
    return rule


def due_now(forward: Forward) -> None:
    """As if the backoff had passed."""
    Forward.objects.filter(pk=forward.pk).update(next_attempt_at=timezone.now())


def test_a_text_forwarded_to_email_survives_a_mail_server_outage(sender, settings):
    forward_rule(RuleAction.Kind.FORWARD_EMAIL, "oncall@example.com, boss@example.com")
    receive(sender, "The lift is stuck on floor 3")
    forward = Forward.objects.get()

    settings.EMAIL_BACKEND = FAILING
    before = timezone.now()
    with pytest.raises(Retry):
        tasks.forward_deliver(forward.pk)
    forward.refresh_from_db()
    assert (forward.status, forward.attempts) == ("pending", 1)
    assert "SMTPServerDisconnected" in forward.last_error
    assert forward.next_attempt_at >= before + timedelta(seconds=5)  # backoff
    assert mail.outbox == []

    due_now(forward)
    with pytest.raises(Retry):
        tasks.forward_deliver(forward.pk)
    forward.refresh_from_db()
    assert forward.attempts == 2

    settings.EMAIL_BACKEND = LOCMEM
    due_now(forward)
    assert tasks.forward_deliver(forward.pk) == "done"
    forward.refresh_from_db()
    assert (forward.status, forward.attempts) == ("done", 3)
    (email,) = mail.outbox
    assert email.to == ["oncall@example.com", "boss@example.com"]
    assert email.subject == "SMS from +447911123456 to Support (+447900000001)"
    assert "The lift is stuck on floor 3" in email.body
    assert "From: +447911123456" in email.body and "To: Support (+447900000001)" in email.body

    # A duplicate task (redelivered, or swept) sends nothing more.
    assert tasks.forward_deliver(forward.pk) == "not due"
    assert len(mail.outbox) == 1


def test_the_backoff_grows_and_a_forward_fails_for_good_after_the_last_attempt(sender, settings):
    forward_rule(RuleAction.Kind.FORWARD_EMAIL, "oncall@example.com")
    receive(sender, "Hello")
    forward = Forward.objects.get()
    settings.EMAIL_BACKEND = FAILING
    delays = []
    for _ in range(forwards.MAX_ATTEMPTS - 1):
        due_now(forward)
        delivery = forwards.forward_deliver(forward_id=forward.pk)
        delays.append(delivery.retry_in)
    assert delays[0] < 10 < delays[4] <= delays[-1] <= 900 * 1.25
    due_now(forward)
    assert forwards.forward_deliver(forward_id=forward.pk).status == "failed"
    forward.refresh_from_db()
    assert (forward.status, forward.attempts) == ("failed", forwards.MAX_ATTEMPTS)


def test_a_forward_that_is_being_delivered_is_not_claimed_twice(sender):
    forward_rule(RuleAction.Kind.FORWARD_EMAIL, "oncall@example.com")
    receive(sender, "Hello")
    forward = Forward.objects.get()
    assert forwards._claim(forward.pk) is not None
    assert forwards._claim(forward.pk) is None  # leased


def test_the_sweep_finds_forwards_whose_task_was_lost(sender, monkeypatch):
    forward_rule(RuleAction.Kind.FORWARD_EMAIL, "oncall@example.com")
    receive(sender, "Hello")
    Forward.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    enqueued = []
    monkeypatch.setattr(forwards, "enqueue", enqueued.append)
    assert forwards.forwards_sweep() == 1
    assert enqueued == [Forward.objects.get().pk]


def test_a_webhook_gets_signed_json_and_is_retried_on_5xx(sender):
    with HTTPFake() as hook:
        rule = forward_rule(RuleAction.Kind.WEBHOOK, hook.url + "/sms")
        message = receive(sender, "Where is my parcel?")
        forward = Forward.objects.get()
        hook.respond(FakeResponse(status=503))
        hook.respond(FakeResponse(status=200))

        delivery = forwards.forward_deliver(forward_id=forward.pk)
        assert delivery.status == "pending" and delivery.retry_in
        due_now(forward)
        assert forwards.forward_deliver(forward_id=forward.pk).status == "done"

    request = hook.requests[-1]
    assert (request.method, request.path) == ("POST", "/sms")
    payload = request.json()
    assert payload["event"] == "inbound_message"
    assert payload["message"] == {
        "id": str(message.uuid),
        "from": "+447911123456",
        "to": "+447900000001",
        "body": "Where is my parcel?",
        "received_at": message.created_at.isoformat(),
    }
    expected = hmac.new(rule.signing_secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-smsworks-signature"] == f"sha256={expected}"
    assert json.loads(request.body) == payload


def test_a_webhook_answering_4xx_is_not_retried(sender):
    with HTTPFake() as hook:
        forward_rule(RuleAction.Kind.WEBHOOK, hook.url + "/sms")
        receive(sender, "Hello")
        hook.respond(FakeResponse(status=410))
        delivery = forwards.forward_deliver(forward_id=Forward.objects.get().pk)
    assert (delivery.status, delivery.retry_in, delivery.error) == ("failed", None, "HTTP 410")


def test_a_webhook_that_hangs_times_out_and_is_retried(sender, monkeypatch):
    monkeypatch.setattr(forwards, "WEBHOOK_TIMEOUT", 0.3)
    with HTTPFake() as hook:
        forward_rule(RuleAction.Kind.WEBHOOK, hook.url + "/sms")
        receive(sender, "Hello")
        hook.respond(FakeResponse(delay=2))
        delivery = forwards.forward_deliver(forward_id=Forward.objects.get().pk)
    assert delivery.status == "pending" and "Timeout" in delivery.error
