"""POST /otp/send and /otp/verify."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import OtpChallenge
from contacts.models import Suppression
from messaging.models import Message

pytestmark = pytest.mark.django_db

PHONE = "+447912345601"


def _send(api, phone=PHONE, **extra):
    return api.post("/api/v1/otp/send", {"phone": phone, **extra}, format="json")


def _verify(api, code, phone=PHONE):
    return api.post("/api/v1/otp/verify", {"phone": phone, "code": code}, format="json")


def _code_in(message: Message) -> str:
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_it_sends_a_code_and_verifies_it_once(api, sender, steady_clock):
    response = _send(api, phone="07912 345601")

    assert response.status_code == 201, response.content
    message = Message.objects.get(uuid=response.json()["message_id"])
    assert message.priority == "transactional" and message.to_number == PHONE
    code = _code_in(message)
    challenge = OtpChallenge.objects.get()
    assert code not in challenge.code_hash

    assert _verify(api, code).json() == {"verified": True, "phone": PHONE}
    # A code works once.
    again = _verify(api, code)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "otp_not_found"


def test_a_wrong_code_counts_and_too_many_lock_the_challenge(api, sender, settings, steady_clock):
    settings.API_OTP_MAX_ATTEMPTS = 3
    _send(api)
    code = _code_in(Message.objects.get())
    wrong = "000000" if code != "000000" else "111111"

    first = _verify(api, wrong)
    assert first.status_code == 400
    assert first.json()["error"] == {
        "code": "otp_invalid",
        "message": "The code is not correct.",
        "details": {"attempts_left": 2},
    }
    _verify(api, wrong)
    _verify(api, wrong)
    locked = _verify(api, code)
    assert locked.json()["error"]["code"] == "otp_attempts_exceeded"
    assert OtpChallenge.objects.get().attempts == 3


def test_an_expired_code_is_refused(api, sender, steady_clock):
    _send(api)
    code = _code_in(Message.objects.get())
    OtpChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _verify(api, code).json()["error"]["code"] == "otp_expired"


def test_codes_per_number_are_rate_limited(api, sender, settings, steady_clock):
    settings.API_OTP_SENDS_PER_NUMBER = 2
    assert [_send(api).status_code for _ in range(2)] == [201, 201]

    response = _send(api)

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "otp_rate_limited"
    assert int(response["Retry-After"]) > 0
    assert Message.objects.count() == 2
    assert _send(api, phone="+447912345602").status_code == 201


def test_the_newest_code_is_the_one_that_counts(api, sender, steady_clock):
    _send(api)
    _send(api)
    older, newer = (_code_in(m) for m in Message.objects.order_by("id"))
    if older != newer:
        assert _verify(api, older).status_code == 400
    assert _verify(api, newer).status_code == 200


def test_an_opted_out_number_gets_no_code(api, sender, steady_clock):
    Suppression.objects.create(phone=PHONE, source="manual")

    response = _send(api)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "recipient_opted_out"
    assert not OtpChallenge.objects.exists() and not Message.objects.exists()


def test_a_template_is_used_and_must_hold_the_code(api, sender, steady_clock):
    bad = _send(api, template="Welcome!")
    assert bad.status_code == 400 and "template" in bad.json()["error"]["details"]

    _send(api, template="Shop code {code}, valid {minutes} min. {0.__class__}")
    body = Message.objects.get().body
    assert re.fullmatch(r"Shop code \d{6}, valid 5 min\. \{0\.__class__\}", body)


def test_otp_needs_the_send_scope(make_client, sender):
    assert (
        make_client("read").post("/api/v1/otp/send", {"phone": PHONE}, format="json").status_code
        == 403
    )


def test_the_purge_forgets_old_records(api, sender, steady_clock):
    from datetime import timedelta

    from api.models import IdempotencyRecord
    from api.tasks import purge

    api.post(
        "/api/v1/messages",
        {"to": PHONE, "body": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="old",
    )
    _send(api)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    OtpChallenge.objects.update(created_at=timezone.now() - timedelta(days=2))

    assert purge() == {"idempotency": 1, "otp": 1}
