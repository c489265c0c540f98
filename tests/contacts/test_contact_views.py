import pytest
from django.urls import reverse

from contacts.models import ConsentEvent, Contact, CustomField, Suppression
from contacts.services import contact_opt_out
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "typed", ["07912 345678", "+44 (0)7912-345678", "00447912345678", "+447912345678"]
)
def test_it_creates_a_contact_in_e164_from_any_common_form(client, marketer_user, typed):
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:create"), {"phone": typed, "first_name": "Ada"})
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.phone == "+447912345678"
    assert (contact.country, contact.time_zone) == ("GB", "Europe/London")


def test_the_same_number_twice_is_refused(client, marketer_user):
    client.force_login(marketer_user)
    client.post(reverse("contacts:create"), {"phone": "07912 345678"})
    response = client.post(reverse("contacts:create"), {"phone": "+447912345678"})
    assert response.status_code == 200
    assert b"Another contact already has this number." in response.content
    assert Contact.objects.count() == 1


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("hello", b"not a phone number"),
        ("07700 900123", b"not a valid number"),
        ("", b"This field is required"),
    ],
)
def test_a_bad_number_is_explained(client, marketer_user, phone, message):
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:create"), {"phone": phone})
    assert response.status_code == 200
    assert message in response.content
    assert not Contact.objects.exists()


def test_custom_fields_are_validated_by_kind(client, marketer_user):
    CustomField.objects.create(key="renewal", label="Renewal", kind="date")
    CustomField.objects.create(key="plan", label="Plan", kind="choice", choices=["gold", "silver"])
    client.force_login(marketer_user)
    bad = client.post(
        reverse("contacts:create"),
        {"phone": "07912345678", "custom_renewal": "next week", "custom_plan": "bronze"},
    )
    assert b"is not a date" in bad.content
    assert b"Select a valid choice" in bad.content
    good = client.post(
        reverse("contacts:create"),
        {"phone": "07912345678", "custom_renewal": "2026-12-01", "custom_plan": "gold"},
    )
    assert good.status_code == 302
    assert Contact.objects.get().custom == {"renewal": "2026-12-01", "plan": "gold"}


def test_a_new_contact_for_a_suppressed_number_stays_opted_out(client, marketer_user):
    contact_opt_out(phone="+447912345678", source="keyword", keyword="STOP")
    client.force_login(marketer_user)
    client.post(reverse("contacts:create"), {"phone": "07912345678"})
    assert Contact.objects.get().opted_out


def test_deleting_erases_the_person_but_keeps_the_number_suppressed(client, marketer_user):
    contact = ContactFactory(phone="+447912345678", first_name="Ada", email="ada@example.com")
    contact_opt_out(phone=contact.phone, source="keyword")
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:delete", args=[contact.pk]))
    assert response.status_code == 302
    assert not Contact.objects.exists()
    assert Suppression.objects.filter(phone="+447912345678", contact=None).exists()
    assert ConsentEvent.objects.filter(phone="+447912345678").exists()


def test_search_finds_by_name_and_by_any_form_of_the_number(client, support_user):
    ContactFactory(phone="+447912345678", first_name="Grace", last_name="Hopper")
    ContactFactory(phone="+447912000001", first_name="Alan", last_name="Turing")
    client.force_login(support_user)
    by_name = client.get(reverse("contacts:list"), {"q": "hopp"})
    assert b"Grace Hopper" in by_name.content and b"Alan Turing" not in by_name.content
    by_number = client.get(reverse("contacts:list"), {"q": "07912 345678"})
    assert b"Grace Hopper" in by_number.content and b"Alan Turing" not in by_number.content


def test_the_list_pages_by_keyset(client, support_user):
    contacts = [ContactFactory() for _ in range(55)]
    client.force_login(support_user)
    first = client.get(reverse("contacts:list"))
    assert first.context["next_query"]
    assert len(first.context["page"]) == 50
    second = client.get(reverse("contacts:list") + "?" + first.context["next_query"])
    assert [c.pk for c in second.context["page"]] == [c.pk for c in reversed(contacts[:5])]


def test_bulk_opt_out(client, marketer_user):
    a, b, _untouched = ContactFactory(), ContactFactory(), ContactFactory()
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:bulk"), {"action": "opt_out", "ids": f"{a.pk},{b.pk}"})
    assert response.status_code == 302
    assert set(Suppression.objects.values_list("phone", flat=True)) == {a.phone, b.phone}
    assert ConsentEvent.objects.filter(user=marketer_user, source="manual").count() == 2


def test_support_cannot_change_contacts(client, support_user):
    contact = ContactFactory()
    client.force_login(support_user)
    assert (
        client.post(
            reverse("contacts:bulk"), {"action": "delete", "ids": str(contact.pk)}
        ).status_code
        == 403
    )
    assert client.post(reverse("contacts:delete", args=[contact.pk])).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_a_manual_opt_in_needs_a_reason_on_the_page(client, admin_user):
    contact_opt_out(phone="+447912345678", source="keyword")
    client.force_login(admin_user)
    client.post(reverse("contacts:optout_remove"), {"phone": "07912345678", "note": ""})
    assert Suppression.objects.exists()
    client.post(reverse("contacts:optout_remove"), {"phone": "07912345678", "note": "Signed form"})
    assert not Suppression.objects.exists()
    assert ConsentEvent.objects.filter(kind="opt_in", user=admin_user, note="Signed form").exists()


def test_support_sees_opt_outs_but_cannot_change_them(client, support_user):
    contact_opt_out(phone="+447912345678", source="keyword")
    client.force_login(support_user)
    page = client.get(reverse("contacts:optouts"))
    assert b"+447912345678" in page.content
    assert b"Opt a number back in" not in page.content
    assert (
        client.post(
            reverse("contacts:optout_remove"), {"phone": "07912345678", "note": "x"}
        ).status_code
        == 403
    )


def test_message_text_is_escaped_on_the_timeline(client, support_user):
    from tests.factories import MessageFactory

    contact = ContactFactory()
    MessageFactory(contact=contact, to_number=contact.phone, body="<script>alert(1)</script>")
    client.force_login(support_user)
    page = client.get(reverse("contacts:detail", args=[contact.pk]))
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
