"""Endpoint pages: create (secret shown once), edit, switch on and off, delete,
test event, replay; the index; roles and bad input."""

import pytest
from django.urls import reverse

from integrations.models import Delivery, Endpoint, EventType
from integrations.services import endpoint_create, endpoint_send_test

pytestmark = pytest.mark.django_db


def _endpoint(**kwargs):
    return endpoint_create(
        url=kwargs.pop("url", "https://crm.example.com/hooks"),
        events=kwargs.pop("events", [EventType.MESSAGE_RECEIVED]),
        **kwargs,
    )


def test_it_creates_an_endpoint_and_shows_the_secret_once(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("integrations:endpoint_create"),
        {
            "url": "https://crm.example.com/hooks",
            "description": "CRM",
            "events": [EventType.MESSAGE_RECEIVED, EventType.CONTACT_OPTED_OUT],
        },
    )
    endpoint = Endpoint.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("integrations:endpoint_detail", args=[endpoint.pk])
    assert endpoint.events == ["contact.opted_out", "message.received"]
    assert endpoint.created_by == admin_user and endpoint.is_active
    assert endpoint.secret.startswith("whsec_")

    first = client.get(response.url).content.decode()
    assert endpoint.secret in first
    second = client.get(response.url).content.decode()
    assert endpoint.secret not in second
    assert endpoint.secret[-4:] in second  # a hint to tell secrets apart


def test_bad_input_is_refused_and_nothing_created(client, admin_user):
    client.force_login(admin_user)
    url = reverse("integrations:endpoint_create")
    for data in (
        {"url": "not a url", "events": [EventType.MESSAGE_RECEIVED]},
        {"url": "ftp://example.com/x", "events": [EventType.MESSAGE_RECEIVED]},
        {"url": "https://example.com/x", "events": []},
        {"url": "https://example.com/x", "events": ["webhook.test"]},
    ):
        response = client.post(url, data)
        assert response.status_code == 200, data
        assert b"invalid-feedback" in response.content
    assert Endpoint.objects.count() == 0


def test_other_roles_cannot_manage_endpoints(client, marketer_user, support_user):
    endpoint = _endpoint()
    for user in (marketer_user, support_user):
        client.force_login(user)
        response = client.post(
            reverse("integrations:endpoint_create"),
            {"url": "https://evil.example.com", "events": [EventType.MESSAGE_RECEIVED]},
        )
        assert response.status_code == 403
        assert (
            client.post(reverse("integrations:endpoint_test", args=[endpoint.pk])).status_code
            == 403
        )
    assert Endpoint.objects.count() == 1
    assert Delivery.objects.count() == 0


def test_editing_switches_it_off_and_back_on(client, admin_user):
    endpoint = _endpoint()
    client.force_login(admin_user)
    url = reverse("integrations:endpoint_edit", args=[endpoint.pk])
    data = {"url": "https://crm.example.com/v2", "events": [EventType.CAMPAIGN_COMPLETED]}
    assert client.post(url, data).status_code == 302  # is_active unticked
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.is_active) == (
        "https://crm.example.com/v2",
        ["campaign.completed"],
        False,
    )
    assert endpoint.disabled_reason
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since="2026-01-01T00:00Z", dead_streak=3)
    assert client.post(url, {**data, "is_active": "on"}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_reason == ""
    assert endpoint.failing_since is None and endpoint.dead_streak == 0


def test_delete_keeps_the_log_but_hides_the_endpoint(client, admin_user):
    endpoint = _endpoint()
    endpoint_send_test(endpoint=endpoint)
    client.force_login(admin_user)
    url = reverse("integrations:endpoint_delete", args=[endpoint.pk])
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 404  # the repeated submit
    endpoint.refresh_from_db()
    assert endpoint.deleted_at is not None and not endpoint.is_active
    assert Delivery.objects.count() == 1
    listing = client.get(reverse("integrations:endpoint_list")).content.decode()
    assert "No endpoint yet" in listing


def test_send_test_event_and_replay_from_the_page(client, admin_user):
    endpoint = _endpoint()
    client.force_login(admin_user)
    detail = reverse("integrations:endpoint_detail", args=[endpoint.pk])
    assert client.post(reverse("integrations:endpoint_test", args=[endpoint.pk])).url == detail
    sent = Delivery.objects.get()
    assert sent.event.type == "webhook.test"

    Delivery.objects.filter(pk=sent.pk).update(status="dead")
    response = client.post(reverse("integrations:delivery_replay", args=[sent.pk]))
    assert response.url == detail
    replay = Delivery.objects.exclude(pk=sent.pk).get()
    assert (replay.event_id, replay.replay_of_id, replay.status) == (
        sent.event_id,
        sent.pk,
        "pending",
    )
    page = client.get(detail).content.decode()
    assert "replay" in page and "Test event" in page
    body = client.get(reverse("integrations:delivery_detail", args=[sent.pk])).content.decode()
    assert str(sent.event.public_id) in body


def test_replay_to_a_switched_off_endpoint_is_refused(client, admin_user):
    endpoint = _endpoint()
    sent = endpoint_send_test(endpoint=endpoint)
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    client.force_login(admin_user)
    response = client.post(reverse("integrations:delivery_replay", args=[sent.pk]), follow=True)
    assert b"switched off" in response.content
    assert Delivery.objects.count() == 1


def test_rolling_the_secret_shows_the_new_one_once(client, admin_user):
    endpoint = _endpoint()
    old = endpoint.secret
    client.force_login(admin_user)
    response = client.post(reverse("integrations:endpoint_roll_secret", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret in client.get(response.url).content.decode()


def test_the_index_links_what_exists(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("integrations:index")).content.decode()
    assert reverse("integrations:endpoint_list") in page
    assert reverse("integrations:qr_index") in page


def test_endpoint_text_is_escaped(client, admin_user):
    endpoint = _endpoint(url="https://example.com/<script>", description="<b>x</b>")
    client.force_login(admin_user)
    for url in (
        reverse("integrations:endpoint_list"),
        reverse("integrations:endpoint_detail", args=[endpoint.pk]),
    ):
        page = client.get(url).content.decode()
        assert "<b>x</b>" not in page and "https://example.com/<script>" not in page
        assert "https://example.com/&lt;script&gt;" in page
