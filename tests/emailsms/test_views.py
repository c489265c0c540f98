"""The email-to-SMS page and the allowed senders (Admin only: see tests/pages_emailsms.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from emailsms.models import AllowedSender, EmailText
from messaging.services import message_send
from tests.factories import SenderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender():
    return SenderFactory(value="+447911000001", label="Front desk")


def test_it_shows_how_it_works_with_empty_states(client, admin_user, settings):
    client.force_login(admin_user)
    page = client.get(reverse("emailsms:index")).content.decode()
    assert f"@{settings.EMAIL_TO_SMS_DOMAIN}" in page
    assert "No one may send texts by email yet" in page
    assert "No mail has been texted yet" in page


def test_it_lists_senders_and_recent_mails_with_their_status(client, admin_user, sender):
    allowed = AllowedSender.objects.create(address="@example.com", sender=sender)
    sms = message_send(to="+447912345678", body="<b>Booked</b>", sender=sender).message
    EmailText.objects.create(
        message_id="<1@example.com>",
        channel="smtp",
        from_address="ada@example.com",
        to_number=sms.to_number,
        platform_number=sender.value,
        allowed_sender=allowed,
        body=sms.body,
        sms=sms,
    )
    client.force_login(admin_user)

    page = client.get(reverse("emailsms:index")).content.decode()

    assert "whole domain" in page and "Front desk" in page
    assert "&lt;b&gt;Booked&lt;/b&gt;" in page and "<b>Booked</b>" not in page
    assert 'data-status="queued"' in page
    assert reverse("messaging:detail", args=[sms.uuid]) in page


def test_it_allows_edits_and_deletes_a_sender(client, admin_user, sender):
    client.force_login(admin_user)

    response = client.post(
        reverse("emailsms:allowed_create"),
        {
            "address": " Ada@Example.com ",
            "sender": sender.pk,
            "note": "Bookings",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    allowed = AllowedSender.objects.get()
    assert (allowed.address, allowed.sender, allowed.is_active) == ("ada@example.com", sender, True)

    response = client.post(
        reverse("emailsms:allowed_edit", args=[allowed.pk]),
        {"address": "@example.com", "sender": sender.pk, "note": ""},
    )
    assert response.status_code == 302
    allowed.refresh_from_db()
    assert (allowed.address, allowed.is_active) == ("@example.com", False)

    response = client.post(reverse("emailsms:allowed_delete", args=[allowed.pk]))
    assert response.status_code == 302 and not AllowedSender.objects.exists()
    assert client.post(reverse("emailsms:allowed_delete", args=[allowed.pk])).status_code == 404


@pytest.mark.parametrize("address", ["ada", "ada@", "a b@example.com", "x@y@example.com", ""])
def test_it_refuses_bad_addresses(client, admin_user, sender, address):
    client.force_login(admin_user)
    response = client.post(
        reverse("emailsms:allowed_create"), {"address": address, "sender": sender.pk}
    )
    assert response.status_code == 200 and not AllowedSender.objects.exists()


def test_it_refuses_an_address_twice(client, admin_user, sender):
    AllowedSender.objects.create(address="ada@example.com", sender=sender)
    client.force_login(admin_user)
    response = client.post(
        reverse("emailsms:allowed_create"), {"address": "ADA@example.com", "sender": sender.pk}
    )
    assert response.status_code == 200 and b"already allowed" in response.content
    assert AllowedSender.objects.count() == 1


def test_other_roles_cannot_change_senders(client, marketer_user, support_user, sender):
    for user in (marketer_user, support_user):
        client.force_login(user)
        response = client.post(
            reverse("emailsms:allowed_create"), {"address": "eve@example.org", "sender": sender.pk}
        )
        assert response.status_code == 403
    assert not AllowedSender.objects.exists()
