from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from messaging import inbound
from messaging.models import Message
from messaging.providers import InboundSMS
from tests.factories import ProviderAccountFactory, SenderFactory

_ids = itertools.count(1)


@pytest.fixture
def account(db):
    return ProviderAccountFactory(backend="console", credentials={})


@pytest.fixture
def sender(account):
    return SenderFactory(account=account, value="+447900000001", label="Support")


def store(sender, body: str, *, number: str = "+447911123456", provider_id: str = "") -> Message:
    """An inbound text as the engine stores it (webhook path), not yet handed on."""
    text = InboundSMS(
        provider_message_id=provider_id or f"in-{next(_ids)}",
        from_number=number,
        to_number=sender.value,
        body=body,
    )
    stored = inbound.inbound_store(account=sender.account, texts=[text])
    return (
        stored[0] if stored else Message.objects.get(provider_message_id=text.provider_message_id)
    )


def receive(sender, body: str, *, number: str = "+447911123456", provider_id: str = "") -> Message:
    """Store an inbound text and run the engine's inbound_process, which calls the
    inbox handler from settings.MESSAGING_INBOUND_HANDLERS."""
    message = store(sender, body, number=number, provider_id=provider_id)
    inbound.inbound_process(message_id=message.pk)
    return message


def at(text: str) -> datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM'."""
    from datetime import UTC

    return datetime.fromisoformat(text).replace(tzinfo=UTC)
