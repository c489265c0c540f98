import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from campaigns import reports, views_reports
from campaigns.launch import links_save
from campaigns.models import Campaign, Click
from contacts.models import ConsentEvent
from messaging.models import Message
from tests.factories import CampaignFactory, ContactFactory, MessageFactory

pytestmark = pytest.mark.django_db

# (status, how many, error code, error reason)
MESSAGES = [
    ("queued", 3, "", ""),
    ("sending", 1, "", ""),
    ("sent", 2, "", ""),
    ("delivered", 6, "", ""),
    ("undelivered", 2, "EC_ABSENT", "Phone switched off"),
    ("failed", 1, "invalid_number", "The number is not a mobile"),
    ("failed", 2, "EC_BARRED", "Barred by the network"),
    ("suppressed", 1, "", "The recipient opted out."),
]


@pytest.fixture(autouse=True)
def _fresh_dashboard_totals():
    cache.clear()  # the dashboard totals are cached for a few seconds


@pytest.fixture
def launched():
    """A sending campaign with messages in every status, a minute apart."""
    campaign = CampaignFactory(name="Spring sale", body="Sale: https://shop.example.com/spring")
    links_save(campaign)
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING, launched_at=start, recipients=17, suppressed=1
    )
    campaign.refresh_from_db()
    messages = []
    for status, count, code, reason in MESSAGES:
        for _ in range(count):
            contact = ContactFactory()
            minute = start + timedelta(minutes=len(messages) % 3)
            reached = status in ("sent", "delivered", "undelivered")
            messages.append(
                MessageFactory(
                    campaign_id=campaign.pk,
                    sender=campaign.sender,
                    contact=contact,
                    to_number=contact.phone,
                    status=status,
                    error_code=code,
                    error_reason=reason,
                    cost=None if status in ("suppressed", "queued") else Decimal("0.0400"),
                    sent_at=minute if reached else None,
                    delivered_at=minute + timedelta(minutes=1) if status == "delivered" else None,
                    undelivered_at=minute + timedelta(minutes=2)
                    if status == "undelivered"
                    else None,
                    failed_at=minute if status == "failed" else None,
                )
            )
    return campaign, messages


def _delivered(messages):
    return [m for m in messages if m.status == "delivered"]


def test_it_counts_every_status_in_one_grouped_query(launched, django_assert_num_queries):
    campaign, _ = launched

    with django_assert_num_queries(1):
        counts = reports.campaign_counts(campaign.pk)

    assert counts.total == 18
    assert (counts.recipients, counts.suppressed) == (17, 1)
    assert (counts.queued, counts.sending, counts.awaiting_receipt) == (3, 1, 2)
    assert (counts.delivered, counts.undelivered, counts.failed) == (6, 2, 3)
    assert counts.sent == 10  # reached the provider: awaiting, delivered, undelivered
    assert counts.pending == 6 and not counts.all_final
    assert counts.cost == Decimal("0.5600")  # 14 priced messages
    assert counts.delivered_rate == pytest.approx(60.0)


def test_the_counts_of_several_campaigns_come_in_one_query(launched, django_assert_num_queries):
    campaign, _ = launched
    empty = CampaignFactory()

    with django_assert_num_queries(1):
        counts = reports.campaign_counts_many([campaign.pk, empty.pk])

    assert counts[campaign.pk].delivered == 6
    assert counts[empty.pk].total == 0 and counts[empty.pk].delivered_rate is None


def test_rates_have_no_value_when_there_is_nothing_to_divide_by():
    assert reports.rate(3, 4) == 75.0
    assert reports.rate(0, 0) is None


def test_failures_are_grouped_by_reason_most_frequent_first(launched):
    campaign, _ = launched

    failures = reports.failure_reasons(campaign.pk)

    assert [(f.status, f.code, f.reason, f.count) for f in failures] == [
        ("undelivered", "EC_ABSENT", "Phone switched off", 2),
        ("failed", "EC_BARRED", "Barred by the network", 2),
        ("failed", "invalid_number", "The number is not a mobile", 1),
    ]


def test_replies_count_recipients_who_texted_after_the_launch(launched):
    campaign, messages = launched
    first, second, third = (m.contact for m in _delivered(messages)[:3])
    stranger = ContactFactory()

    def inbound(contact, when):
        message = MessageFactory(
            direction="in",
            status="received",
            contact=contact,
            from_number=contact.phone,
            to_number=campaign.sender.value,
            sender=campaign.sender,
        )
        type(message).objects.filter(pk=message.pk).update(created_at=when)

    after = campaign.launched_at + timedelta(minutes=5)
    inbound(first, after)
    inbound(first, after + timedelta(minutes=1))  # the same person twice
    inbound(second, after)
    inbound(third, campaign.launched_at - timedelta(days=1))  # before the launch
    inbound(stranger, after)  # never got the campaign

    assert reports.engagement(campaign).replied == 2


def test_opt_outs_count_recipients_who_opted_out_after_the_launch(launched):
    campaign, messages = launched
    first, second = (m.contact for m in _delivered(messages)[:2])
    stranger = ContactFactory()

    def opt_out(contact, when):
        event = ConsentEvent.objects.create(
            phone=contact.phone, contact=contact, kind="opt_out", source="keyword"
        )
        ConsentEvent.objects.filter(pk=event.pk).update(created_at=when)

    after = campaign.launched_at + timedelta(minutes=3)
    opt_out(first, after)
    opt_out(first, after)  # STOP, then STOPALL
    opt_out(second, campaign.launched_at - timedelta(hours=1))
    opt_out(stranger, after)

    assert reports.engagement(campaign).opted_out == 1


def test_a_campaign_not_launched_has_no_replies_or_opt_outs():
    campaign = CampaignFactory()

    assert reports.engagement(campaign) == reports.Engagement()


def test_the_timeline_buckets_sent_delivered_and_failed_per_minute(launched):
    campaign, _ = launched

    timeline = reports.delivery_timeline(campaign.pk)

    assert timeline["bucket_minutes"] == 1
    assert len(timeline["labels"]) == len(timeline["sent"]) == 5
    assert sum(timeline["sent"]) == 10
    assert sum(timeline["delivered"]) == 6
    assert sum(timeline["failed"]) == 5  # 3 failed + 2 undelivered
    assert timeline["sent"][0] > 0  # the first bucket is the first event


def test_a_long_campaign_gets_wider_buckets(launched):
    campaign, messages = launched
    late = messages[-2]  # a failed one
    type(late).objects.filter(pk=late.pk).update(failed_at=late.failed_at + timedelta(hours=10))

    timeline = reports.delivery_timeline(campaign.pk)

    assert timeline["bucket_minutes"] == 5
    assert len(timeline["labels"]) <= reports.MAX_CHART_POINTS
    assert sum(timeline["failed"]) == 5


def test_the_report_page_shows_the_figures(client, marketer_user, launched):
    campaign, messages = launched
    reader = _delivered(messages)[0]
    link = campaign.links.get()
    for _ in range(3):
        Click.objects.create(message=reader, campaign=campaign, link=link, contact=reader.contact)
    client.force_login(marketer_user)

    response = client.get(reverse("campaigns:report", args=[campaign.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    for test_id, value in [
        ("stat-recipients", "17"),
        ("stat-sent", "10"),
        ("stat-delivered", "6"),
        ("stat-not-delivered", "5"),
        ("stat-clicked", "1"),
        ("rate-delivered", "60.0%"),
        ("link-unique", "1"),
    ]:
        assert f'data-testid="{test_id}">{value}<' in html, test_id
    assert "Barred by the network" in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert reverse("campaigns:report_timeline", args=[campaign.pk]) in html


def test_the_report_polls_while_sending_and_stops_when_done(client, marketer_user, launched):
    campaign, _ = launched
    client.force_login(marketer_user)
    live_url = reverse("campaigns:report_live", args=[campaign.pk])

    sending = client.get(live_url, HTTP_HX_REQUEST="true")

    assert sending.status_code == 200
    assert b"<html" not in sending.content  # the partial alone
    assert f'hx-get="{live_url}"'.encode() in sending.content
    assert b'hx-trigger="every 2500ms"' in sending.content

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    done = client.get(live_url, HTTP_HX_REQUEST="true")

    assert b"hx-trigger" not in done.content
    assert b'data-live="false"' in done.content
    assert b'hx-swap-oob="true"' in done.content and b"Completed" in done.content


def test_the_timeline_endpoint_answers_json(client, marketer_user, launched):
    campaign, _ = launched
    client.force_login(marketer_user)

    data = client.get(reverse("campaigns:report_timeline", args=[campaign.pk])).json()

    assert set(data) == {"labels", "bucket_minutes", "sent", "delivered", "failed"}


def test_the_recipients_table_filters_by_status_and_number(client, marketer_user, launched):
    campaign, messages = launched
    client.force_login(marketer_user)
    url = reverse("campaigns:report_recipients", args=[campaign.pk])

    failed = client.get(url, {"status": "failed"})
    assert failed.content.count(b'data-status="failed"') == 3
    assert b'data-status="delivered"' not in failed.content

    one = messages[5]
    national = "0" + one.to_number[3:]  # the same number as a person types it
    by_number = client.get(url, {"number": national}, HTTP_HX_REQUEST="true")
    assert by_number.content.count(b"<tr>") == 1 + 1  # header and the one row
    assert one.to_number.encode() in by_number.content

    none = client.get(url, {"number": "+447700900999"})
    assert b"No recipient matches these filters" in none.content


def test_the_recipients_table_pages_with_a_keyset(client, marketer_user, launched, monkeypatch):
    campaign, messages = launched
    monkeypatch.setattr(views_reports, "PAGE_SIZE", 5)
    client.force_login(marketer_user)
    url = reverse("campaigns:report_recipients", args=[campaign.pk])

    seen, query, pages = [], {}, 0
    while pages < 10:
        response = client.get(url, query)
        rows = response.context["rows"]
        seen += [r["id"] for r in rows]
        pages += 1
        if not response.context["next_query"]:
            break
        query = {"after": rows[-1]["contact_id"]}

    assert pages == 4
    assert seen == [m.pk for m in sorted(messages, key=lambda m: m.contact_id)]


def test_a_page_is_two_queries_whatever_the_size(launched, django_assert_num_queries):
    campaign, _ = launched

    with django_assert_num_queries(2):  # the rows (with their contact), their clicks
        rows, cursor = reports.recipients_page(campaign.pk, size=4)

    assert len(rows) == 4 and cursor == rows[-1]["contact_id"]


def test_bad_filter_input_is_ignored_not_an_error(client, marketer_user, launched):
    campaign, _ = launched
    client.force_login(marketer_user)
    url = reverse("campaigns:report_recipients", args=[campaign.pk])

    response = client.get(url, {"status": "nonsense", "number": "abc", "after": "9" * 40})

    assert response.status_code == 200
    assert len(response.context["rows"]) == 18


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_export_neutralises_formulas_and_numbers_alike(client, marketer_user, launched):
    campaign, messages = launched
    contact = messages[3].contact
    contact.first_name, contact.last_name = '=HYPERLINK("http://evil")', "@SUM(A1)"
    contact.save()
    Click.objects.create(
        message=messages[3], campaign=campaign, link=campaign.links.get(), contact=contact
    )
    client.force_login(marketer_user)

    response = client.get(reverse("campaigns:report_export", args=[campaign.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "spring-sale" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == reports.EXPORT_HEADER
    assert len(rows) == 1 + 18
    by_phone = {row[0]: row for row in rows[1:]}
    assert all(phone.startswith("'+44") for phone in by_phone)  # E.164, consistently
    row = by_phone["'" + contact.phone]
    assert row[1:3] == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)"]
    assert row[-1] == "1"


def test_the_export_follows_the_filters(client, marketer_user, launched, monkeypatch):
    campaign, _ = launched
    client.force_login(marketer_user)
    original = reports.recipients_page
    monkeypatch.setattr(
        reports, "recipients_page", lambda *a, **k: original(*a, **{**k, "size": 2})
    )

    response = client.get(
        reverse("campaigns:report_export", args=[campaign.pk]), {"status": "failed"}
    )

    rows = _csv(response)
    assert [row[3] for row in rows[1:]] == ["failed"] * 3


@pytest.mark.parametrize(
    "name", ["report", "report_live", "report_timeline", "report_recipients", "report_export"]
)
def test_support_may_not_see_reports(client, support_user, admin_user, launched, name):
    campaign, _ = launched
    url = reverse(f"campaigns:{name}", args=[campaign.pk])

    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(support_user)
    assert client.get(url).status_code == 403
    client.force_login(admin_user)
    assert client.get(url).status_code == 200


def test_an_unknown_campaign_is_a_404(client, marketer_user):
    client.force_login(marketer_user)

    assert client.get(reverse("campaigns:report", args=[999999])).status_code == 404


def test_an_empty_campaign_has_a_calm_report(client, marketer_user):
    campaign = CampaignFactory(name="Draft idea")
    client.force_login(marketer_user)

    response = client.get(reverse("campaigns:report", args=[campaign.pk]))

    assert response.status_code == 200
    assert b"No failures so far" in response.content
    assert b"Not launched yet" in response.content
    recipients = client.get(reverse("campaigns:report_recipients", args=[campaign.pk]))
    assert b"no recipients yet" in recipients.content


def _sent_just_now(campaign):
    # The fixture's launch was half an hour ago: maybe yesterday, or last week.
    Message.objects.filter(campaign_id=campaign.pk, sent_at__isnull=False).update(
        sent_at=timezone.now()
    )


def test_the_dashboard_shows_recent_campaigns_and_totals(client, marketer_user, launched):
    campaign, _ = launched
    _sent_just_now(campaign)
    ConsentEvent.objects.create(phone="+447700900123", kind="opt_out", source="keyword")
    client.force_login(marketer_user)

    response = client.get(reverse("dashboard"))

    html = response.content.decode()
    assert 'data-testid="sent-today">10<' in html and 'data-testid="sent-week">10<' in html
    assert 'data-testid="delivered-rate">60.0%<' in html
    assert 'data-testid="optouts-week">1<' in html
    assert 'data-testid="recent-delivered">60.0%<' in html
    assert reverse("campaigns:report", args=[campaign.pk]) in html


def test_the_dashboard_totals_count_this_week_only(launched):
    campaign, messages = launched
    _sent_just_now(campaign)
    old = messages[5]
    type(old).objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=8))

    totals = reports.dashboard_totals()

    assert (totals.sent_today, totals.sent_week, totals.delivered_week) == (9, 9, 6)


def test_support_sees_no_campaign_panel(client, support_user, launched):
    client.force_login(support_user)

    assert b"dashboard-campaigns" not in client.get(reverse("dashboard")).content


def test_a_large_campaigns_viewers_share_a_snapshot_for_a_moment(launched):
    campaign, messages = launched
    first = reports.campaign_snapshot(campaign)
    Message.objects.filter(pk=messages[0].pk).update(status="delivered")

    assert reports.campaign_snapshot(campaign).counts.delivered == 7  # small: always fresh

    Campaign.objects.filter(pk=campaign.pk).update(recipients=reports.SNAPSHOT_MIN_MESSAGES)
    campaign.refresh_from_db()
    shared = reports.campaign_snapshot(campaign)
    Message.objects.filter(pk=messages[1].pk).update(status="delivered")

    again = reports.campaign_snapshot(campaign)
    assert again.counts.delivered == shared.counts.delivered == 7  # from the cache
    assert again.taken_at == shared.taken_at > first.taken_at
    cache.delete(reports.snapshot_key(campaign.pk))
    assert reports.campaign_snapshot(campaign).counts.delivered == 8


def test_the_report_says_what_waits_for_quiet_hours_and_when_it_goes(
    client, marketer_user, launched
):
    campaign, messages = launched
    client.force_login(marketer_user)
    url = reverse("campaigns:report", args=[campaign.pk])
    assert b'data-testid="waiting-banner"' not in client.get(url).content  # all due now

    morning = (timezone.now() + timedelta(days=1)).replace(hour=8, minute=0, second=0)
    queued = [m.pk for m in messages if m.status == "queued"]
    Message.objects.filter(pk__in=queued[:2]).update(send_after=morning)
    Message.objects.filter(pk=queued[2]).update(send_after=morning + timedelta(hours=1))

    html = client.get(url).content.decode()

    assert 'data-testid="waiting-banner"' in html
    assert "<strong>3</strong> messages wait for quiet hours to end" in html
    assert morning.strftime("%H:%M") in html
    snapshot = reports.campaign_snapshot(campaign)
    assert (snapshot.waiting.count, snapshot.waiting.next_at) == (3, morning)


def test_a_local_time_campaign_waits_for_each_recipients_local_time(launched):
    campaign, _ = launched
    Campaign.objects.filter(pk=campaign.pk).update(schedule=Campaign.Schedule.LOCAL)
    campaign.refresh_from_db()
    later = timezone.now() + timedelta(hours=5)
    Message.objects.filter(campaign_id=campaign.pk, status="queued").update(send_after=later)

    waiting = reports.campaign_snapshot(campaign).waiting

    assert waiting.count == 3 and waiting.reason == "their recipients' local send time"


def test_the_list_shares_a_large_campaigns_counts_for_a_moment(launched, monkeypatch):
    campaign, _ = launched
    small = CampaignFactory(name="Small")
    Message.objects.filter(status="queued").update(status="delivered")

    monkeypatch.setattr(reports, "LIST_SHARE_MIN_MESSAGES", 10)  # "large": 18 messages
    first = reports.campaign_rates_shared([campaign, small])
    Message.objects.filter(status="delivered").update(status="failed")
    second = reports.campaign_rates_shared([campaign, small])

    assert first[campaign.pk].delivered == 9
    assert second[campaign.pk] == first[campaign.pk]  # shared: not counted again
    cache.delete(f"campaigns:rates:{campaign.pk}")
    assert reports.campaign_rates_shared([campaign])[campaign.pk].delivered == 0
    assert small.pk not in first  # no messages, counted afresh every time


def test_a_completed_campaign_keeps_updating_while_receipts_are_due(
    client, marketer_user, launched
):
    campaign, _ = launched
    client.force_login(marketer_user)
    live_url = reverse("campaigns:report_live", args=[campaign.pk])
    Message.objects.filter(campaign_id=campaign.pk, status__in=["queued", "sending"]).update(
        status="sent"
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.COMPLETED, completed_at=timezone.now()
    )

    awaiting = client.get(live_url, HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-trigger="every 10000ms"' in awaiting
    assert "6 messages still await a delivery receipt" in awaiting

    Message.objects.filter(campaign_id=campaign.pk, status="sent").update(status="delivered")
    settled = client.get(live_url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in settled and 'data-live="false"' in settled

    Message.objects.filter(pk=Message.objects.filter(campaign_id=campaign.pk).first().pk).update(
        status="sent"
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        completed_at=timezone.now() - reports.RECEIPT_WATCH - timedelta(minutes=1)
    )
    assert "hx-trigger" not in client.get(live_url, HTTP_HX_REQUEST="true").content.decode()
