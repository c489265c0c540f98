"""`make run` seeds the demo with `manage.py seed_demo`: everything a first look needs,
and running it again (every `make run` does) changes nothing."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from contacts.models import Contact, ContactList
from emailsms.models import AllowedSender
from messaging.models import ProviderAccount, Sender

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_the_demo_has_users_a_provider_contacts_and_email_to_sms():
    printed = _seed()

    assert set(User.objects.values_list("username", flat=True)) >= {"admin", "marketer", "support"}
    assert "smsworks-demo" in printed
    assert ProviderAccount.objects.get().base_url == "http://127.0.0.1:9000"
    default = Sender.objects.get(is_default=True)
    assert Contact.objects.count() > 100 and ContactList.objects.exists()
    assert AllowedSender.objects.get().sender == default

    counts = (User.objects.count(), Sender.objects.count(), Contact.objects.count())
    _seed()
    assert (User.objects.count(), Sender.objects.count(), Contact.objects.count()) == counts
    assert AllowedSender.objects.count() == 1
