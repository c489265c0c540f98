from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.audience import after_quiet_hours, local_launch_time
from campaigns.launch import campaign_launch, insert_audience
from campaigns.models import Campaign
from contacts.lists import list_add_contacts
from contacts.services import contact_opt_out
from messaging import dispatch
from messaging.models import Message, Status
from tests.factories import CampaignFactory, ContactFactory, ContactListFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def audience():
    members = [ContactFactory(time_zone="Europe/London") for _ in range(6)]
    members[0].first_name = ""
    members[0].save()
    the_list = ContactListFactory()
    list_add_contacts(contact_list=the_list, contact_ids=[c.pk for c in members])
    return the_list, members


def _scheduled(the_list, **fields):
    campaign = CampaignFactory(lists=[the_list], respect_quiet_hours=False, **fields)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=timezone.now()
    )
    campaign.refresh_from_db()
    return campaign


def test_it_writes_one_queued_row_per_recipient_and_counts_the_suppressed(audience):
    the_list, members = audience
    contact_opt_out(phone=members[1].phone, source="keyword")
    campaign = _scheduled(the_list)

    assert campaign_launch(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert (campaign.recipients, campaign.suppressed) == (5, 1)
    rows = Message.objects.filter(campaign_id=campaign.pk)
    assert rows.count() == 6
    assert rows.get(contact=members[1]).status == Status.SUPPRESSED
    queued = rows.filter(status=Status.QUEUED)
    assert queued.count() == 5 and all(m.merge and m.priority == "bulk" for m in queued)
    assert len(set(rows.values_list("uuid", flat=True))) == 6


def test_a_second_launch_does_nothing_and_a_stale_relaunch_adds_no_duplicates(audience):
    the_list, _ = audience
    campaign = _scheduled(the_list)
    assert campaign_launch(campaign_id=campaign.pk)
    assert not campaign_launch(campaign_id=campaign.pk)  # double click, second beat

    # A worker died after claiming: the launch is retried once it is stale.
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.LAUNCHING, updated_at=timezone.now() - timedelta(minutes=5)
    )
    assert campaign_launch(campaign_id=campaign.pk)
    assert Message.objects.filter(campaign_id=campaign.pk).count() == 6


def test_bodies_are_rendered_per_recipient_when_claimed(audience):
    the_list, members = audience
    campaign = _scheduled(
        the_list, body="Hi {{ first_name | there }}! See https://shop.example.com/sale"
    )
    from campaigns.launch import links_save

    links_save(campaign)
    campaign_launch(campaign_id=campaign.pk)

    rows, _ = dispatch.claim(sender=campaign.sender, lane="bulk", limit=10)

    bodies = {r["contact_id"]: r["body"] for r in rows}
    assert bodies[members[0].pk].startswith("Hi there! See http")
    assert bodies[members[2].pk].startswith(f"Hi {members[2].first_name}! See ")
    assert "shop.example.com" not in bodies[members[2].pk]  # replaced by a short link
    stored = Message.objects.get(contact=members[2], campaign_id=campaign.pk)
    assert (stored.merge, stored.body) == (False, bodies[members[2].pk])
    assert stored.cost is not None and stored.segments == 1


def test_an_opt_out_after_launch_is_not_sent_to(audience):
    the_list, members = audience
    campaign = _scheduled(the_list)
    campaign_launch(campaign_id=campaign.pk)
    contact_opt_out(phone=members[3].phone, source="keyword")

    rows, suppressed = dispatch.claim(sender=campaign.sender, lane="bulk", limit=10)

    assert suppressed == 1
    assert members[3].pk not in {r["contact_id"] for r in rows}


def test_pause_holds_and_resume_releases(audience):
    the_list, _ = audience
    campaign = _scheduled(the_list)
    campaign_launch(campaign_id=campaign.pk)
    campaign.refresh_from_db()

    assert services.campaign_pause(campaign=campaign) == 6 - 0
    assert dispatch.claim(sender=campaign.sender, lane="bulk", limit=10) == ([], 0)
    services.campaign_resume(campaign=campaign)
    rows, _ = dispatch.claim(sender=campaign.sender, lane="bulk", limit=10)
    assert len(rows) == 6


def test_cancel_stops_everything_still_queued(audience):
    the_list, _ = audience
    campaign = _scheduled(the_list)
    campaign_launch(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    dispatch.claim(sender=campaign.sender, lane="bulk", limit=2)  # two are in flight

    result = services.campaign_cancel(campaign=campaign)

    assert result == {"cancelled": 4, "in_flight": 2}
    assert dispatch.claim(sender=campaign.sender, lane="bulk", limit=10) == ([], 0)
    with pytest.raises(Exception, match="already finished"):
        services.campaign_cancel(campaign=campaign)


def test_completion_waits_for_the_last_message(audience):
    the_list, _ = audience
    campaign = _scheduled(the_list)
    campaign_launch(campaign_id=campaign.pk)
    assert services.campaigns_complete() == 0
    Message.objects.filter(campaign_id=campaign.pk).update(status=Status.DELIVERED)
    assert services.campaigns_complete() == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED


def test_local_time_sends_each_recipient_at_their_own_time():
    tokyo, london = (
        ContactFactory(time_zone="Asia/Tokyo"),
        ContactFactory(time_zone="Europe/London"),
    )
    the_list = ContactListFactory()
    list_add_contacts(contact_list=the_list, contact_ids=[tokyo.pk, london.pk])
    day = timezone.now().date() + timedelta(days=3)
    campaign = CampaignFactory(
        lists=[the_list],
        schedule=Campaign.Schedule.LOCAL,
        local_time=time(10, 0),
        respect_quiet_hours=True,
        scheduled_at=local_launch_time(day, time(10, 0)),  # as campaign_schedule sets it
    )
    # Launched when 10:00 arrives in the earliest zone; each row waits for its own.
    insert_audience(campaign, campaign.scheduled_at)

    tokyo_at = Message.objects.get(contact=tokyo).send_after.astimezone(ZoneInfo("Asia/Tokyo"))
    london_at = Message.objects.get(contact=london).send_after.astimezone(LONDON)
    assert (tokyo_at.time(), london_at.time()) == (time(10, 0), time(10, 0))
    assert tokyo_at.date() == london_at.date() == day


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 6, 1, 12, 0), datetime(2026, 6, 1, 12, 0)),  # not quiet
        (datetime(2026, 6, 1, 22, 30), datetime(2026, 6, 2, 8, 0)),  # evening: tomorrow 08:00
        (datetime(2026, 6, 2, 6, 15), datetime(2026, 6, 2, 8, 0)),  # early: today 08:00
        # Across the clocks going forward (29 March 2026) and back (25 October 2026):
        (datetime(2026, 3, 28, 23, 0), datetime(2026, 3, 29, 8, 0)),
        (datetime(2026, 10, 24, 23, 0), datetime(2026, 10, 25, 8, 0)),
    ],
)
def test_quiet_hours_defer_to_the_end_of_the_window_in_local_time(local, expected):
    moment = local.replace(tzinfo=LONDON)
    result = after_quiet_hours(moment, LONDON, time(21, 0), time(8, 0))
    assert result.astimezone(LONDON).replace(tzinfo=None) == expected
    assert result.astimezone(LONDON).utcoffset() == expected.replace(tzinfo=LONDON).utcoffset()


def test_quiet_hours_apply_at_launch():
    contact = ContactFactory(time_zone="Europe/London")
    the_list = ContactListFactory()
    list_add_contacts(contact_list=the_list, contact_ids=[contact.pk])
    campaign = CampaignFactory(lists=[the_list], respect_quiet_hours=True)
    late = datetime(2026, 12, 1, 22, 0, tzinfo=LONDON)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=late
    )
    campaign.refresh_from_db()

    insert_audience(campaign, late)

    send_after = Message.objects.get().send_after.astimezone(LONDON)
    assert send_after == datetime(2026, 12, 2, 8, 0, tzinfo=LONDON)
