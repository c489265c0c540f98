"""Campaigns through the API: create a draft, schedule, report, cancel."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from messaging.models import Status
from tests.factories import ContactListFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/campaigns"


def test_it_creates_schedules_reports_and_cancels(api, sender):
    contact_list = ContactListFactory()

    created = api.post(
        URL,
        {"name": "Spring", "body": "Hello {{ first_name | there }}", "lists": [contact_list.pk]},
        format="json",
    )

    assert created.status_code == 201, created.content
    campaign = Campaign.objects.get()
    assert (campaign.status, campaign.sender, campaign.created_by.username) == (
        "draft",
        sender,
        "keyowner",
    )
    later = "2099-01-01T09:00:00Z"
    Campaign.objects.filter(pk=campaign.pk).update(schedule="at", scheduled_at=later)
    scheduled = api.post(f"{URL}/{campaign.pk}/schedule")
    assert scheduled.status_code == 200, scheduled.content
    assert scheduled.json()["status"] == "scheduled"
    again = api.post(f"{URL}/{campaign.pk}/schedule")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_state"

    MessageFactory(campaign_id=campaign.pk, sender=sender, status=Status.DELIVERED)
    report = api.get(f"{URL}/{campaign.pk}/report").json()
    assert report["counts"] == {"delivered": 1} and report["total"] == 1

    cancelled = api.post(f"{URL}/{campaign.pk}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert api.post(f"{URL}/{campaign.pk}/cancel").status_code == 409


def test_a_campaign_needs_an_audience_that_exists(api, sender):
    none = api.post(URL, {"name": "x", "body": "y"}, format="json")
    assert none.status_code == 400
    unknown = api.post(URL, {"name": "x", "body": "y", "lists": [999999]}, format="json")
    assert unknown.status_code == 400
    assert "lists" in unknown.json()["error"]["details"]
    assert not Campaign.objects.exists()


def test_campaigns_need_their_scope(make_client, sender):
    client = make_client("send")
    assert (
        client.post(URL, {"name": "x", "body": "y", "lists": [1]}, format="json").status_code == 403
    )
