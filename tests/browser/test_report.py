from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.launch import links_save
from campaigns.models import Campaign, Click
from contacts.models import ConsentEvent, Contact
from messaging.models import Message
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD, CampaignFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRST_NAMES = ["Ada", "Alan", "Grace", "Tim", "Karen", "Sophie", "Radia", "Linus", "Barbara", "Ken"]
RECIPIENTS = 240


def _outcome(n: int) -> tuple[str, str, str]:
    """A realistic spread: most delivered, a few undelivered, failed, still awaiting."""
    if n % 50 == 7:
        return "failed", "EC_BARRED", "Barred by the network"
    if n % 40 == 3:
        return "failed", "invalid_number", "Not a mobile number"
    if n % 25 == 11:
        return "undelivered", "EC_ABSENT", "Phone switched off"
    if n % 30 == 17:
        return "sent", "", ""
    if n % 80 == 5:
        return "suppressed", "", "The recipient opted out."
    return "delivered", "", ""


def _campaign_with_results(status: str = Campaign.Status.COMPLETED) -> Campaign:
    campaign = CampaignFactory(
        name="Spring sale",
        body="Hi {{ first_name | there }}, 20% off everything: https://shop.example.com/spring",
        utm="utm_source=sms&utm_campaign=spring",
    )
    links_save(campaign)
    launched = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=50)
    contacts = Contact.objects.bulk_create(
        Contact(
            phone=f"+4477009{n:05d}",
            first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
            last_name="Example",
        )
        for n in range(RECIPIENTS)
    )
    messages = []
    for n, contact in enumerate(contacts):
        status_n, code, reason = _outcome(n)
        # A ramp up, a steady middle and a tail, like a rate-limited send.
        sent = launched + timedelta(seconds=int(22 * n**0.85))
        reached = status_n in ("sent", "delivered", "undelivered")
        messages.append(
            Message(
                direction="out",
                account=campaign.sender.account,
                sender=campaign.sender,
                from_number=campaign.sender.value,
                to_number=contact.phone,
                contact=contact,
                campaign_id=campaign.pk,
                body=f"Hi {contact.first_name}, 20% off everything: https://t.example/l/x{n}",
                status=status_n,
                error_code=code,
                error_reason=reason,
                cost=None if status_n == "suppressed" else Decimal("0.0350"),
                sent_at=sent if reached else None,
                delivered_at=sent + timedelta(seconds=40 + n % 90)
                if status_n == "delivered"
                else None,
                undelivered_at=sent + timedelta(minutes=3) if status_n == "undelivered" else None,
                failed_at=sent if status_n == "failed" else None,
            )
        )
    messages = Message.objects.bulk_create(messages)
    link = campaign.links.get()
    clicks = []
    for n, message in enumerate(messages):
        if message.status == "delivered" and n % 4 == 0:
            clicks += [
                Click(message=message, campaign=campaign, link=link, contact=message.contact)
            ]
            if n % 3 == 0:  # some come back
                clicks += [
                    Click(message=message, campaign=campaign, link=link, contact=message.contact)
                ]
    Click.objects.bulk_create(clicks)
    for message in messages[20:29]:
        Message.objects.create(
            direction="in",
            account=campaign.sender.account,
            sender=campaign.sender,
            from_number=message.to_number,
            to_number=campaign.sender.value,
            contact=message.contact,
            body="Is the sale on in store too?",
            status="received",
        )
    for message in messages[10:14]:
        ConsentEvent.objects.create(
            phone=message.to_number, contact=message.contact, kind="opt_out", source="keyword"
        )
    Campaign.objects.filter(pk=campaign.pk).update(
        status=status,
        launched_at=launched,
        completed_at=launched + timedelta(minutes=45) if status == "completed" else None,
    )
    campaign.refresh_from_db()
    return campaign


def _expected(campaign: Campaign) -> dict[str, int]:
    rows = Message.objects.filter(campaign_id=campaign.pk)
    return {
        "recipients": rows.exclude(status="suppressed").count(),
        "delivered": rows.filter(status="delivered").count(),
        "clicked": Click.objects.filter(campaign=campaign).values("message").distinct().count(),
    }


def test_the_report_shows_the_numbers_and_draws_the_chart(page, marketer_user):
    campaign = _campaign_with_results()
    expected = _expected(campaign)
    sign_in(page, marketer_user.username, PASSWORD)

    page.goto(reverse("campaigns:report", args=[campaign.pk]))

    expect(page.get_by_role("heading", name="Spring sale")).to_be_visible()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Completed")
    expect(page.get_by_test_id("stat-recipients")).to_have_text(str(expected["recipients"]))
    expect(page.get_by_test_id("stat-delivered")).to_have_text(str(expected["delivered"]))
    expect(page.get_by_test_id("stat-clicked")).to_have_text(str(expected["clicked"]))
    expect(page.get_by_test_id("stat-opted-out")).to_have_text("4")
    expect(page.get_by_test_id("stat-replied")).to_have_text("9")
    expect(page.get_by_test_id("failures")).to_contain_text("Barred by the network")
    expect(page.get_by_test_id("chart-bucket")).to_have_text("Messages per minute")
    canvas = page.get_by_test_id("delivery-chart")
    expect(canvas).to_be_visible()
    painted = page.evaluate(
        """() => {
            const canvas = document.getElementById("delivery-chart");
            const chart = Chart.getChart(canvas);
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
            return {points: chart.data.labels.length, sent: chart.data.datasets[0].data.reduce((a, b) => a + b, 0), inked};
        }"""
    )
    assert painted["points"] > 30
    assert (
        painted["sent"]
        == Message.objects.filter(campaign_id=campaign.pk, sent_at__isnull=False).count()
    )
    assert painted["inked"] > 5000
    # Completed 45 minutes after launch, but some texts still await their receipt: the
    # figures keep updating (slowly) for a day after completion.
    assert page.get_by_test_id("report-summary").get_attribute("data-live") == "true"
    expect(page.get_by_test_id("live-banner")).to_contain_text("await a delivery receipt")
    screenshot(page, "campaign-report")

    page.get_by_role("link", name="Recipients").click()
    page.get_by_label("Status").select_option("failed")
    expect(page.get_by_test_id("recipients").locator("tbody tr")).to_have_count(
        Message.objects.filter(campaign_id=campaign.pk, status="failed").count()
    )
    screenshot(page, "campaign-report-recipients")

    page.goto(reverse("dashboard"))
    expect(page.get_by_test_id("recent-campaigns")).to_contain_text("Spring sale")
    screenshot(page, "dashboard-campaigns")


def test_the_figures_update_by_themselves_while_sending(page, marketer_user):
    campaign = _campaign_with_results(status=Campaign.Status.SENDING)
    expected = _expected(campaign)
    sign_in(page, marketer_user.username, PASSWORD)
    page.goto(reverse("campaigns:report", args=[campaign.pk]))
    expect(page.get_by_test_id("live-banner")).to_be_visible()
    expect(page.get_by_test_id("stat-delivered")).to_have_text(str(expected["delivered"]))

    # Receipts arrive for the messages that were awaiting one; then the campaign ends.
    awaiting = Message.objects.filter(campaign_id=campaign.pk, status="sent")
    moved = awaiting.update(status="delivered", delivered_at=timezone.now())
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)

    expect(page.get_by_test_id("stat-delivered")).to_have_text(
        str(expected["delivered"] + moved), timeout=8000
    )
    expect(page.get_by_test_id("live-banner")).to_have_count(0)
    # The header's badge comes along with the last poll.
    expect(page.get_by_test_id("campaign-status")).to_have_text("Completed")
