"""A real SMTP client against `manage.py run_smtp` in its own process; the text goes
through the engine to the simulator."""

from __future__ import annotations

from email.policy import SMTP

import pytest
from django.core import mail as outbox

from contacts.models import Suppression
from emailsms.models import AllowedSender, EmailText
from messaging import dispatch
from messaging.inbound import inbound_process
from messaging.models import Message, Status
from messaging.services import webhook_url
from tests.emailsms.conftest import SENDER_ADDRESS, mail
from tests.factories import SenderFactory
from tests.processes import celery_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "+447912345678"


def test_it_texts_a_mail_through_the_simulator(engine, smtp_listener):
    sim, sender = engine["simulator"], engine["sender"]
    AllowedSender.objects.create(address=SENDER_ADDRESS, sender=sender)
    body = (
        "Your table is booked for 8pm.\n\nThanks,\nThe Bistro\n-- \nThe Bistro, 1 High St\n\n"
        "On Mon, 1 Dec 2026 at 10:00, Sam <sam@example.net> wrote:\n> Can I book for 8?\n"
    )

    refused = smtp_listener.send(
        mail(to=smtp_listener.address("07912 345678"), body=body, message_id="<m1@example.com>")
    )

    assert refused == {}
    text = EmailText.objects.select_related("sms").get()
    assert (text.to_number, text.platform_number, text.from_address) == (
        NUMBER,
        sender.value,
        SENDER_ADDRESS,
    )
    assert text.body == "Your table is booked for 8pm."
    assert text.sms.priority == "transactional" and text.sms.status == Status.QUEUED
    report = dispatch.dispatch(sender_id=sender.pk, lane="transactional", budget_seconds=10)
    assert report.sent == 1
    received = wait_for(lambda: sim.messages(to=NUMBER), timeout=30, what="the simulator")
    assert [m["content"] for m in received] == ["Your table is booked for 8pm."]

    # The phone answers; the engine stores the text and hands it to the handlers,
    # and the reply is mailed back in the thread.
    sim.config(inbound_url=webhook_url(engine["account"], "inbound"))
    answer = sim.post("/_sim/inbound", {"from": NUMBER, "to": sender.value, "body": "See you!"})
    assert answer.status_code == 200, answer.text
    inbound = Message.objects.get(direction="in", from_number=NUMBER)
    inbound_process(message_id=inbound.pk)

    [reply] = outbox.outbox
    assert reply.to == [SENDER_ADDRESS] and reply.subject == "Re: Booking"
    assert reply.extra_headers["In-Reply-To"] == "<m1@example.com>"
    assert reply.body.startswith("See you!\n")


def test_a_mail_delivered_twice_is_texted_once(smtp_listener):
    sender = SenderFactory()
    AllowedSender.objects.create(address="@example.com", sender=sender)
    message = mail(to=smtp_listener.address(NUMBER), message_id="<same@example.com>")

    with smtp_listener.client() as smtp:
        smtp.ehlo()
        first = smtp.sendmail(
            message["From"], [smtp_listener.address(NUMBER)], message.as_bytes(policy=SMTP)
        )
    with smtp_listener.client() as smtp:
        smtp.ehlo()
        smtp.mail(SENDER_ADDRESS)
        smtp.rcpt(smtp_listener.address(NUMBER))
        code, answer = smtp.data(message.as_bytes(policy=SMTP))

    assert first == {}
    assert code == 250 and b"already sent" in answer
    assert EmailText.objects.count() == 1
    assert Message.objects.filter(to_number=NUMBER).count() == 1


def test_it_texts_each_number_of_one_mail(smtp_listener):
    sender = SenderFactory()
    AllowedSender.objects.create(address=SENDER_ADDRESS, sender=sender)
    numbers = ["+447912345678", "+447912345679"]

    smtp_listener.send(
        mail(to=[smtp_listener.address(n) for n in numbers], message_id="<two@example.com>")
    )

    assert sorted(Message.objects.values_list("to_number", flat=True)) == numbers
    assert set(Message.objects.values_list("sender", flat=True)) == {sender.pk}


def _rcpt(listener, address: str) -> tuple[int, str]:
    with listener.client() as smtp:
        smtp.ehlo()
        smtp.mail(SENDER_ADDRESS)
        code, answer = smtp.rcpt(address)
        return code, answer.decode()


def test_recipients_are_refused_with_their_reason(smtp_listener):
    Suppression.objects.create(phone="+447912000999", source="keyword")

    code, answer = _rcpt(smtp_listener, "07912345678@elsewhere.example")
    assert code == 550 and "5.1.2" in answer and "only takes mail for numbers" in answer

    code, answer = _rcpt(smtp_listener, smtp_listener.address("pizza"))
    assert code == 550 and "5.1.1" in answer and "not a phone number" in answer

    code, answer = _rcpt(smtp_listener, smtp_listener.address("0791234"))
    assert code == 550 and "5.1.1" in answer

    code, answer = _rcpt(smtp_listener, smtp_listener.address("+447912000999"))
    assert code == 550 and "5.7.1" in answer and "opted out" in answer

    # An 11th number waits for another mail (a temporary refusal).
    with smtp_listener.client() as smtp:
        smtp.ehlo()
        smtp.mail(SENDER_ADDRESS)
        codes = [smtp.rcpt(smtp_listener.address(f"+4479123450{i:02d}"))[0] for i in range(11)]
    assert codes == [250] * 10 + [452]
    assert not Message.objects.exists()


def _data(listener, message) -> tuple[int, str]:
    with listener.client() as smtp:
        smtp.ehlo()
        smtp.mail(SENDER_ADDRESS)
        assert smtp.rcpt(listener.address(NUMBER))[0] == 250
        code, answer = smtp.data(message.as_bytes(policy=SMTP))
        return code, answer.decode()


def test_mails_are_refused_at_data_with_their_reason(smtp_listener):
    sender = SenderFactory()
    AllowedSender.objects.create(address=SENDER_ADDRESS, sender=sender)
    AllowedSender.objects.create(address="paused@example.com", sender=sender, is_active=False)
    to = smtp_listener.address(NUMBER)

    code, answer = _data(smtp_listener, mail(to=to, sender="Eve <eve@example.org>"))
    assert code == 550 and "<eve@example.org> is not allowed" in answer

    code, answer = _data(smtp_listener, mail(to=to, sender="paused@example.com"))
    assert code == 550 and "not allowed" in answer

    code, answer = _data(smtp_listener, mail(to=to, body="\n\n-- \nAda\n"))
    assert code == 550 and "5.6.0" in answer and "no text" in answer

    code, answer = _data(
        smtp_listener, mail(to=to, body="A line of words that goes on and on.\n" * 30)
    )
    assert code == 552 and "5.3.4" in answer and "at most 6 parts" in answer

    assert not EmailText.objects.exists() and not Message.objects.exists()


def test_an_html_only_mail_is_texted_as_plain_text(smtp_listener):
    sender = SenderFactory()
    AllowedSender.objects.create(address=SENDER_ADDRESS, sender=sender)
    message = mail(to=smtp_listener.address(NUMBER), message_id="<html@example.com>")
    message.set_content(
        "<html><body><p>Parcel <b>ready</b> at the desk.</p>"
        "<div class='gmail_quote'>On Monday Sam wrote:<blockquote>Where is it?</blockquote></div>"
        "</body></html>",
        subtype="html",
    )

    smtp_listener.send(message)

    assert Message.objects.get().body == "Parcel ready at the desk."


def test_automatic_replies_and_bounces_are_taken_but_not_texted(smtp_listener):
    sender = SenderFactory()
    AllowedSender.objects.create(address=SENDER_ADDRESS, sender=sender)
    vacation = mail(to=smtp_listener.address(NUMBER), message_id="<away@example.com>")
    vacation["Auto-Submitted"] = "auto-replied"
    bounce = mail(to=smtp_listener.address(NUMBER), message_id="<bounce@example.com>")

    with smtp_listener.client() as smtp:
        smtp.ehlo()
        smtp.mail(SENDER_ADDRESS)
        smtp.rcpt(smtp_listener.address(NUMBER))
        vacation_answer = smtp.data(vacation.as_bytes(policy=SMTP))
        smtp.mail("")
        smtp.rcpt(smtp_listener.address(NUMBER))
        bounce_answer = smtp.data(bounce.as_bytes(policy=SMTP))

    for code, answer in (vacation_answer, bounce_answer):
        assert code == 250 and b"not texted" in answer
    assert not EmailText.objects.exists() and not Message.objects.exists()


@pytest.mark.worker
def test_a_real_worker_sends_the_mailed_text_on_the_transactional_lane(engine, smtp_listener):
    sim, sender = engine["simulator"], engine["sender"]
    AllowedSender.objects.create(address=SENDER_ADDRESS, sender=sender)

    with celery_worker(queues="transactional") as worker:
        smtp_listener.send(mail(to=smtp_listener.address(NUMBER), message_id="<w1@example.com>"))

        received = wait_for(
            lambda: sim.messages(to=NUMBER), timeout=60, interval=0.2, what="the worker to send"
        )
        sms_id = EmailText.objects.get().sms_id
        wait_for(
            lambda: Message.objects.filter(
                pk=sms_id, status__in=[Status.SENT, Status.DELIVERED]
            ).exists(),
            timeout=60,
            interval=0.2,
            what="the send result to be recorded",
        )
        assert worker.poll() is None, "the worker process exited"
    assert [m["content"] for m in received] == ["Your table is booked for 8pm."]
