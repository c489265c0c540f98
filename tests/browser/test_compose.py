from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from contacts.lists import list_add_contacts
from contacts.models import CustomField
from contacts.services import contact_opt_out
from tests.browser.conftest import screenshot, sign_in
from tests.factories import (
    PASSWORD,
    ContactFactory,
    ContactListFactory,
    ProviderAccountFactory,
    SenderFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OFFER = "! Our spring sale starts today, 20% off everything in store and online."
MORE = " Bring a friend and you both get a free tote bag while stocks last. See you soon."


@pytest.fixture
def workspace():
    account = ProviderAccountFactory(
        name="The SMS Works", default_price=Decimal("0.04"), prices={"GB": "0.035", "US": "0.0075"}
    )
    SenderFactory(account=account, label="Marketing", value="+447700900100", is_default=True)
    CustomField.objects.create(key="plan", label="Plan")
    people = [
        ("Ada", "Lovelace", "GB", "+447700900001"),
        ("Alan", "Turing", "GB", "+447700900002"),
        ("Sophie", "Wilson", "GB", "+447700900003"),
        ("Karen", "Jones", "GB", "+447700900004"),
        ("Grace", "Hopper", "US", "+12025550101"),
        ("Katherine", "Johnson", "US", "+12025550102"),
    ]
    contacts = [
        ContactFactory(first_name=first, last_name=last, country=country, phone=phone)
        for first, last, country, phone in people
    ]
    contact_opt_out(phone=contacts[3].phone, source="keyword")
    newsletter = ContactListFactory(name="Newsletter")
    list_add_contacts(contact_list=newsletter, contact_ids=[c.pk for c in contacts])
    ContactListFactory(name="Staff")


def test_a_marketer_composes_watches_the_estimate_and_schedules(page, marketer_user, workspace):
    sign_in(page, marketer_user.username, PASSWORD)
    page.goto(reverse("campaigns:list"))
    expect(page.get_by_text("No campaign yet")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()

    page.get_by_label("Campaign name").fill("Spring sale")
    page.get_by_test_id("lists").get_by_label("Newsletter").check()
    body = page.get_by_label("Message")
    body.fill("Hi ")
    page.get_by_test_id("merge-picker").click()
    page.get_by_role("link", name="First name").click()
    page.keyboard.type(OFFER)
    expect(body).to_have_value("Hi {{ first_name | there }}" + OFFER)

    # 3 GB x 0.035 + 2 US x 0.0075 for one segment; the opted-out contact is left out.
    expect(page.get_by_test_id("recipients")).to_have_text("5")
    expect(page.get_by_test_id("segments")).to_have_text("1")
    expect(page.get_by_test_id("cost")).to_have_text("0.12")
    expect(page.get_by_test_id("left-out")).to_contain_text("1 in this audience opted out")
    previews = page.get_by_test_id("preview")
    expect(previews).to_have_count(3)
    expect(previews.first).to_contain_text("Hi Ada! Our spring sale")
    expect(previews.first).to_contain_text("Reply STOP to opt out")

    body.press("End")
    page.keyboard.type(MORE)
    expect(page.get_by_test_id("segments")).to_have_text("2")
    expect(page.get_by_test_id("cost")).to_have_text("0.24")
    expect(page.get_by_test_id("segment-counter")).to_contain_text("GSM-7")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky estimate column starts at the top
    screenshot(page, "campaign-compose")

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.body.startswith("Hi {{ first_name | there }}! Our spring sale")

    tomorrow = timezone.localdate() + timedelta(days=1)
    page.get_by_label("At a date and time").check()
    page.get_by_label("Date", exact=True).fill(tomorrow.isoformat())
    page.get_by_label("Time", exact=True).fill("10:00")
    page.get_by_role("button", name="Schedule campaign").click()

    expect(page.get_by_role("heading", name="Spring sale")).to_be_visible()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Scheduled")
    expect(page.get_by_test_id("schedule")).to_contain_text("10:00")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    screenshot(page, "campaign-detail")

    page.get_by_role("link", name="Campaigns").first.click()
    row = page.get_by_test_id("campaign-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Spring sale")
    expect(row.get_by_test_id("campaign-status")).to_have_text("Scheduled")
    screenshot(page, "campaign-list")


def test_the_counter_names_the_unicode_culprits_and_fixes_them_in_one_click(
    page, marketer_user, workspace
):
    sign_in(page, marketer_user.username, PASSWORD)
    page.goto(reverse("campaigns:create"))
    counter = page.get_by_test_id("segment-counter")

    page.get_by_label("Message").fill("It\u2019s on \u2014 20% off today")
    expect(counter).to_contain_text("UCS-2")
    expect(counter).to_contain_text("Forced to UCS-2 by")
    counter.get_by_role("button", name="Replace").click()

    expect(page.get_by_label("Message")).to_have_value("It's on - 20% off today")
    expect(counter).to_contain_text("GSM-7")


def test_an_admin_approves_a_submitted_campaign(page, admin_user, marketer_user, workspace):
    from campaigns.models import CampaignSettings
    from campaigns.services import campaign_schedule
    from contacts.models import ContactList
    from messaging.models import Sender

    CampaignSettings.objects.update_or_create(pk=1, defaults={"require_approval": True})
    campaign = Campaign.objects.create(
        name="Weekend flash sale",
        sender=Sender.objects.get(),
        body="Hi {{ first_name | there }}, 30% off this weekend only.",
        schedule=Campaign.Schedule.AT,
        scheduled_at=timezone.now() + timedelta(days=2),
        created_by=marketer_user,
    )
    campaign.lists.set(ContactList.objects.filter(name="Newsletter"))
    campaign_schedule(campaign=campaign, by=marketer_user)
    assert campaign.status == Campaign.Status.PENDING_APPROVAL

    sign_in(page, admin_user.username, PASSWORD)
    page.goto(reverse("campaigns:detail", args=[campaign.pk]))
    expect(page.get_by_test_id("approval")).to_contain_text("Waiting for your approval")
    expect(page.get_by_test_id("detail-estimate")).to_contain_text("5")
    screenshot(page, "campaign-approval")
    page.get_by_role("button", name="Approve").click()

    expect(page.get_by_text("Approved. The campaign is scheduled.")).to_be_visible()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Scheduled")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.approved_by) == (Campaign.Status.SCHEDULED, admin_user)
