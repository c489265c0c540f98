"""Mailgun's inbound route: signed form posts, through Django's test client."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse

from emailsms.mailgun import signature_valid
from emailsms.models import AllowedSender, EmailText
from messaging.models import Message
from tests.factories import SenderFactory

pytestmark = pytest.mark.django_db

KEY = "key-test-signing-0123456789"
NUMBER = "+447912345678"


@pytest.fixture(autouse=True)
def signing_key(settings):
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = KEY


@pytest.fixture
def sender():
    sender = SenderFactory()
    AllowedSender.objects.create(address="@example.com", sender=sender)
    return sender


def _signed(*, timestamp: int | None = None, key: str = KEY, token: str = "a" * 50) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": stamp, "token": token, "signature": digest}


def _form(settings, **overrides) -> dict:
    form = {
        "sender": "bounces+ada=example.com@example.com",
        "from": "Ada Lovelace <ada@example.com>",
        "recipient": f"{NUMBER}@{settings.EMAIL_TO_SMS_DOMAIN}",
        "subject": "Booking",
        "body-plain": "Your table is booked.\n\nThanks,\nAda\n\nOn Monday Sam wrote:\n> Table?\n",
        "stripped-text": "Your table is booked.",
        "Message-Id": "<mg1@example.com>",
        **_signed(),
    }
    form.update(overrides)
    return form


def _post(client, form):
    return client.post(reverse("emailsms:mailgun"), form)


def test_it_texts_a_signed_mail(client, settings, sender):
    response = _post(client, _form(settings))

    assert response.status_code == 200
    message = Message.objects.get()
    assert (message.to_number, message.body, message.sender_id) == (
        NUMBER,
        "Your table is booked.",
        sender.pk,
    )
    assert response.json()["texts"] == [
        {"to": NUMBER, "message": str(message.uuid), "duplicate": False, "suppressed": False}
    ]
    assert EmailText.objects.get().channel == "mailgun"


def test_a_repeated_post_texts_once(client, settings, sender):
    assert _post(client, _form(settings)).status_code == 200
    response = _post(client, _form(settings, **_signed(token="b" * 50)))

    assert response.status_code == 200
    assert response.json()["texts"][0]["duplicate"] is True
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        {"signature": "0" * 64},
        _signed(key="another-key"),
        _signed(timestamp=int(time.time()) - 3600),
        {"timestamp": "", "token": "", "signature": ""},
    ],
    ids=["wrong", "other-key", "stale", "missing"],
)
def test_a_bad_or_stale_signature_is_refused(client, settings, sender, signature):
    form = _form(settings)
    form.update(signature)

    assert _post(client, form).status_code == 403
    assert not Message.objects.exists()


def test_without_a_signing_key_everything_is_refused(client, settings, sender):
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = ""
    assert _post(client, _form(settings)).status_code == 403


def test_refusals_are_406_with_their_reason(client, settings, sender):
    strangers = _post(client, _form(settings, **{"from": "eve@example.org"}))
    bad_number = _post(client, _form(settings, recipient=f"pizza@{settings.EMAIL_TO_SMS_DOMAIN}"))
    empty = _post(client, _form(settings, **{"stripped-text": "", "body-plain": " "}))

    assert strangers.status_code == 406 and "not allowed" in strangers.json()["error"]
    assert bad_number.status_code == 406 and "not a phone number" in bad_number.json()["error"]
    assert empty.status_code == 406 and "no text" in empty.json()["error"]
    assert not Message.objects.exists()


def test_an_automatic_reply_is_taken_but_not_texted(client, settings, sender):
    headers = json.dumps([["Auto-Submitted", "auto-replied"], ["Subject", "Away"]])
    response = _post(client, _form(settings, **{"message-headers": headers}))

    assert response.status_code == 200 and response.json() == {"texts": [], "automatic": True}
    assert not Message.objects.exists()


def test_it_only_takes_posts(client):
    assert client.get(reverse("emailsms:mailgun")).status_code == 405


def test_the_signature_check_follows_mailguns_scheme():
    # The documented scheme: hex HMAC-SHA256 of timestamp + token with the signing key.
    stamp, token = "1700000000", "t" * 50
    signature = hmac.new(b"k", f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()

    assert signature_valid(
        key="k", timestamp=stamp, token=token, signature=signature, now=1700000100
    )
    assert not signature_valid(
        key="k", timestamp=stamp, token=token, signature=signature, now=1700000000 + 301
    )
    assert not signature_valid(
        key="k", timestamp="soon", token=token, signature=signature, now=1700000000
    )
