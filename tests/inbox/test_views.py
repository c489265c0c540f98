"""The inbox page, its partials and the conversation actions."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.services import contact_opt_out
from inbox.models import Activity, CannedReply, Conversation, Label, Reply
from messaging.models import Message, Priority
from tests.factories import ContactFactory, user_with_role
from tests.inbox.conftest import receive

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def conversation(sender):
    ContactFactory(phone="+447911123456", first_name="Grace", last_name="Hopper")
    receive(sender, "Is my order on its way?")
    return Conversation.objects.get()


def test_it_shows_three_panes_with_the_thread(client, support_user, conversation):
    client.force_login(support_user)
    response = client.get(reverse("inbox:conversation", args=[conversation.pk]) + "?folder=all")
    assert response.status_code == 200
    content = response.content.decode()
    for testid in ("inbox", "conversation-list", "thread", "composer", "side-panel", "shortcuts"):
        assert f'data-testid="{testid}"' in content
    assert "Grace Hopper" in content and "Is my order on its way?" in content


def test_opening_a_thread_marks_it_read(client, support_user, conversation):
    client.force_login(support_user)
    client.get(
        reverse("inbox:conversation", args=[conversation.pk]), HTTP_HX_TARGET="thread-pane", **HTMX
    )
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_an_htmx_request_for_the_thread_gets_only_the_thread(client, support_user, conversation):
    client.force_login(support_user)
    url = reverse("inbox:conversation", args=[conversation.pk])
    response = client.get(url, HTTP_HX_TARGET="thread-pane", **HTMX)
    content = response.content.decode()
    assert 'data-testid="thread-pane"' in content and "<html" not in content


def test_the_marketer_gets_403_everywhere_in_the_inbox(client, marketer_user, conversation):
    client.force_login(marketer_user)
    for url in (
        reverse("inbox:index"),
        reverse("inbox:conversation", args=[conversation.pk]),
        reverse("inbox:poll"),
    ):
        assert client.get(url).status_code == 403
    response = client.post(reverse("inbox:reply", args=[conversation.pk]), {"body": "hi"})
    assert response.status_code == 403
    assert not Message.objects.filter(direction="out").exists()


def test_support_may_not_manage_rules(client, support_user):
    client.force_login(support_user)
    assert client.get(reverse("inbox:rules")).status_code == 403
    assert client.post(reverse("inbox:rule_create"), {"name": "x"}).status_code == 403


# --- reply ---


def test_a_reply_goes_out_in_the_transactional_lane(client, support_user, conversation):
    client.force_login(support_user)
    response = client.post(
        reverse("inbox:reply", args=[conversation.pk]),
        {"body": "Hi {{ first_name }}, it ships today.", "nonce": str(uuid.uuid4())},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "inbox-poll"
    reply = Message.objects.get(direction="out")
    assert (reply.body, reply.priority, reply.to_number, reply.sender) == (
        "Hi Grace, it ships today.",
        Priority.TRANSACTIONAL,
        "+447911123456",
        conversation.sender,
    )
    assert Reply.objects.get().author == support_user
    conversation.refresh_from_db()
    assert (conversation.last_message_direction, conversation.last_message_preview) == (
        "out",
        "Hi Grace, it ships today.",
    )


def test_a_repeated_submit_sends_once(client, support_user, conversation):
    client.force_login(support_user)
    data = {"body": "On its way", "nonce": str(uuid.uuid4())}
    url = reverse("inbox:reply", args=[conversation.pk])
    client.post(url, data, **HTMX)
    client.post(url, data, **HTMX)
    assert Message.objects.filter(direction="out").count() == 1


def test_an_empty_reply_is_refused_with_a_reason(client, support_user, conversation):
    client.force_login(support_user)
    response = client.post(reverse("inbox:reply", args=[conversation.pk]), {"body": "   "}, **HTMX)
    assert response.status_code == 422
    assert b"Write a message first." in response.content
    assert not Message.objects.filter(direction="out").exists()


def test_an_opted_out_contact_cannot_be_answered(client, support_user, conversation):
    contact_opt_out(phone=conversation.contact_number, source="keyword", keyword="STOP")
    client.force_login(support_user)
    page = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert 'data-testid="reply-disabled"' in page
    assert "by texting STOP" in page
    assert 'data-testid="send" disabled' in page

    response = client.post(
        reverse("inbox:reply", args=[conversation.pk]), {"body": "Hello?"}, **HTMX
    )
    assert response.status_code == 422
    assert b"opted out" in response.content
    assert not Message.objects.filter(direction="out").exists()


def test_a_note_is_never_sent(client, support_user, conversation):
    client.force_login(support_user)
    response = client.post(
        reverse("inbox:note", args=[conversation.pk]), {"body": "Called her, all good"}, **HTMX
    )
    assert response.status_code == 200
    assert Activity.objects.get(kind="note").text == "Called her, all good"
    assert not Message.objects.filter(direction="out").exists()


# --- assign, status, labels ---


def test_assign_to_me_then_unassign(client, support_user, conversation):
    client.force_login(support_user)
    url = reverse("inbox:assign", args=[conversation.pk])
    assert client.post(url, {"assignee": "me"}, **HTMX).status_code == 204
    conversation.refresh_from_db()
    assert conversation.assignee == support_user
    client.post(url, {"assignee": ""}, **HTMX)
    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert [a.text for a in Activity.objects.filter(kind="assigned").order_by("id")] == [
        "sam took the conversation.",
        "Unassigned by sam.",
    ]


def test_it_refuses_to_assign_someone_without_inbox_access(
    client, support_user, marketer_user, conversation
):
    client.force_login(support_user)
    response = client.post(
        reverse("inbox:assign", args=[conversation.pk]), {"assignee": marketer_user.pk}, **HTMX
    )
    assert response.status_code == 422
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_close_reopen_and_snooze(client, support_user, conversation):
    client.force_login(support_user)
    url = reverse("inbox:status", args=[conversation.pk])
    client.post(url, {"action": "close"}, **HTMX)
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    client.post(url, {"action": "close"}, **HTMX)  # repeated: nothing changes
    assert Activity.objects.filter(text__startswith="Closed").count() == 1
    client.post(url, {"action": "reopen"}, **HTMX)
    client.post(url, {"action": "snooze", "snooze": "3h"}, **HTMX)
    conversation.refresh_from_db()
    assert conversation.status == "snoozed"
    assert timedelta(hours=2) < conversation.snoozed_until - timezone.now() <= timedelta(hours=3)


def test_a_snooze_in_the_past_is_refused(client, support_user, conversation):
    client.force_login(support_user)
    response = client.post(
        reverse("inbox:status", args=[conversation.pk]),
        {"action": "snooze", "snooze": "at", "until": "2001-01-01T09:00"},
        **HTMX,
    )
    assert response.status_code == 422
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_labels_are_added_and_removed(client, support_user, conversation):
    vip = Label.objects.create(name="VIP")
    client.force_login(support_user)
    url = reverse("inbox:label", args=[conversation.pk])
    client.post(url, {"label": vip.pk, "on": "1"}, **HTMX)
    assert list(conversation.labels.all()) == [vip]
    client.post(url, {"label": vip.pk}, **HTMX)
    assert list(conversation.labels.all()) == []


def test_without_htmx_an_action_redirects_back(client, support_user, conversation):
    client.force_login(support_user)
    response = client.post(reverse("inbox:assign", args=[conversation.pk]), {"assignee": "me"})
    assert response.status_code == 302
    assert response.url == reverse("inbox:conversation", args=[conversation.pk])


# --- canned replies ---


def test_a_canned_reply_is_rendered_for_the_contact(client, support_user, conversation):
    canned = CannedReply.objects.create(
        title="Shipping", body="Hi {{ first_name | there }}, it ships today."
    )
    client.force_login(support_user)
    response = client.get(reverse("inbox:canned_insert", args=[conversation.pk, canned.pk]))
    assert response.content.decode() == "Hi Grace, it ships today."


def test_someone_elses_personal_canned_reply_is_not_found(
    client, support_user, admin_user, conversation
):
    private = CannedReply.objects.create(title="Mine", body="x", owner=admin_user)
    client.force_login(support_user)
    assert (
        client.get(reverse("inbox:canned_insert", args=[conversation.pk, private.pk])).status_code
        == 404
    )
    assert client.get(reverse("inbox:canned_edit", args=[private.pk])).status_code == 403


def test_support_keeps_personal_canned_replies_and_admin_shares_them(
    client, support_user, admin_user
):
    client.force_login(support_user)
    client.post(reverse("inbox:canned_create"), {"title": "Hi", "body": "Hello!", "shared": "on"})
    assert CannedReply.objects.get().owner == support_user  # Support cannot share
    shared = CannedReply.objects.create(title="Team", body="We're on it")
    assert client.get(reverse("inbox:canned_edit", args=[shared.pk])).status_code == 403
    assert client.post(reverse("inbox:canned_delete", args=[shared.pk])).status_code == 403

    client.force_login(admin_user)
    client.post(reverse("inbox:canned_create"), {"title": "Hours", "body": "9-5", "shared": "on"})
    assert CannedReply.objects.get(title="Hours").owner is None


def test_a_canned_reply_needs_a_title_and_body(client, support_user):
    client.force_login(support_user)
    response = client.post(reverse("inbox:canned_create"), {"title": "", "body": ""})
    assert response.status_code == 200
    assert not CannedReply.objects.exists()


# --- folders, pages and search ---


def _list(client, **params):
    response = client.get(reverse("inbox:index"), params)
    assert response.status_code == 200
    return [c.pk for c in response.context["rows"]]


def test_the_folders_hold_what_they_say(client, support_user, admin_user, sender):
    numbers = [f"+44791234560{i}" for i in range(5)]
    for number in numbers:
        receive(sender, "hi", number=number)
    by_number = {c.contact_number: c for c in Conversation.objects.all()}
    mine, unassigned, theirs, snoozed, closed = (by_number[n] for n in numbers)
    from inbox import services

    services.conversation_assign(conversation=mine, assignee=support_user, actor=support_user)
    services.conversation_assign(conversation=theirs, assignee=admin_user, actor=admin_user)
    services.conversation_snooze(
        conversation=snoozed, actor=support_user, until=timezone.now() + timedelta(days=1)
    )
    services.conversation_close(conversation=closed, actor=support_user)

    client.force_login(support_user)
    assert _list(client, folder="mine") == [mine.pk]
    assert set(_list(client, folder="unassigned")) == {unassigned.pk}
    assert set(_list(client, folder="all")) == {mine.pk, unassigned.pk, theirs.pk}
    assert _list(client, folder="snoozed") == [snoozed.pk]
    assert _list(client, folder="closed") == [closed.pk]
    assert len(_list(client, folder=f"number:{sender.pk}")) == 5


def test_the_list_pages_by_keyset(client, support_user, sender, monkeypatch):
    from inbox import queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    for i in range(7):
        receive(sender, f"text {i}", number=f"+44791234560{i}")
    client.force_login(support_user)
    response = client.get(reverse("inbox:index"), {"folder": "all"})
    first = [c.last_message_preview for c in response.context["rows"]]
    assert first == ["text 6", "text 5", "text 4"]
    page = client.get(reverse("inbox:list"), {"folder": "all", "before": response.context["more"]})
    assert [c.last_message_preview for c in page.context["rows"]] == ["text 3", "text 2", "text 1"]


def test_search_finds_message_text_and_numbers(client, support_user, sender):
    receive(sender, "My parcel never arrived", number="+447912345601")
    receive(sender, "Thanks!", number="+447912345602")
    client.force_login(support_user)

    response = client.get(reverse("inbox:index"), {"q": "PARCEL"})
    assert [h.message.body for h in response.context["hits"]] == ["My parcel never arrived"]
    assert "<mark>parcel</mark>" in response.content.decode()

    response = client.get(reverse("inbox:index"), {"q": "07912 345602"})
    assert [c.contact_number for c in response.context["search_conversations"]] == ["+447912345602"]
    response = client.get(reverse("inbox:index"), {"q": "345601"})
    assert [c.contact_number for c in response.context["search_conversations"]] == ["+447912345601"]


# --- the live poll ---


def _poll(client, **params):
    return client.get(reverse("inbox:poll"), params, **HTMX)


def test_the_poll_answers_204_when_nothing_changed(client, support_user, conversation):
    from inbox.views import micros

    client.force_login(support_user)
    now = str(micros(timezone.now() + timedelta(seconds=10)))
    response = _poll(
        client,
        folder="all",
        list_since=now,
        conversation=conversation.pk,
        thread_since=now,
        head_version=str(micros(conversation.changed_at)),
    )
    assert response.status_code == 204


def test_the_poll_brings_new_texts_and_status_ticks(client, support_user, conversation, sender):
    from inbox.views import micros

    client.force_login(support_user)
    page = client.get(reverse("inbox:conversation", args=[conversation.pk]) + "?folder=all")
    since = page.context["thread_since"]
    reply = Message.objects.create(
        direction="out",
        account=sender.account,
        sender=sender,
        from_number=sender.value,
        to_number=conversation.contact_number,
        body="Queued reply",
        status="sent",
    )
    receive(sender, "Thanks!")

    response = _poll(
        client,
        folder="all",
        list_since=page.context["list_since"],
        conversation=conversation.pk,
        thread_since=since,
        head_version=page.context["head_version"],
        composer="open",
        visible="1",
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert f'id="msg-{reply.pk}"' in content and "Thanks!" in content
    assert f'id="conv-{conversation.pk}"' in content  # the list row moved
    assert 'id="thread-head-' in content  # the head changed (new text)

    Message.objects.filter(pk=reply.pk).update(status="delivered")
    later = str(micros(timezone.now() + timedelta(seconds=30)))
    response = _poll(
        client,
        conversation=conversation.pk,
        thread_since=later,
        head_version=str(micros(Conversation.objects.get().changed_at)),
        pending=f"{reply.pk}:sent",
    )
    content = response.content.decode()
    assert 'data-status="delivered"' in content
    assert "Thanks!" not in content


def test_the_poll_locks_the_reply_box_after_stop(client, support_user, conversation, sender):
    from inbox.views import micros

    client.force_login(support_user)
    version = str(micros(conversation.changed_at))
    receive(sender, "STOP")
    response = _poll(
        client,
        conversation=conversation.pk,
        thread_since=version,
        head_version=version,
        composer="open",
    )
    content = response.content.decode()
    assert 'data-testid="reply-disabled"' in content
    assert 'name="composer" value="locked"' in content


def test_a_conversation_closed_elsewhere_leaves_the_folder(client, support_user, conversation):
    from inbox import services
    from inbox.views import micros

    client.force_login(support_user)
    since = str(micros(timezone.now()))
    services.conversation_close(conversation=conversation, actor=user_with_role(None))
    response = _poll(client, folder="all", list_since=since)
    assert f'<div id="conv-{conversation.pk}" data-remove></div>' in response.content.decode()
