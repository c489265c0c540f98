"""Email-to-SMS writes: allowed senders, a mail turned into texts, shared by the SMTP
listener and the Mailgun endpoint. A refusal carries the SMTP reply that says why."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.db import IntegrityError, transaction

from contacts import phone as phones
from contacts.models import Suppression
from emailsms.models import AllowedSender, Channel, EmailText
from messaging import encoding
from messaging.models import Sender
from messaging.services import SendRefused, message_send


class Refused(Exception):
    """A mail or one of its recipients is refused: code and enhanced status as SMTP
    speaks them (RFC 3463), and a reason a person can read in the bounce."""

    def __init__(self, code: int, status: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.status, self.reason = code, status, reason

    @property
    def smtp_reply(self) -> str:
        return f"{self.code} {self.status} {self.reason}"


@dataclass(frozen=True)
class Accepted:
    text: EmailText
    duplicate: bool
    suppressed: bool


def address_of(raw: str) -> str:
    """The bare, lower-cased address of 'Ada <ada@example.com>' or '<ada@example.com>'."""
    return parseaddr(raw or "")[1].strip().lower()


def domain() -> str:
    return settings.EMAIL_TO_SMS_DOMAIN.strip().lower().lstrip("@")


def recipient_number(address: str, *, check_opt_out: bool = True) -> str:
    """The E.164 number of <number>@<EMAIL_TO_SMS_DOMAIN>, or Refused."""
    bare = address_of(address) or address.strip().strip("<>").lower()
    local, _, host = bare.rpartition("@")
    if not local or host != domain():
        raise Refused(
            550, "5.1.2", f"<{bare}>: this server only takes mail for numbers @{domain()}"
        )
    digits = re.sub(r"[\s().\"-]", "", local)
    if not re.fullmatch(r"\+?\d{3,17}", digits):
        raise Refused(550, "5.1.1", f"<{bare}>: {local!r} is not a phone number")
    try:
        number = phones.normalize(digits)
    except phones.InvalidNumber as exc:
        raise Refused(550, "5.1.1", f"<{bare}>: {local!r} is {exc}") from exc
    # Refused here rather than accepted and suppressed: the person who wrote learns
    # at once, from their own mail server, that this number gets no texts.
    if check_opt_out and Suppression.objects.filter(phone=number).exists():
        raise Refused(550, "5.7.1", f"<{bare}>: {number} has opted out of texts from us")
    return number


def allowed_sender_for(address: str) -> AllowedSender | None:
    """The active entry for this exact address, else for its domain."""
    bare = address_of(address)
    if "@" not in bare:
        return None
    active = AllowedSender.objects.select_related("sender__account").filter(is_active=True)
    return (
        active.filter(address__iexact=bare).first()
        or active.filter(address__iexact="@" + bare.rpartition("@")[2]).first()
    )


def is_automatic(headers: dict[str, str], *, envelope_sender: str | None = None) -> bool:
    """A bounce, vacation reply or list mail (RFC 3834): never texted, or an
    out-of-office answer to a mailed-back SMS reply would text the number again."""
    lower = {k.lower(): v.strip().lower() for k, v in headers.items() if v is not None}
    if envelope_sender is not None and envelope_sender.strip() in {"", "<>"}:
        return True
    if lower.get("auto-submitted", "no") != "no":
        return True
    if lower.get("precedence", "") in {"bulk", "junk", "list", "auto_reply"}:
        return True
    return any(k in lower for k in ("x-autoreply", "x-autorespond", "list-id"))


def message_id_of(raw_id: str, content: bytes) -> str:
    """The mail's Message-ID, or a stable stand-in made from its bytes, so that even
    a mail without one is sent once when it is delivered twice."""
    cleaned = (raw_id or "").strip()
    if cleaned:
        return cleaned[:500]
    return f"<sha256-{hashlib.sha256(content).hexdigest()}@smsworks>"


def email_receive(
    *,
    channel: str,
    from_address: str,
    numbers: list[str],
    message_id: str,
    subject: str,
    text: str,
) -> list[Accepted]:
    """Turn one mail into one text per number, through the engine's transactional lane.
    Refused (nothing sent) when the sender is not allowed or the text is empty or too
    long; a number already texted for this Message-ID is skipped."""
    allowed = allowed_sender_for(from_address)
    if allowed is None:
        raise Refused(
            550, "5.7.1", f"<{address_of(from_address)}> is not allowed to send texts here"
        )
    sender = allowed.sender
    if not sender.is_active or not sender.account.is_active:
        raise Refused(550, "5.7.1", f"the sender number {sender.value} is not active")
    body = text.strip()
    if not body:
        raise Refused(550, "5.6.0", "the mail has no text to send (the first text part is empty)")
    segments = encoding.analyze(body).segments
    limit = settings.EMAIL_TO_SMS_MAX_SEGMENTS
    if segments > limit:
        raise Refused(
            552,
            "5.3.4",
            f"the text is {len(body)} characters, {segments} SMS parts; at most {limit} parts",
        )
    # All numbers of a mail or none: a mail that fails half-way is retried whole.
    with transaction.atomic():
        return [
            _text_one(
                channel=channel,
                allowed=allowed,
                sender=sender,
                from_address=address_of(from_address),
                number=number,
                message_id=message_id,
                subject=subject,
                body=body,
            )
            for number in dict.fromkeys(numbers)
        ]


def _text_one(
    *,
    channel: str,
    allowed: AllowedSender,
    sender: Sender,
    from_address: str,
    number: str,
    message_id: str,
    subject: str,
    body: str,
) -> Accepted:
    existing = EmailText.objects.filter(message_id=message_id, to_number=number).first()
    if existing is not None:
        return Accepted(text=existing, duplicate=True, suppressed=False)
    try:
        with transaction.atomic():
            text = EmailText.objects.create(
                message_id=message_id,
                channel=Channel(channel),
                from_address=from_address,
                subject=subject[:500],
                to_number=number,
                platform_number=sender.value,
                allowed_sender=allowed,
                body=body,
            )
            outcome = message_send(to=number, body=body, sender=sender)
            text.sms = outcome.message
            text.save(update_fields=["sms"])
    except IntegrityError:
        # The same mail, delivered at the same moment by another connection.
        existing = EmailText.objects.get(message_id=message_id, to_number=number)
        return Accepted(text=existing, duplicate=True, suppressed=False)
    except SendRefused as exc:
        raise Refused(550, "5.7.1", str(exc)) from exc
    return Accepted(text=text, duplicate=False, suppressed=outcome.suppressed)


def allowed_sender_save(
    *, allowed: AllowedSender | None, address: str, sender: Sender, note: str, is_active: bool
) -> AllowedSender:
    allowed = allowed or AllowedSender()
    allowed.address = address.strip().lower()
    allowed.sender = sender
    allowed.note = note
    allowed.is_active = is_active
    allowed.save()
    return allowed


def allowed_sender_delete(*, allowed: AllowedSender) -> None:
    allowed.delete()
