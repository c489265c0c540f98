from __future__ import annotations

import json
import logging

import pytest

from messaging.providers.base import AccountConfig, OutboundSMS, WebhookRequest
from messaging.providers.console import ConsoleBackend
from messaging.providers.registry import backend_class

WEBHOOK_SECRET = "dev-token"


def make_backend() -> ConsoleBackend:
    return ConsoleBackend(
        AccountConfig(account_id="dev", base_url="", credentials={}, webhook_secret=WEBHOOK_SECRET)
    )


def sms(reference: str = "uuid-1", body: str = "Hello") -> OutboundSMS:
    return OutboundSMS(reference=reference, to="+447700900001", sender="Acme", body=body)


def json_request(payload: object, token: str = WEBHOOK_SECRET) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        url=f"http://localhost:8000/webhooks/console?token={token}",
        headers={"content-type": "application/json"},
        body=json.dumps(payload).encode(),
        query={"token": token},
    )


def test_it_is_registered() -> None:
    assert backend_class("console") is ConsoleBackend


def test_it_logs_the_message_and_returns_a_unique_id(caplog: pytest.LogCaptureFixture) -> None:
    backend = make_backend()

    with caplog.at_level(logging.INFO, logger="messaging.console"):
        first = backend.send(sms(body="Your code is 1234"))
        second = backend.send(sms(reference="uuid-2"))

    assert first.ok and first.reference == "uuid-1"
    assert first.provider_message_id.startswith("console-")
    assert len(first.provider_message_id) == len("console-") + 32
    assert first.provider_message_id != second.provider_message_id
    [record, _] = [r for r in caplog.records if r.name == "messaging.console"]
    assert "Your code is 1234" in record.getMessage()
    assert "+447700900001" in record.getMessage()
    assert first.provider_message_id in record.getMessage()


def test_it_sends_a_batch_in_order() -> None:
    results = make_backend().send_batch([sms(reference=f"ref-{n}") for n in range(5)])

    assert [r.reference for r in results] == [f"ref-{n}" for n in range(5)]
    assert all(r.ok for r in results)


@pytest.mark.parametrize("status", ["sent", "delivered", "undelivered", "failed"])
def test_it_parses_a_receipt(status: str) -> None:
    [receipt] = make_backend().parse_receipts(json_request({"id": "console-1", "status": status}))

    assert (receipt.provider_message_id, receipt.status) == ("console-1", status)


def test_it_parses_a_list_of_receipts() -> None:
    payload = [{"id": "console-1", "status": "sent"}, {"id": "console-2", "status": "failed"}]

    receipts = make_backend().parse_receipts(json_request(payload))

    assert [(r.provider_message_id, r.status) for r in receipts] == [
        ("console-1", "sent"),
        ("console-2", "failed"),
    ]


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"id": "console-1", "status": "read"}', b'{"status": "sent"}', b"[]", b"3"],
)
def test_it_rejects_a_body_that_is_not_a_receipt(body: bytes) -> None:
    request = WebhookRequest(method="POST", url="http://x/", headers={}, body=body)

    with pytest.raises(ValueError):
        make_backend().parse_receipts(request)


def test_it_parses_an_inbound_text() -> None:
    payload = {"id": "in-1", "from": "+447700900123", "to": "+447700900000", "body": "STOP"}

    [text] = make_backend().parse_inbound(json_request(payload))

    assert (text.provider_message_id, text.from_number, text.to_number, text.body) == (
        "in-1",
        "+447700900123",
        "+447700900000",
        "STOP",
    )


def test_it_makes_up_an_id_for_an_inbound_text_without_one() -> None:
    payload = {"from": "+447700900123", "to": "+447700900000", "body": "hi"}

    [first] = make_backend().parse_inbound(json_request(payload))
    [second] = make_backend().parse_inbound(json_request(payload))

    assert first.provider_message_id.startswith("console-in-")
    assert first.provider_message_id != second.provider_message_id


def test_it_rejects_an_inbound_text_without_a_sender() -> None:
    with pytest.raises(ValueError):
        make_backend().parse_inbound(json_request({"to": "+447700900000", "body": "hi"}))


def test_it_verifies_webhooks_with_the_url_token() -> None:
    backend = make_backend()

    assert backend.webhook_query() == f"?token={WEBHOOK_SECRET}"
    assert backend.verify_webhook(json_request({}))
    assert not backend.verify_webhook(json_request({}, token="wrong"))
