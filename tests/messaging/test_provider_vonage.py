from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from messaging.providers.base import AccountConfig, OutboundSMS, ProviderError, WebhookRequest
from messaging.providers.registry import backend_class
from messaging.providers.vonage import VonageBackend, signature
from tests.messaging.httpfake import FakeResponse, HTTPFake, RecordedRequest

SIGNATURE_SECRET = "vonage-signature-secret"
WEBHOOK_SECRET = "url-token-secret"
CALLBACK_URL = "https://sms.example.com/webhooks/vonage/receipts/abc"


@pytest.fixture
def fake() -> Iterator[HTTPFake]:
    with HTTPFake() as server:
        yield server


def make_backend(
    base_url: str = "",
    timeout: float = 5.0,
    signature_secret: str = SIGNATURE_SECRET,
    signature_method: str = "",
) -> VonageBackend:
    return VonageBackend(
        AccountConfig(
            account_id="acct-2",
            base_url=base_url,
            credentials={
                "api_key": "key123",
                "api_secret": "secret456",
                "signature_secret": signature_secret,
                "signature_method": signature_method,
            },
            webhook_secret=WEBHOOK_SECRET,
            timeout=timeout,
        )
    )


def sms(reference: str = "uuid-1", to: str = "+447700900001", body: str = "Hello") -> OutboundSMS:
    return OutboundSMS(
        reference=reference,
        to=to,
        sender="+447700900000",
        body=body,
        status_callback_url=CALLBACK_URL,
    )


def accepted(*message_ids: str) -> FakeResponse:
    return FakeResponse.json(
        {
            "message-count": str(len(message_ids)),
            "messages": [
                {"to": "447700900001", "message-id": mid, "status": "0", "network": "23410"}
                for mid in message_ids
            ],
        }
    )


def rejected(status: str, text: str) -> FakeResponse:
    return FakeResponse.json(
        {"message-count": "1", "messages": [{"status": status, "error-text": text}]}
    )


def send_error(backend: VonageBackend, message: OutboundSMS) -> ProviderError:
    result = backend.send(message)
    assert result.error is not None
    return result.error


def test_it_is_registered_with_its_credentials() -> None:
    assert backend_class("vonage") is VonageBackend
    assert VonageBackend.credential_fields == (
        "api_key",
        "api_secret",
        "signature_secret",
        "signature_method",
    )
    assert VonageBackend.secret_credentials == {"api_secret", "signature_secret"}
    assert make_backend().base_url == "https://rest.nexmo.com"


def test_it_sends_a_text_message(fake: HTTPFake) -> None:
    fake.respond(accepted("0A0000001"))

    result = make_backend(fake.url).send(sms(body="Hi [you] & €5"))

    assert result.ok
    assert (result.reference, result.provider_message_id) == ("uuid-1", "0A0000001")
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/sms/json")
    assert request.form == {
        "api_key": "key123",
        "api_secret": "secret456",
        "from": "447700900000",
        "to": "447700900001",
        "text": "Hi [you] & €5",
        "client-ref": "uuid-1",
        "callback": CALLBACK_URL,
    }


def test_it_sends_unicode_when_the_body_is_not_gsm(fake: HTTPFake) -> None:
    fake.respond(accepted("0A0000002"))

    make_backend(fake.url).send(sms(body="Olá 😀"))

    assert fake.requests[0].form["type"] == "unicode"
    assert fake.requests[0].form["text"] == "Olá 😀"


def test_it_keeps_an_alphanumeric_sender(fake: HTTPFake) -> None:
    fake.respond(accepted("0A0000003"))

    make_backend(fake.url).send(OutboundSMS(reference="r", to="+15550001", sender="Acme", body="x"))

    assert fake.requests[0].form["from"] == "Acme"
    assert "callback" not in fake.requests[0].form


def test_it_keeps_the_first_part_id_of_a_long_message(fake: HTTPFake) -> None:
    fake.respond(accepted("0A00000P1", "0A00000P2"))

    result = make_backend(fake.url).send(sms(body="x" * 200))

    assert result.ok and result.provider_message_id == "0A00000P1"
    assert len(result.raw["messages"]) == 2


@pytest.mark.parametrize("status", ["1", "5", "10"])
def test_it_treats_throttling_and_internal_errors_as_transient(fake: HTTPFake, status: str) -> None:
    fake.respond(rejected(status, "Try again"))

    error = send_error(make_backend(fake.url), sms())

    assert not error.permanent
    assert error.code == status
    assert error.retry_after == (1.0 if status == "1" else None)


@pytest.mark.parametrize(
    ("status", "text"),
    [
        ("2", "Missing to param"),
        ("3", "Invalid to address"),
        ("4", "Bad Credentials"),
        ("6", "Unroutable message - rejected"),
        ("7", "Number barred"),
        ("9", "Quota Exceeded - rejected"),
        ("15", "Illegal Sender Address - rejected"),
    ],
)
def test_it_reports_a_permanent_rejection_with_code_and_text(
    fake: HTTPFake, status: str, text: str
) -> None:
    fake.respond(rejected(status, text))

    error = send_error(make_backend(fake.url), sms())

    assert error.permanent
    assert not error.opted_out
    assert error.code == status
    assert text in error.message


def test_it_does_not_retry_a_long_message_when_some_parts_went_out(fake: HTTPFake) -> None:
    fake.respond(
        FakeResponse.json(
            {
                "message-count": "2",
                "messages": [
                    {"message-id": "0A00000P1", "status": "0"},
                    {"status": "1", "error-text": "Throughput Rate Exceeded"},
                ],
            }
        )
    )

    result = make_backend(fake.url).send(sms(body="x" * 200))

    assert result.error is not None and result.error.permanent
    assert result.provider_message_id == "0A00000P1"


def test_it_treats_http_429_as_transient_with_retry_after(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json({}, status=429, headers={"Retry-After": "3"}))

    with pytest.raises(ProviderError) as info:
        make_backend(fake.url).send(sms())

    assert not info.value.permanent
    assert info.value.retry_after == 3.0


def test_it_treats_http_500_as_transient(fake: HTTPFake) -> None:
    fake.respond(FakeResponse(status=500, body=b"oops", headers={}))

    with pytest.raises(ProviderError) as info:
        make_backend(fake.url).send(sms())

    assert not info.value.permanent
    assert info.value.code == "500"


def test_it_treats_a_timeout_as_transient(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json({"message-count": "0", "messages": []}, delay=2.0))

    with pytest.raises(ProviderError) as info:
        make_backend(fake.url, timeout=0.2).send(sms())

    assert not info.value.permanent
    assert info.value.code == "timeout"
    assert info.value.maybe_sent


def test_it_reconciles_an_accepted_send_it_cannot_read(fake: HTTPFake) -> None:
    fake.respond(FakeResponse(status=200, body=b"", headers={}))

    with pytest.raises(ProviderError) as info:
        make_backend(fake.url).send(sms())

    assert info.value.maybe_sent and not info.value.permanent


def test_it_treats_a_refused_connection_as_transient() -> None:
    with HTTPFake() as closed:
        url = closed.url

    with pytest.raises(ProviderError) as info:
        make_backend(url).send(sms())

    assert not info.value.permanent
    assert info.value.code == "connection_error"
    assert not info.value.maybe_sent


def test_it_treats_http_401_as_permanent(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json({"title": "Unauthorized"}, status=401))

    with pytest.raises(ProviderError) as info:
        make_backend(fake.url).send(sms())

    assert info.value.permanent
    assert "Unauthorized" in info.value.message


def test_it_sends_a_batch_with_one_result_per_message_in_order(fake: HTTPFake) -> None:
    def answer(request: RecordedRequest) -> FakeResponse:
        to = request.form["to"]
        if to.endswith("2"):
            return rejected("3", "Invalid to address")
        if to.endswith("3"):
            return FakeResponse(status=503, body=b"", headers={})
        return accepted(f"ID{to[-1]}")

    fake.handler = answer
    messages = [sms(reference=f"ref-{n}", to=f"+44770090000{n}") for n in range(1, 5)]

    results = make_backend(fake.url).send_batch(messages)

    assert [r.reference for r in results] == ["ref-1", "ref-2", "ref-3", "ref-4"]
    assert [r.provider_message_id for r in results] == ["ID1", "", "", "ID4"]
    assert results[1].error is not None and results[1].error.permanent
    assert results[2].error is not None and not results[2].error.permanent
    assert results[0].ok and results[3].ok


def test_it_offers_no_lookup() -> None:
    with pytest.raises(ProviderError) as info:
        make_backend().lookup(reference="uuid-1", provider_message_id="0A1")

    assert info.value.permanent


# --- webhooks ---


def get_request(params: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(
        method="GET", url=f"{CALLBACK_URL}?{urlencode(params)}", headers={}, body=b"", query=params
    )


def json_request(params: dict[str, object]) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        url=CALLBACK_URL,
        headers={"content-type": "application/json"},
        body=json.dumps(params).encode(),
    )


def form_request(params: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        url=CALLBACK_URL,
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=urlencode(params).encode(),
        form=params,
    )


def dlr(status: str, err_code: str = "0") -> dict[str, str]:
    return {
        "msisdn": "447700900001",
        "to": "Acme",
        "network-code": "23410",
        "messageId": "0A0000001",
        "price": "0.03330000",
        "status": status,
        "scts": "2001011400",
        "err-code": err_code,
        "api-key": "key123",
        "client-ref": "uuid-1",
        "message-timestamp": "2020-01-01 12:00:00",
    }


@pytest.mark.parametrize(
    ("vonage_status", "status"),
    [
        ("delivered", "delivered"),
        ("accepted", "sent"),
        ("buffered", "sent"),
        ("expired", "undelivered"),
        ("failed", "failed"),
        ("rejected", "failed"),
    ],
)
def test_it_parses_a_delivery_receipt(vonage_status: str, status: str) -> None:
    err_code = "0" if status in {"delivered", "sent"} else "6"

    [receipt] = make_backend().parse_receipts(get_request(dlr(vonage_status, err_code)))

    assert receipt.provider_message_id == "0A0000001"
    assert receipt.status == status
    assert receipt.reference == "uuid-1"
    assert receipt.error_code == ("" if err_code == "0" else err_code)
    assert receipt.occurred_at == datetime(2020, 1, 1, 12, 0, tzinfo=UTC)


def test_it_ignores_an_unknown_delivery_status() -> None:
    assert make_backend().parse_receipts(get_request(dlr("unknown"))) == []


def test_it_reads_receipts_posted_as_json_or_form() -> None:
    [from_json] = make_backend().parse_receipts(json_request(dlr("delivered")))
    [from_form] = make_backend().parse_receipts(form_request(dlr("delivered")))

    assert from_json.status == from_form.status == "delivered"
    assert from_json.provider_message_id == from_form.provider_message_id == "0A0000001"


def test_it_names_an_opt_out_in_a_failed_receipt() -> None:
    [receipt] = make_backend().parse_receipts(json_request(dlr("failed", err_code="9")))

    assert receipt.status == "failed"
    assert receipt.error_code == "9"
    assert "opted out" in receipt.error_reason
    assert receipt.opted_out


def test_other_failures_are_not_opt_outs() -> None:
    [receipt] = make_backend().parse_receipts(json_request(dlr("failed", err_code="6")))

    assert receipt.status == "failed" and not receipt.opted_out


def test_it_rejects_a_body_that_is_not_a_receipt() -> None:
    with pytest.raises(ValueError):
        make_backend().parse_receipts(json_request({"msisdn": "447700900001", "text": "hi"}))


def test_it_parses_an_inbound_text_with_e164_numbers() -> None:
    params = {
        "msisdn": "447700900123",
        "to": "447700900000",
        "messageId": "0B0000001",
        "text": "STOP",
        "type": "text",
        "keyword": "STOP",
        "message-timestamp": "2024-05-01 08:30:00",
    }

    [text] = make_backend().parse_inbound(get_request(params))

    assert text.provider_message_id == "0B0000001"
    assert text.from_number == "+447700900123"
    assert text.to_number == "+447700900000"
    assert text.body == "STOP"
    assert text.received_at == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def test_it_keeps_a_short_code_as_it_is() -> None:
    params = {"msisdn": "447700900123", "to": "60123", "messageId": "0B2", "text": "hi"}

    [text] = make_backend().parse_inbound(json_request(params))

    assert text.to_number == "60123"


def test_it_rejects_a_body_that_is_not_an_inbound_text() -> None:
    with pytest.raises(ValueError):
        make_backend().parse_inbound(get_request(dlr("delivered")))


# --- signatures, computed here from Vonage's documented algorithm ---


def documented_signature(params: dict[str, str], secret: str, method: str) -> str:
    joined = ""
    for key in sorted(params):
        value = params[key].replace("&", "_").replace("=", "_")
        joined += "&" + key + "=" + value
    if method == "md5hash":
        return hashlib.md5((joined + secret).encode(), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode(), joined.encode(), method).hexdigest().upper()


def signed(params: dict[str, str], method: str = "md5hash", secret: str = SIGNATURE_SECRET) -> dict:
    params = {**params, "timestamp": str(int(time.time())), "nonce": "n-1"}
    return {**params, "sig": documented_signature(params, secret, method)}


def test_it_matches_the_vonage_sdk_test_vector() -> None:
    params = {"a": "1", "b": "2", "timestamp": "1461605396"}

    assert signature(params, "secret") == "6af838ef94998832dbfc29020b564830"


@pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
def test_it_accepts_a_correctly_signed_webhook(method: str) -> None:
    params = signed({**dlr("delivered"), "text": "a&b=c"}, method=method)
    backend = make_backend(signature_method=method)

    assert backend.verify_webhook(get_request(params))
    assert backend.verify_webhook(json_request(params))


@pytest.mark.parametrize(("label", "method"), [("MD5 hash", "md5hash"), ("SHA-256 HMAC", "sha256")])
def test_it_understands_the_dashboard_names_of_methods(label: str, method: str) -> None:
    params = signed(dlr("delivered"), method=method)

    assert make_backend(signature_method=label).verify_webhook(get_request(params))


def test_it_rejects_a_tampered_webhook() -> None:
    params = {**signed(dlr("delivered")), "status": "failed"}

    assert not make_backend().verify_webhook(get_request(params))


def test_it_rejects_a_webhook_signed_with_another_secret() -> None:
    params = signed(dlr("delivered"), secret="someone-else")

    assert not make_backend().verify_webhook(get_request(params))


def test_it_rejects_a_webhook_signed_with_another_method() -> None:
    params = signed(dlr("delivered"), method="sha256")

    assert not make_backend(signature_method="md5hash").verify_webhook(get_request(params))


@pytest.mark.parametrize("age", [-310, 310, 3600])  # clear of the 300 s edge: int() truncates
def test_it_rejects_a_stale_timestamp(age: int) -> None:
    params = {**dlr("delivered"), "timestamp": str(int(time.time()) - age)}
    params["sig"] = documented_signature(params, SIGNATURE_SECRET, "md5hash")

    assert not make_backend().verify_webhook(get_request(params))


def test_it_rejects_an_unsigned_webhook_when_signing_is_on() -> None:
    params = {**dlr("delivered"), "timestamp": str(int(time.time())), "token": WEBHOOK_SECRET}

    assert not make_backend().verify_webhook(get_request(params))
    assert make_backend().webhook_query() == ""


def test_it_rejects_a_body_that_is_not_json() -> None:
    request = WebhookRequest(
        method="POST", url=CALLBACK_URL, headers={"content-type": "application/json"}, body=b"{oops"
    )

    assert not make_backend().verify_webhook(request)
    with pytest.raises(ValueError):
        make_backend().parse_receipts(request)


def test_it_falls_back_to_the_url_token_without_a_signature_secret() -> None:
    backend = make_backend(signature_secret="")

    assert backend.webhook_query() == f"?token={WEBHOOK_SECRET}"
    assert backend.verify_webhook(get_request({**dlr("delivered"), "token": WEBHOOK_SECRET}))
    assert not backend.verify_webhook(get_request({**dlr("delivered"), "token": "wrong"}))
    [receipt] = backend.parse_receipts(get_request({**dlr("delivered"), "token": WEBHOOK_SECRET}))
    assert "token" not in receipt.raw
