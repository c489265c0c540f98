"""The marketer's whole journey, with nothing faked between the browser and the provider:
compose with a merge field and a link, watch the counter and the cost, send now; a
real Celery worker launches and dispatches to the simulator process, which posts
delivery receipts back to the live server; a recipient taps the short link; the
report shows delivered and clicked."""

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from campaigns.models import Campaign
from contacts.lists import list_add_contacts
from messaging.models import Message, PendingReceipt, Status
from tests.browser.conftest import screenshot, sign_in
from tests.factories import (
    PASSWORD,
    ContactFactory,
    ContactListFactory,
    ProviderAccountFactory,
    SenderFactory,
)
from tests.processes import celery_beat, celery_worker, wait_for
from tests.simulator.process import running_simulator

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SHOP = "https://shop.example.com/spring"
PEOPLE = [("Ada", "+447912300001"), ("Alan", "+447912300002"), ("", "+447912300003")]


@pytest.fixture
def provider(live_server, settings, fresh_buckets):
    # Every text delivered: the simulator otherwise fails a few per hundred, at random.
    with running_simulator(receipt_delay_ms=(5, 30), delivered=1.0, undelivered=0, failed=0) as sim:
        settings.MESSAGING_WEBHOOK_BASE_URL = live_server.url
        settings.SHORT_LINK_BASE_URL = f"{live_server.url}/l"
        account = ProviderAccountFactory(
            name="The SMS Works",
            backend="smsworks",
            base_url=sim.url,
            credentials={"jwt": sim.token()},
            default_price=Decimal("0.04"),
            prices={"GB": "0.035"},
            timeout_seconds=5,
        )
        SenderFactory(
            account=account,
            label="Marketing",
            value="+447912000200",
            is_default=True,
            messages_per_second=100,
        )
        contacts = [
            ContactFactory(first_name=name, phone=phone, country="GB") for name, phone in PEOPLE
        ]
        customers = ContactListFactory(name="Customers")
        list_add_contacts(contact_list=customers, contact_ids=[c.pk for c in contacts])
        env = {
            "MESSAGING_WEBHOOK_BASE_URL": live_server.url,
            "SHORT_LINK_BASE_URL": f"{live_server.url}/l",
        }
        # Beat as in `make run`: it applies receipts every 2 s, so the last receipt of a
        # burst never waits for the next webhook's kick.
        with celery_worker(concurrency=2, env=env) as worker, celery_beat(env=env) as beat:
            yield sim
            assert worker.poll() is None, "the worker process exited"
            assert beat.poll() is None, "beat exited"


def test_compose_send_deliver_click_and_read_the_report(page, marketer_user, provider):
    sim = provider
    sign_in(page, marketer_user.username, PASSWORD)
    page.goto(reverse("campaigns:create"))

    page.get_by_label("Campaign name").fill("Spring sale")
    page.get_by_test_id("lists").get_by_label("Customers").check()
    body = page.get_by_label("Message")
    body.fill("Hi ")
    page.get_by_test_id("merge-picker").click()
    page.get_by_role("link", name="First name").click()
    page.keyboard.type(f", our spring sale is on: {SHOP}")
    expect(body).to_have_value("Hi {{ first_name | there }}, our spring sale is on: " + SHOP)
    expect(page.get_by_test_id("recipients")).to_have_text("3")
    expect(page.get_by_test_id("segments")).to_have_text("1")
    expect(page.get_by_test_id("cost")).to_have_text("0.11")  # 3 x 0.035
    expect(page.get_by_test_id("preview").first).to_contain_text("Hi Ada, our spring sale")
    # The journey must not depend on the hour the test runs at.
    page.get_by_label("Respect quiet hours").uncheck()
    page.get_by_label("Send now").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send now").click()

    expect(page.get_by_role("heading", name="Spring sale")).to_be_visible()
    campaign = Campaign.objects.get(name="Spring sale")

    # The worker launched the campaign and sent each recipient one personalised text.
    wait_for(lambda: len(sim.record_lines()) >= 3, timeout=90, what="3 texts at the simulator")
    texts = {line["destination"]: line["content"] for line in sim.messages()}
    assert len(sim.record_lines()) == 3 and sim.stats()["duplicates"] == 0
    assert texts["447912300001"].startswith("Hi Ada, our spring sale is on: ")
    assert texts["447912300003"].startswith("Hi there, our spring sale is on: ")
    short = texts["447912300001"].split(": ", 1)[1].split()[0]
    assert short.startswith(f"{provider_base(page)}/l/") and SHOP not in short

    # Ada taps her link: the browser's own request (the shop itself is not fetched:
    # the test has no internet), redirected to the shop.
    tapped = page.request.get(short, max_redirects=0)
    assert tapped.status == 302 and tapped.headers["location"].startswith(SHOP)

    messages = Message.objects.filter(campaign_id=campaign.pk)
    wait_for(
        lambda: messages.filter(status=Status.DELIVERED).count() == 3,
        timeout=90,
        what=lambda: (
            f"3 delivered: messages {sorted(messages.values_list('status', flat=True))}, "
            f"pending receipts {list(PendingReceipt.objects.values_list('status', 'attempts'))}, "
            f"simulator {sim.stats()}"
        ),
    )
    page.goto(reverse("campaigns:report", args=[campaign.pk]))
    expect(page.get_by_test_id("stat-delivered")).to_have_text("3", timeout=30_000)
    expect(page.get_by_test_id("stat-clicked")).to_have_text("1", timeout=30_000)
    expect(page.get_by_test_id("stat-sent")).to_have_text("3")
    screenshot(page, "journey-report")


def provider_base(page) -> str:
    """The live server's address, as the browser reaches it."""
    return page.evaluate("window.location.origin")
