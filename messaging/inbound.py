"""Inbound texts: stored once (by provider id) before the webhook answers, opt-out
keywords handled at once, then handed to the inbox through a task."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from contacts import phone as phones
from contacts.models import Source
from contacts.services import contact_get_or_create_for_number, contact_opt_in, contact_opt_out
from messaging import encoding
from messaging.models import Direction, Message, ProviderAccount, Sender, Status
from messaging.providers import InboundSMS

log = logging.getLogger(__name__)

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword_of(body: str) -> str:
    """The text as one upper-case keyword, or '' when it is not a single word."""
    word = body.strip().strip(".!").strip()
    if not word or any(c.isspace() for c in word):
        return ""
    return word.upper()


def inbound_store(*, account: ProviderAccount, texts: list[InboundSMS]) -> list[Message]:
    """Store each new text once; returns the messages that were new."""
    stored = []
    for text in texts:
        with transaction.atomic():
            message = _store_one(account, text)
        if message is not None:
            stored.append(message)
    return stored


def _store_one(account: ProviderAccount, text: InboundSMS) -> Message | None:
    if Message.objects.filter(
        account=account, direction=Direction.INBOUND, provider_message_id=text.provider_message_id
    ).exists():
        return None
    try:
        from_number = phones.normalize(text.from_number)
    except phones.InvalidNumber:
        from_number = text.from_number[:20]  # kept as given: still never lost
    contact = None
    if from_number.startswith("+"):
        contact, _ = contact_get_or_create_for_number(phone=from_number, source=Source.INBOUND)
    sender = Sender.objects.filter(value=text.to_number).first()
    analysis = encoding.analyze(text.body)
    now = timezone.now()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                direction=Direction.INBOUND,
                account=account,
                sender=sender,
                from_number=from_number,
                to_number=text.to_number[:20],
                contact=contact,
                body=text.body,
                encoding=analysis.encoding,
                segments=max(1, analysis.segments),
                status=Status.RECEIVED,
                received_at=text.received_at or now,
                send_after=now,
                provider_message_id=text.provider_message_id[:100],
                provider_response=text.raw,
            )
    except IntegrityError:
        return None  # the same text, stored by a concurrent delivery of the webhook
    _handle_keyword(message, sender)
    from messaging import tasks
    from messaging.signals import message_received

    message_received.send(sender=Message, message=message)

    transaction.on_commit(lambda: tasks.inbound_process.delay(message.pk))
    return message


def _handle_keyword(message: Message, sender: Sender | None) -> None:
    from messaging.services import SendRefused, message_send

    keyword = keyword_of(message.body)
    if keyword in STOP_WORDS:
        contact_opt_out(
            phone=message.from_number,
            source=Source.KEYWORD,
            keyword=keyword,
            text=message.body,
            message_id=message.pk,
        )
        reply, compliance = settings.MESSAGING_STOP_REPLY, True
    elif keyword in START_WORDS:
        contact_opt_in(
            phone=message.from_number,
            source=Source.KEYWORD,
            keyword=keyword,
            text=message.body,
            message_id=message.pk,
        )
        reply, compliance = settings.MESSAGING_START_REPLY, False
    elif keyword in HELP_WORDS:
        reply, compliance = settings.MESSAGING_HELP_REPLY, True
    else:
        return
    if sender is None or not sender.can_receive:
        return
    try:
        message_send(
            to=message.from_number,
            body=reply,
            sender=sender,
            contact=message.contact,
            compliance=compliance,
        )
    except SendRefused as exc:
        log.warning(
            "keyword reply not sent to %s: %s",
            message.from_number,
            exc,
            extra={"message_uuid": str(message.uuid)},
        )


def inbound_process(*, message_id: int) -> bool:
    """Hand one stored text to the registered handlers (the inbox), once."""
    message = Message.objects.select_related("contact", "sender").get(pk=message_id)
    if message.processed_at is not None:
        return False
    for path in settings.MESSAGING_INBOUND_HANDLERS:
        import_string(path)(message)
    return bool(
        Message.objects.filter(pk=message_id, processed_at__isnull=True).update(
            processed_at=timezone.now()
        )
    )
