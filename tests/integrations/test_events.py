"""Events are written with the change they report, set-based, and only when an
endpoint listens; payloads carry what a receiver needs."""

import json

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services import campaigns_complete
from contacts.models import Source
from contacts.services import contact_opt_in, contacts_opt_out
from integrations.events import SUBSCRIPTIONS_KEY, subscribed_types
from integrations.models import Delivery, Event, EventType
from integrations.services import endpoint_create, endpoint_delete, endpoint_update
from messaging.models import Message, Status
from messaging.receipts import receipts_apply
from tests.factories import (
    CampaignFactory,
    ContactFactory,
    MessageFactory,
    ProviderAccountFactory,
    SenderFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender():
    account = ProviderAccountFactory(backend="console", credentials={})
    return SenderFactory(
        account=account, value="+447911000001", label="Shop", metadata={"store": "Leeds"}
    )


def _post(client, sender, kind, payload):
    account = sender.account
    url = reverse(f"messaging:webhook_{kind}", args=[account.public_id])
    return client.post(
        f"{url}?token={account.webhook_secret}",
        json.dumps(payload),
        content_type="application/json",
    )


def _endpoint(*events):
    return endpoint_create(url="http://127.0.0.1:9/hook", events=list(events))


def test_it_records_nothing_when_no_endpoint_listens(client, sender):
    endpoint = _endpoint(EventType.CAMPAIGN_COMPLETED)  # listens, but to something else
    _post(client, sender, "inbound", {"from": "+447700900123", "to": sender.value, "body": "Hi"})
    assert Message.objects.filter(direction="in").count() == 1
    assert Event.objects.count() == 0
    endpoint_delete(endpoint=endpoint)
    assert subscribed_types() == frozenset()


def test_the_subscription_check_is_one_cache_read(sender, django_assert_num_queries):
    _endpoint(EventType.MESSAGE_RECEIVED)
    assert EventType.MESSAGE_RECEIVED in subscribed_types()  # fills the cache
    with django_assert_num_queries(0):
        assert EventType.CAMPAIGN_COMPLETED not in subscribed_types()


def test_changing_an_endpoint_refreshes_the_subscriptions(sender):
    from django.core.cache import cache

    endpoint = _endpoint(EventType.MESSAGE_RECEIVED)
    assert subscribed_types() == {EventType.MESSAGE_RECEIVED}
    endpoint_update(
        endpoint=endpoint,
        url=endpoint.url,
        events=[EventType.CONTACT_OPTED_OUT],
        description="",
        is_active=True,
    )
    assert cache.get(SUBSCRIPTIONS_KEY) is None
    assert subscribed_types() == {EventType.CONTACT_OPTED_OUT}
    endpoint_update(
        endpoint=endpoint, url=endpoint.url, events=endpoint.events, description="", is_active=False
    )
    assert subscribed_types() == frozenset()


def test_an_inbound_text_carries_contact_number_and_last_message(client, sender):
    endpoint = _endpoint(EventType.MESSAGE_RECEIVED)
    contact = ContactFactory(phone="+447700900123", first_name="Ada", custom={"plan": "gold"})
    campaign = CampaignFactory(sender=sender, name="Spring sale")
    MessageFactory(
        sender=sender,
        to_number=contact.phone,
        contact=contact,
        status=Status.DELIVERED,
        body="Older text",
    )
    last = MessageFactory(
        sender=sender,
        to_number=contact.phone,
        contact=contact,
        campaign_id=campaign.pk,
        status=Status.DELIVERED,
        sent_at=timezone.now(),
        body="20% off today",
    )
    MessageFactory(sender=sender, to_number=contact.phone, status=Status.QUEUED, body="Not sent")

    response = _post(
        client, sender, "inbound", {"from": contact.phone, "to": sender.value, "body": "Yes please"}
    )

    assert response.status_code == 200
    event = Event.objects.get()
    assert event.type == EventType.MESSAGE_RECEIVED
    data = event.payload
    assert data["message"]["text"] == "Yes please"
    assert data["message"]["from"] == contact.phone
    assert data["contact"]["id"] == contact.pk
    assert data["contact"]["first_name"] == "Ada"
    assert data["contact"]["fields"] == {"plan": "gold"}
    assert data["number"] == {
        "number": sender.value,
        "label": "Shop",
        "kind": "long_number",
        "metadata": {"store": "Leeds"},
    }
    assert data["last_sent"]["id"] == str(last.uuid)
    assert data["last_sent"]["text"] == "20% off today"
    assert data["last_sent"]["campaign"] == {"id": campaign.pk, "name": "Spring sale"}
    delivery = Delivery.objects.get()
    assert (delivery.endpoint, delivery.event, delivery.status) == (endpoint, event, "pending")


def test_a_text_from_a_stranger_has_no_last_message(client, sender):
    _endpoint(EventType.MESSAGE_RECEIVED)
    _post(client, sender, "inbound", {"from": "+447700900999", "to": sender.value, "body": "Hi"})
    data = Event.objects.get().payload
    assert data["last_sent"] is None
    assert data["contact"]["phone"] == "+447700900999"  # created for the number


def test_the_event_rolls_back_with_the_change(sender):
    _endpoint(EventType.CONTACT_OPTED_IN)
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_opt_in(phone="+447700900555", source=Source.KEYWORD, keyword="START")
        assert Event.objects.count() == 1
        raise RuntimeError("the change fails after the event was written")
    assert Event.objects.count() == 0
    assert Delivery.objects.count() == 0


def test_receipts_make_one_status_event_per_message_set_based(client, sender):
    endpoint = _endpoint(EventType.MESSAGE_STATUS_CHANGED)
    second = _endpoint(EventType.MESSAGE_STATUS_CHANGED)
    messages = [
        MessageFactory(sender=sender, status=Status.SENT, provider_message_id=f"p-{i}")
        for i in range(3)
    ]
    messages[2].status = Status.DELIVERED  # already further: a late receipt changes nothing
    messages[2].save()
    payload = [
        {"id": "p-0", "status": "delivered"},
        {"id": "p-1", "status": "failed", "error_code": "X1", "error_reason": "Barred"},
        {"id": "p-2", "status": "delivered"},
    ]
    assert _post(client, sender, "receipts", payload).status_code == 200

    receipts_apply()

    events = {e.payload["message"]["id"]: e.payload["message"] for e in Event.objects.all()}
    assert set(events) == {str(messages[0].uuid), str(messages[1].uuid)}
    assert events[str(messages[0].uuid)]["status"] == "delivered"
    assert events[str(messages[1].uuid)]["error"] == {"code": "X1", "reason": "Barred"}
    assert Delivery.objects.filter(endpoint=endpoint).count() == 2
    assert Delivery.objects.filter(endpoint=second).count() == 2


def test_a_bulk_opt_out_is_one_event_per_contact(sender, admin_user):
    _endpoint(EventType.CONTACT_OPTED_OUT)
    contacts = [ContactFactory(custom={"n": i}) for i in range(3)]
    contacts_opt_out(ids=[c.pk for c in contacts], user=admin_user, note="asked by phone")
    payloads = sorted((e.payload for e in Event.objects.all()), key=lambda p: p["phone"])
    assert [p["phone"] for p in payloads] == sorted(c.phone for c in contacts)
    assert all(p["source"] == "manual" and p["contact"]["opted_out"] for p in payloads)


def test_stop_by_text_is_an_opt_out_event_and_a_received_event(client, sender):
    _endpoint(EventType.CONTACT_OPTED_OUT, EventType.MESSAGE_RECEIVED)
    _post(client, sender, "inbound", {"from": "+447700900777", "to": sender.value, "body": "STOP"})
    types = sorted(Event.objects.values_list("type", flat=True))
    assert types == ["contact.opted_out", "message.received"]
    opt_out = Event.objects.get(type="contact.opted_out").payload
    assert (opt_out["phone"], opt_out["keyword"], opt_out["source"]) == (
        "+447700900777",
        "STOP",
        "keyword",
    )


def test_a_completed_campaign_reports_its_counts(sender):
    _endpoint(EventType.CAMPAIGN_COMPLETED)
    campaign = CampaignFactory(sender=sender, name="Autumn", status=Campaign.Status.SENDING)
    for status in (Status.DELIVERED, Status.DELIVERED, Status.FAILED):
        MessageFactory(sender=sender, campaign_id=campaign.pk, status=status)

    assert campaigns_complete() == 1
    assert campaigns_complete() == 0  # once

    data = Event.objects.get().payload["campaign"]
    assert (data["id"], data["name"], data["sender"]) == (campaign.pk, "Autumn", sender.value)
    assert data["counts"] == {"delivered": 2, "failed": 1}
    assert data["completed_at"]


def test_dispatch_reports_sent_and_failed_messages(settings):
    from messaging import dispatch
    from tests.messaging.httpfake import FakeResponse, HTTPFake

    _endpoint(EventType.MESSAGE_STATUS_CHANGED)
    with HTTPFake() as fake:

        def answer(request):
            if request.json()["destination"].endswith("0002"):
                body = {"message": "Invalid number", "errorCode": 400, "status": "INVALID"}
                return FakeResponse.json({**body, "permanent": True}, status=400)
            return FakeResponse.json({"messageid": "m-ok", "status": "SENT"}, status=201)

        fake.handler = answer
        account = ProviderAccountFactory(
            base_url=fake.url, credentials={"jwt": "test-jwt-token-1234567890", "use_batch": "off"}
        )
        sender = SenderFactory(account=account)
        ok = MessageFactory(sender=sender, to_number="+447700900001")
        bad = MessageFactory(sender=sender, to_number="+447700900002")

        report = dispatch.dispatch(sender_id=sender.pk, lane="bulk")

    assert (report.sent, report.failed) == (1, 1)
    statuses = {
        e.payload["message"]["id"]: e.payload["message"]["status"] for e in Event.objects.all()
    }
    assert statuses == {str(ok.uuid): "sent", str(bad.uuid): "failed"}


def test_a_message_suppressed_at_dispatch_is_a_status_event():
    """An opt-out that arrives while the message waits in the outbox: the message is
    suppressed when claimed, and a receiver of status events hears of it."""
    from contacts.services import contact_opt_out
    from messaging import dispatch

    _endpoint(EventType.MESSAGE_STATUS_CHANGED)
    account = ProviderAccountFactory(backend="console", credentials={})
    sender = SenderFactory(account=account)
    contact = ContactFactory(phone="+447911123456")
    message = MessageFactory(sender=sender, contact=contact, to_number=contact.phone)
    contact_opt_out(phone=contact.phone, source=Source.MANUAL, note="asked by phone")

    report = dispatch.dispatch(sender_id=sender.pk, lane="bulk")

    assert report.sent == 0
    message.refresh_from_db()
    assert message.status == Status.SUPPRESSED
    [event] = Event.objects.filter(type=EventType.MESSAGE_STATUS_CHANGED)
    assert event.payload["message"]["id"] == str(message.uuid)
    assert event.payload["message"]["status"] == "suppressed"
    assert event.payload["message"]["status_at"]


def test_cancelling_a_campaign_is_a_status_event_per_cancelled_message():
    from campaigns.services import campaign_cancel
    from messaging import services

    _endpoint(EventType.MESSAGE_STATUS_CHANGED)
    sender = SenderFactory(account=ProviderAccountFactory(backend="console", credentials={}))
    campaign = CampaignFactory(sender=sender, status=Campaign.Status.SENDING)
    queued = [MessageFactory(sender=sender, campaign_id=campaign.pk) for _ in range(5)]
    sending = MessageFactory(sender=sender, campaign_id=campaign.pk, status=Status.SENDING)
    other = MessageFactory(sender=sender)  # another campaign's, or a one-off: untouched

    services.CANCEL_CHUNK, chunk = 2, services.CANCEL_CHUNK  # three chunks of events
    try:
        result = campaign_cancel(campaign=campaign)
    finally:
        services.CANCEL_CHUNK = chunk

    assert result == {"cancelled": 5, "in_flight": 1}
    payloads = [e.payload["message"] for e in Event.objects.all()]
    assert sorted(p["id"] for p in payloads) == sorted(str(m.uuid) for m in queued)
    assert {p["status"] for p in payloads} == {"cancelled"}
    assert all(p["status_at"] for p in payloads)
    sending.refresh_from_db()
    other.refresh_from_db()
    assert (sending.status, other.status) == (Status.SENDING, Status.QUEUED)
