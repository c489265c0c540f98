import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from contacts.models import ConsentEvent, Contact, Suppression
from contacts.services import contact_get_or_create_for_number, contact_opt_in, contact_opt_out
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_an_opt_out_is_recorded_suppressed_and_derived_on_the_contact(admin_user):
    contact = ContactFactory(phone="+447911123456")
    event = contact_opt_out(
        phone=contact.phone, source="manual", user=admin_user, note="asked by phone"
    )
    contact.refresh_from_db()
    assert contact.opted_out and contact.opted_out_at == event.created_at
    assert Suppression.objects.get().contact == contact
    assert (event.kind, event.user, event.note) == ("opt_out", admin_user, "asked by phone")


def test_a_number_without_a_contact_can_be_suppressed():
    contact_opt_out(phone="+447911654321", source="keyword", keyword="STOP")
    assert Suppression.objects.filter(phone="+447911654321", contact=None).exists()
    contact, created = contact_get_or_create_for_number(phone="+447911654321", source="import")
    assert created and contact.opted_out


def test_opting_out_twice_keeps_both_events_and_one_suppression():
    contact_opt_out(phone="+447911123456", source="keyword")
    contact_opt_out(phone="+447911123456", source="api")
    assert ConsentEvent.objects.count() == 2
    assert Suppression.objects.count() == 1


def test_a_manual_opt_in_needs_a_reason():
    contact_opt_out(phone="+447911123456", source="keyword")
    with pytest.raises(ValidationError):
        contact_opt_in(phone="+447911123456", source="manual", note="  ")
    assert Suppression.objects.count() == 1
    contact_opt_in(phone="+447911123456", source="manual", note="Signed paper form 2026-11-01")
    assert Suppression.objects.count() == 0


def test_the_database_refuses_a_manual_opt_in_without_a_reason():
    with pytest.raises(IntegrityError):
        ConsentEvent.objects.create(phone="+447911123456", kind="opt_in", source="manual", note="")


@pytest.mark.parametrize(
    ("number", "country", "zone"),
    [
        ("+447912345678", "GB", "Europe/London"),
        ("+447911123456", "GG", "Europe/Guernsey"),
        ("+12125550123", "US", "America/New_York"),
        ("+61412345678", "AU", "Australia/Sydney"),  # several zones: the region example wins
    ],
)
def test_a_new_contact_gets_its_country_and_time_zone(number, country, zone):
    contact, _ = contact_get_or_create_for_number(phone=number, source="inbound")
    assert (contact.country, contact.time_zone) == (country, zone)
    assert Contact.objects.reachable().filter(pk=contact.pk).exists()
