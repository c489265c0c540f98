"""POST /messages, batch, scheduled sends and cancel, status, the filtered list."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import Suppression
from messaging.models import Message, Status
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages"


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_it_queues_one_message_on_the_transactional_lane(api, sender):
    contact = ContactFactory(phone="+447912345123")

    response = api.post(URL, {"to": "07912 345123", "body": "Your order shipped"}, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    message = Message.objects.get(uuid=data["id"])
    assert (message.to_number, message.body, message.priority) == (
        "+447912345123",
        "Your order shipped",
        "transactional",
    )
    assert message.status == Status.QUEUED and message.contact == contact
    assert message.sender == sender
    assert data["to"] == "+447912345123" and data["status"] == "queued"


def test_an_opted_out_number_gets_a_suppressed_row_never_a_send(api, sender):
    Suppression.objects.create(phone="+447912345124", source="manual")

    response = api.post(URL, {"to": "+447912345124", "body": "Hi"}, format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "suppressed"
    assert Message.objects.get().status == Status.SUPPRESSED


def test_a_repeat_with_the_same_idempotency_key_sends_nothing(api, sender):
    payload = {"to": "+447912345125", "body": "Once only"}
    first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    again = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-42")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_refused(api, sender):
    api.post(URL, {"to": "+447912345125", "body": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    response = api.post(
        URL, {"to": "+447912345125", "body": "B"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert response.status_code == 422
    assert _error(response)["code"] == "idempotency_key_reused"
    assert Message.objects.count() == 1


def test_idempotency_keys_belong_to_their_api_key(make_client, sender):
    one, two = make_client("send"), make_client("send")
    payload = {"to": "+447912345125", "body": "Hello"}
    one.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="same")
    two.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert Message.objects.count() == 2


def test_a_failed_request_does_not_use_up_its_idempotency_key(api, sender):
    bad = api.post(
        URL, {"to": "not a number", "body": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="r"
    )
    good = api.post(
        URL, {"to": "+447912345126", "body": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="r"
    )
    assert (bad.status_code, good.status_code) == (400, 201)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "+447912345127", "body": "Hi", "colour": "red"}, "colour"),
        ({"to": 447700900127, "body": "Hi"}, "to"),
        ({"to": "+447912345127", "body": 12}, "body"),
        ({"to": "12", "body": "Hi"}, "to"),
        ({"to": "+447912345127", "body": "   "}, "body"),
        ({"to": "+447912345127"}, "body"),
        ({"to": "+447912345127", "body": "Hi", "send_at": "tomorrow"}, "send_at"),
    ],
    ids=[
        "unknown-field",
        "number-as-int",
        "body-as-int",
        "bad-number",
        "blank",
        "missing",
        "bad-date",
    ],
)
def test_bad_input_is_refused_with_the_field_named(api, sender, payload, field):
    response = api.post(URL, payload, format="json")

    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert not Message.objects.exists()


def test_malformed_json_gets_the_error_format(api, sender):
    response = api.post(URL, '{"to": "+4477', content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "malformed_json"


def test_a_json_array_body_is_refused(api, sender):
    response = api.post(URL, "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "validation_error"


def test_a_scheduled_send_waits_and_can_be_cancelled(api, sender):
    later = timezone.now() + timedelta(hours=2)
    response = api.post(
        URL, {"to": "+447912345128", "body": "Later", "send_at": later.isoformat()}, format="json"
    )
    assert response.status_code == 201
    message = Message.objects.get()
    assert abs((message.send_after - later).total_seconds()) < 1

    cancel = api.post(f"{URL}/{message.uuid}/cancel")
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "cancelled"

    again = api.post(f"{URL}/{message.uuid}/cancel")
    assert again.status_code == 409
    assert _error(again)["code"] == "not_cancellable"


def test_it_shows_one_message_and_404s_an_unknown_one(api, sender):
    created = api.post(URL, {"to": "+447912345129", "body": "Hi"}, format="json").json()

    assert api.get(f"{URL}/{created['id']}").json()["body"] == "Hi"
    missing = api.get(f"{URL}/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert _error(missing)["code"] == "not_found"


def test_the_list_filters_and_pages_with_a_cursor(api, sender):
    for i in range(5):
        api.post(URL, {"to": f"+44791234513{i}", "body": f"n{i}"}, format="json")
    Message.objects.filter(to_number="+447912345130").update(status=Status.DELIVERED)

    delivered = api.get(URL, {"status": "delivered"}).json()
    assert [m["to"] for m in delivered["results"]] == ["+447912345130"]
    by_number = api.get(URL, {"to": "07912 345131"}).json()
    assert [m["body"] for m in by_number["results"]] == ["n1"]

    seen, page = [], api.get(URL, {"page_size": 2}).json()
    while True:
        seen += [m["body"] for m in page["results"]]
        if not page["next"]:
            break
        page = api.get(page["next"]).json()
    assert seen == ["n4", "n3", "n2", "n1", "n0"]

    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert api.get(URL, {"since": future}).json()["results"] == []
    assert api.get(URL, {"until": future}).json()["results"]


def test_the_list_refuses_unknown_filters(api):
    response = api.get(URL, {"colour": "red"})
    assert response.status_code == 400
    assert "colour" in _error(response)["details"]


# --- batch ------------------------------------------------------------------------------
BATCH = f"{URL}/batch"


def test_a_batch_is_queued_in_one_go(api, sender):
    Suppression.objects.create(phone="+447912345201", source="manual")
    items = [{"to": f"+4479123452{i:02d}", "body": f"Batch {i}"} for i in range(20)]

    response = api.post(BATCH, {"messages": items}, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["count"], data["suppressed"]) == (20, 1)
    assert Message.objects.filter(status=Status.QUEUED, priority="transactional").count() == 19
    assert Message.objects.get(to_number="+447912345201").status == Status.SUPPRESSED


def test_a_batch_with_one_bad_item_queues_nothing_and_names_it(api, sender):
    items = [{"to": "+447912345210", "body": "ok"}, {"to": "nope", "body": "x"}, {"body": "y"}]

    response = api.post(BATCH, {"messages": items}, format="json")

    assert response.status_code == 400
    details = _error(response)["details"]["messages"]
    assert set(details) == {"1", "2"}
    assert "to" in details["1"] and "to" in details["2"]
    assert not Message.objects.exists()


def test_an_oversized_batch_is_refused(api, sender, settings):
    settings.API_BATCH_MAX = 10
    items = [{"to": "+447912345210", "body": "x"}] * 11

    response = api.post(BATCH, {"messages": items}, format="json")

    assert response.status_code == 413
    assert _error(response)["code"] == "batch_too_large"
    assert not Message.objects.exists()


def test_a_batch_replays_with_its_idempotency_key(api, sender):
    items = [{"to": "+447912345220", "body": "x"}, {"to": "+447912345221", "body": "y"}]
    first = api.post(BATCH, {"messages": items}, format="json", HTTP_IDEMPOTENCY_KEY="b1")
    again = api.post(BATCH, {"messages": items}, format="json", HTTP_IDEMPOTENCY_KEY="b1")
    assert first.json() == again.json()
    assert Message.objects.count() == 2


def test_without_a_sender_the_send_is_refused_clearly(api):
    response = api.post(URL, {"to": "+447912345128", "body": "x"}, format="json")
    assert response.status_code == 422
    assert _error(response)["code"] == "no_sender"


def test_an_unknown_sender_is_refused(api, sender):
    response = api.post(
        URL, {"to": "+447912345128", "body": "x", "sender": "+447700999999"}, format="json"
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "unknown_sender"


def test_unknown_api_urls_answer_json(api):
    response = api.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert json.loads(response.content)["error"]["code"] == "not_found"


def test_unknown_api_urls_answer_json_to_posts_too(api):
    response = api.post("/api/v1/campaigns/x/cancel")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_send_costs_a_few_queries(api, sender, django_assert_max_num_queries):
    api.post(URL, {"to": "+447912345140", "body": "warm"}, format="json")  # key, sender cached
    # One INSERT that checks the opt-out list and finds the contact itself; no
    # transaction around it (BEGIN and COMMIT would be two more).
    with django_assert_max_num_queries(1):
        response = api.post(URL, {"to": "+447912345141", "body": "Hi"}, format="json")
    assert response.status_code == 201


def test_a_message_renders_as_drf_renders_its_fields(sender, settings):
    from decimal import Decimal

    from rest_framework import serializers

    from api.serializers import MessageSerializer
    from tests.factories import CampaignFactory, MessageFactory

    settings.TIME_ZONE = "Europe/London"
    at = timezone.now().replace(month=7)  # summer time: an offset other than Z
    message = MessageFactory(
        sender=sender,
        campaign_id=CampaignFactory(sender=sender).pk,
        status=Status.FAILED,
        cost=Decimal("0.035"),
        sent_at=at,
        failed_at=at + timedelta(seconds=3),
        error_code="1030",
        error_reason="Opted out at the carrier",
    )
    bare = MessageFactory(sender=sender, cost=None)

    for row in (message, bare):
        row.refresh_from_db()
        generic = serializers.ModelSerializer.to_representation(MessageSerializer(row), row)
        assert MessageSerializer(row).data == generic
        assert json.dumps(MessageSerializer(row).data, default=str) == json.dumps(
            generic, default=str
        )
    data = MessageSerializer(message).data
    assert data["cost"] == "0.0350" and data["campaign_id"] == message.campaign_id
    assert data["sent_at"].endswith("+01:00") and data["delivered_at"] is None


def test_send_serializers_share_their_fields_but_nothing_of_a_request(sender):
    from concurrent.futures import ThreadPoolExecutor

    from api.serializers import BatchItemSerializer, ContactWriteSerializer, MessageSendSerializer

    bad = MessageSendSerializer(data={"to": "12", "body": " ", "extra": 1})
    good = MessageSendSerializer(data={"to": "07912 345150", "body": "Hi"})
    assert bad.fields is good.fields  # built once
    assert not bad.is_valid()
    assert good.is_valid(), good.errors
    assert set(bad.errors) == {"extra"} and good.validated_data == {
        "to": "+447912345150",
        "body": "Hi",
    }
    unknown_field_fixed = MessageSendSerializer(data={"to": "12", "body": " "})
    assert not unknown_field_fixed.is_valid()
    assert set(unknown_field_fixed.errors) == {"to", "body"}
    assert BatchItemSerializer(data={}).fields is BatchItemSerializer(data={}).fields
    # A serializer that does not ask for it still gets fields of its own.
    assert ContactWriteSerializer(data={}).fields is not ContactWriteSerializer(data={}).fields

    def validate(i: int):
        data = {"to": f"+4479123{i:05d}", "body": "Hi"} if i % 2 else {"to": "x", "body": ""}
        serializer = MessageSendSerializer(data=data)
        return serializer.is_valid(), serializer.validated_data if i % 2 else serializer.errors

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(validate, range(400)))
    for i, (valid, data) in enumerate(results):
        assert valid == bool(i % 2)
        assert data == ({"to": f"+4479123{i:05d}", "body": "Hi"} if valid else data)
        if not valid:
            assert set(data) == {"to", "body"}


def test_the_idempotency_key_header_is_read_whatever_its_case(make_client, sender):
    client = make_client("send")
    payload = {"to": "+447912345160", "body": "Once"}
    first = client.post(URL, payload, format="json", headers={"idempotency-key": "k-1"})
    again = client.post(URL, payload, format="json", headers={"IDEMPOTENCY-KEY": "k-1"})
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Message.objects.count() == 1
