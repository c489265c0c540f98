"""The API's writes that no page does: set-based batch sends and one-time passwords.
One-off sends go through messaging.services.message_send like every other send."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from api import conf, throttle
from api.errors import ApiError
from api.models import OtpChallenge
from contacts.models import Contact, Suppression
from messaging import encoding
from messaging.models import Direction, Message, Priority, Sender, Status
from messaging.services import SendRefused, default_sender, message_cost, message_send

# Sender lookups are cached in the process for a moment: a send then needs no query
# for them (a sender switched off is refused by dispatch anyway).
SENDER_CACHE_SECONDS = 5.0
_senders: dict[str, tuple[float, Sender | None]] = {}


def sender_for(value: str | None) -> Sender:
    """The active sender with this value (number or ID), or the default sender."""
    name = value or ""
    cached = _senders.get(name)
    now = time.monotonic()
    if cached is None or cached[0] < now:
        if name:
            sender = (
                Sender.objects.select_related("account")
                .filter(value=name, is_active=True, account__is_active=True)
                .first()
            )
        else:
            sender = default_sender()
        cached = _senders[name] = (now + SENDER_CACHE_SECONDS, sender)
    if cached[1] is None:
        if name:
            raise ApiError(
                "unknown_sender", f"No active sender {name!r}.", details={"sender": [name]}
            )
        raise ApiError("no_sender", "No active sender is configured.", status_code=422)
    return cached[1]


def message_send_one(*, to: str, body: str, sender: Sender, send_at: datetime | None) -> Message:
    try:
        return message_send(
            to=to, body=body, sender=sender, priority=Priority.TRANSACTIONAL, send_after=send_at
        ).message
    except SendRefused as exc:
        raise ApiError("send_refused", str(exc), status_code=422) from exc


@dataclass(frozen=True)
class BatchItem:
    to: str  # E.164, already validated
    body: str
    send_at: datetime | None


def messages_send_batch(*, items: list[BatchItem], sender: Sender) -> list[Message]:
    """Queue many messages in one INSERT (the caller validated every item first).
    Opted-out numbers get a 'suppressed' row, exactly as a one-off send does."""
    now = timezone.now()
    numbers = {item.to for item in items}
    suppressed = set(Suppression.objects.filter(phone__in=numbers).values_list("phone", flat=True))
    contacts = dict(Contact.objects.filter(phone__in=numbers).values_list("phone", "id"))
    rows = []
    for item in items:
        analysis = encoding.analyze(item.body)
        blocked = item.to in suppressed
        rows.append(
            Message(
                direction=Direction.OUTBOUND,
                account=sender.account,
                sender=sender,
                from_number=sender.value,
                to_number=item.to,
                contact_id=contacts.get(item.to),
                body=item.body,
                encoding=analysis.encoding,
                segments=analysis.segments,
                priority=Priority.TRANSACTIONAL,
                send_after=item.send_at or now,
                status=Status.SUPPRESSED if blocked else Status.QUEUED,
                queued_at=now,
                suppressed_at=now if blocked else None,
                error_reason="The recipient opted out." if blocked else "",
                cost=message_cost(sender.account, item.to, analysis.segments),
            )
        )
    with transaction.atomic():
        created = Message.objects.bulk_create(rows, batch_size=500)
        if any(m.status == Status.QUEUED for m in created):
            from messaging import tasks

            sender_id = sender.pk
            transaction.on_commit(lambda: tasks.kick_dispatch(sender_id, Priority.TRANSACTIONAL))
    return created


# --- one-time passwords -------------------------------------------------------------


def _code_hash(phone: str, code: str) -> str:
    return salted_hmac("smsworks.api.otp", f"{phone}:{code}", algorithm="sha256").hexdigest()


def otp_render(template: str, code: str, minutes: int) -> str:
    # Plain replacement, not str.format: a caller's template cannot reach attributes.
    return template.replace("{code}", code).replace("{minutes}", str(minutes))


def otp_send(
    *, phone: str, template: str | None, sender: Sender, api_key_id: int
) -> tuple[OtpChallenge, Message]:
    """Send a fresh code to the number (rate limited per number)."""
    wait = throttle.hit(
        f"otp:{phone}",
        limit=conf.get("API_OTP_SENDS_PER_NUMBER"),
        window=conf.get("API_OTP_SEND_WINDOW_SECONDS"),
    )
    if wait:
        raise ApiError(
            "otp_rate_limited",
            "Too many codes were sent to this number: try again later.",
            status_code=429,
            details={"retry_after": int(wait)},
            headers={"Retry-After": str(int(wait))},
        )
    digits = conf.get("API_OTP_DIGITS")
    code = f"{secrets.randbelow(10**digits):0{digits}d}"
    ttl = conf.get("API_OTP_TTL_SECONDS")
    body = otp_render(template or conf.get("API_OTP_TEMPLATE"), code, max(1, ttl // 60))
    with transaction.atomic():
        message = message_send_one(to=phone, body=body, sender=sender, send_at=None)
        if message.status == Status.SUPPRESSED:
            raise ApiError(
                "recipient_opted_out",
                "The number opted out of messages: no code was sent.",
                status_code=422,
            )
        challenge = OtpChallenge.objects.create(
            api_key_id=api_key_id,
            phone=phone,
            code_hash=_code_hash(phone, code),
            message_uuid=message.uuid,
            max_attempts=conf.get("API_OTP_MAX_ATTEMPTS"),
            expires_at=timezone.now() + timedelta(seconds=ttl),
        )
    return challenge, message


def otp_verify(*, phone: str, code: str) -> OtpChallenge:
    """Check a code against the number's newest open challenge. Every try counts
    (committed even when the code is wrong); a verified code cannot be used again."""
    now = timezone.now()
    outcome = "ok"
    with transaction.atomic():
        challenge = (
            OtpChallenge.objects.select_for_update()
            .filter(phone=phone, verified_at__isnull=True, created_at__gt=now - timedelta(days=1))
            .order_by("-created_at", "-id")
            .first()
        )
        if challenge is None:
            outcome = "none"
        elif challenge.expires_at <= now:
            outcome = "expired"
        elif challenge.attempts >= challenge.max_attempts:
            outcome = "exhausted"
        else:
            challenge.attempts += 1
            fields = ["attempts"]
            if hmac.compare_digest(challenge.code_hash, _code_hash(phone, code)):
                challenge.verified_at = now
                fields.append("verified_at")
            else:
                outcome = "wrong"
            challenge.save(update_fields=fields)
    if outcome == "ok":
        return challenge
    messages = {
        "none": ("otp_not_found", "No code is waiting for this number."),
        "expired": ("otp_expired", "The code has expired: send a new one."),
        "exhausted": ("otp_attempts_exceeded", "Too many wrong codes: send a new one."),
        "wrong": ("otp_invalid", "The code is not correct."),
    }
    code_name, message = messages[outcome]
    details = None
    if outcome == "wrong":
        details = {"attempts_left": challenge.max_attempts - challenge.attempts}
    raise ApiError(code_name, message, status_code=400, details=details)
