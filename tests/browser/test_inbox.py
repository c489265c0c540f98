"""The inbox in a real browser: a text from the simulator's virtual phone appears
live, is assigned, answered with a canned reply that reaches the phone, and a
STOP from the phone disables the reply box. Plus the keyboard, notes, search and
a page full of hostile message bodies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inbox import services
from inbox.models import CannedReply, Conversation, Label
from messaging.models import Message
from messaging.services import webhook_url
from tests.browser.conftest import screenshot, sign_in
from tests.factories import (
    PASSWORD,
    CampaignFactory,
    ContactFactory,
    MessageFactory,
    ProviderAccountFactory,
    SenderFactory,
)
from tests.inbox.conftest import receive
from tests.inbox.test_xss import PAYLOADS
from tests.processes import celery_beat, celery_worker, wait_for
from tests.simulator.process import RunningSimulator, running_simulator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "+447912345678"
SUPPORT_LINE = "+447912000100"


@pytest.fixture(scope="module")
def phone_simulator() -> Iterator[RunningSimulator]:
    with running_simulator(
        receipt_delay_ms=(50, 200), delivered=1.0, undelivered=0, failed=0
    ) as sim:
        yield sim


@pytest.fixture
def platform(phone_simulator, live_server, settings):
    """An SMS Works account on the simulator whose phone texts the live server."""
    phone_simulator.reset()
    settings.MESSAGING_WEBHOOK_BASE_URL = live_server.url
    account = ProviderAccountFactory(
        backend="smsworks",
        base_url=phone_simulator.url,
        credentials={"jwt": phone_simulator.token()},
        timeout_seconds=5,
    )
    sender = SenderFactory(account=account, value=SUPPORT_LINE, label="Support line")
    phone_simulator.config(inbound_url=webhook_url(account, "inbound"))
    return {"sim": phone_simulator, "account": account, "sender": sender}


def text_from_phone(sim: RunningSimulator, body: str, number: str = PHONE) -> None:
    answer = sim.post("/_sim/inbound", {"from": number, "to": SUPPORT_LINE, "body": body})
    assert answer.status_code == 200, answer.text


@pytest.mark.worker
def test_a_text_from_the_phone_is_answered_live_and_stop_locks_the_reply_box(
    page, platform, live_server, support_user
):
    sim, sender = platform["sim"], platform["sender"]
    ContactFactory(phone=PHONE, first_name="Grace", last_name="Hopper")
    CannedReply.objects.create(
        title="Parcel delay",
        body="Hi {{ first_name | there }}, sorry about the wait: your parcel ships today.",
    )
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    sign_in(page, support_user.username, PASSWORD)

    env = {"MESSAGING_WEBHOOK_BASE_URL": live_server.url}
    # Beat as in `make run`: a receipt that outran its send result is applied on its tick.
    with celery_worker(env=env), celery_beat(env=env):
        # Warm up: the worker is ready once it has handed one text to the inbox.
        text_from_phone(sim, "warm-up", number="+447912345670")
        wait_for(lambda: Conversation.objects.exists(), timeout=60, what="the worker")
        page.goto("/inbox/?folder=unassigned")
        expect(page.get_by_test_id("conversation-list")).to_contain_text("warm-up")

        started = time.monotonic()
        text_from_phone(sim, "Hi, my parcel <b>still</b> hasn't arrived")
        row = page.get_by_test_id("conversation-row").filter(has_text="Grace Hopper")
        # Live: the page polls every second and the text shows without a reload. The
        # bound is loose on purpose (a busy CI machine); bench/pages.py times it.
        row.wait_for(timeout=30_000)
        print(f"the text appeared in the open inbox {time.monotonic() - started:.1f}s after")
        assert "unread" in (row.get_attribute("class") or "")
        expect(page.get_by_test_id("count-unassigned")).to_have_text("2")
        screenshot(page, "inbox-new-text")

        row.click()
        thread = page.get_by_test_id("thread")
        expect(thread).to_contain_text("Hi, my parcel <b>still</b> hasn't arrived")
        page.keyboard.press("a")  # assign to me
        expect(page.get_by_test_id("assignee")).to_have_text(support_user.username)

        page.get_by_test_id("canned-select").select_option(label="★ Parcel delay")
        reply = "Hi Grace, sorry about the wait: your parcel ships today."
        expect(page.get_by_test_id("reply-body")).to_have_value(reply)
        expect(page.get_by_test_id("segment-counter")).to_contain_text("1 segment")
        page.get_by_test_id("reply-body").press("Control+Enter")

        bubble = page.get_by_test_id("message").filter(has_text=reply)
        expect(bubble.get_by_test_id("status")).to_have_attribute(
            "data-status", "delivered", timeout=30_000
        )
        expect(page.get_by_test_id("reply-body")).to_have_value("")
        wait_for(lambda: sim.messages(to=PHONE), timeout=30, what="the reply on the phone")
        assert [m["content"] for m in sim.messages(to=PHONE)] == [reply]
        sent = Message.objects.get(body=reply)
        assert (sent.priority, sent.sender) == ("transactional", sender)
        screenshot(page, "inbox-answered")

        text_from_phone(sim, "STOP")
        expect(page.get_by_test_id("reply-disabled")).to_contain_text("opted out", timeout=30_000)
        expect(page.get_by_test_id("reply-body")).to_be_disabled()
        expect(page.get_by_test_id("send")).to_be_disabled()
        expect(page.get_by_test_id("consent-state")).to_have_text("Opted out")
        expect(thread).to_contain_text("STOP")
        screenshot(page, "inbox-opted-out")
    assert alerts == []


def test_the_keyboard_notes_search_and_hostile_bodies(page, live_server, admin_user):
    sender = SenderFactory(
        account=ProviderAccountFactory(backend="console", credentials={}),
        value=SUPPORT_LINE,
        label="Support line",
    )
    alan = ContactFactory(phone="+447912345601", first_name="Alan", last_name="Turing")
    spring = CampaignFactory(sender=sender, name="Spring sale")
    MessageFactory(
        sender=sender,
        to_number=alan.phone,
        contact=alan,
        campaign_id=spring.pk,
        body="Spring sale: 20% off everything this weekend. Reply STOP to opt out",
        status="delivered",
    )
    receive(sender, "Where is my parcel? Order 4471", number="+447912345601")
    alans = Conversation.objects.get(contact_number=alan.phone)
    services.conversation_label_set(
        conversation=alans,
        label=Label.objects.create(name="VIP", color="warning"),
        on=True,
        actor=admin_user,
    )
    services.conversation_reply(
        conversation=alans, user=admin_user, body="Hi Alan, it left the depot this morning."
    )
    services.conversation_note_add(
        conversation=alans, user=admin_user, body="Courier says Thursday."
    )
    receive(sender, "Great, thanks!\nWill someone be in to sign?", number="+447912345601")
    for i, payload in enumerate(PAYLOADS):
        receive(sender, payload, number=f"+4479123456{i + 10:02d}")
    receive(sender, "Can I change my booking to Friday?", number="+447912345602")
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    sign_in(page, admin_user.username, PASSWORD)

    page.goto("/inbox/?folder=all")
    rows = page.get_by_test_id("conversation-row")
    expect(rows).to_have_count(len(PAYLOADS) + 2)
    expect(page.locator("#nav-inbox-badge")).to_have_text(str(len(PAYLOADS) + 2))

    page.keyboard.press("j")
    expect(page.get_by_test_id("thread-title")).to_have_text("+447912345602")
    page.keyboard.press("j")
    expect(page.get_by_test_id("thread-title")).to_have_text(f"+4479123456{len(PAYLOADS) + 9}")
    page.keyboard.press("k")
    expect(page.get_by_test_id("thread-title")).to_have_text("+447912345602")

    sent_before = Message.objects.filter(direction="out").count()
    page.keyboard.press("n")
    page.get_by_test_id("note-body").fill("Asked the depot <script>alert('note')</script>")
    page.get_by_test_id("note-body").press("Control+Enter")
    expect(page.get_by_test_id("note")).to_contain_text("Asked the depot <script>")
    expect(page.get_by_test_id("note-body")).to_have_value("")  # a fresh note box
    assert Message.objects.filter(direction="out").count() == sent_before  # notes are never sent

    page.keyboard.press("Escape")  # leave the text box
    page.keyboard.press("e")
    expect(page.get_by_test_id("thread-status")).to_have_text("Closed")
    expect(
        page.locator(f"#conv-{Conversation.objects.get(contact_number='+447912345602').pk}")
    ).to_have_count(0)

    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts")).to_be_visible()
    page.wait_for_timeout(400)  # the fade-in, for the picture
    screenshot(page, "inbox-shortcuts")
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_test_id("shortcuts")).to_be_hidden()

    # Every hostile body shows as text in the list and in its thread.
    for payload in PAYLOADS[:4]:
        page.get_by_test_id("conversation-row").filter(has_text=payload).click()
        expect(page.get_by_test_id("message-body").last).to_have_text(payload)
    screenshot(page, "inbox-hostile-bodies")

    page.keyboard.press("/")
    page.keyboard.type("parcel")
    page.keyboard.press("Enter")
    hit = page.get_by_test_id("search-hit").first
    expect(hit).to_contain_text("Where is my parcel? Order 4471")
    page.wait_for_timeout(300)  # the counter, for the picture
    expect(hit.locator("mark")).to_have_text("parcel")
    screenshot(page, "inbox-search")
    hit.click()
    expect(page.get_by_test_id("thread-title")).to_have_text("Alan Turing")
    expect(page.get_by_test_id("recent-campaign")).to_have_text("Spring sale")
    page.wait_for_timeout(300)
    screenshot(page, "inbox-thread")
    assert alerts == []


def test_an_admin_sets_up_an_out_of_hours_reply_and_sees_what_it_did(page, live_server, admin_user):
    sender = SenderFactory(
        account=ProviderAccountFactory(backend="console", credentials={}),
        value=SUPPORT_LINE,
        label="Support line",
    )
    sign_in(page, admin_user.username, PASSWORD)
    page.goto("/inbox/rules/")
    screenshot(page, "inbox-rules-empty")
    page.get_by_role("button", name="From a template").click()
    page.locator(".dropdown-menu").get_by_role("link", name="Out-of-hours auto-reply").click()
    # Opening hours that start in two hours: now is out of hours.
    now = timezone.localtime()
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        page.get_by_label(day, exact=True).uncheck()
    page.get_by_label("Start time").fill(f"{now + timedelta(hours=2):%H:%M}")
    page.get_by_label("End time").fill(f"{now + timedelta(hours=3):%H:%M}")
    page.get_by_label("Platform number").select_option(label=str(sender))
    screenshot(page, "inbox-rule-form")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("h1")).to_contain_text("Out-of-hours auto-reply")

    receive(sender, "Are you open?")
    receive(sender, "Hello??")  # within 12 hours: not answered again
    page.reload()
    runs = page.get_by_test_id("rule-runs")
    expect(runs).to_contain_text("Are you open?")
    expect(runs).to_contain_text("replied: Hi there, thanks for your message.")
    # The second text came seconds after our reply: a loop guard holds it back
    # (and the 12-hour limit would have).
    expect(runs).to_contain_text("skipped Auto-reply")
    screenshot(page, "inbox-rule-detail")
    page.goto("/inbox/rules/")
    expect(page.get_by_test_id("rules")).to_contain_text("2 matches")
    screenshot(page, "inbox-rules")


def test_an_admin_adds_several_actions_to_a_rule_in_one_save(page, live_server, admin_user):
    from contacts.models import ContactList
    from inbox.models import Rule

    ContactList.objects.create(name="Members")
    sign_in(page, admin_user.username, PASSWORD)
    page.goto("/inbox/rules/new/")
    page.get_by_label("Name").fill("Join the club")
    page.get_by_label("Keyword").fill("join")
    actions = page.get_by_test_id("action-form")
    expect(actions).to_have_count(1)
    actions.nth(0).get_by_label("Action").select_option("auto_reply")
    actions.nth(0).get_by_label("Text").fill("Welcome to the club!")

    page.get_by_test_id("add-action").click()
    expect(actions).to_have_count(2)
    second = actions.nth(1)
    second.get_by_label("Action").select_option("add_to_list")
    expect(second.get_by_label("Text")).to_be_hidden()  # only the list fields show
    second.get_by_label("Contact list").select_option(label="Members")
    second.get_by_label("Record consent (opt-in)").check()
    page.get_by_test_id("add-action").click()  # a third, left empty: ignored on save
    expect(actions).to_have_count(3)
    screenshot(page, "inbox-rule-form-actions")
    page.get_by_role("button", name="Save rule").click()

    expect(page.locator("h1")).to_contain_text("Join the club")
    rule = Rule.objects.get(name="Join the club")
    assert [(a.kind, a.text, a.opt_in) for a in rule.actions.order_by("position")] == [
        ("auto_reply", "Welcome to the club!", False),
        ("add_to_list", "", True),
    ]
    assert rule.actions.get(kind="add_to_list").contact_list.name == "Members"
