"""Every page against every role, in one table.

A new URL pattern must be added to PAGES, or test_every_named_page_is_in_the_table
fails: that keeps a view without a permission check out of the build.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

OK, DENIED, LOGIN = 200, 403, "login"
EVERYONE = {"admin": OK, "marketer": OK, "support": OK}
ADMIN_ONLY = {"admin": OK, "marketer": DENIED, "support": DENIED}
ADMIN_AND_MARKETER = {"admin": OK, "marketer": OK, "support": DENIED}
POST_ONLY = {"admin": 405, "marketer": 405, "support": 405}
ADMIN_AND_SUPPORT = {"admin": OK, "marketer": DENIED, "support": OK}
POST_ONLY_MANAGERS = {"admin": 405, "marketer": 405, "support": DENIED}
POST_ONLY_ADMIN = {"admin": 405, "marketer": DENIED, "support": DENIED}


def _other(world):
    return {"pk": world["support"].pk}


def _account(world):
    return {"pk": world["account"].pk}


def _sender(world):
    return {"pk": world["sender"].pk}


def _contact(world):
    return {"pk": world["contact"].pk}


def _field(world):
    return {"pk": world["field"].pk}


def _message(world):
    return {"uuid": world["message"].uuid}


# (url name, kwargs from the users fixture, expected status by role)
PAGES = [
    ("dashboard", None, EVERYONE),
    ("password_change", None, EVERYONE),
    ("password_change_done", None, EVERYONE),
    ("users:list", None, ADMIN_ONLY),
    ("users:create", None, ADMIN_ONLY),
    ("users:edit", _other, ADMIN_ONLY),
    ("users:password", _other, ADMIN_ONLY),
    ("messaging:log", None, ADMIN_AND_MARKETER),
    ("messaging:detail", _message, ADMIN_AND_MARKETER),
    ("messaging:counter", None, POST_ONLY),
    ("messaging:providers", None, ADMIN_ONLY),
    ("messaging:provider_create", None, ADMIN_ONLY),
    ("messaging:provider_detail", _account, ADMIN_ONLY),
    ("messaging:provider_edit", _account, ADMIN_ONLY),
    ("messaging:senders", None, ADMIN_ONLY),
    ("messaging:sender_create", None, ADMIN_ONLY),
    ("messaging:sender_edit", _sender, ADMIN_ONLY),
    ("messaging:sender_test", _sender, ADMIN_ONLY),
    ("contacts:list", None, EVERYONE),
    ("contacts:create", None, ADMIN_AND_MARKETER),
    ("contacts:bulk", None, POST_ONLY_MANAGERS),
    ("contacts:detail", _contact, EVERYONE),
    ("contacts:edit", _contact, ADMIN_AND_MARKETER),
    ("contacts:delete", _contact, ADMIN_AND_MARKETER),
    ("contacts:fields", None, ADMIN_ONLY),
    ("contacts:field_create", None, ADMIN_ONLY),
    ("contacts:field_edit", _field, ADMIN_ONLY),
    ("contacts:optouts", None, ADMIN_AND_SUPPORT),
    ("contacts:optout_add", None, POST_ONLY_ADMIN),
    ("contacts:optout_remove", None, POST_ONLY_ADMIN),
]
# Reached without a session: the login page, and provider webhooks, which prove
# themselves with a signature instead (tests/messaging/test_webhooks.py).
PUBLIC = {"login", "logout", "messaging:webhook_receipts", "messaging:webhook_inbound"}
# Django's own admin (staff only) is outside the product's role system.
IGNORED_NAMESPACES = {"admin"}


def _names(resolver: URLResolver, prefix: str = "") -> set[str]:
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in IGNORED_NAMESPACES:
                continue
            ns = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= _names(pattern, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


@pytest.fixture
def world(users_by_role):
    from contacts.models import CustomField
    from tests.factories import ContactFactory, MessageFactory

    contact = ContactFactory()
    message = MessageFactory(contact=contact, to_number=contact.phone)
    return {
        "contact": contact,
        "field": CustomField.objects.create(key="plan", label="Plan"),
        **users_by_role,
        "account": message.account,
        "sender": message.sender,
        "message": message,
    }


def test_every_named_page_is_in_the_table():
    listed = {name for name, _, _ in PAGES} | PUBLIC
    assert _names(get_resolver()) - listed == set()


@pytest.mark.parametrize(("name", "kwargs", "expected"), PAGES, ids=[p[0] for p in PAGES])
def test_each_role_gets_the_expected_status(client, world, name, kwargs, expected):
    users_by_role = world
    url = reverse(name, kwargs=kwargs(world) if kwargs else None)

    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))

    for role, status in expected.items():
        client.force_login(users_by_role[role])
        response = client.get(url)
        assert response.status_code == status, f"{role} on {url}"
        if status == DENIED:
            assert b"have access to this page" in response.content
        client.logout()


def test_a_user_without_a_role_sees_only_the_dashboard(client, db):
    from tests.factories import user_with_role

    client.force_login(user_with_role(None))
    assert client.get(reverse("dashboard")).status_code == OK
    assert client.get(reverse("users:list")).status_code == DENIED


def test_unknown_pages_get_the_friendly_404(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_navigation_shows_only_what_the_role_may_use(client, users_by_role):
    client.force_login(users_by_role["admin"])
    assert b'href="/users/"' in client.get(reverse("dashboard")).content
    for role in ("marketer", "support"):
        client.force_login(users_by_role[role])
        assert b'href="/users/"' not in client.get(reverse("dashboard")).content
