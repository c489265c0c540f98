"""Writes to static lists. Set-based: one statement per chunk of ids, never a
query per contact, so the contacts page's bulk actions scale."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from contacts.models import Contact, ContactList, ListMembership

# Keeps every statement under SQLite's and PostgreSQL's parameter limits.
CHUNK = 5000


def _chunks(contact_ids: Iterable[int]) -> list[list[int]]:
    ids = sorted({int(i) for i in contact_ids})
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


@transaction.atomic
def list_add_contacts(*, contact_list: ContactList, contact_ids: Iterable[int]) -> int:
    """Add contacts to a list; returns how many became members.

    Contacts already in the list are left alone (their added_at is kept); ids of
    contacts that do not exist or were erased are skipped rather than failing."""
    membership = ListMembership._meta.db_table
    contacts = Contact._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    added = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(contact_ids):
            placeholders = ", ".join(["%s"] * len(chunk))
            # INSERT ... SELECT: existence check and insert in one statement, and
            # ON CONFLICT makes a repeated add (or a concurrent one) harmless.
            cursor.execute(
                f"INSERT INTO {membership} (contact_list_id, contact_id, added_at) "  # noqa: S608
                f"SELECT %s, id, %s FROM {contacts} "
                f"WHERE id IN ({placeholders}) AND erased_at IS NULL "
                "ON CONFLICT (contact_list_id, contact_id) DO NOTHING",
                [contact_list.pk, now, *chunk],
            )
            added += max(cursor.rowcount, 0)
    return added


@transaction.atomic
def list_remove_contacts(*, contact_list: ContactList, contact_ids: Iterable[int]) -> int:
    """Take contacts out of a list (the contacts stay); returns how many left it."""
    removed = 0
    for chunk in _chunks(contact_ids):
        # No signals or cascades hang off ListMembership, so this is one DELETE.
        count, _ = ListMembership.objects.filter(
            contact_list=contact_list, contact_id__in=chunk
        ).delete()
        removed += count
    return removed
