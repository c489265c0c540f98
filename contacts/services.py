"""Writes about contacts and consent. contact_opt_out / contact_opt_in are the only
way consent changes."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from contacts import phone as phones
from contacts.models import ConsentEvent, Contact, Source, Suppression

# Numbers opted out or in (sent inside the transaction that recorded it).
# Keywords: kind (ConsentEvent.Kind value), events (list[ConsentEvent]).
consent_changed = Signal()


def _record(*, kind: str, phone: str, contact: Contact | None, **fields) -> ConsentEvent:
    return ConsentEvent.objects.create(phone=phone, contact=contact, kind=kind, **fields)


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
    event = _record(
        kind=ConsentEvent.Kind.OPT_OUT,
        phone=phone,
        contact=contact,
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
    consent_changed.send(sender=Contact, kind=ConsentEvent.Kind.OPT_OUT, events=[event])
    return event


@transaction.atomic
def numbers_opt_out(*, numbers: list[tuple[str, int | None]], source: str, note: str = "") -> int:
    """contact_opt_out for many (number, message id) pairs at once, as a provider
    reports them for a batch of sends or receipts: the same ledger rows, suppressions,
    contact flags and signal, written set-based."""
    if not numbers:
        return 0
    contacts = {
        c.phone: c
        for c in Contact.objects.filter(phone__in={phone for phone, _ in numbers}).only(
            "id", "phone", "opted_out"
        )
    }
    events = ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                phone=phone,
                contact=contacts.get(phone),
                kind=ConsentEvent.Kind.OPT_OUT,
                source=source,
                message_id=message_id,
                note=note,
            )
            for phone, message_id in numbers
        ]
    )
    Suppression.objects.bulk_create(
        [
            Suppression(phone=p, contact=contacts.get(p), source=source)
            for p in {n for n, _ in numbers}
        ],
        ignore_conflicts=True,
    )
    now = timezone.now()
    Contact.objects.filter(id__in=[c.id for c in contacts.values() if not c.opted_out]).update(
        opted_out=True, opted_out_at=now, updated_at=now
    )
    consent_changed.send(sender=Contact, kind=ConsentEvent.Kind.OPT_OUT, events=events)
    return len(events)


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
    event = _record(
        kind=ConsentEvent.Kind.OPT_IN,
        phone=phone,
        contact=contact,
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
    consent_changed.send(sender=Contact, kind=ConsentEvent.Kind.OPT_IN, events=[event])
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


def custom_value(field, raw):
    """Parse one custom field value by its kind; ValidationError when it does not fit."""
    from datetime import date

    from contacts.models import CustomField

    if raw in (None, ""):
        return None
    text = str(raw).strip()
    if field.kind == CustomField.Kind.NUMBER:
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            raise ValidationError(f"{field.label}: {text!r} is not a number.") from None
        return int(number) if number.is_integer() else number
    if field.kind == CustomField.Kind.DATE:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValidationError(f"{field.label}: {text!r} is not a date (YYYY-MM-DD).") from None
    if field.kind == CustomField.Kind.BOOLEAN:
        lowered = text.lower()
        if lowered in {"1", "true", "yes", "y", "on"}:
            return True
        if lowered in {"0", "false", "no", "n", "off"}:
            return False
        raise ValidationError(f"{field.label}: {text!r} is not yes or no.")
    if field.kind == CustomField.Kind.CHOICE and text not in field.choices:
        raise ValidationError(f"{field.label}: {text!r} is not one of {', '.join(field.choices)}.")
    return text


@transaction.atomic
def contact_save(
    *,
    contact: Contact | None,
    phone: str,
    first_name: str,
    last_name: str,
    email: str,
    time_zone: str,
    custom: dict,
    source: str = Source.MANUAL,
) -> Contact:
    """Create or update a contact from already-validated values (phone in E.164)."""
    creating = contact is None
    if creating:
        contact = Contact(phone=phone, source=source)
    contact.phone = phone
    contact.first_name, contact.last_name, contact.email = first_name, last_name, email
    contact.country = phones.country_of(phone)
    contact.time_zone = time_zone or phones.time_zone_of(phone)
    contact.custom = {k: v for k, v in custom.items() if v is not None}
    if creating:
        contact.opted_out = Suppression.objects.filter(phone=phone).exists()
    contact.save()
    return contact


@transaction.atomic
def contact_erase(*, contact: Contact) -> None:
    """Delete the person's data. The consent ledger keeps its rows (the legal
    record) and an opted-out number stays suppressed."""
    Suppression.objects.filter(contact=contact).update(contact=None)
    contact.delete()


def contacts_erase(*, ids: list[int]) -> int:
    with transaction.atomic():
        Suppression.objects.filter(contact_id__in=ids).update(contact=None)
        deleted, _ = Contact.objects.filter(id__in=ids).delete()
    return len(ids) if deleted else 0


def contacts_opt_out(*, ids: list[int], user: AbstractBaseUser | None, note: str = "") -> int:
    """Opt many contacts out at once (a bulk action): the same ledger rows,
    suppressions and flags as contact_opt_out, written set-based."""
    with transaction.atomic():
        contacts = list(
            Contact.objects.select_for_update()
            .filter(id__in=ids, opted_out=False)
            .only("id", "phone")
        )
        if not contacts:
            return 0
        now = timezone.now()
        events = ConsentEvent.objects.bulk_create(
            [
                ConsentEvent(
                    phone=c.phone,
                    contact=c,
                    kind=ConsentEvent.Kind.OPT_OUT,
                    source=Source.MANUAL,
                    user=user,
                    note=note,
                )
                for c in contacts
            ]
        )
        Suppression.objects.bulk_create(
            [Suppression(phone=c.phone, contact=c, source=Source.MANUAL) for c in contacts],
            ignore_conflicts=True,
        )
        Contact.objects.filter(id__in=[c.id for c in contacts]).update(
            opted_out=True, opted_out_at=now, updated_at=now
        )
        consent_changed.send(sender=Contact, kind=ConsentEvent.Kind.OPT_OUT, events=events)
    return len(contacts)
