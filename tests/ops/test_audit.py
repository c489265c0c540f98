"""The audit log: what is recorded, and the page with its filters and pages."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from campaigns.launch import campaign_launch
from campaigns.models import Campaign, CampaignSettings
from contacts.lists import list_add_contacts
from messaging.models import ProviderAccount, Sender
from smsworks.roles import Role
from tests.factories import (
    CampaignFactory,
    ContactFactory,
    ContactListFactory,
    ProviderAccountFactory,
    SenderFactory,
    user_with_role,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_workers(monkeypatch):
    monkeypatch.setattr("campaigns.tasks.launch.delay", lambda pk: None)
    monkeypatch.setattr("messaging.tasks.kick_dispatch", lambda *args: None)


def _actions(**filters) -> list[str]:
    return list(
        AuditEntry.objects.filter(**filters).order_by("id").values_list("action", flat=True)
    )


# -- the service ------------------------------------------------------------------------


def test_it_records_actor_target_details_and_ip(rf, admin_user):
    campaign = CampaignFactory()
    request = rf.post("/", REMOTE_ADDR="203.0.113.9")
    request.user = admin_user

    entry = audit_record(
        action="campaign.paused", target=campaign, details={"held": 3}, request=request
    )

    entry.refresh_from_db()
    assert entry.actor == admin_user and entry.actor_label == "ada"
    assert (entry.target_type, entry.target_id) == ("campaign", str(campaign.pk))
    assert entry.target_label == str(campaign)
    assert entry.details == {"held": 3}
    assert entry.ip == "203.0.113.9"


def test_no_actor_is_the_system_and_details_become_json():
    entry = audit_record(
        actor=None, action="campaign.launched", details={"when": timezone.now(), "ids": (1, 2)}
    )
    entry.refresh_from_db()
    assert entry.actor is None and entry.actor_label == ""
    assert isinstance(entry.details["when"], str) and entry.details["ids"] == [1, 2]


def test_a_deleted_user_stays_named(admin_user):
    other = user_with_role(Role.SUPPORT, username="gone")
    entry = audit_record(actor=other, action="user.password_set", target=admin_user)
    other.delete()
    entry.refresh_from_db()
    assert entry.actor is None and entry.actor_label == "gone"


# -- what the product records -------------------------------------------------------------


@pytest.fixture
def audience():
    members = [ContactFactory() for _ in range(2)]
    the_list = ContactListFactory()
    list_add_contacts(contact_list=the_list, contact_ids=[c.pk for c in members])
    return the_list


def test_campaign_controls_are_recorded_with_their_actor(client, admin_user, audience):
    campaign = CampaignFactory(lists=[audience])
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=timezone.now() - timedelta(seconds=5)
    )
    assert campaign_launch(campaign_id=campaign.pk)  # beat's launch: the system
    client.force_login(admin_user)
    for name in ("pause", "resume", "cancel"):
        client.post(reverse(f"campaigns:{name}", kwargs={"pk": campaign.pk}))

    entries = list(AuditEntry.objects.filter(target_id=str(campaign.pk)).order_by("id"))
    assert [e.action for e in entries] == [
        "campaign.launched",
        "campaign.paused",
        "campaign.resumed",
        "campaign.cancelled",
    ]
    assert entries[0].actor is None
    assert all(e.actor == admin_user for e in entries[1:])
    assert entries[3].details["result"] == {"cancelled": 2, "in_flight": 0}


def test_a_refused_control_is_not_recorded(client, admin_user):
    campaign = CampaignFactory()  # a draft cannot be paused
    client.force_login(admin_user)
    client.post(reverse("campaigns:pause", kwargs={"pk": campaign.pk}))
    assert not AuditEntry.objects.exists()


def test_submit_approve_and_reject_are_recorded(client, admin_user, marketer_user, audience):
    settings_row = CampaignSettings.load()
    settings_row.require_approval = True
    settings_row.save()
    first, second = CampaignFactory(lists=[audience]), CampaignFactory(lists=[audience])
    client.force_login(marketer_user)
    for campaign in (first, second):
        data = {
            "name": campaign.name,
            "sender": campaign.sender_id,
            "lists": [audience.pk],
            "body": "Hello",
            "schedule": "now",
            "recurrence": "weekly",
            "spread_minutes": "0",
            "submit_token": "",
            "action": "schedule",
        }
        response = client.post(reverse("campaigns:edit", kwargs={"pk": campaign.pk}), data)
        assert response.status_code == 302, response.content[:2000]
    client.force_login(admin_user)
    client.post(reverse("campaigns:approve", kwargs={"pk": first.pk}))
    client.post(reverse("campaigns:reject", kwargs={"pk": second.pk}))

    assert _actions(target_id=str(first.pk)) == ["campaign.submitted", "campaign.approved"]
    assert _actions(target_id=str(second.pk)) == ["campaign.submitted", "campaign.rejected"]
    assert AuditEntry.objects.get(action="campaign.approved").actor == admin_user


def test_scheduling_without_approval_is_recorded(client, admin_user, audience):
    campaign = CampaignFactory(lists=[audience])
    client.force_login(admin_user)
    data = {
        "name": campaign.name,
        "sender": campaign.sender_id,
        "lists": [audience.pk],
        "body": "Hello",
        "schedule": "now",
        "recurrence": "weekly",
        "spread_minutes": "0",
        "submit_token": "",
        "action": "schedule",
    }
    client.post(reverse("campaigns:edit", kwargs={"pk": campaign.pk}), data)
    assert _actions(target_id=str(campaign.pk)) == ["campaign.scheduled"]


def test_user_changes_are_recorded(client, admin_user):
    client.force_login(admin_user)
    client.post(
        reverse("users:create"),
        {
            "username": "newbie",
            "role": Role.SUPPORT,
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
            "email": "",
            "first_name": "",
            "last_name": "",
        },
    )
    newbie = User.objects.get(username="newbie")
    client.post(
        reverse("users:edit", kwargs={"pk": newbie.pk}),
        {"role": Role.MARKETER, "email": "", "first_name": "", "last_name": ""},
    )  # is_active unticked: deactivated
    client.post(
        reverse("users:password", kwargs={"pk": newbie.pk}),
        {"new_password1": "another-Passphrase-43", "new_password2": "another-Passphrase-43"},
    )

    assert _actions(target_type="user", target_id=str(newbie.pk)) == [
        "user.created",
        "user.role_changed",
        "user.deactivated",
        "user.password_set",
    ]
    changed = AuditEntry.objects.get(action="user.role_changed")
    assert changed.details == {"from": "Support", "to": "Marketer"}
    # The password itself is nowhere in the log.
    assert not AuditEntry.objects.filter(details__icontains="Passphrase").exists()
    assert "Passphrase" not in str(list(AuditEntry.objects.values()))


def test_consent_by_hand_is_recorded(client, admin_user):
    contact = ContactFactory()
    client.force_login(admin_user)
    client.post(reverse("contacts:optout_add"), {"phone": contact.phone, "note": "asked"})
    client.post(reverse("contacts:optout_remove"), {"phone": contact.phone, "note": "asked back"})
    client.post(reverse("contacts:bulk"), {"ids": str(contact.pk), "action": "opt_out"})

    assert _actions(action__startswith="consent.") == [
        "consent.opted_out",
        "consent.opted_in",
        "consent.bulk_opted_out",
    ]
    assert AuditEntry.objects.get(action="consent.opted_out").details == {"phone": contact.phone}


def test_provider_accounts_and_senders_are_recorded_without_secrets(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("messaging:provider_create"),
        {
            "name": "Main",
            "backend": "smsworks",
            "base_url": "http://127.0.0.1:9",
            "default_price": "0.04",
            "prices": "{}",
            "timeout_seconds": "10",
            "is_active": "on",
            "cred_jwt": "audit-secret-jwt-value-0001",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    account = ProviderAccount.objects.get(name="Main")
    client.post(
        reverse("messaging:sender_create"),
        {
            "account": account.pk,
            "kind": "long_number",
            "value": "+447911100001",
            "label": "Line",
            "messages_per_second": "10",
            "metadata": "{}",
            "is_active": "on",
        },
    )
    sender = Sender.objects.get(value="+447911100001")
    client.post(
        reverse("messaging:sender_edit", kwargs={"pk": sender.pk}),
        {
            "account": account.pk,
            "kind": "long_number",
            "value": "+447911100001",
            "label": "Renamed",
            "messages_per_second": "10",
            "metadata": "{}",
            "is_active": "on",
        },
    )
    assert _actions() == ["provider_account.created", "sender.created", "sender.edited"]
    assert "audit-secret-jwt-value-0001" not in str(list(AuditEntry.objects.values()))
    changed = AuditEntry.objects.get(action="sender.edited").details["changed"]
    assert "label" in changed and "value" not in changed


# -- the page ---------------------------------------------------------------------------


def test_the_empty_page_explains_itself(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("audit:log"))
    assert response.status_code == 200
    assert b"Nothing has been audited yet" in response.content


def test_filters_by_actor_action_prefix_target_and_date(client, admin_user, marketer_user):
    campaign, account = CampaignFactory(), ProviderAccountFactory()
    audit_record(actor=admin_user, action="campaign.paused", target=campaign)
    audit_record(actor=marketer_user, action="campaign.resumed", target=campaign)
    audit_record(actor=admin_user, action="provider_account.edited", target=account)
    old = audit_record(actor=None, action="campaign.launched", target=campaign)
    AuditEntry.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=30))
    client.force_login(admin_user)

    def shown(**query) -> list[str]:
        response = client.get(reverse("audit:log"), query)
        assert response.status_code == 200
        return [e.action for e in response.context["page"]]

    assert shown() == [
        "campaign.launched",
        "provider_account.edited",
        "campaign.resumed",
        "campaign.paused",
    ]
    assert shown(actor=marketer_user.pk) == ["campaign.resumed"]
    assert shown(system="on") == ["campaign.launched"]
    assert shown(action="campaign.") == ["campaign.launched", "campaign.resumed", "campaign.paused"]
    assert shown(target_type="provider_account") == ["provider_account.edited"]
    today = timezone.localdate().isoformat()
    assert "campaign.launched" not in shown(date_from=today)
    last_week = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert shown(date_to=last_week) == ["campaign.launched"]
    response = client.get(reverse("audit:log"), {"action": "nothing."})
    assert b"No audit entries match" in response.content


def test_pages_go_back_in_time_with_the_filters_kept(client, admin_user):
    for n in range(60):
        audit_record(actor=admin_user, action=f"campaign.paused.{n:02d}")
    audit_record(actor=admin_user, action="user.created")
    client.force_login(admin_user)

    first = client.get(reverse("audit:log"), {"action": "campaign."})
    assert len(first.context["page"]) == 50
    assert "action=campaign." in first.context["next_query"]
    second = client.get(reverse("audit:log") + "?" + first.context["next_query"])
    actions = [e.action for e in second.context["page"]]
    assert actions == [f"campaign.paused.{n:02d}" for n in range(9, -1, -1)]
    assert second.context["next_query"] == ""


def test_labels_and_details_are_escaped(client, admin_user):
    audit_record(actor=admin_user, action="sender.edited", details={"x": "<script>bad()</script>"})
    client.force_login(admin_user)
    response = client.get(reverse("audit:log"))
    assert b"<script>bad()" not in response.content
    assert b"&lt;script&gt;bad()" in response.content


def test_other_roles_may_not_read_it(client, marketer_user, support_user):
    for user in (marketer_user, support_user):
        client.force_login(user)
        assert client.get(reverse("audit:log")).status_code == 403


def test_senders_factory_target_type():
    sender = SenderFactory()
    entry = audit_record(action="sender.edited", target=sender)
    assert entry.target_type == "sender"
