"""SMS replies mailed back to the person whose email was texted: an outbox row per
inbound text, claimed with a lease before the mail server is called, retried with
backoff, so a mail server that is down delays a reply but never loses it."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from contacts import phone as phones
from emailsms.models import EmailReply, EmailText
from messaging.models import Direction, Message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
LEASE_SECONDS = 120


def text_replied_to(message: Message) -> EmailText | None:
    """The latest mail that texted this number from the number the reply came to."""
    since = timezone.now() - timedelta(days=settings.EMAIL_TO_SMS_REPLY_DAYS)
    return (
        EmailText.objects.filter(
            to_number=message.from_number,
            platform_number=message.to_number,
            created_at__gte=since,
            sms__isnull=False,
        )
        .order_by("-created_at", "-id")
        .first()
    )


def reply_create(*, message: Message) -> EmailReply | None:
    """The reply row for an inbound text, once (None when no mail texted this number)."""
    if message.direction != Direction.INBOUND:
        return None
    text = text_replied_to(message)
    if text is None:
        return None
    try:
        with transaction.atomic():
            return EmailReply.objects.create(
                text=text, inbound=message, next_attempt_at=timezone.now()
            )
    except IntegrityError:
        return None  # already made by an earlier call for this text


def _claim(reply_id: int) -> bool:
    now = timezone.now()
    due = Q(status=EmailReply.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=EmailReply.Status.SENDING, lease_expires_at__lt=now
    )
    return bool(
        EmailReply.objects.filter(due, pk=reply_id).update(
            status=EmailReply.Status.SENDING,
            lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    )


def reply_mail(reply: EmailReply) -> EmailMessage:
    text, inbound = reply.text, reply.inbound
    subject = text.subject.strip() or f"Text to {phones.display(text.to_number)}"
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    number = text.to_number
    body = (
        f"{inbound.body}\n\n"
        f"-- \n"
        f"SMS reply from {phones.display(number)} to {text.platform_number}, "
        f"received {timezone.localtime(inbound.received_at or inbound.created_at):%Y-%m-%d %H:%M %Z}.\n"
        f"Answer this email to text {phones.display(number)} again.\n"
    )
    domain = settings.EMAIL_TO_SMS_DOMAIN
    return EmailMessage(
        subject=subject,
        body=body,
        # From the number's own address: answering the mail texts the number again.
        from_email=f"{number} <{number}@{domain}>",
        to=[text.from_address],
        headers={
            "Message-ID": reply.mail_message_id,
            "In-Reply-To": text.message_id,
            "References": text.message_id,
            "Auto-Submitted": "auto-generated",
        },
    )


def reply_deliver(*, reply_id: int) -> bool:
    """Mail one reply if it is due; True when it went out now."""
    if not _claim(reply_id):
        return False
    reply = EmailReply.objects.select_related("text", "inbound").get(pk=reply_id)
    if not reply.mail_message_id:
        reply.mail_message_id = make_msgid(domain=settings.EMAIL_TO_SMS_DOMAIN)
        reply.save(update_fields=["mail_message_id"])
    try:
        reply_mail(reply).send()
    except Exception as exc:
        failed = reply.attempts >= MAX_ATTEMPTS
        delay = min(3600.0, 10.0 * 2 ** (reply.attempts - 1))
        EmailReply.objects.filter(pk=reply_id).update(
            status=EmailReply.Status.FAILED if failed else EmailReply.Status.PENDING,
            next_attempt_at=timezone.now()
            + timedelta(seconds=delay + random.uniform(0, delay / 4)),
            lease_expires_at=None,
            error=f"{type(exc).__name__}: {exc}"[:1000],
        )
        log.warning("reply %s not mailed (attempt %s): %s", reply_id, reply.attempts, exc)
        return False
    EmailReply.objects.filter(pk=reply_id).update(
        status=EmailReply.Status.SENT, sent_at=timezone.now(), lease_expires_at=None, error=""
    )
    return True


def replies_due(limit: int = 200) -> list[int]:
    now = timezone.now()
    due = Q(status=EmailReply.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=EmailReply.Status.SENDING, lease_expires_at__lt=now
    )
    return list(
        EmailReply.objects.filter(due)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
