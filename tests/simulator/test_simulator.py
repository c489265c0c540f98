"""The simulator as a real process, driven by the real SMSWorksBackend."""

from __future__ import annotations

import uuid

import pytest

from messaging.providers.base import AccountConfig, OutboundSMS, ProviderError, WebhookRequest
from messaging.providers.smsworks import SMSWorksBackend
from tests.messaging.httpfake import FakeResponse, HTTPFake, RecordedRequest
from tests.simulator.process import RunningSimulator

WEBHOOK_SECRET = "hook-secret"
PLATFORM_NUMBER = "+447700900000"


def backend_for(sim: RunningSimulator, *, token: str = "", timeout: float = 5.0) -> SMSWorksBackend:
    return SMSWorksBackend(
        AccountConfig(
            account_id="acct-1",
            base_url=sim.url,
            credentials={"jwt": token or sim.token()},
            webhook_secret=WEBHOOK_SECRET,
            timeout=timeout,
        )
    )


def sms(to: str = "+447700900123", *, reference: str = "", callback: str = "") -> OutboundSMS:
    return OutboundSMS(
        reference=reference or str(uuid.uuid4()),
        to=to,
        sender=PLATFORM_NUMBER,
        body=f"Hello {to}",
        status_callback_url=callback,
    )


def as_webhook(request: RecordedRequest, base_url: str) -> WebhookRequest:
    return WebhookRequest(
        method=request.method,
        url=base_url + request.path,
        headers=request.headers,
        body=request.body,
        query=request.query,
    )


def test_it_sends_one_message_and_returns_its_id(simulator: RunningSimulator) -> None:
    message = sms()

    result = backend_for(simulator).send(message)

    assert result.ok and uuid.UUID(result.provider_message_id)
    [seen] = simulator.messages()
    assert seen["messageid"] == result.provider_message_id
    assert seen["reference"] == message.reference
    assert seen["destination"] == "447700900123" and seen["sender"] == "447700900000"


def test_it_sends_a_batch_with_one_result_per_message_in_order(
    simulator: RunningSimulator,
) -> None:
    messages = [sms("+447700900101"), sms("+12"), sms("+447700900103")]

    results = backend_for(simulator).send_batch(messages)

    assert [r.reference for r in results] == [m.reference for m in messages]
    assert results[0].ok and results[2].ok
    assert results[1].error is not None and results[1].error.permanent
    ids = {m["reference"]: m["messageid"] for m in simulator.messages()}
    assert results[0].provider_message_id == ids[messages[0].reference]
    assert results[2].provider_message_id == ids[messages[2].reference]
    assert simulator.stats()["batches"] == 1


def test_it_splits_a_large_batch_into_chunks(simulator: RunningSimulator) -> None:
    backend = backend_for(simulator)
    backend.max_batch = 2

    results = backend.send_batch([sms(f"+4477009002{i:02d}") for i in range(5)])

    assert all(r.ok and r.provider_message_id for r in results)
    stats = simulator.stats()
    assert stats["batches"] == 3 and stats["accepted"] == 5


def test_it_looks_up_a_message_by_id_and_by_reference(simulator: RunningSimulator) -> None:
    backend = backend_for(simulator)
    message = sms()
    sent = backend.send(message)

    by_id = backend.lookup(
        reference=message.reference, provider_message_id=sent.provider_message_id
    )
    by_reference = backend.lookup(reference=message.reference)

    assert by_id is not None and by_id.provider_message_id == sent.provider_message_id
    assert by_reference is not None and by_reference.provider_message_id == sent.provider_message_id
    assert backend.lookup(reference=str(uuid.uuid4())) is None


def test_it_refuses_a_bad_token_as_a_permanent_error(simulator: RunningSimulator) -> None:
    with pytest.raises(ProviderError) as info:
        backend_for(simulator, token="JWT not-a-jwt").send(sms())

    assert info.value.permanent
    assert info.value.code == "401"
    assert simulator.stats()["auth_failures"] == 1
    assert simulator.messages() == []


def test_it_refuses_an_expired_token(simulator: RunningSimulator) -> None:
    with pytest.raises(ProviderError) as info:
        backend_for(simulator, token=simulator.token(exp=1)).send(sms())

    assert info.value.permanent and "expired" in info.value.message


def test_it_turns_injected_429s_into_transient_errors_until_switched_off(
    simulator: RunningSimulator,
) -> None:
    backend = backend_for(simulator)
    simulator.config(rate_429=1.0)

    with pytest.raises(ProviderError) as info:
        backend.send(sms())
    batch = backend.send_batch([sms(), sms()])

    assert not info.value.permanent and info.value.retry_after == 1.0
    assert all(r.error is not None and not r.error.permanent for r in batch)
    assert simulator.stats()["faults"]["rate_429"] == 2

    simulator.config(rate_429=0.0)
    assert backend.send(sms()).ok


def test_it_turns_injected_5xx_into_transient_errors(simulator: RunningSimulator) -> None:
    simulator.config(rate_5xx=1.0)

    with pytest.raises(ProviderError) as info:
        backend_for(simulator).send(sms())

    assert not info.value.permanent and info.value.code in {"500", "502", "503"}


def test_it_times_out_as_transient_and_the_lookup_finds_the_accepted_message(
    simulator: RunningSimulator,
) -> None:
    simulator.config(rate_timeout=1.0, timeout_ms=3000)
    message = sms()

    with pytest.raises(ProviderError) as info:
        backend_for(simulator, timeout=0.5).send(message)

    assert not info.value.permanent and info.value.maybe_sent
    simulator.config(rate_timeout=0.0)
    found = backend_for(simulator).lookup(reference=message.reference)
    assert found is not None and found.ok


def test_it_reports_an_opted_out_recipient(simulator: RunningSimulator) -> None:
    simulator.config(opted_out=["+447700900666"])
    backend = backend_for(simulator)

    with pytest.raises(ProviderError) as info:
        backend.send(sms("+447700900666"))
    [stopped, fine] = backend.send_batch([sms("+447700900666"), sms("+447700900667")])

    assert info.value.opted_out and info.value.permanent
    assert stopped.error is not None and stopped.error.opted_out
    assert fine.ok


def test_it_answers_402_when_the_credits_run_out(simulator: RunningSimulator) -> None:
    simulator.config(credits=1)
    backend = backend_for(simulator)

    assert backend.send(sms()).ok
    with pytest.raises(ProviderError) as info:
        backend.send(sms())

    assert info.value.permanent and info.value.code == "402"


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        ({"delivered": 1.0, "undelivered": 0.0, "failed": 0.0}, "delivered"),
        ({"delivered": 0.0, "undelivered": 1.0, "failed": 0.0}, "undelivered"),
        ({"delivered": 0.0, "undelivered": 0.0, "failed": 1.0}, "failed"),
    ],
)
def test_it_posts_receipts_that_parse_back_to_the_expected_status(
    simulator: RunningSimulator, receiver: HTTPFake, rates: dict, expected: str
) -> None:
    simulator.config(**rates)
    backend = backend_for(simulator)
    callback = f"{receiver.url}/webhooks/acct-1/receipts/?token={WEBHOOK_SECRET}"
    messages = [sms(f"+4477009003{i:02d}", callback=callback) for i in range(3)]
    results = backend.send_batch(messages)

    simulator.wait_for(lambda: len(receiver.requests) >= 3, what="three receipts")

    receipts = []
    for request in receiver.requests:
        assert request.path == "/webhooks/acct-1/receipts/"
        webhook = as_webhook(request, receiver.url)
        assert backend.verify_webhook(webhook)
        receipts += backend.parse_receipts(webhook)
    assert {r.status for r in receipts} == {expected}
    assert {(r.reference, r.provider_message_id) for r in receipts} == {
        (r.reference, r.provider_message_id) for r in results
    }
    assert all(r.occurred_at is not None for r in receipts)
    if expected != "delivered":
        assert all(r.error_code and r.error_reason for r in receipts)
    # the receiver has each request before the simulator reads its answer and counts it
    simulator.wait_for(
        lambda: simulator.stats()["receipts"]["posted"] == 3, what="three receipts counted"
    )


def test_it_retries_receipts_while_the_platform_is_down(
    simulator: RunningSimulator, receiver: HTTPFake
) -> None:
    for _ in range(2):
        receiver.respond(FakeResponse(status=503, body=b"down"))
    backend_for(simulator).send(sms(callback=f"{receiver.url}/receipts/"))

    simulator.wait_for(
        lambda: simulator.stats()["receipts"]["posted"] == 1, timeout=60, what="a posted receipt"
    )

    assert len(receiver.requests) == 3
    assert simulator.stats()["receipts"]["retried"] == 2


def test_it_serves_the_virtual_phone_page(simulator: RunningSimulator) -> None:
    response = simulator.get("/phone")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Virtual phone" in response.text and "/_sim/phone/thread" in response.text


def test_it_shows_what_a_number_received_newest_first(simulator: RunningSimulator) -> None:
    backend = backend_for(simulator)
    first, second = backend.send(sms("+447700900400")), backend.send(sms("+447700900400"))

    thread = simulator.get("/_sim/phone/thread", number="+44 7700 900400").json()["messages"]

    assert [m["messageid"] for m in thread] == [
        second.provider_message_id,
        first.provider_message_id,
    ]
    assert all(m["direction"] == "received" and m["from"] == "447700900000" for m in thread)
    assert "447700900400" in simulator.get("/_sim/phone/numbers").json()["numbers"]


def test_it_posts_a_text_from_the_phone_to_the_inbound_url(
    simulator: RunningSimulator, receiver: HTTPFake
) -> None:
    simulator.config(inbound_url=f"{receiver.url}/webhooks/acct-1/inbound/?token={WEBHOOK_SECRET}")

    response = simulator.post(
        "/_sim/inbound", {"from": "+447700900555", "to": PLATFORM_NUMBER, "body": "STOP please"}
    )

    assert response.status_code == 200 and response.json()["ok"]
    [request] = receiver.requests
    webhook = as_webhook(request, receiver.url)
    backend = backend_for(simulator)
    assert backend.verify_webhook(webhook)
    [text] = backend.parse_inbound(webhook)
    assert text.from_number == "+447700900555" and text.to_number == PLATFORM_NUMBER
    assert text.body == "STOP please" and text.provider_message_id == response.json()["messageid"]
    assert text.received_at is not None
    thread = simulator.get("/_sim/phone/thread", number="447700900555").json()["messages"]
    assert thread[0]["direction"] == "sent" and thread[0]["status"] == "POSTED"


def test_it_says_when_no_inbound_url_is_configured(simulator: RunningSimulator) -> None:
    response = simulator.post(
        "/_sim/inbound", {"from": "447700900555", "to": "60777", "body": "hi"}
    )

    assert response.status_code == 409


def test_it_records_every_accepted_message_and_counts_duplicates(
    simulator: RunningSimulator,
) -> None:
    backend = backend_for(simulator)
    again = sms()
    backend.send(again)
    backend.send_batch([sms(), sms("+1")])  # the second one is rejected, not recorded

    assert len(simulator.record_lines()) == 2
    assert simulator.stats()["duplicates"] == 0

    backend.send(again)

    lines = simulator.record_lines()
    assert len(lines) == 3
    assert [line["reference"] for line in lines].count(again.reference) == 2
    assert lines[-1]["duplicate"] is True
    stats = simulator.stats()
    assert stats["duplicates"] == 1 and stats["duplicate_references"] == [again.reference]
    assert stats["accepted"] == 3 and stats["rejected"] == 1


def test_it_filters_messages_by_number_and_since(simulator: RunningSimulator) -> None:
    backend = backend_for(simulator)
    backend.send(sms("+447700900501"))
    backend.send(sms("+447700900502"))
    mark = simulator.messages(limit=1)[0]["seq"]
    backend.send(sms("+447700900501"))

    assert len(simulator.messages(to="+447700900501")) == 2
    assert [m["destination"] for m in simulator.messages(since=mark)] == ["447700900501"]


def test_it_changes_config_at_runtime_and_refuses_unknown_settings(
    simulator: RunningSimulator,
) -> None:
    assert simulator.config(rate_slow=0.5, receipt_delay_ms=[1, 2])["rate_slow"] == 0.5
    assert simulator.config()["receipt_delay_ms"] == [1, 2]

    assert simulator.post("/_sim/config", {"port": 1}).status_code == 400
    assert simulator.post("/_sim/config", {"rate_429": 2}).status_code == 400


def test_it_answers_their_error_shape_for_a_missing_token(simulator: RunningSimulator) -> None:
    response = simulator.post("/v1/message/send", {"sender": "Acme"})

    assert response.status_code == 401
    assert response.json()["status"] == "UNAUTHORIZED" and "errorCode" in response.json()


def test_it_gives_a_token_for_the_platform_account_form(simulator: RunningSimulator) -> None:
    token = simulator.get("/_sim/token").json()["jwt"]

    assert backend_for(simulator, token=token).send(sms()).ok


def test_it_can_post_receipts_in_arrays(simulator: RunningSimulator, receiver: HTTPFake) -> None:
    simulator.config(receipt_batch=50, receipt_delay_ms=[0, 0])
    backend = backend_for(simulator)
    results = backend.send_batch([sms(callback=f"{receiver.url}/r/") for _ in range(20)])

    simulator.wait_for(
        lambda: simulator.stats()["receipts"]["posted"] == 20, what="twenty receipts"
    )

    receipts = [
        r for request in receiver.requests for r in backend.parse_receipts(as_webhook(request, ""))
    ]
    assert len(receiver.requests) < 20 and isinstance(receiver.requests[0].json(), list)
    assert {r.provider_message_id for r in receipts} == {r.provider_message_id for r in results}
