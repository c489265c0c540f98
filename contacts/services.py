"""Writes about contacts and consent. contact_opt_out / contact_opt_in are the only
way consent changes."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts import phone as phones
from contacts.models import ConsentEvent, Contact, Source, Suppression


@transaction.atomic
def contact_opt_out(
    *,
    phone: str,
    source: str,
    keyword: str = "",
    text: str = "",
    message_id: int | None = None,
    user: AbstractBaseUser | None = None,
    note: str = "",
) -> ConsentEvent:
    """Record an opt-out and suppress the number, with or without a contact."""
    contact = Contact.objects.filter(phone=phone).first()
    event = ConsentEvent.objects.create(
        phone=phone,
        contact=contact,
        kind=ConsentEvent.Kind.OPT_OUT,
        source=source,
        keyword=keyword,
        text=text,
        message_id=message_id,
        user=user,
        note=note,
    )
    Suppression.objects.bulk_create(
        [Suppression(phone=phone, contact=contact, source=source)], ignore_conflicts=True
    )
    if contact is not None and not contact.opted_out:
        Contact.objects.filter(pk=contact.pk).update(
            opted_out=True, opted_out_at=event.created_at, updated_at=timezone.now()
        )
    return event


@transaction.atomic
def contact_opt_in(
    *,
    phone: str,
    source: str,
    keyword: str = "",
    text: str = "",
    message_id: int | None = None,
    user: AbstractBaseUser | None = None,
    note: str = "",
) -> ConsentEvent:
    """Record an opt-in and lift the suppression. A manual opt-in needs a reason."""
    if source == Source.MANUAL and not note.strip():
        raise ValidationError("A manual opt-in needs a recorded reason.")
    contact = Contact.objects.filter(phone=phone).first()
    event = ConsentEvent.objects.create(
        phone=phone,
        contact=contact,
        kind=ConsentEvent.Kind.OPT_IN,
        source=source,
        keyword=keyword,
        text=text,
        message_id=message_id,
        user=user,
        note=note,
    )
    Suppression.objects.filter(phone=phone).delete()
    if contact is not None and contact.opted_out:
        Contact.objects.filter(pk=contact.pk).update(
            opted_out=False, opted_out_at=None, updated_at=timezone.now()
        )
    return event


def is_suppressed(phone: str) -> bool:
    return Suppression.objects.filter(phone=phone).exists()


def contact_get_or_create_for_number(*, phone: str, source: str) -> tuple[Contact, bool]:
    """The contact for an E.164 number, created bare when the number is new."""
    contact, created = Contact.objects.get_or_create(
        phone=phone,
        defaults={
            "source": source,
            "country": phones.country_of(phone),
            "time_zone": phones.time_zone_of(phone),
            "opted_out": Suppression.objects.filter(phone=phone).exists(),
        },
    )
    return contact, created
