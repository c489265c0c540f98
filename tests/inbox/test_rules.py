"""Rules: matching (keyword, number, time window), actions in order, and the
auto-reply loop guards."""

from datetime import time, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from contacts.models import ConsentEvent, ListMembership, Suppression
from inbox import rules
from inbox.models import AutoReply, Conversation, Forward, Label, Rule, RuleAction, RuleRun
from messaging.models import Message, Priority
from tests.factories import ContactFactory, ContactListFactory, SenderFactory, user_with_role
from tests.inbox.conftest import at, receive

pytestmark = pytest.mark.django_db


def make_rule(*actions, **fields) -> Rule:
    fields.setdefault("name", "Rule")
    rule = Rule.objects.create(**fields)
    for position, (kind, values) in enumerate(actions):
        RuleAction.objects.create(rule=rule, position=position, kind=kind, **values)
    return rule


def reply_action(text="Thanks {{ first_name | there }}!"):
    return (RuleAction.Kind.AUTO_REPLY, {"text": text})


def auto_replies():
    return list(Message.objects.filter(direction="out").order_by("id"))


# --- matching ---


@pytest.mark.parametrize(
    ("body", "matched"),
    [
        ("price", True),
        ("PRICE list please", True),
        ("Price!", True),
        ("my price", False),
        ("", False),
    ],
)
def test_a_keyword_matches_the_first_word_in_any_case(sender, body, matched):
    rule = make_rule(keyword="PRICE")
    message = Message(body=body, created_at=timezone.now())
    conversation = Conversation(sender=sender)
    assert (
        rules.matches(rule, message=message, conversation=conversation, at=timezone.now())
        is matched
    )


def test_a_rule_for_one_number_ignores_texts_to_another(sender, account):
    other = SenderFactory(account=account, value="+447900000002")
    make_rule(reply_action("support line"), sender=sender)
    receive(other, "hello")
    assert auto_replies() == []
    receive(sender, "hello")
    assert [m.body for m in auto_replies()] == ["support line"]


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2026-03-02 17:59", False),  # Monday before the window
        ("2026-03-02 18:00", True),  # Monday evening
        ("2026-03-03 07:59", True),  # Tuesday early: still Monday's window
        ("2026-03-03 08:00", False),
        ("2026-03-06 23:00", True),  # Friday night
        ("2026-03-07 03:00", True),  # Saturday early: Friday's window
        ("2026-03-07 20:00", False),  # Saturday evening: no window starts on Saturday
    ],
)
def test_a_window_past_midnight_belongs_to_the_day_it_starts(moment, inside):
    rule = Rule(start_time=time(18), end_time=time(8), days=[0, 1, 2, 3, 4], time_zone="UTC")
    assert rules.in_window(rule, at(moment)) is inside


def test_a_window_is_read_in_the_rules_time_zone():
    rule = Rule(start_time=time(9), end_time=time(17), time_zone="America/New_York")
    assert rules.in_window(rule, at("2026-03-02 15:00"))  # 10:00 in New York
    assert not rules.in_window(rule, at("2026-03-02 23:00"))  # 18:00 in New York


# --- auto-replies and their guards ---


def test_an_auto_reply_goes_out_in_the_transactional_lane_with_merge_fields(sender):
    ContactFactory(phone="+447911123456", first_name="Grace")
    rule = make_rule(reply_action(), keyword="HOURS")
    receive(sender, "hours?")
    (reply,) = auto_replies()
    assert (reply.body, reply.priority, reply.to_number) == (
        "Thanks Grace!",
        Priority.TRANSACTIONAL,
        "+447911123456",
    )
    assert AutoReply.objects.get().rule == rule
    run = RuleRun.objects.get()
    assert run.results == [
        {"kind": "auto_reply", "outcome": "done", "detail": "replied: Thanks Grace!"}
    ]
    assert Conversation.objects.get().keyword == "HOURS"


def test_an_out_of_hours_reply_reaches_a_contact_at_most_once_in_12_hours(sender):
    make_rule(
        reply_action("We're closed"),
        sender=sender,
        days=[0, 1, 2, 3, 4],
        start_time=time(9),
        end_time=time(17),
        window=Rule.Window.OUTSIDE,
        reply_cooldown_hours=12,
    )
    saturday = at("2026-03-07 10:00")
    for minutes, number, body in [
        (0, "+447911123456", "Hello?"),
        (5, "+447911123456", "Hello??"),
        (6, "+447912345678", "Hi"),
    ]:
        with mock.patch(
            "django.utils.timezone.now", return_value=saturday + timedelta(minutes=minutes)
        ):
            receive(sender, body, number=number)
    assert [m.to_number for m in auto_replies()] == ["+447911123456", "+447912345678"]
    outcome = RuleRun.objects.order_by("id")[1].results[0]
    assert outcome["outcome"] == "skipped" and "12 h" in outcome["detail"]

    with mock.patch("django.utils.timezone.now", return_value=saturday + timedelta(hours=13)):
        receive(sender, "Anyone there?")
    assert len(auto_replies()) == 3

    monday_noon = at("2026-03-09 12:00")
    with mock.patch("django.utils.timezone.now", return_value=monday_noon):
        receive(sender, "Good morning", number="+447912345670")
    assert len(auto_replies()) == 3  # open hours: no match


@pytest.mark.parametrize("word", ["STOP", "stop", "Unsubscribe", "HELP", "info", "START", "quit"])
def test_it_never_auto_replies_to_opt_out_or_help_words(sender, word):
    make_rule(reply_action("We're closed"))
    receive(sender, word)
    engine_answers = [m for m in auto_replies() if m.body == "We're closed"]
    assert engine_answers == []
    assert not RuleRun.objects.exists()


def test_it_does_not_auto_reply_to_a_text_that_starts_with_an_opt_out_word(sender):
    make_rule(reply_action("We're closed"))
    receive(sender, "Stop texting me")
    assert auto_replies() == []
    assert "opt-out or help word" in RuleRun.objects.get().results[0]["detail"]


def test_it_does_not_answer_a_number_that_answered_our_auto_reply_within_seconds(sender):
    make_rule(reply_action("Thanks, we got it"))
    receive(sender, "Hello")
    assert len(auto_replies()) == 1
    # The other side is an auto-responder: its answer comes back at once.
    receive(sender, "Thank you for your message, we will get back to you")
    assert len(auto_replies()) == 1
    assert "within seconds" in RuleRun.objects.order_by("id").last().results[0]["detail"]


def test_auto_replies_to_one_number_are_capped_per_hour(sender):
    make_rule(reply_action("Got it"))
    start = timezone.now()
    for minute in range(6):
        with mock.patch(
            "django.utils.timezone.now", return_value=start + timedelta(minutes=minute)
        ):
            receive(sender, f"text {minute}")
    assert len(auto_replies()) == rules.HOURLY_AUTO_REPLY_CAP


@pytest.mark.parametrize(
    "body",
    [
        "Auto-reply: I am away until Monday",
        "This is an automated message, do not reply",
        "Out of office",
        "I am currently away from my phone",
    ],
)
def test_it_does_not_auto_reply_to_texts_that_look_automated(sender, body):
    make_rule(reply_action("Got it"))
    receive(sender, body)
    assert auto_replies() == []


def test_it_does_not_auto_reply_to_a_short_code(sender, account):
    from messaging import inbound
    from messaging.providers import InboundSMS

    make_rule(reply_action("Got it"))
    text = InboundSMS(
        provider_message_id="sc-1", from_number="88888", to_number=sender.value, body="Your code"
    )
    (message,) = inbound.inbound_store(account=account, texts=[text])
    inbound.inbound_process(message_id=message.pk)
    assert auto_replies() == []


# --- other actions ---


def test_a_join_keyword_adds_to_a_list_and_records_consent(sender):
    contact = ContactFactory(phone="+447911123456")
    Suppression.objects.create(phone=contact.phone, contact=contact, source="keyword")
    contact.opted_out = True
    contact.save()
    newsletter = ContactListFactory(name="Newsletter")
    make_rule(
        (RuleAction.Kind.ADD_TO_LIST, {"contact_list": newsletter, "opt_in": True}),
        reply_action("Welcome!"),
        keyword="JOIN",
    )
    receive(sender, "join")

    assert ListMembership.objects.filter(contact_list=newsletter, contact=contact).exists()
    event = ConsentEvent.objects.get(kind="opt_in")
    assert (event.source, event.keyword, event.text) == ("keyword", "JOIN", "join")
    assert not Suppression.objects.exists()
    assert [m.body for m in auto_replies()] == ["Welcome!"]  # after the opt-in: not suppressed


def test_it_assigns_and_labels(sender):
    sam = user_with_role(None, username="sam2")
    vip = Label.objects.create(name="VIP")
    make_rule(
        (RuleAction.Kind.ASSIGN, {"user": sam}),
        (RuleAction.Kind.LABEL, {"label": vip}),
        keyword="GOLD",
    )
    receive(sender, "Gold member here")
    conversation = Conversation.objects.get()
    assert conversation.assignee == sam
    assert list(conversation.labels.all()) == [vip]


def test_texts_to_support_at_night_go_to_the_on_call_mobile(sender):
    make_rule(
        (RuleAction.Kind.FORWARD_SMS, {"text": "+447912000111"}),
        sender=sender,
        start_time=time(18),
        end_time=time(8),
        time_zone="UTC",
    )
    with mock.patch("django.utils.timezone.now", return_value=at("2026-03-03 14:00")):
        receive(sender, "Daytime question")
    with mock.patch("django.utils.timezone.now", return_value=at("2026-03-03 23:30")):
        receive(sender, "Server is down!")

    (forwarded,) = auto_replies()
    assert forwarded.to_number == "+447912000111"
    assert (
        forwarded.body == "Fwd from First0 Example +447911123456: Server is down!"
        or forwarded.body.endswith("+447911123456: Server is down!")
    )
    assert forwarded.priority == Priority.TRANSACTIONAL
    # Both texts are in the inbox either way.
    assert Conversation.objects.get().inbound_count == 2


def test_the_on_call_phone_texting_the_support_number_is_not_forwarded_to_itself(sender):
    make_rule((RuleAction.Kind.FORWARD_SMS, {"text": "+447912000111"}))
    receive(sender, "On it", number="+447912000111")
    assert auto_replies() == []


def test_forward_to_email_and_webhook_are_queued_as_outbox_rows(sender):
    make_rule(
        (RuleAction.Kind.FORWARD_EMAIL, {"text": "support@example.com"}),
        (RuleAction.Kind.WEBHOOK, {"text": "https://hooks.example.com/sms"}),
    )
    message = receive(sender, "Please call me")
    email, webhook = Forward.objects.order_by("id")
    assert (email.kind, email.target, email.message_id) == (
        "email",
        "support@example.com",
        message.pk,
    )
    assert "Please call me" in email.payload["body"] and "+447911123456" in email.payload["body"]
    assert webhook.payload["message"]["body"] == "Please call me"
    assert [r["outcome"] for r in RuleRun.objects.get().results] == ["queued", "queued"]


def test_a_rule_change_applies_to_the_very_next_text(sender):
    rule = make_rule(reply_action("Old answer"), keyword="INFO2")
    receive(sender, "info2")
    action = rule.actions.get()
    action.text = "New answer"
    action.save()
    receive(sender, "info2", number="+447912345678")
    assert [m.body for m in auto_replies()] == ["Old answer", "New answer"]


def test_a_failing_action_is_recorded_and_the_next_one_still_runs(sender):
    vip = Label.objects.create(name="VIP")
    make_rule((RuleAction.Kind.ASSIGN, {"user": None}), (RuleAction.Kind.LABEL, {"label": vip}))
    receive(sender, "Hello")
    results = RuleRun.objects.get().results
    assert [r["outcome"] for r in results] == ["failed", "done"]
    assert Conversation.objects.get().labels.get() == vip


def test_stop_after_keeps_later_rules_from_running(sender):
    make_rule(reply_action("first"), position=1, stop_after=True)
    make_rule(reply_action("second"), position=2)
    receive(sender, "hello")
    assert [m.body for m in auto_replies()] == ["first"]


def test_inactive_rules_do_nothing(sender):
    make_rule(reply_action("nope"), is_active=False)
    receive(sender, "hello")
    assert auto_replies() == []
