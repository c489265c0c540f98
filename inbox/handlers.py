"""The inbox's entry point from the SMS engine.

settings.MESSAGING_INBOUND_HANDLERS = ["inbox.handlers.on_inbound"]: the engine's
messaging.inbound_process task calls it with every stored inbound text, after
STOP/START/HELP were handled. It may be called twice for one text (a retried or
swept task); the HandledInbound claim makes the second call a no-op."""

from __future__ import annotations

from django.db import transaction

from inbox import rules, services
from messaging.models import Direction, Message


def on_inbound(message: Message) -> None:
    if message.direction != Direction.INBOUND:
        return
    with transaction.atomic():
        # Locks the conversation row: texts of one conversation are handled in turn.
        conversation = services.conversation_for_inbound(message)
        if not services.conversation_receive(conversation=conversation, message=message):
            return
        # STOP, START and HELP were answered by the engine; rules never see them.
        if not services.is_compliance_text(message.body):
            rules.rules_apply(message=message, conversation=conversation)
