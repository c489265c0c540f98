"""After an import, the contacts' GIN indexes are emptied of their pending entries."""

from __future__ import annotations

import pytest
from django.db import connection

from contacts import search
from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="GIN indexes are PostgreSQL's")
def test_flush_moves_pending_entries_into_the_index():
    search.gin_pending_flush()  # start from empty pending lists
    with connection.cursor() as cursor:
        # As the import writes: a large pending list, so the entries wait there.
        cursor.execute("SET LOCAL gin_pending_list_limit TO '64MB'")
        ContactFactory.create_batch(200, custom={"tier": "gold"})
    assert search.gin_pending_flush() > 0
    assert search.gin_pending_flush() == 0
    first = Contact.objects.order_by("id").first()
    assert search.search(Contact.objects.all(), first.first_name).filter(pk=first.pk).exists()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite has no GIN indexes")
def test_flush_is_a_no_op_without_gin():
    ContactFactory.create_batch(3)
    assert search.gin_pending_flush() == 0
