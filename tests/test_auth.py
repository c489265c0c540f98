import pytest
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

WRONG_CREDENTIALS = b"Please enter a correct username and password"


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_it_signs_in_and_lands_on_the_dashboard(client, marketer_user):
    response = _login(client, "mia", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")


def test_a_wrong_password_and_an_unknown_user_get_the_same_message(client, marketer_user):
    wrong_password = _login(client, "mia", "nope")
    unknown_user = _login(client, "nobody", "nope")
    assert wrong_password.status_code == unknown_user.status_code == 200
    assert WRONG_CREDENTIALS in wrong_password.content
    assert WRONG_CREDENTIALS in unknown_user.content


def test_repeated_failures_are_rate_limited(client, marketer_user):
    for _ in range(5):
        _login(client, "mia", "wrong")
    # Even the right password is refused while locked out.
    response = _login(client, "mia", PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_an_inactive_user_cannot_sign_in(client, marketer_user):
    marketer_user.is_active = False
    marketer_user.save()
    response = _login(client, "mia", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_it_changes_the_password(client, support_user):
    client.force_login(support_user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-passphrase-42",
            "new_password2": "a-new-long-passphrase-42",
        },
    )
    assert response.status_code == 302
    support_user.refresh_from_db()
    assert support_user.check_password("a-new-long-passphrase-42")


def test_logout_needs_a_post(client, support_user):
    client.force_login(support_user)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session
