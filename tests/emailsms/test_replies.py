"""An SMS reply to a text sent from an email goes back by email, in the same thread."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail as outbox

from emailsms.models import AllowedSender, EmailReply, EmailText
from emailsms.tasks import replies_due
from messaging.inbound import inbound_process, inbound_store
from messaging.providers import InboundSMS
from messaging.services import message_send
from tests.factories import SenderFactory

pytestmark = pytest.mark.django_db

NUMBER = "+447912345678"


@pytest.fixture(autouse=True)
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def texted(settings):
    """A mail from ada@example.com that was texted to NUMBER."""
    sender = SenderFactory(value="+447911000001")
    allowed = AllowedSender.objects.create(address="ada@example.com", sender=sender)
    sms = message_send(to=NUMBER, body="Your table is booked.", sender=sender).message
    return EmailText.objects.create(
        message_id="<booking-1@example.com>",
        channel="smtp",
        from_address="ada@example.com",
        subject="Booking",
        to_number=NUMBER,
        platform_number=sender.value,
        allowed_sender=allowed,
        body=sms.body,
        sms=sms,
    )


def _receive(sender, body: str, *, pid: str = "in-1", from_number: str = NUMBER):
    [message] = inbound_store(
        account=sender.account,
        texts=[
            InboundSMS(
                provider_message_id=pid, from_number=from_number, to_number=sender.value, body=body
            )
        ],
    )
    return message


def test_it_mails_the_reply_in_the_thread(texted, settings, django_capture_on_commit_callbacks):
    sender = texted.sms.sender
    message = _receive(sender, "Great, see you at 8!")

    with django_capture_on_commit_callbacks(execute=True):
        inbound_process(message_id=message.pk)

    [mail] = outbox.outbox
    assert mail.to == ["ada@example.com"]
    assert mail.subject == "Re: Booking"
    assert mail.from_email == f"{NUMBER} <{NUMBER}@{settings.EMAIL_TO_SMS_DOMAIN}>"
    assert mail.extra_headers["In-Reply-To"] == "<booking-1@example.com>"
    assert mail.extra_headers["References"] == "<booking-1@example.com>"
    assert mail.body.startswith("Great, see you at 8!\n")
    reply = EmailReply.objects.get()
    assert reply.status == "sent" and reply.inbound_id == message.pk
    assert mail.extra_headers["Message-ID"] == reply.mail_message_id


def test_a_text_handled_twice_is_mailed_once(texted, django_capture_on_commit_callbacks):
    message = _receive(texted.sms.sender, "Yes")

    with django_capture_on_commit_callbacks(execute=True):
        inbound_process(message_id=message.pk)
        message.refresh_from_db()
        message.processed_at = None
        message.save(update_fields=["processed_at"])
        inbound_process(message_id=message.pk)
    replies_due()

    assert len(outbox.outbox) == 1
    assert EmailReply.objects.count() == 1


def test_a_text_from_a_number_no_mail_went_to_is_not_mailed(
    texted, django_capture_on_commit_callbacks
):
    message = _receive(texted.sms.sender, "Who is this?", from_number="+447912999888")

    with django_capture_on_commit_callbacks(execute=True):
        inbound_process(message_id=message.pk)

    assert outbox.outbox == []
    assert not EmailReply.objects.exists()


def test_a_mail_server_that_is_down_delays_the_reply(
    texted, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.inbox.mailbackends.FailingBackend"
    message = _receive(texted.sms.sender, "Running late")

    with django_capture_on_commit_callbacks(execute=True):
        inbound_process(message_id=message.pk)

    reply = EmailReply.objects.get()
    assert reply.status == "pending" and reply.attempts == 1 and "Connection" in reply.error
    # Backoff: the next try is at least ten seconds after the failure.
    assert reply.next_attempt_at - reply.created_at >= timedelta(seconds=10)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    EmailReply.objects.update(next_attempt_at=reply.created_at)
    assert replies_due() == 1

    reply.refresh_from_db()
    assert reply.status == "sent" and reply.attempts == 2
    assert len(outbox.outbox) == 1


def test_the_reply_goes_to_the_latest_mail_to_that_number(
    texted, django_capture_on_commit_callbacks
):
    later = EmailText.objects.create(
        message_id="<booking-2@example.com>",
        channel="smtp",
        from_address="bob@example.com",
        subject="Re: Booking",
        to_number=NUMBER,
        platform_number=texted.platform_number,
        body="Bob here",
        sms=texted.sms,
    )
    message = _receive(texted.sms.sender, "Thanks Bob")

    with django_capture_on_commit_callbacks(execute=True):
        inbound_process(message_id=message.pk)

    [mail] = outbox.outbox
    assert mail.to == ["bob@example.com"] and mail.subject == "Re: Booking"
    assert EmailReply.objects.get().text == later
