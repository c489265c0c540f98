"""Every page against every role, in one table.

A new URL pattern must be added to PAGES, or test_every_named_page_is_in_the_table
fails: that keeps a view without a permission check out of the build.
"""

import importlib
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.pages_common import (
    ADMIN_AND_MARKETER,
    ADMIN_AND_SUPPORT,
    ADMIN_ONLY,
    DENIED,
    EVERYONE,
    OK,
    POST_ONLY,
    POST_ONLY_ADMIN,
    POST_ONLY_MANAGERS,
)

pytestmark = pytest.mark.django_db


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


def _list(world):
    return {"pk": world["list"].pk}


def _segment(world):
    return {"pk": world["segment"].pk}


def _import(world):
    return {"pk": world["import"].pk}


def _new_import(world):
    return {"pk": world["new_import"].pk}


def _export(world):
    return {"pk": world["export"].pk}


def _message(world):
    return {"uuid": world["message"].uuid}


def _draft_campaign(world):
    from tests.factories import CampaignFactory

    return {"pk": CampaignFactory(sender=world["sender"]).pk}


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
    ("contacts:lists", None, EVERYONE),
    ("contacts:list_create", None, ADMIN_AND_MARKETER),
    ("contacts:list_detail", _list, EVERYONE),
    ("contacts:list_edit", _list, ADMIN_AND_MARKETER),
    ("contacts:list_remove_members", _list, POST_ONLY_MANAGERS),
    ("contacts:list_delete", _list, ADMIN_AND_MARKETER),
    ("contacts:segments", None, EVERYONE),
    ("contacts:segment_create", None, ADMIN_AND_MARKETER),
    ("contacts:segment_preview", None, POST_ONLY_MANAGERS),
    ("contacts:segment_detail", _segment, EVERYONE),
    ("contacts:segment_edit", _segment, ADMIN_AND_MARKETER),
    ("contacts:segment_delete", _segment, ADMIN_AND_MARKETER),
    ("contacts:import_upload", None, ADMIN_AND_MARKETER),
    ("contacts:import_detail", _import, ADMIN_AND_MARKETER),
    ("contacts:import_map", _new_import, ADMIN_AND_MARKETER),
    ("contacts:import_progress", _import, ADMIN_AND_MARKETER),
    ("contacts:import_errors", _import, ADMIN_AND_MARKETER),
    ("contacts:export", None, ADMIN_AND_MARKETER),
    ("contacts:export_optouts", None, ADMIN_AND_SUPPORT),
    ("contacts:export_detail", _export, ADMIN_AND_MARKETER),
    ("contacts:export_progress", _export, ADMIN_AND_MARKETER),
    ("contacts:export_download", _export, ADMIN_AND_MARKETER),
    ("campaigns:list", None, ADMIN_AND_MARKETER),
    ("campaigns:create", None, ADMIN_AND_MARKETER),
    ("campaigns:estimate", None, POST_ONLY_MANAGERS),
    ("campaigns:test_send", None, POST_ONLY_MANAGERS),
    ("campaigns:settings", None, ADMIN_ONLY),
    ("campaigns:detail", _draft_campaign, ADMIN_AND_MARKETER),
    ("campaigns:edit", _draft_campaign, ADMIN_AND_MARKETER),
    ("campaigns:approve", _draft_campaign, POST_ONLY_ADMIN),
    ("campaigns:reject", _draft_campaign, POST_ONLY_ADMIN),
    ("campaigns:pause", _draft_campaign, POST_ONLY_MANAGERS),
    ("campaigns:resume", _draft_campaign, POST_ONLY_MANAGERS),
    ("campaigns:cancel", _draft_campaign, ADMIN_AND_MARKETER),
    ("campaigns:report", _draft_campaign, ADMIN_AND_MARKETER),
    ("campaigns:report_live", _draft_campaign, ADMIN_AND_MARKETER),
    ("campaigns:report_timeline", _draft_campaign, ADMIN_AND_MARKETER),
    ("campaigns:report_recipients", _draft_campaign, ADMIN_AND_MARKETER),
    ("campaigns:report_export", _draft_campaign, ADMIN_AND_MARKETER),
]

# --- the inbox ---
INBOX = ADMIN_AND_SUPPORT
INBOX_POST = {"admin": 405, "marketer": DENIED, "support": 405}
# The live poll answers 204 when nothing changed since its cursors.
INBOX_POLL = {"admin": 204, "marketer": DENIED, "support": 204}


def _conversation(world):
    from inbox.models import Conversation

    conversation, _ = Conversation.objects.get_or_create(
        contact_number=world["contact"].phone,
        platform_number=world["sender"].value,
        defaults={"sender": world["sender"], "contact": world["contact"]},
    )
    return {"pk": conversation.pk}


def _shared_canned(world):
    from inbox.models import CannedReply

    return {"pk": CannedReply.objects.get_or_create(title="Hours", body="9-5")[0].pk}


def _canned_insert(world):
    return {"pk": _conversation(world)["pk"], "canned_pk": _shared_canned(world)["pk"]}


def _rule(world):
    from inbox.models import Rule

    return {"pk": Rule.objects.get_or_create(name="Page rule")[0].pk}


def _label(world):
    from inbox.models import Label

    return {"pk": Label.objects.get_or_create(name="VIP")[0].pk}


PAGES += [
    ("inbox:index", None, INBOX),
    ("inbox:list", None, INBOX),
    ("inbox:poll", None, INBOX_POLL),
    ("inbox:conversation", _conversation, INBOX),
    ("inbox:reply", _conversation, INBOX_POST),
    ("inbox:note", _conversation, INBOX_POST),
    ("inbox:assign", _conversation, INBOX_POST),
    ("inbox:status", _conversation, INBOX_POST),
    ("inbox:label", _conversation, INBOX_POST),
    ("inbox:canned_insert", _canned_insert, INBOX),
    ("inbox:canned", None, INBOX),
    ("inbox:canned_create", None, INBOX),
    ("inbox:canned_edit", _shared_canned, ADMIN_ONLY),
    ("inbox:canned_delete", _shared_canned, INBOX_POST),
    ("inbox:rules", None, ADMIN_ONLY),
    ("inbox:rule_create", None, ADMIN_ONLY),
    ("inbox:rule_detail", _rule, ADMIN_ONLY),
    ("inbox:rule_edit", _rule, ADMIN_ONLY),
    ("inbox:rule_delete", _rule, POST_ONLY_ADMIN),
    ("inbox:labels", None, ADMIN_ONLY),
    ("inbox:label_delete", _label, POST_ONLY_ADMIN),
]
# Reached without a session: the login page, and provider webhooks, which prove
# themselves with a signature instead (tests/messaging/test_webhooks.py).
PUBLIC = {"login", "logout", "messaging:webhook_receipts", "messaging:webhook_inbound"}
# Short links (/l/<code>) are tapped by SMS recipients (tests/campaigns/test_links.py).
PUBLIC |= {"short_link"}
# Each area may keep its rows in tests/pages_<area>.py (PAGES, and PUBLIC for
# URLs that prove themselves another way); they join the one table here.
for _module in sorted(Path(__file__).parent.glob("pages_*.py")):
    if _module.stem == "pages_common":
        continue
    _area = importlib.import_module(f"tests.{_module.stem}")
    PAGES += _area.PAGES
    PUBLIC |= set(getattr(_area, "PUBLIC", ()))
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
    from django.core.files.base import ContentFile
    from django.core.files.uploadedfile import SimpleUploadedFile

    from contacts import imports
    from contacts.models import CustomField, ExportJob, ImportJob, Segment
    from tests.factories import ContactFactory, ContactListFactory, MessageFactory

    contact = ContactFactory()
    message = MessageFactory(contact=contact, to_number=contact.phone)
    # An upload waiting for its columns to be mapped, and one that ran and rejected a row.
    new_import = imports.import_create(
        upload=SimpleUploadedFile("people.csv", b"phone,name\n07912345678,Ada\n"),
        user=users_by_role["admin"],
    )
    import_job = ImportJob.objects.create(
        original_name="people.csv",
        created_by=users_by_role["admin"],
        mapping={"0": "phone"},
        status="done",
        rows_total=2,
        rows_done=2,
        created=1,
        invalid=1,
    )
    import_job.error_report.save(
        "errors.csv", ContentFile(b"line,value,reason\n3,x,not a number\n")
    )
    export_job = ExportJob.objects.create(
        created_by=users_by_role["admin"], status="done", rows_total=1, rows_done=1
    )
    export_job.file.save("contacts.csv", ContentFile(b"phone\n"))
    return {
        "list": ContactListFactory(),
        "segment": Segment.objects.create(name="Everyone in GB", rules=[]),
        "import": import_job,
        "new_import": new_import,
        "export": export_job,
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
