from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from messaging.providers.base import AccountConfig, OutboundSMS, ProviderError, WebhookRequest
from messaging.providers.registry import backend_class
from messaging.providers.smsworks import SMSWorksBackend
from tests.messaging.httpfake import FakeResponse, HTTPFake, RecordedRequest

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJrZXkiOiJ0ZXN0In0.c2lnbmF0dXJl"
REFERENCE = "6f1c2a8e-3b9d-4c55-9e1a-2f0b7d9a1c11"
WEBHOOK_SECRET = "hook-secret"
CALLBACK = f"https://sms.example.com/webhooks/acct-1/receipts/?token={WEBHOOK_SECRET}"


@pytest.fixture
def fake() -> Iterator[HTTPFake]:
    with HTTPFake() as server:
        yield server


def make_backend(
    base_url: str = "", *, jwt: str = TOKEN, timeout: float = 5.0, secret: str = WEBHOOK_SECRET
) -> SMSWorksBackend:
    return SMSWorksBackend(
        AccountConfig(
            account_id="acct-1",
            base_url=base_url,
            credentials={"jwt": jwt} if jwt else {},
            webhook_secret=secret,
            timeout=timeout,
        )
    )


def sms(reference: str = REFERENCE, to: str = "+447700900001") -> OutboundSMS:
    return OutboundSMS(
        reference=reference, to=to, sender="+447700900000", body="Hi", status_callback_url=CALLBACK
    )


def error(status: int, code: int, name: str, message: str, **headers: str) -> FakeResponse:
    body = {"message": message, "errorCode": code, "status": name, "permanent": status < 500}
    return FakeResponse.json(body, status=status, headers=headers)


def send_error(backend: SMSWorksBackend) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        backend.send(sms())
    return info.value


def webhook(body: object, query: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        url="https://sms.example.com/webhooks/acct-1/receipts/",
        headers={"content-type": "application/json"},
        body=json.dumps(body).encode(),
        query=query or {},
    )


def listed(reference: str, messageid: str, status: str = "SENT", **extra: object) -> dict:
    return {"messageid": messageid, "status": status, "tag": reference, **extra}


def test_it_is_registered_with_its_credentials() -> None:
    assert backend_class("smsworks") is SMSWorksBackend
    assert SMSWorksBackend.credential_fields == ("jwt",)
    assert SMSWorksBackend.secret_credentials == {"jwt"}
    assert SMSWorksBackend.max_batch == 5000
    assert make_backend().base_url == "https://api.thesmsworks.co.uk"


def test_it_sends_their_message_object_with_the_jwt(fake: HTTPFake) -> None:
    fake.respond(
        FakeResponse.json(
            {"messageid": "m-1", "status": "SENT", "credits": 99, "creditsUsed": 1}, status=201
        )
    )

    result = make_backend(fake.url).send(sms())

    assert result.ok and result.provider_message_id == "m-1" and result.reference == REFERENCE
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/v1/message/send")
    assert request.headers["authorization"] == f"JWT {TOKEN}"
    assert request.json() == {
        "sender": "447700900000",
        "destination": "447700900001",
        "content": "Hi",
        "tag": REFERENCE,
        "metadata": [{"key": "reference", "value": REFERENCE}],
        "deliveryreporturl": CALLBACK,
    }


def test_it_keeps_the_jwt_prefix_the_dashboard_shows(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json({"messageid": "m-1", "status": "SENT"}, status=201))

    make_backend(fake.url, jwt=f"JWT {TOKEN}").send(sms())

    assert fake.requests[0].headers["authorization"] == f"JWT {TOKEN}"


def test_it_needs_a_jwt() -> None:
    with pytest.raises(ProviderError) as info:
        make_backend("http://127.0.0.1:9", jwt="").send(sms())

    assert info.value.permanent


def test_it_maps_a_400_to_a_permanent_error_with_their_code(fake: HTTPFake) -> None:
    fake.respond(error(400, 1002, "INVALID_DESTINATION", "Invalid destination: 12"))

    exc = send_error(make_backend(fake.url))

    assert exc.permanent and not exc.opted_out
    assert exc.code == "1002" and "Invalid destination" in exc.message
    assert exc.raw["http_status"] == 400


def test_it_maps_an_opted_out_recipient(fake: HTTPFake) -> None:
    fake.respond(error(400, 1030, "OPTED_OUT", "The recipient has opted out"))

    exc = send_error(make_backend(fake.url))

    assert exc.opted_out and exc.permanent and exc.code == "1030"


@pytest.mark.parametrize(
    ("status", "code", "name"), [(401, 401, "UNAUTHORIZED"), (402, 402, "INSUFFICIENT_CREDITS")]
)
def test_it_maps_auth_and_credit_errors_to_permanent(
    fake: HTTPFake, status: int, code: int, name: str
) -> None:
    fake.respond(error(status, code, name, "no"))

    exc = send_error(make_backend(fake.url))

    assert exc.permanent and exc.code == str(code) and not exc.maybe_sent


def test_it_maps_a_429_to_transient_with_retry_after(fake: HTTPFake) -> None:
    fake.respond(error(429, 429, "TOO_MANY_REQUESTS", "slow down", **{"Retry-After": "7"}))

    exc = send_error(make_backend(fake.url))

    assert not exc.permanent and exc.retry_after == 7.0 and not exc.maybe_sent


@pytest.mark.parametrize("status", [500, 502, 503])
def test_it_maps_5xx_to_transient(fake: HTTPFake, status: int) -> None:
    fake.respond(FakeResponse(status=status, body=b"<html>oops</html>", headers={}))

    exc = send_error(make_backend(fake.url))

    assert not exc.permanent and exc.code == f"http_{status}" and exc.retry_after is None


def test_it_maps_a_timeout_to_transient_that_may_have_been_sent(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json({"messageid": "late"}, status=201, delay=2.0))

    exc = send_error(make_backend(fake.url, timeout=0.3))

    assert not exc.permanent and exc.maybe_sent and exc.code == "timeout"


def test_it_maps_a_refused_connection_to_transient_never_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    exc = send_error(make_backend(f"http://127.0.0.1:{port}"))

    assert not exc.permanent and not exc.maybe_sent and exc.code == "connection"


def test_it_sends_a_batch_and_finds_each_id_by_tag(fake: HTTPFake) -> None:
    refs = ["ref-a", "ref-b", "ref-c"]

    def answer(request: RecordedRequest) -> FakeResponse:
        if request.method == "POST":
            return FakeResponse.json({"batchid": "2586749", "status": "SCHEDULED"}, status=201)
        return FakeResponse.json(
            [
                listed("ref-c", "m-c"),
                listed("ref-a", "m-a"),
                listed(
                    "ref-b", "m-b", "REJECTED", failurereason={"code": 1030.0, "details": "STOP"}
                ),
            ]
        )

    fake.handler = answer
    results = make_backend(fake.url).send_batch([sms(ref) for ref in refs])

    assert [r.reference for r in results] == refs
    assert [r.provider_message_id for r in results] == ["m-a", "m-b", "m-c"]
    assert results[0].ok and results[2].ok
    assert results[1].error is not None and results[1].error.opted_out
    post, get = fake.requests
    assert post.path == "/v1/batch/any" and [m["tag"] for m in post.json()] == refs
    assert get.path == "/v1/batch/2586749"


def test_it_counts_an_accepted_batch_as_sent_when_its_listing_fails(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json({"batchid": "77", "status": "SCHEDULED"}, status=201))
    fake.respond(FakeResponse(status=503, body=b""))

    results = make_backend(fake.url).send_batch([sms("a"), sms("b")])

    assert all(r.ok and r.provider_message_id == "" for r in results)


def test_it_fails_every_message_of_a_refused_batch(fake: HTTPFake) -> None:
    fake.respond(error(429, 429, "TOO_MANY_REQUESTS", "slow down", **{"Retry-After": "2"}))

    results = make_backend(fake.url).send_batch([sms("a"), sms("b")])

    assert [r.reference for r in results] == ["a", "b"]
    assert all(r.error is not None and r.error.retry_after == 2.0 for r in results)


def test_it_splits_batches_at_max_batch(fake: HTTPFake) -> None:
    fake.handler = lambda request: (
        FakeResponse.json({"batchid": "1", "status": "SCHEDULED"}, status=201)
        if request.method == "POST"
        else FakeResponse.json([])
    )
    backend = make_backend(fake.url)
    backend.max_batch = 2

    results = backend.send_batch([sms(f"r{i}") for i in range(5)])

    assert len(results) == 5
    assert [len(r.json()) for r in fake.requests if r.method == "POST"] == [2, 2, 1]


@pytest.mark.parametrize("value", ["off", "false", "0", "OFF"])
def test_it_sends_one_by_one_when_the_batch_endpoint_is_switched_off(
    fake: HTTPFake, value: str
) -> None:
    fake.handler = lambda request: FakeResponse.json(
        {"messageid": f"m-{request.json()['tag']}", "status": "SENT"}, status=201
    )
    backend = SMSWorksBackend(
        AccountConfig(
            account_id="acct-1",
            base_url=fake.url,
            credentials={"jwt": TOKEN, "use_batch": value},
            webhook_secret=WEBHOOK_SECRET,
        )
    )

    results = backend.send_batch([sms(f"r{i}") for i in range(3)])

    assert backend.max_batch == 1 and SMSWorksBackend.max_batch == 5000
    assert [(r.reference, r.provider_message_id) for r in results] == [
        ("r0", "m-r0"),
        ("r1", "m-r1"),
        ("r2", "m-r2"),
    ]
    assert sorted(r.path for r in fake.requests) == ["/v1/message/send"] * 3
    assert make_backend(fake.url).max_batch == 5000  # on unless switched off


def test_it_looks_up_by_message_id(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json(listed(REFERENCE, "m-9", "DELIVERED")))

    found = make_backend(fake.url).lookup(reference=REFERENCE, provider_message_id="m-9")

    assert found is not None and found.ok and found.provider_message_id == "m-9"
    assert fake.requests[0].path == "/v1/messages/m-9"


def test_it_looks_up_by_reference_when_the_id_is_unknown(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json({"message": "Message not found"}, status=404))
    fake.respond(FakeResponse.json([listed(REFERENCE, "m-10")]))

    found = make_backend(fake.url).lookup(reference=REFERENCE, provider_message_id="m-x")

    assert found is not None and found.provider_message_id == "m-10"
    query = fake.requests[1]
    assert (query.method, query.path) == ("POST", "/v1/messages")
    assert query.json()["metadata"] == [{"key": "reference", "value": REFERENCE}]


def test_it_answers_none_when_the_provider_has_no_such_message(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json([]))

    assert make_backend(fake.url).lookup(reference=REFERENCE) is None


def test_it_raises_when_a_lookup_cannot_tell(fake: HTTPFake) -> None:
    fake.respond(FakeResponse(status=500, body=b""))

    with pytest.raises(ProviderError) as info:
        make_backend(fake.url).lookup(reference=REFERENCE)

    assert not info.value.permanent


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SENT", "sent"),
        ("DELIVERED", "delivered"),
        ("UNDELIVERABLE", "undelivered"),
        ("UNDELIVERED", "undelivered"),
        ("EXPIRED", "undelivered"),
        ("REJECTED", "failed"),
    ],
)
def test_it_maps_receipt_statuses(status: str, expected: str) -> None:
    [receipt] = make_backend().parse_receipts(webhook({"messageid": "m-1", "status": status}))

    assert receipt.status == expected and receipt.provider_message_id == "m-1"


def test_it_parses_a_delivered_receipt() -> None:
    body = {
        "messageid": "m-1",
        "status": "DELIVERED",
        "destination": "447700900001",
        "sender": "447700900000",
        "content": "Hi",
        "tag": REFERENCE,
        "metadata": [{"key": "reference", "value": REFERENCE}],
        "created": "2025-03-01T10:00:00.000Z",
        "modified": "2025-03-01T10:00:05.000Z",
        "deliveredat": "2025-03-01T10:00:04.500Z",
    }

    [receipt] = make_backend().parse_receipts(webhook(body))

    assert receipt.reference == REFERENCE
    assert receipt.occurred_at == datetime(2025, 3, 1, 10, 0, 4, 500000, tzinfo=UTC)
    assert receipt.error_code == "" and receipt.raw == body


def test_it_parses_failed_receipts_in_a_list_with_their_reason() -> None:
    body = [
        {
            "messageid": "m-1",
            "status": "UNDELIVERABLE",
            "tag": REFERENCE,
            "modified": "Wed Jul 19 2017 20:53:49 GMT+0100 (BST)",
            "failurereason": {"code": 34.0, "details": "Handset error", "permanent": False},
        },
        {"messageid": "m-2", "status": "REJECTED", "tag": "SummerSpecial"},
    ]

    first, second = make_backend().parse_receipts(webhook(body))

    assert (first.error_code, first.error_reason) == ("34", "Handset error")
    assert first.reference == REFERENCE
    assert first.occurred_at == datetime(2017, 7, 19, 19, 53, 49, tzinfo=UTC)
    assert second.status == "failed" and second.reference == ""  # a campaign tag is not ours
    assert not first.opted_out


def test_a_failed_receipt_with_code_1030_is_an_opt_out() -> None:
    body = {
        "messageid": "m-3",
        "status": "REJECTED",
        "failurereason": {"code": 1030, "details": "Recipient opted out", "permanent": True},
    }

    [receipt] = make_backend().parse_receipts(webhook(body))

    assert receipt.status == "failed" and receipt.opted_out


def test_it_skips_statuses_a_receipt_cannot_apply() -> None:
    assert make_backend().parse_receipts(webhook({"messageid": "m-1", "status": "INCOMING"})) == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'"text"', b'{"status": "SENT"}'])
def test_it_refuses_a_body_that_is_not_a_receipt(body: bytes) -> None:
    request = WebhookRequest(method="POST", url="https://x/", headers={}, body=body)

    with pytest.raises(ValueError):
        make_backend().parse_receipts(request)


def test_it_parses_an_inbound_text() -> None:
    body = {
        "messageid": "in-1",
        "status": "INCOMING",
        "sender": "447700900555",
        "destination": "447700900000",
        "content": "STOP",
        "keyword": "STOP",
        "created": "2025-03-01T10:00:00.000Z",
    }

    [text] = make_backend().parse_inbound(webhook(body))

    assert text.provider_message_id == "in-1"
    assert (text.from_number, text.to_number) == ("+447700900555", "+447700900000")
    assert text.body == "STOP" and text.received_at == datetime(2025, 3, 1, 10, tzinfo=UTC)


def test_it_keeps_a_short_code_as_it_is() -> None:
    body = {"messageid": "in-2", "sender": "447700900555", "destination": "60777", "content": "HI"}

    [text] = make_backend().parse_inbound(webhook(body))

    assert text.to_number == "60777"


@pytest.mark.parametrize(
    "body",
    [
        {"messageid": "m-1", "status": "DELIVERED", "sender": "447700900555"},
        {"messageid": "in-3", "destination": "447700900000", "content": "hi"},
    ],
)
def test_it_refuses_a_body_that_is_not_an_inbound_text(body: dict) -> None:
    with pytest.raises(ValueError):
        make_backend().parse_inbound(webhook(body))


def test_it_verifies_the_webhook_token() -> None:
    backend = make_backend()

    assert backend.verify_webhook(webhook({}, {"token": "hook-secret"}))
    assert not backend.verify_webhook(webhook({}, {"token": "wrong"}))
    assert not backend.verify_webhook(webhook({}))
    assert not make_backend(secret="").verify_webhook(webhook({}, {"token": ""}))
    assert backend.webhook_query() == "?token=hook-secret"
