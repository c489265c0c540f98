"""Secrets (provider credentials, webhook tokens, API keys, signing secrets) never
appear in pages, exports or logs — except the webhook URL on its own account's page,
which the admin must paste into the provider's console."""

import logging

import pytest
from django.urls import reverse

from messaging import dispatch
from messaging.models import Message
from messaging.services import message_send
from smsworks.logs import JsonFormatter
from tests.messaging.httpfake import FakeResponse, HTTPFake
from tests.pages_common import OK
from tests.test_pages import PAGES, world  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

JWT = "jwt-SECRET-0d1e2f3a4b5c6d7e8f90"
WEBHOOK_TOKEN = "whtoken-SECRET-9f8e7d6c5b4a3210"
NEW_JWT = "jwt-SECRET-rotated-5555aaaa6666"


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.fixture
def secrets(world):  # noqa: F811
    from api.keys import api_key_create

    account = world["account"]
    account.credentials = {"jwt": JWT}
    account.webhook_secret = WEBHOOK_TOKEN
    account.save(update_fields=["credentials", "webhook_secret"])
    _, api_key = api_key_create(name="ci", scopes=["send", "read"], created_by=world["admin"])
    return {"jwt": JWT, "webhook": WEBHOOK_TOKEN, "api_key": api_key.rsplit("_", 1)[1]}


def test_no_page_or_export_shows_a_secret(client, world, secrets):  # noqa: F811
    leaks = []
    for name, kwargs, expected in PAGES:
        # Admin sees every page and the most on each; other roles see less of the same.
        allowed = [role for role, status in expected.items() if status == OK]
        roles = ["admin"] if "admin" in allowed else allowed[:1]
        url = reverse(name, kwargs=kwargs(world) if kwargs else None)
        for role in roles:
            client.force_login(world[role])
            text = _body(client.get(url))
            for what, secret in secrets.items():
                if what == "webhook" and name == "messaging:provider_detail":
                    continue  # the webhook URL to configure: shown to admins on purpose
                if secret in text:
                    leaks.append(f"{what} on {url} as {role}")
    assert leaks == []


def test_the_provider_page_masks_credentials_but_shows_the_webhook_url(client, world, secrets):  # noqa: F811
    client.force_login(world["admin"])
    url = reverse("messaging:provider_detail", kwargs={"pk": world["account"].pk})
    text = client.get(url).content.decode()
    assert JWT not in text and JWT[-4:] in text  # masked: the last four characters
    assert f"token={WEBHOOK_TOKEN}" in text
    form = client.get(reverse("messaging:provider_edit", kwargs={"pk": world["account"].pk}))
    assert JWT not in form.content.decode()


def test_no_log_line_carries_a_secret(client, world, secrets, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    account, sender = world["account"], world["sender"]
    with HTTPFake() as fake:
        account.base_url = fake.url
        account.save(update_fields=["base_url"])
        # A provider that refuses the credentials, then one that accepts them.
        fake.respond(
            FakeResponse.json(
                {"message": "bad credentials", "errorCode": 401, "status": "UNAUTHORIZED"},
                status=401,
            )
        )
        fake.default = FakeResponse.json({"messageid": "m-1", "status": "SENT"}, status=201)
        first = message_send(to="+447911123456", body="one", sender=sender).message
        dispatch.dispatch(sender_id=sender.pk, lane="transactional", budget_seconds=5)
        Message.objects.filter(pk=first.pk).update(status="queued", send_after=first.created_at)
        dispatch.dispatch(sender_id=sender.pk, lane="transactional", budget_seconds=5)
        assert fake.requests and fake.requests[0].headers["authorization"] == f"JWT {JWT}"

    # A receipt webhook with a wrong token and with the right one.
    hook = reverse("messaging:webhook_receipts", kwargs={"public_id": account.public_id})
    client.post(f"{hook}?token=wrong-{WEBHOOK_TOKEN[:6]}", {}, content_type="application/json")
    client.post(f"{hook}?token={WEBHOOK_TOKEN}", {"x": 1}, content_type="application/json")
    # The API with a good key and a tampered one.
    full_key = f"smsw_{secrets['api_key']}"
    for auth in (f"Bearer {full_key}", f"Bearer {full_key}x"):
        client.get("/api/v1/messages", headers={"Authorization": auth})
    # An admin rotating the credential through the form.
    client.force_login(world["admin"])
    client.post(
        reverse("messaging:provider_edit", kwargs={"pk": account.pk}),
        {
            "name": account.name,
            "backend": account.backend,
            "base_url": "http://127.0.0.1:9",
            "default_price": "0.04",
            "prices": "{}",
            "timeout_seconds": "10",
            "is_active": "on",
            "cred_jwt": NEW_JWT,
        },
    )

    assert len(caplog.records) > 3  # something was logged, or this proves nothing
    leaks = [
        f"{what} in {record.name}: {record.getMessage()[:300]}"
        for record in caplog.records
        for what, secret in {**secrets, "new_jwt": NEW_JWT}.items()
        # What the handlers write: the plain text and the JSON lines.
        if secret in caplog.text or secret in JsonFormatter().format(record)
    ]
    assert leaks == []
    # Nor in what the message log stores and shows.
    for message in Message.objects.all():
        stored = f"{message.provider_response} {message.error_reason}"
        assert JWT not in stored and WEBHOOK_TOKEN not in stored
    detail = client.get(reverse("messaging:detail", kwargs={"uuid": first.uuid}))
    assert JWT not in detail.content.decode()
