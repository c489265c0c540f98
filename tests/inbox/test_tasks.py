"""The beat tick and the navigation's unread count."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from inbox import services, tasks
from inbox.context_processors import unread
from inbox.models import Conversation, Forward
from tests.inbox.conftest import receive

pytestmark = pytest.mark.django_db


def test_the_tick_wakes_snoozes_and_sweeps_lost_forwards(sender, support_user, monkeypatch):
    from inbox import forwards

    receive(sender, "Hi")
    conversation = Conversation.objects.get()
    services.conversation_snooze(
        conversation=conversation, actor=support_user, until=timezone.now() + timedelta(minutes=5)
    )
    Conversation.objects.update(snoozed_until=timezone.now() - timedelta(seconds=1))
    Forward.objects.create(
        kind="email",
        message_id=1,
        target="ops@example.com",
        next_attempt_at=timezone.now() - timedelta(minutes=10),
    )
    monkeypatch.setattr(forwards, "enqueue", lambda pk: None)
    assert tasks.tick() == {"woken": 1, "forwards": 1}
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_the_navigation_count_is_lazy_and_only_for_inbox_users(sender, support_user, marketer_user):
    receive(sender, "Hi")
    request = RequestFactory().get("/")
    request.user = marketer_user
    assert unread(request) == {}
    request.user = support_user
    context = unread(request)
    assert str(context["inbox_unread"]) == "1"  # unassigned, unread (rendered as text)
    assert context["inbox_unread"]
