"""The Admin pages for API keys: list, create (key shown once), revoke."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from api.keys import api_key_create, authenticate
from api.models import ApiKey
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_the_empty_list_explains_keys(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("apikeys:list"))
    assert response.status_code == 200
    assert b"No API keys yet" in response.content


def test_it_creates_a_key_and_shows_it_only_once(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("apikeys:create"),
        {"name": "Shop", "scopes": ["send", "read"], "rate_limit": 600},
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    full = re.search(rb'value="(smsw_[^"]+)"', response.content).group(1).decode()
    key = ApiKey.objects.get()
    assert (key.name, key.scopes, key.rate_limit, key.created_by) == (
        "Shop",
        ["read", "send"],
        600,
        admin_user,
    )
    assert authenticate(full).id == key.pk
    listing = client.get(reverse("apikeys:list")).content
    assert full.encode() not in listing
    assert f"smsw_{key.prefix}_".encode() in listing
    assert AuditEntry.objects.filter(action="api_key.created").count() == 1


def test_a_key_needs_a_name_and_a_scope(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("apikeys:create"), {"name": "", "rate_limit": 10})
    assert response.status_code == 200
    assert not ApiKey.objects.exists()


def test_revoking_asks_first_then_revokes_once(client, admin_user):
    key, full = api_key_create(name="Old", scopes=["send"], created_by=admin_user)
    client.force_login(admin_user)
    url = reverse("apikeys:revoke", args=[key.pk])

    assert b"Revoke key" in client.get(url).content
    assert ApiKey.objects.get().revoked_at is None

    response = client.post(url)
    assert response.status_code == 302
    assert ApiKey.objects.get().revoked_by == admin_user
    assert authenticate(full) is None
    client.post(url)  # a repeated submit changes nothing
    assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


def test_names_are_escaped(client, admin_user):
    api_key_create(name="<script>x</script>", scopes=["read"], created_by=admin_user)
    client.force_login(admin_user)
    content = client.get(reverse("apikeys:list")).content
    assert b"<script>x</script>" not in content


@pytest.mark.parametrize("role", ["marketer", "support"])
def test_other_roles_may_not_manage_keys(client, users_by_role, role):
    client.force_login(users_by_role[role])
    assert (
        client.post(reverse("apikeys:create"), {"name": "x", "scopes": ["send"]}).status_code == 403
    )
    assert not ApiKey.objects.exists()
