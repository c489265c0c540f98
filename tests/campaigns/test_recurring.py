"""Recurring campaigns: each period starts a run of its own, and runs never overlap."""

import pytest

from campaigns.launch import campaign_launch
from campaigns.models import Campaign
from campaigns.recurring import run_recurring
from contacts.lists import list_add_contacts
from messaging.models import Message
from tests.factories import CampaignFactory, ContactFactory, ContactListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def template():
    the_list = ContactListFactory()
    list_add_contacts(contact_list=the_list, contact_ids=[ContactFactory().pk for _ in range(3)])
    campaign = CampaignFactory(
        name="Weekly tips",
        lists=[the_list],
        body="Tip of the week: https://example.com/tips",
        respect_quiet_hours=False,
        schedule=Campaign.Schedule.RECURRING,
        recurrence="weekly",
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RECURRING)
    return campaign


def test_a_period_starts_a_run_of_its_own(template):
    run = run_recurring(campaign_id=template.pk)

    assert (run.parent, run.status, run.body) == (template, "scheduled", template.body)
    assert run.name.startswith("Weekly tips (")
    assert list(run.lists.all()) == list(template.lists.all())
    assert run.links.get().url == "https://example.com/tips"
    assert campaign_launch(campaign_id=run.pk)
    assert Message.objects.filter(campaign_id=run.pk).count() == 3
    assert not Message.objects.filter(campaign_id=template.pk).exists()


def test_a_period_is_skipped_while_the_previous_run_is_still_going(template):
    first = run_recurring(campaign_id=template.pk)

    for status in ("scheduled", "launching", "sending", "paused"):
        Campaign.objects.filter(pk=first.pk).update(status=status)
        assert run_recurring(campaign_id=template.pk) is None, status

    Campaign.objects.filter(pk=first.pk).update(status=Campaign.Status.COMPLETED)
    second = run_recurring(campaign_id=template.pk)
    assert second is not None and second.pk != first.pk
    assert template.runs.count() == 2


def test_a_template_no_longer_recurring_starts_nothing(template):
    Campaign.objects.filter(pk=template.pk).update(status=Campaign.Status.CANCELLED)

    assert run_recurring(campaign_id=template.pk) is None
    assert not template.runs.exists()
