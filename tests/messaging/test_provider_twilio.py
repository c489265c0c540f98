from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from messaging.providers.base import AccountConfig, OutboundSMS, ProviderError, WebhookRequest
from messaging.providers.registry import backend_class
from messaging.providers.twilio import TwilioBackend
from tests.messaging.httpfake import FakeResponse, HTTPFake, RecordedRequest

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-auth-token"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLBACK_URL = "https://sms.example.com/webhooks/twilio/receipts/abc"


@pytest.fixture
def fake() -> Iterator[HTTPFake]:
    with HTTPFake() as server:
        yield server


def make_backend(base_url: str = "", timeout: float = 5.0) -> TwilioBackend:
    return TwilioBackend(
        AccountConfig(
            account_id="acct-1",
            base_url=base_url,
            credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            webhook_secret="unused",
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


def message_resource(sid: str, status: str = "queued", **extra: object) -> dict:
    return {"sid": sid, "status": status, "error_code": None, "error_message": None, **extra}


def twilio_error(code: int, message: str, status: int) -> FakeResponse:
    return FakeResponse.json(
        {"code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors/x"},
        status=status,
    )


def send_error(backend: TwilioBackend, message: OutboundSMS) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        backend.send(message)
    return info.value


def test_it_is_registered_with_its_credentials() -> None:
    assert backend_class("twilio") is TwilioBackend
    assert TwilioBackend.credential_fields == ("account_sid", "auth_token")
    assert TwilioBackend.secret_credentials == {"auth_token"}
    assert make_backend().base_url == "https://api.twilio.com"


def test_it_sends_a_form_encoded_message_with_basic_auth(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json(message_resource("SM123"), status=201))

    result = make_backend(fake.url).send(sms(body="Hi £5 & more"))

    assert result.ok
    assert result.reference == "uuid-1"
    assert result.provider_message_id == "SM123"
    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == MESSAGES_PATH
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected_auth}"
    assert request.form == {
        "To": "+447700900001",
        "From": "+447700900000",
        "Body": "Hi £5 & more",
        "StatusCallback": CALLBACK_URL,
    }


def test_it_sends_through_a_messaging_service(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json(message_resource("SM9", status="accepted"), status=201))
    service_sid = "MG" + "1" * 32

    make_backend(fake.url).send(
        OutboundSMS(reference="r", to="+447700900001", sender=service_sid, body="x")
    )

    assert fake.requests[0].form == {
        "To": "+447700900001",
        "Body": "x",
        "MessagingServiceSid": service_sid,
    }


def test_it_treats_429_as_transient_with_retry_after(fake: HTTPFake) -> None:
    fake.respond(
        FakeResponse.json(
            {"code": 20429, "message": "Too Many Requests"},
            status=429,
            headers={"Retry-After": "7"},
        )
    )

    error = send_error(make_backend(fake.url), sms())

    assert not error.permanent
    assert error.retry_after == 7.0
    assert error.code == "20429"


def test_it_treats_500_as_transient(fake: HTTPFake) -> None:
    fake.respond(FakeResponse(status=500, body=b"<html>oops</html>", headers={}))

    error = send_error(make_backend(fake.url), sms())

    assert not error.permanent
    assert not error.maybe_sent
    assert error.code == "500"
    assert error.retry_after is None


def test_it_reconciles_an_accepted_send_it_cannot_read(fake: HTTPFake) -> None:
    fake.respond(FakeResponse(status=201, body=b"<html>proxy</html>", headers={}))

    error = send_error(make_backend(fake.url), sms())

    assert error.maybe_sent and not error.permanent
    assert error.code == "unreadable_response"


def test_it_treats_a_timeout_as_transient(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json(message_resource("SMlate"), status=201, delay=2.0))

    error = send_error(make_backend(fake.url, timeout=0.2), sms())

    assert not error.permanent
    assert error.code == "timeout"
    assert error.maybe_sent  # Twilio may have taken it: reconciled, not resent


def test_it_treats_a_refused_connection_as_transient() -> None:
    with HTTPFake() as closed:
        url = closed.url

    error = send_error(make_backend(url), sms())

    assert not error.permanent
    assert error.code == "connection_error"
    assert not error.maybe_sent


def test_it_reports_a_permanent_error_with_code_and_message(fake: HTTPFake) -> None:
    fake.respond(twilio_error(21211, "The 'To' number +4477 is not a valid phone number.", 400))

    error = send_error(make_backend(fake.url), sms())

    assert error.permanent
    assert not error.opted_out
    assert error.code == "21211"
    assert "21211" in error.message
    assert "is not a valid phone number" in error.message


def test_it_treats_bad_credentials_as_permanent(fake: HTTPFake) -> None:
    fake.respond(twilio_error(20003, "Authenticate", 401))

    error = send_error(make_backend(fake.url), sms())

    assert error.permanent
    assert error.code == "20003"


def test_it_flags_an_unsubscribed_recipient_as_opted_out(fake: HTTPFake) -> None:
    fake.respond(twilio_error(21610, "Attempt to send to unsubscribed recipient", 400))

    error = send_error(make_backend(fake.url), sms())

    assert error.opted_out
    assert error.permanent
    assert error.code == "21610"


def test_it_sends_a_batch_with_one_result_per_message_in_order(fake: HTTPFake) -> None:
    def answer(request: RecordedRequest) -> FakeResponse:
        to = request.form["To"]
        if to.endswith("2"):
            return twilio_error(21610, "Attempt to send to unsubscribed recipient", 400)
        if to.endswith("3"):
            return FakeResponse.json({"code": 20429, "message": "Too Many Requests"}, status=429)
        return FakeResponse.json(message_resource(f"SM{to[-1]}"), status=201)

    fake.handler = answer
    messages = [sms(reference=f"ref-{n}", to=f"+44770090000{n}") for n in range(1, 5)]

    results = make_backend(fake.url).send_batch(messages)

    assert [r.reference for r in results] == ["ref-1", "ref-2", "ref-3", "ref-4"]
    assert [r.provider_message_id for r in results] == ["SM1", "", "", "SM4"]
    assert results[1].error is not None and results[1].error.opted_out
    assert results[2].error is not None and not results[2].error.permanent
    assert results[0].ok and results[3].ok
    assert len(fake.requests) == 4


def test_it_looks_a_message_up_by_sid(fake: HTTPFake) -> None:
    fake.respond(FakeResponse.json(message_resource("SM55", status="delivered")))

    result = make_backend(fake.url).lookup(reference="uuid-1", provider_message_id="SM55")

    assert result is not None and result.ok
    assert result.provider_message_id == "SM55"
    assert fake.requests[0].method == "GET"
    assert fake.requests[0].path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/SM55.json"


def test_it_reports_a_failed_message_on_lookup(fake: HTTPFake) -> None:
    fake.respond(
        FakeResponse.json(
            message_resource("SM56", status="failed", error_code=30007, error_message="Filtered")
        )
    )

    result = make_backend(fake.url).lookup(reference="uuid-1", provider_message_id="SM56")

    assert result is not None and result.error is not None
    assert result.error.permanent and result.error.code == "30007"


def test_it_answers_none_when_twilio_has_no_such_sid(fake: HTTPFake) -> None:
    fake.respond(twilio_error(20404, "The requested resource was not found", 404))

    assert make_backend(fake.url).lookup(reference="uuid-1", provider_message_id="SMgone") is None


def test_it_cannot_look_up_by_reference_alone(fake: HTTPFake) -> None:
    with pytest.raises(ProviderError) as info:
        make_backend(fake.url).lookup(reference="uuid-1")

    assert info.value.permanent
    assert "reference" in info.value.message
    assert fake.requests == []


# --- webhooks ---


def form_request(url: str, form: dict[str, str], signature: str | None = None) -> WebhookRequest:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return WebhookRequest(
        method="POST", url=url, headers=headers, body=urlencode(form).encode(), form=form
    )


@pytest.mark.parametrize("status", ["sent", "delivered", "undelivered", "failed"])
def test_it_parses_a_status_callback(status: str) -> None:
    form = {"MessageSid": "SM1", "SmsSid": "SM1", "MessageStatus": status, "SmsStatus": status}
    if status in {"undelivered", "failed"}:
        form["ErrorCode"] = "30003"

    [receipt] = make_backend().parse_receipts(form_request(CALLBACK_URL, form))

    assert receipt.provider_message_id == "SM1"
    assert receipt.status == status
    assert receipt.error_code == form.get("ErrorCode", "")
    assert receipt.raw["MessageStatus"] == status


@pytest.mark.parametrize("status", ["queued", "accepted", "sending", "scheduled", "read"])
def test_it_ignores_statuses_that_are_not_receipts(status: str) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": status}

    assert make_backend().parse_receipts(form_request(CALLBACK_URL, form)) == []


def test_it_rejects_a_body_that_is_not_a_status_callback() -> None:
    with pytest.raises(ValueError):
        make_backend().parse_receipts(form_request(CALLBACK_URL, {"Body": "hi"}))


def test_it_parses_an_inbound_text() -> None:
    form = {
        "MessageSid": "SMin1",
        "From": "+447700900123",
        "To": "+447700900000",
        "Body": "STOP",
        "NumMedia": "0",
    }

    [text] = make_backend().parse_inbound(form_request(CALLBACK_URL, form))

    assert (text.provider_message_id, text.from_number, text.to_number, text.body) == (
        "SMin1",
        "+447700900123",
        "+447700900000",
        "STOP",
    )
    assert text.raw["NumMedia"] == "0"


def test_it_rejects_a_body_that_is_not_an_inbound_text() -> None:
    with pytest.raises(ValueError):
        make_backend().parse_inbound(form_request(CALLBACK_URL, {"MessageStatus": "sent"}))


def test_it_accepts_a_correctly_signed_webhook() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+447700900001"}
    url = CALLBACK_URL + "?a=1"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)

    assert make_backend().verify_webhook(form_request(url, form, signature))


def test_it_accepts_a_signature_computed_independently() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    signed = CALLBACK_URL + "".join(key + form[key] for key in sorted(form))
    digest = hmac_sha1(AUTH_TOKEN, signed)

    assert make_backend().verify_webhook(form_request(CALLBACK_URL, form, digest))


def test_it_rejects_a_tampered_body() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(CALLBACK_URL, form)
    tampered = {**form, "MessageStatus": "failed"}

    assert not make_backend().verify_webhook(form_request(CALLBACK_URL, tampered, signature))


def test_it_rejects_a_signature_made_with_another_token() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    signature = RequestValidator("someone-else").compute_signature(CALLBACK_URL, form)

    assert not make_backend().verify_webhook(form_request(CALLBACK_URL, form, signature))


def test_it_rejects_an_unsigned_webhook() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}

    assert not make_backend().verify_webhook(form_request(CALLBACK_URL, form))


def test_it_rejects_a_shared_key_signature_it_holds_no_key_for() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    request = form_request(
        CALLBACK_URL, form, RequestValidator(AUTH_TOKEN).compute_signature(CALLBACK_URL, form)
    )
    request.headers["x-twilio-webhooks-signature-settings"] = "key=k1,algorithm=HMAC_SHA256"

    assert not make_backend().verify_webhook(request)


def test_it_verifies_a_json_body_by_its_hash() -> None:
    body = json.dumps({"MessageSid": "SM1"}).encode()
    url = f"{CALLBACK_URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    request = WebhookRequest(
        method="POST",
        url=url,
        headers={"content-type": "application/json", "x-twilio-signature": signature},
        body=body,
        query={"bodySHA256": hashlib.sha256(body).hexdigest()},
    )

    assert make_backend().verify_webhook(request)
    tampered = WebhookRequest(**{**request.__dict__, "body": b'{"MessageSid": "SM2"}'})
    assert not make_backend().verify_webhook(tampered)


def test_it_needs_no_webhook_query_and_answers_with_empty_twiml() -> None:
    backend = make_backend()

    assert backend.webhook_query() == ""
    status, content_type, body = backend.webhook_response()
    assert (status, content_type) == (200, "text/xml")
    assert body.endswith(b"<Response/>")


def hmac_sha1(key: str, text: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha1).digest()).decode()


def test_a_status_callback_with_21610_is_an_opt_out() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "21610"}
    [receipt] = make_backend().parse_receipts(form_request(CALLBACK_URL, form))
    [other] = make_backend().parse_receipts(
        form_request(CALLBACK_URL, {**form, "ErrorCode": "30003"})
    )

    assert receipt.opted_out and receipt.error_code == "21610"
    assert not other.opted_out
