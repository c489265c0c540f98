"""Email-to-SMS's entry point from the SMS engine.

settings.MESSAGING_INBOUND_HANDLERS has "emailsms.handlers.on_inbound": every stored
inbound text comes here. A text from a number we texted on behalf of an email sender
is mailed back to that person. It may be called twice for one text (a retried or
swept task); the reply row is unique per inbound text and claimed before it is
mailed, so it is mailed once."""

from __future__ import annotations

import logging

from django.db import transaction

from emailsms import replies
from messaging.models import Message

log = logging.getLogger(__name__)


def on_inbound(message: Message) -> None:
    reply = replies.reply_create(message=message)
    if reply is None:
        return
    # Mailed here, in the engine's inbound task; a failure leaves the row pending for
    # beat's emailsms.replies_due, and never fails the task the inbox also runs in.
    transaction.on_commit(lambda: _deliver(reply.pk))


def _deliver(reply_id: int) -> None:
    try:
        replies.reply_deliver(reply_id=reply_id)
    except Exception:
        log.exception("email reply %s not delivered now; it stays pending", reply_id)
