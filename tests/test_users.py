import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from smsworks.permissions import role_of

pytestmark = pytest.mark.django_db

NEW_USER = {
    "username": "newbie",
    "first_name": "New",
    "last_name": "Person",
    "email": "newbie@example.com",
    "role": "Marketer",
    "password1": "plenty-long-passphrase-7",
    "password2": "plenty-long-passphrase-7",
}


def test_an_admin_creates_a_user_with_a_role(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("users:create"), NEW_USER)
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert role_of(user) == "Marketer"
    assert user.check_password("plenty-long-passphrase-7")
    assert user.has_perm("smsworks.campaigns_manage")
    assert not user.has_perm("smsworks.users_manage")


def test_a_repeated_submit_does_not_create_a_second_user(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("users:create"), NEW_USER)
    response = client.post(reverse("users:create"), {**NEW_USER, "username": "NEWBIE"})
    assert response.status_code == 200
    assert b"A user with that username already exists." in response.content
    assert User.objects.filter(username__iexact="newbie").count() == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"password2": "different-passphrase-7"}, b"The two password fields didn"),
        ({"password1": "123", "password2": "123"}, b"This password is too short"),
        ({"role": "Overlord"}, b"Select a valid choice"),
        ({"username": "bad name!"}, b"Enter a valid value"),
    ],
)
def test_bad_input_shows_what_is_wrong(client, admin_user, change, error):
    client.force_login(admin_user)
    response = client.post(reverse("users:create"), {**NEW_USER, **change})
    assert response.status_code == 200
    assert error in response.content
    assert not User.objects.filter(username="newbie").exists()


def test_an_admin_changes_a_role_and_deactivates(client, admin_user, support_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:edit", args=[support_user.pk]),
        {"first_name": "Sam", "last_name": "S", "email": "s@example.com", "role": "Marketer"},
    )
    assert response.status_code == 302
    support_user.refresh_from_db()
    assert role_of(support_user) == "Marketer"
    assert not support_user.is_active
    assert [g.name for g in support_user.groups.all()] == ["Marketer"]


def test_an_admin_cannot_lock_themselves_out(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:edit", args=[admin_user.pk]),
        {"first_name": "", "last_name": "", "email": "", "role": "Support", "is_active": "on"},
    )
    assert response.status_code == 200
    assert b"You cannot remove your own Admin role" in response.content
    assert role_of(admin_user) == "Admin"


def test_an_admin_sets_a_password(client, admin_user, support_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:password", args=[support_user.pk]),
        {"new_password1": "reset-passphrase-2026", "new_password2": "reset-passphrase-2026"},
    )
    assert response.status_code == 302
    support_user.refresh_from_db()
    assert support_user.check_password("reset-passphrase-2026")


def test_a_marketer_cannot_create_users(client, marketer_user):
    client.force_login(marketer_user)
    response = client.post(reverse("users:create"), NEW_USER)
    assert response.status_code == 403
    assert not User.objects.filter(username="newbie").exists()


def test_roles_grant_exactly_their_capabilities(admin_user, marketer_user, support_user):
    assert admin_user.has_perm("smsworks.users_manage")
    assert marketer_user.has_perm("smsworks.contacts_manage")
    assert not marketer_user.has_perm("smsworks.inbox_use")
    assert support_user.has_perm("smsworks.inbox_use")
    assert support_user.has_perm("smsworks.consent_view")
    assert not support_user.has_perm("smsworks.contacts_manage")
