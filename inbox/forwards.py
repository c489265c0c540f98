"""Email and webhook forwards: outbox rows delivered by a task, retried with
backoff and jitter, so a mail server or endpoint that is down delays a text but
never loses it. A forward is claimed with a conditional update (a lease) before
any network I/O, so two tasks never deliver one forward at the same time."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from inbox.models import Conversation, Forward, Rule
from messaging.models import Message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
LEASE_SECONDS = 120
WEBHOOK_TIMEOUT = 5.0


def payload_for(*, kind: str, message: Message, conversation: Conversation, rule: Rule) -> dict:
    """Everything the delivery needs, frozen when the rule ran."""
    contact = message.contact or conversation.contact
    name = contact.full_name if contact else ""
    link = settings.SITE_URL.rstrip("/") + reverse("inbox:conversation", args=[conversation.pk])
    received = timezone.localtime(message.created_at)
    if kind == Forward.Kind.EMAIL:
        who = f"{name} ({message.from_number})" if name else message.from_number
        platform = str(conversation.sender) if conversation.sender else conversation.platform_number
        return {
            "subject": f"SMS from {who} to {platform}",
            "body": (
                f"From: {who}\n"
                f"To: {platform}\n"
                f"Received: {received:%Y-%m-%d %H:%M:%S %Z}\n"
                f"Rule: {rule.name}\n\n"
                f"{message.body}\n\n"
                f"Open the conversation: {link}\n"
            ),
        }
    return {
        "event": "inbound_message",
        "rule": {"id": rule.pk, "name": rule.name},
        "conversation": {"id": conversation.pk, "url": link},
        "message": {
            "id": str(message.uuid),
            "from": message.from_number,
            "to": conversation.platform_number,
            "body": message.body,
            "received_at": message.created_at.isoformat(),
        },
        "contact": {"id": contact.pk, "name": name, "phone": contact.phone} if contact else None,
    }


def enqueue(forward_id: int) -> None:
    from inbox import tasks

    try:
        tasks.forward_deliver.delay(forward_id)
    except Exception:
        # The row is pending in the database; the beat sweep finds it again.
        log.exception("could not enqueue forward %s", forward_id)


def backoff_seconds(attempts: int) -> float:
    base = min(900.0, 5.0 * 2 ** max(0, attempts - 1))
    return base + random.uniform(0, base / 4)


class PermanentError(Exception):
    """The target refused the forward for good (a 4xx answer): not retried."""


@dataclass(frozen=True)
class Delivery:
    status: str  # Forward.Status
    retry_in: float | None = None
    error: str = ""


def _claim(forward_id: int) -> Forward | None:
    now = timezone.now()
    claimed = Forward.objects.filter(
        pk=forward_id,
        status=Forward.Status.PENDING,
        next_attempt_at__lte=now + timedelta(seconds=1),
    ).update(
        next_attempt_at=now + timedelta(seconds=LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    return Forward.objects.get(pk=forward_id) if claimed == 1 else None


def _send_email(forward: Forward) -> None:
    recipients = [a.strip() for a in forward.target.replace(";", ",").split(",") if a.strip()]
    send_mail(
        subject=forward.payload["subject"],
        message=forward.payload["body"],
        from_email=None,
        recipient_list=recipients,
        fail_silently=False,
    )


def _call_webhook(forward: Forward) -> None:
    body = json.dumps(forward.payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "smsworks-inbox/1"}
    rule = forward.run.rule if forward.run_id and forward.run else None
    if rule is not None:
        digest = hmac.new(rule.signing_secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Smsworks-Signature"] = f"sha256={digest}"
    response = httpx.post(forward.target, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
    if 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429):
        raise PermanentError(f"HTTP {response.status_code}")
    response.raise_for_status()


def forward_deliver(*, forward_id: int) -> Delivery | None:
    """Deliver one forward now. None: not due or claimed by someone else."""
    forward = _claim(forward_id)
    if forward is None:
        return None
    try:
        if forward.kind == Forward.Kind.EMAIL:
            _send_email(forward)
        else:
            _call_webhook(forward)
    except PermanentError as exc:
        return _finish(forward, Forward.Status.FAILED, str(exc))
    except Exception as exc:  # a mail server or endpoint that is down: retried
        error = f"{type(exc).__name__}: {exc}"[:500]
        if forward.attempts >= MAX_ATTEMPTS:
            return _finish(forward, Forward.Status.FAILED, error)
        delay = backoff_seconds(forward.attempts)
        Forward.objects.filter(pk=forward.pk).update(
            last_error=error, next_attempt_at=timezone.now() + timedelta(seconds=delay)
        )
        log.warning("forward %s failed (attempt %s): %s", forward.pk, forward.attempts, error)
        return Delivery(Forward.Status.PENDING, retry_in=delay, error=error)
    return _finish(forward, Forward.Status.DONE, "")


def _finish(forward: Forward, status: str, error: str) -> Delivery:
    Forward.objects.filter(pk=forward.pk).update(
        status=status, last_error=error, done_at=timezone.now()
    )
    return Delivery(status, error=error)


def forwards_sweep(*, older_than_seconds: int = 30) -> int:
    """Enqueue pending forwards whose task was lost (crash, broker restart)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Forward.objects.filter(status=Forward.Status.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
    for forward_id in ids:
        enqueue(forward_id)
    return len(ids)
