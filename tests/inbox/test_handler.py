"""The engine's inbound hook: conversations, order, duplicates, reopen and wake."""

import random
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from inbox import handlers, queries, services
from inbox.models import Activity, Conversation, HandledInbound
from messaging import inbound
from tests.factories import ContactFactory, MessageFactory, user_with_role
from tests.inbox.conftest import receive, store

pytestmark = pytest.mark.django_db


def test_it_is_registered_as_the_engines_first_inbound_handler():
    assert settings.MESSAGING_INBOUND_HANDLERS[0] == "inbox.handlers.on_inbound"


def test_it_creates_one_conversation_per_contact_number_and_platform_number(sender):
    receive(sender, "Hello, is my order on its way?")
    receive(sender, "Order 1234")
    receive(sender, "Hi from someone else", number="+447912345678")

    assert Conversation.objects.count() == 2
    conversation = Conversation.objects.get(contact_number="+447911123456")
    assert conversation.platform_number == sender.value
    assert conversation.sender == sender
    assert conversation.contact.phone == "+447911123456"
    assert conversation.status == Conversation.Status.OPEN
    assert (conversation.inbound_count, conversation.unread_count) == (2, 2)
    assert conversation.last_message_preview == "Order 1234"
    assert conversation.last_message_direction == "in"


def test_it_keeps_the_order_of_a_burst_even_when_handled_out_of_order(sender):
    messages = [store(sender, f"part {i}") for i in range(12)]
    shuffled = messages[:]
    random.Random(7).shuffle(shuffled)  # parallel workers finish in any order
    for message in shuffled:
        inbound.inbound_process(message_id=message.pk)

    conversation = Conversation.objects.get()
    bodies = [i.obj.body for i in queries.thread(conversation).items if i.kind == "in"]
    assert bodies == [f"part {i}" for i in range(12)]
    assert conversation.last_message_preview == "part 11"
    assert conversation.inbound_count == 12


def test_the_same_text_delivered_twice_appears_once(client, sender):
    first = receive(sender, "Are you open today?", provider_id="dup-1")
    again = receive(sender, "Are you open today?", provider_id="dup-1")
    assert first.pk == again.pk

    handlers.on_inbound(first)  # a retried or swept task hands it over again
    conversation = Conversation.objects.get()
    assert conversation.inbound_count == 1
    assert HandledInbound.objects.count() == 1
    assert len([i for i in queries.thread(conversation).items if i.kind == "in"]) == 1


def test_a_new_text_reopens_a_closed_conversation(sender, support_user):
    receive(sender, "Hi")
    conversation = Conversation.objects.get()
    services.conversation_close(conversation=conversation, actor=support_user)

    receive(sender, "One more thing")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.closed_at is None
    assert Activity.objects.filter(text__startswith="Reopened by a new text").exists()


def test_a_new_text_wakes_a_snoozed_conversation(sender, support_user):
    receive(sender, "Hi")
    conversation = Conversation.objects.get()
    services.conversation_snooze(
        conversation=conversation, actor=support_user, until=timezone.now() + timedelta(days=1)
    )
    receive(sender, "Still there?")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)


def test_a_snooze_that_ran_out_wakes_up_on_the_tick(sender, support_user):
    receive(sender, "Hi")
    conversation = Conversation.objects.get()
    services.conversation_snooze(
        conversation=conversation, actor=support_user, until=timezone.now() + timedelta(hours=1)
    )
    assert services.conversations_wake_due() == 0
    assert services.conversations_wake_due(now=timezone.now() + timedelta(hours=2)) == 1
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_stop_is_recorded_but_neither_reopens_nor_counts_as_unread(sender, support_user):
    receive(sender, "Hi")
    conversation = Conversation.objects.get()
    services.conversation_close(conversation=conversation, actor=support_user)

    receive(sender, "STOP")
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    assert conversation.inbound_count == 1
    assert conversation.last_message_preview == "STOP"
    assert services.reply_refusal(conversation).startswith("The contact opted out")


def test_a_bare_stop_from_a_new_number_makes_a_closed_conversation(sender):
    receive(sender, "stop", number="+447912345601")
    conversation = Conversation.objects.get()
    assert conversation.status == "closed"
    assert conversation.unread_count == 0


def test_each_user_has_their_own_unread_state(sender, support_user, admin_user):
    receive(sender, "Hi")
    receive(sender, "Anyone?")
    conversation = Conversation.objects.get()
    services.conversation_mark_read(conversation=conversation, user=support_user)

    rows = {
        user.pk: queries.for_reader(Conversation.objects.all(), user).get().my_unread
        for user in (support_user, admin_user)
    }
    assert rows == {support_user.pk: 0, admin_user.pk: 2}
    conversation.refresh_from_db()
    assert conversation.unread_count == 0  # the team's counter: someone opened it

    receive(sender, "Hello?")
    assert queries.for_reader(Conversation.objects.all(), support_user).get().my_unread == 1


def test_outbound_messages_to_the_number_show_in_the_thread_with_their_campaign(sender):
    from tests.factories import CampaignFactory

    contact = ContactFactory(phone="+447911123456", first_name="Ada")
    campaign = CampaignFactory(sender=sender, name="Spring sale")
    MessageFactory(
        sender=sender,
        to_number=contact.phone,
        contact=contact,
        campaign_id=campaign.pk,
        body="20% off",
        status="delivered",
    )
    receive(sender, "Does the offer include shoes?")
    conversation = Conversation.objects.get()

    items = [i for i in queries.thread(conversation).items if i.kind in ("in", "out")]
    assert [(i.kind, i.obj.body, i.campaign) for i in items] == [
        ("out", "20% off", "Spring sale"),
        ("in", "Does the offer include shoes?", ""),
    ]


def test_a_text_to_a_number_that_is_not_ours_lands_without_a_sender(account):
    from messaging.providers import InboundSMS

    text = InboundSMS(
        provider_message_id="x-1", from_number="+447911123456", to_number="+447000000000", body="hi"
    )
    (message,) = inbound.inbound_store(account=account, texts=[text])
    inbound.inbound_process(message_id=message.pk)
    conversation = Conversation.objects.get()
    assert conversation.sender is None
    assert "not one of your senders" in services.reply_refusal(conversation)


def test_it_ignores_outbound_messages(sender):
    handlers.on_inbound(MessageFactory(sender=sender))
    assert not Conversation.objects.exists()


def test_assignment_events_name_who_did_it(sender):
    ada = user_with_role(None, username="ada2", first_name="Ada", last_name="L")
    receive(sender, "Hi")
    conversation = Conversation.objects.get()
    assert services.conversation_assign(conversation=conversation, assignee=ada, actor=ada)
    assert not services.conversation_assign(conversation=conversation, assignee=ada, actor=ada)
    assert Activity.objects.filter(kind="assigned").get().text == "Ada L took the conversation."
    services.conversation_assign(conversation=conversation, assignee=None, actor=ada)
    assert Activity.objects.filter(kind="assigned").last().text == "Unassigned by Ada L."
