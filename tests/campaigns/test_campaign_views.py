"""Campaign pages: compose, schedule, approve, control; roles, bad input, repeats."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from campaigns.audience import local_launch_time
from campaigns.models import Campaign, CampaignSettings
from contacts.lists import list_add_contacts
from messaging.models import Message, Priority, Status
from tests.factories import (
    CampaignFactory,
    ContactFactory,
    ContactListFactory,
    MessageFactory,
    ProviderAccountFactory,
    SenderFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_workers(monkeypatch):
    """Stop at the task seam: record what would be enqueued."""
    enqueued = []
    monkeypatch.setattr("campaigns.tasks.launch.delay", lambda pk: enqueued.append(("launch", pk)))
    monkeypatch.setattr(
        "messaging.tasks.kick_dispatch", lambda *args: enqueued.append(("dispatch", *args))
    )
    return enqueued


@pytest.fixture
def sender():
    account = ProviderAccountFactory(default_price=Decimal("0.04"), prices={"GB": "0.035"})
    return SenderFactory(account=account)


@pytest.fixture
def the_list():
    members = [ContactFactory(country="GB") for _ in range(3)]
    the_list = ContactListFactory(name="Newsletter")
    list_add_contacts(contact_list=the_list, contact_ids=[c.pk for c in members])
    return the_list


def _tomorrow_at(hour: int) -> datetime:
    day = timezone.localdate() + timedelta(days=1)
    return datetime.combine(day, time(hour, 0), tzinfo=timezone.get_current_timezone())


def _form(sender, the_list, **overrides):
    data = {
        "name": "Spring sale",
        "sender": sender.pk,
        "lists": [the_list.pk],
        "body": "Hi {{ first_name | there }}, 20% off today.",
        "opt_out_footer": "on",
        "shorten_links": "on",
        "schedule": "now",
        "recurrence": "weekly",
        "respect_quiet_hours": "on",
        "spread_minutes": "0",
        "submit_token": "",
        "action": "schedule",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# -- roles -----------------------------------------------------------------------------


def test_support_gets_403_everywhere(client, support_user, sender, the_list):
    campaign = CampaignFactory(sender=sender)
    client.force_login(support_user)
    for name, args in [
        ("campaigns:list", []),
        ("campaigns:create", []),
        ("campaigns:detail", [campaign.pk]),
        ("campaigns:edit", [campaign.pk]),
        ("campaigns:cancel", [campaign.pk]),
        ("campaigns:settings", []),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 403, name
    for name, args in [
        ("campaigns:create", []),
        ("campaigns:estimate", []),
        ("campaigns:test_send", []),
        ("campaigns:pause", [campaign.pk]),
        ("campaigns:approve", [campaign.pk]),
    ]:
        response = client.post(reverse(name, args=args), _form(sender, the_list))
        assert response.status_code == 403, name
    assert Campaign.objects.count() == 1


def test_a_marketer_composes_and_schedules(client, marketer_user, sender, the_list, _no_workers):
    client.force_login(marketer_user)
    assert client.get(reverse("campaigns:create")).status_code == 200

    with_time = _form(
        sender,
        the_list,
        schedule="at",
        send_date=_tomorrow_at(10).date().isoformat(),
        send_time="10:00",
    )
    response = client.post(reverse("campaigns:create"), with_time, follow=True)

    campaign = Campaign.objects.get()
    assert response.redirect_chain[-1][0] == reverse("campaigns:detail", args=[campaign.pk])
    assert (campaign.status, campaign.scheduled_at) == (Campaign.Status.SCHEDULED, _tomorrow_at(10))
    assert campaign.created_by == marketer_user and list(campaign.lists.all()) == [the_list]
    assert b"Campaign scheduled for" in response.content
    assert _no_workers == []  # not due yet


def test_a_marketer_cannot_approve_or_change_settings(client, marketer_user, sender):
    campaign = CampaignFactory(sender=sender, status=Campaign.Status.PENDING_APPROVAL)
    client.force_login(marketer_user)

    assert client.post(reverse("campaigns:approve", args=[campaign.pk])).status_code == 403
    assert client.post(reverse("campaigns:reject", args=[campaign.pk])).status_code == 403
    assert client.post(reverse("campaigns:settings"), {"quiet_start": "20:00"}).status_code == 403
    detail = client.get(reverse("campaigns:detail", args=[campaign.pk]))
    assert b"Waiting for approval" in detail.content
    assert reverse("campaigns:approve", args=[campaign.pk]).encode() not in detail.content
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PENDING_APPROVAL


# -- the approval flow -----------------------------------------------------------------


@pytest.fixture
def approval_required():
    rules = CampaignSettings.load()
    rules.require_approval = True
    rules.save()


def test_with_approval_a_marketer_submits_and_an_admin_approves(
    client, marketer_user, admin_user, sender, the_list, approval_required, _no_workers
):
    client.force_login(marketer_user)
    page = client.get(reverse("campaigns:create"))
    assert b"Submit for approval" in page.content

    response = client.post(reverse("campaigns:create"), _form(sender, the_list), follow=True)

    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.PENDING_APPROVAL
    assert b"Submitted for approval" in response.content
    assert _no_workers == []

    client.force_login(admin_user)
    detail = client.get(reverse("campaigns:detail", args=[campaign.pk]))
    assert b"Waiting for your approval" in detail.content
    response = client.post(reverse("campaigns:approve", args=[campaign.pk]), follow=True)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.approved_by) == (Campaign.Status.SCHEDULED, admin_user)
    assert b"Approved" in response.content
    assert _no_workers == []  # launched on commit, which the test transaction never reaches


def test_approving_twice_is_a_message_not_an_error(client, admin_user, sender):
    campaign = CampaignFactory(sender=sender, status=Campaign.Status.PENDING_APPROVAL)
    client.force_login(admin_user)

    client.post(reverse("campaigns:approve", args=[campaign.pk]))
    response = client.post(reverse("campaigns:approve", args=[campaign.pk]), follow=True)

    assert response.status_code == 200
    assert b"already scheduled" in response.content
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED


def test_an_admin_rejects_back_to_draft(client, admin_user, sender):
    campaign = CampaignFactory(sender=sender, status=Campaign.Status.PENDING_APPROVAL)
    client.force_login(admin_user)

    response = client.post(reverse("campaigns:reject", args=[campaign.pk]), follow=True)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert b"Sent back to draft" in response.content
    again = client.post(reverse("campaigns:reject", args=[campaign.pk]), follow=True)
    assert b"no longer waiting for approval" in again.content


def test_an_admin_skips_the_approval_step(
    client, admin_user, sender, the_list, approval_required, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("campaigns:create"), _form(sender, the_list))

    assert Campaign.objects.get().status == Campaign.Status.SCHEDULED
    assert len(callbacks) == 1  # the launch


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"lists": None}, "lists", "Choose at least one list or segment"),
        ({"body": "   "}, "body", "Write the message first."),
        ({"schedule": "at", "send_date": "2999-01-01"}, "send_time", "Choose the time to send."),
        ({"schedule": "at", "send_time": "10:00"}, "send_date", "Choose the day to send."),
        (
            {"schedule": "at", "send_date": "2001-01-01", "send_time": "10:00"},
            "send_date",
            "This time has passed",
        ),
        (
            {"schedule": "local", "send_date": "2001-01-01", "send_time": "10:00"},
            "send_date",
            "has already passed in some time zones",
        ),
        (
            {
                "schedule": "recurring",
                "recurrence": "",
                "send_date": "2999-01-01",
                "send_time": "09:00",
            },
            "recurrence",
            "Choose how often",
        ),
        ({"name": ""}, "name", "This field is required."),
        ({"body": "Hi {{ frist_name }}"}, "body", "There is no field {{ frist_name }}"),
        ({"body": "See {{ link:1 }}"}, "body", "paste the web address itself"),
        ({"spread_minutes": "-5"}, "spread_minutes", "greater than or equal to 0"),
    ],
)
def test_bad_input_gets_clear_form_errors(
    client, marketer_user, sender, the_list, overrides, field, message
):
    client.force_login(marketer_user)

    response = client.post(reverse("campaigns:create"), _form(sender, the_list, **overrides))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in e for e in errors[field]), errors
    assert Campaign.objects.count() == 0


def test_an_unfinished_draft_can_be_saved(client, marketer_user, sender, the_list):
    client.force_login(marketer_user)
    data = _form(sender, the_list, lists=None, body="", schedule="at", action="save")

    response = client.post(reverse("campaigns:create"), data)

    campaign = Campaign.objects.get()
    assert response.url == reverse("campaigns:edit", args=[campaign.pk])
    assert (campaign.status, campaign.body, campaign.scheduled_at) == ("draft", "", None)


def test_a_local_time_campaign_launches_when_that_time_first_arrives(
    client, marketer_user, sender, the_list
):
    client.force_login(marketer_user)
    day = timezone.localdate() + timedelta(days=3)

    client.post(
        reverse("campaigns:create"),
        _form(sender, the_list, schedule="local", send_date=day.isoformat(), send_time="09:30"),
    )

    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.scheduled_at == local_launch_time(day, time(9, 30))
    assert campaign.local_time == time(9, 30)
    page = client.get(reverse("campaigns:edit", args=[campaign.pk]))
    assert page.context["form"].initial["send_date"] == day


def test_a_recurring_campaign_is_installed_with_its_first_run(
    client, marketer_user, sender, the_list
):
    client.force_login(marketer_user)
    first = _tomorrow_at(8)

    client.post(
        reverse("campaigns:create"),
        _form(
            sender,
            the_list,
            schedule="recurring",
            recurrence="monthly",
            send_date=first.date().isoformat(),
            send_time="08:00",
        ),
    )

    campaign = Campaign.objects.get()
    assert (campaign.status, campaign.recurrence, campaign.scheduled_at) == (
        Campaign.Status.RECURRING,
        "monthly",
        first,
    )
    assert campaign.periodic_task is not None


# -- repeated submits ------------------------------------------------------------------


def test_a_double_submit_schedules_and_launches_once(
    client, marketer_user, sender, the_list, django_capture_on_commit_callbacks
):
    client.force_login(marketer_user)
    data = _form(sender, the_list, submit_token="a1b2c3d4e5f6")

    with django_capture_on_commit_callbacks() as callbacks:
        first = client.post(reverse("campaigns:create"), data)
        second = client.post(reverse("campaigns:create"), data, follow=True)

    campaign = Campaign.objects.get()
    assert first.url == reverse("campaigns:detail", args=[campaign.pk])
    assert second.redirect_chain[-1][0] == reverse("campaigns:detail", args=[campaign.pk])
    assert b"already submitted" in second.content
    assert campaign.status == Campaign.Status.SCHEDULED
    assert len(callbacks) == 1


def test_a_refused_submit_saves_nothing_and_frees_its_token(
    client, marketer_user, sender, the_list, monkeypatch
):
    from campaigns import services

    real = services.campaign_schedule
    refusals = iter([ValidationError("The sender is switched off.")])

    def schedule_once_refused(**kwargs):
        refusal = next(refusals, None)
        if refusal:
            raise refusal
        return real(**kwargs)

    monkeypatch.setattr(services, "campaign_schedule", schedule_once_refused)
    client.force_login(marketer_user)
    data = _form(sender, the_list, submit_token="feedbeef")

    refused = client.post(reverse("campaigns:create"), data)
    assert refused.status_code == 200
    assert "The sender is switched off." in refused.context["form"].non_field_errors()
    assert Campaign.objects.count() == 0

    client.post(reverse("campaigns:create"), data)
    assert Campaign.objects.get().status == Campaign.Status.SCHEDULED


def test_scheduling_an_already_scheduled_campaign_again_is_harmless(
    client, marketer_user, sender, the_list, django_capture_on_commit_callbacks
):
    client.force_login(marketer_user)
    client.post(reverse("campaigns:create"), _form(sender, the_list, action="save"))
    campaign = Campaign.objects.get()
    url = reverse("campaigns:edit", args=[campaign.pk])
    later = {
        "schedule": "at",
        "send_date": _tomorrow_at(9).date().isoformat(),
        "send_time": "09:00",
    }

    client.post(url, _form(sender, the_list, **later))  # no token: the second click
    client.post(url, _form(sender, the_list, **later))  # takes it back and schedules again

    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (Campaign.Status.SCHEDULED, _tomorrow_at(9))
    assert Campaign.objects.count() == 1


def test_a_started_campaign_cannot_be_edited(client, marketer_user, sender, the_list):
    campaign = CampaignFactory(sender=sender, status=Campaign.Status.SENDING)
    client.force_login(marketer_user)
    url = reverse("campaigns:edit", args=[campaign.pk])

    for response in (
        client.get(url, follow=True),
        client.post(url, _form(sender, the_list), follow=True),
    ):
        assert response.redirect_chain[-1][0] == reverse("campaigns:detail", args=[campaign.pk])
        assert b"can no longer be edited" in response.content
    campaign.refresh_from_db()
    assert campaign.name != "Spring sale"


# -- pause, resume, cancel -------------------------------------------------------------


@pytest.fixture
def sending(sender):
    campaign = CampaignFactory(sender=sender, status=Campaign.Status.SENDING)
    for status in [Status.QUEUED, Status.QUEUED, Status.SENDING, Status.DELIVERED]:
        MessageFactory(sender=sender, campaign_id=campaign.pk, status=status)
    return campaign


def test_pause_then_resume(client, marketer_user, sending, django_capture_on_commit_callbacks):
    client.force_login(marketer_user)

    paused = client.post(reverse("campaigns:pause", args=[sending.pk]), follow=True)
    sending.refresh_from_db()
    assert sending.status == Campaign.Status.PAUSED
    assert b"Paused: 2 queued message(s)" in paused.content
    assert Message.objects.filter(campaign_id=sending.pk, held=True).count() == 2
    again = client.post(reverse("campaigns:pause", args=[sending.pk]), follow=True)
    assert b"Only a sending campaign can be paused." in again.content

    with django_capture_on_commit_callbacks(execute=True):
        resumed = client.post(reverse("campaigns:resume", args=[sending.pk]), follow=True)
    sending.refresh_from_db()
    assert sending.status == Campaign.Status.SENDING
    assert b"Resumed: 2 held message(s)" in resumed.content
    assert not Message.objects.filter(campaign_id=sending.pk, held=True).exists()


def test_cancel_asks_first_then_reports_what_it_stopped(client, marketer_user, sending):
    client.force_login(marketer_user)
    url = reverse("campaigns:cancel", args=[sending.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200
    impact = confirm.content.decode()
    assert "2</strong> queued messages will not be sent" in impact
    assert "1</strong> is being handed to the provider" in impact
    sending.refresh_from_db()
    assert sending.status == Campaign.Status.SENDING

    response = client.post(url, follow=True)
    sending.refresh_from_db()
    assert sending.status == Campaign.Status.CANCELLED
    assert b"2 queued message(s) will not be sent; 1 already with the provider" in response.content
    assert Message.objects.filter(campaign_id=sending.pk, status=Status.CANCELLED).count() == 2

    twice = client.post(url, follow=True)
    assert twice.status_code == 200 and b"already finished" in twice.content


def test_the_detail_page_shows_controls_by_status_and_role(client, marketer_user, sending):
    client.force_login(marketer_user)

    page = client.get(reverse("campaigns:detail", args=[sending.pk])).content.decode()

    assert reverse("campaigns:pause", args=[sending.pk]) in page
    assert reverse("campaigns:cancel", args=[sending.pk]) in page
    assert reverse("campaigns:resume", args=[sending.pk]) not in page
    assert reverse("campaigns:edit", args=[sending.pk]) not in page


# -- list, estimate, test send, settings -----------------------------------------------


def test_the_list_shows_status_and_rates(client, marketer_user, sending, sender):
    draft = CampaignFactory(sender=sender, name="Autumn draft")
    client.force_login(marketer_user)

    response = client.get(reverse("campaigns:list"))

    rows = response.context["rows"]
    assert [c for c, _, _ in rows] == [draft, sending]
    page = response.content.decode()
    assert "Autumn draft" in page and "Sending" in page
    # 4 messages, 1 handed over and delivered: 100% of what was sent.
    assert "100.0%" in page and "0.0%" in page


def test_the_list_has_an_empty_state(client, marketer_user):
    client.force_login(marketer_user)
    response = client.get(reverse("campaigns:list"))
    assert b"No campaign yet" in response.content
    assert reverse("campaigns:create").encode() in response.content


def test_the_list_pages_by_keyset(client, marketer_user, sender, monkeypatch):
    monkeypatch.setattr("campaigns.views.PAGE_SIZE", 2)
    oldest, middle, newest = CampaignFactory.create_batch(3, sender=sender)
    client.force_login(marketer_user)

    first = client.get(reverse("campaigns:list"))
    second = client.get(reverse("campaigns:list"), {"before": first.context["next_before"]})

    assert [c for c, _, _ in first.context["rows"]] == [newest, middle]
    assert [c for c, _, _ in second.context["rows"]] == [oldest]
    assert second.context["next_before"] is None


def test_the_estimate_partial_shows_counter_recipients_cost_and_preview(
    client, marketer_user, sender, the_list
):
    client.force_login(marketer_user)

    response = client.post(reverse("campaigns:estimate"), _form(sender, the_list, name=""))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="compose-counter"' in page and 'data-testid="segment-counter"' in page
    assert 'data-testid="recipients">3<' in page
    assert 'data-testid="cost">0.11<' in page  # 3 x 1 segment x 0.035 = 0.105
    assert page.count('data-testid="preview"') == 3


def test_the_estimate_counts_a_body_with_an_unknown_field_and_names_the_problem(
    client, marketer_user, sender, the_list
):
    client.force_login(marketer_user)

    response = client.post(
        reverse("campaigns:estimate"), _form(sender, the_list, body="Hi {{ plan | friend }}")
    )

    page = response.content.decode()
    assert "There is no field {{ plan }}" in page
    assert 'data-testid="segments">1<' in page
    assert not Message.objects.exists()


def test_a_test_send_goes_out_personalised_on_the_transactional_lane(
    client, marketer_user, sender, the_list, django_capture_on_commit_callbacks
):
    contact = the_list.contacts.order_by("id").first()
    client.force_login(marketer_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("campaigns:test_send"), _form(sender, the_list, test_to=contact.phone)
        )

    assert b"Test queued" in response.content
    message = Message.objects.get()
    assert message.body == f"Hi {contact.first_name}, 20% off today.\nReply STOP to opt out"
    assert (message.priority, message.campaign_id, message.contact) == (
        Priority.TRANSACTIONAL,
        None,
        contact,
    )


@pytest.mark.parametrize(
    ("test_to", "message"),
    [("", b"Enter the number"), ("not a number", b"Invalid recipient number")],
)
def test_a_bad_test_number_is_explained(client, marketer_user, sender, the_list, test_to, message):
    client.force_login(marketer_user)

    response = client.post(reverse("campaigns:test_send"), _form(sender, the_list, test_to=test_to))

    assert message in response.content
    assert not Message.objects.exists()


def test_an_admin_edits_the_campaign_settings(client, admin_user):
    client.force_login(admin_user)
    data = {
        "require_approval": "on",
        "quiet_start": "20:30",
        "quiet_end": "09:00",
        "default_time_zone": "America/New_York",
        "opt_out_footer": "Text STOP to unsubscribe",
    }

    response = client.post(reverse("campaigns:settings"), data)

    assert response.status_code == 302
    rules = CampaignSettings.load()
    assert (rules.require_approval, rules.quiet_start, rules.default_time_zone) == (
        True,
        time(20, 30),
        "America/New_York",
    )
    bad = client.post(reverse("campaigns:settings"), {**data, "opt_out_footer": "Bye now"})
    assert "opt-out keyword" in bad.context["form"].errors["opt_out_footer"][0]


def test_test_sends_have_an_hourly_ceiling(client, marketer_user, sender, the_list, monkeypatch):
    monkeypatch.setattr("campaigns.views.TEST_SENDS_PER_HOUR", 1)
    client.force_login(marketer_user)
    data = _form(sender, the_list, test_to="+447911123456")

    assert b"Test queued" in client.post(reverse("campaigns:test_send"), data).content
    refused = client.post(reverse("campaigns:test_send"), data)

    assert b"more than 1 test sends this hour" in refused.content
    assert Message.objects.count() == 1


def test_an_admin_is_warned_when_approving_would_send_at_once(client, admin_user, sender):
    campaign = CampaignFactory(
        sender=sender,
        status=Campaign.Status.PENDING_APPROVAL,
        schedule="at",
        scheduled_at=timezone.now() - timedelta(hours=1),
    )
    client.force_login(admin_user)

    page = client.get(reverse("campaigns:detail", args=[campaign.pk]))

    assert b"approving sends it straight away" in page.content
