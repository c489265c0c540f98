"""The rules and labels pages (Admin only)."""

import pytest
from django.urls import reverse

from inbox.models import Label, Rule, RuleAction
from tests.factories import ContactListFactory
from tests.inbox.conftest import receive

pytestmark = pytest.mark.django_db


def rule_data(**overrides) -> dict:
    data = {
        "name": "Hours",
        "is_active": "on",
        "position": "1",
        "keyword": "hours",
        "sender": "",
        "start_time": "",
        "end_time": "",
        "time_zone": "Europe/London",
        "window": "inside",
        "reply_cooldown_hours": "0",
        "actions-TOTAL_FORMS": "2",
        "actions-INITIAL_FORMS": "0",
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "20",
        "actions-0-kind": "auto_reply",
        "actions-0-text": "We open at 9.",
        "actions-0-ORDER": "2",
        "actions-1-kind": "forward_email",
        "actions-1-text": "a@example.com; b@example.com",
        "actions-1-ORDER": "1",
    }
    data.update(overrides)
    return data


def test_an_admin_creates_a_rule_with_actions_in_order(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("inbox:rule_create"), rule_data())
    rule = Rule.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "inbox:rule_detail", args=[rule.pk]
    )
    assert (rule.keyword, rule.created_by) == ("HOURS", admin_user)
    assert [(a.kind, a.text) for a in rule.actions.all()] == [
        ("forward_email", "a@example.com, b@example.com"),
        ("auto_reply", "We open at 9."),
    ]


def test_editing_a_rule_replaces_its_actions(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("inbox:rule_create"), rule_data())
    rule = Rule.objects.get()
    page = client.get(reverse("inbox:rule_edit", args=[rule.pk]))
    assert page.status_code == 200 and b"We open at 9." in page.content
    client.post(
        reverse("inbox:rule_edit", args=[rule.pk]),
        rule_data(**{"actions-1-DELETE": "on", "actions-INITIAL_FORMS": "2"}),
    )
    assert [a.kind for a in rule.actions.all()] == ["auto_reply"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"keyword": "STOP"}, b"answered by the engine"),
        ({"keyword": "two words"}, b"A keyword is one word."),
        ({"start_time": "18:00"}, b"Give both a start and an end time"),
        ({"actions-0-text": ""}, b"Write the reply."),
        ({"actions-1-text": "not-an-email"}, b"is not an email address"),
        ({"actions-1-kind": "forward_sms", "actions-1-text": "12"}, b"is not a phone number"),
        ({"actions-1-kind": "webhook", "actions-1-text": "ftp://x"}, b"Give an http(s) URL."),
        ({"actions-1-kind": "add_to_list", "actions-1-text": ""}, b"Choose a list."),
    ],
)
def test_a_bad_rule_is_refused_with_a_reason(client, admin_user, overrides, error):
    client.force_login(admin_user)
    response = client.post(reverse("inbox:rule_create"), rule_data(**overrides))
    assert response.status_code == 200
    assert error in response.content
    assert not Rule.objects.exists()


def test_a_template_fills_the_form(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("inbox:rule_create") + "?preset=out_of_hours")
    assert b"Out-of-hours auto-reply" in response.content
    assert b'value="outside" selected' in response.content or b"outside" in response.content


def test_the_rule_page_shows_what_it_did_recently(client, admin_user, sender):
    rule = Rule.objects.create(name="Thanks", keyword="HI")
    RuleAction.objects.create(rule=rule, kind="auto_reply", text="Hello there")
    RuleAction.objects.create(rule=rule, kind="forward_email", text="ops@example.com")
    receive(sender, "hi team")
    client.force_login(admin_user)
    content = client.get(reverse("inbox:rule_detail", args=[rule.pk])).content.decode()
    assert "hi team" in content
    assert "Auto-reply: replied: Hello there" in content
    assert "Email → ops@example.com" in content and "Pending" in content
    listing = client.get(reverse("inbox:rules")).content.decode()
    assert "1 match" in listing


def test_deleting_a_rule(client, admin_user):
    rule = Rule.objects.create(name="Old")
    client.force_login(admin_user)
    assert client.post(reverse("inbox:rule_delete", args=[rule.pk])).status_code == 302
    assert not Rule.objects.exists()


def test_labels_are_created_and_deleted(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("inbox:labels"), {"name": "Billing", "color": "danger"})
    label = Label.objects.get()
    assert (label.name, label.color) == ("Billing", "danger")
    response = client.post(reverse("inbox:labels"), {"name": "Billing", "color": "danger"})
    assert response.status_code == 200 and Label.objects.count() == 1  # names are unique
    client.post(reverse("inbox:label_delete", args=[label.pk]))
    assert not Label.objects.exists()


def test_a_join_rule_form_accepts_a_list_with_consent(client, admin_user):
    newsletter = ContactListFactory(name="Newsletter")
    client.force_login(admin_user)
    client.post(
        reverse("inbox:rule_create"),
        rule_data(
            keyword="JOIN",
            **{
                "actions-TOTAL_FORMS": "1",
                "actions-0-kind": "add_to_list",
                "actions-0-text": "",
                "actions-0-contact_list": str(newsletter.pk),
                "actions-0-opt_in": "on",
            },
        ),
    )
    action = Rule.objects.get().actions.get()
    assert (action.contact_list, action.opt_in) == (newsletter, True)
