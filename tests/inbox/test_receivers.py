"""Campaign and API messages refresh an existing conversation's preview when they go out."""

import pytest

from inbox.models import Conversation
from inbox.receivers import conversations_touch_sent
from messaging import dispatch
from messaging.models import Priority
from messaging.services import message_send
from tests.inbox.conftest import receive

pytestmark = pytest.mark.django_db


def test_a_sent_campaign_message_becomes_the_conversations_latest(sender):
    receive(sender, "Do you deliver on Sundays?", number="+447911123456")
    conversation = Conversation.objects.get()
    before = conversation.last_message_at

    message_send(
        to="+447911123456",
        body="Spring sale:\n  20% off   today",
        sender=sender,
        priority=Priority.BULK,
    )
    message_send(to="+447912654321", body="Spring sale", sender=sender, priority=Priority.BULK)
    report = dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=5)

    assert report.sent == 2
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "Spring sale: 20% off today"
    assert conversation.last_message_direction == "out"
    assert conversation.last_message_at > before
    # No conversation is opened for a recipient who never wrote.
    assert Conversation.objects.count() == 1


def test_an_older_message_does_not_replace_a_newer_preview(sender):
    sent = message_send(to="+447911123456", body="Old news", sender=sender).message
    receive(sender, "Newer question", number="+447911123456")

    assert conversations_touch_sent([sent.pk]) == 0

    conversation = Conversation.objects.get()
    assert conversation.last_message_preview == "Newer question"


def test_a_long_body_is_cut_like_every_preview(sender):
    receive(sender, "Hi", number="+447911123456")
    sent = message_send(to="+447911123456", body="word " * 100, sender=sender).message

    assert conversations_touch_sent([sent.pk]) == 1

    preview = Conversation.objects.get().last_message_preview
    assert len(preview) == 160 and preview.endswith("…")
