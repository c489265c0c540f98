"""Contact search: a number finds its contact by the unique phone index; text
matches names, number and email (a trigram index serves it on PostgreSQL)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from contacts import phone as phones

SEARCH_EXPRESSION = "(first_name || ' ' || last_name || ' ' || phone || ' ' || email)"


def search(contacts: QuerySet, text: str) -> QuerySet:
    text = text.strip()
    if not text:
        return contacts
    digits = sum(c.isdigit() for c in text)
    if digits >= 6 and digits >= len(text.replace(" ", "")) - 4:
        try:
            return contacts.filter(phone=phones.normalize(text))
        except phones.InvalidNumber:
            pass
    if connection.vendor == "postgresql":
        # Same expression as the contact_search_trgm index, with ILIKE so the index applies.
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return contacts.extra(where=[f"{SEARCH_EXPRESSION} ILIKE %s"], params=[pattern])  # noqa: S610
    return contacts.filter(
        Q(first_name__icontains=text)
        | Q(last_name__icontains=text)
        | Q(phone__icontains=text)
        | Q(email__icontains=text)
    )


# GIN indexes on contacts (PostgreSQL) that an import fills through their pending list.
GIN_INDEXES = ("contact_search_trgm", "contact_custom_gin")


def gin_pending_flush() -> int:
    """Move the contacts' GIN indexes' pending entries into the indexes proper and
    return how many pending-list pages that emptied. An import writes with a 64MB
    pending list (far cheaper per row); left there, the entries slow every search,
    and the next insert from a web page (limit 4MB) would stop to move them all.
    Nothing to do on SQLite."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(sum(gin_clean_pending_list(c.oid)), 0) FROM pg_class c "
            "WHERE c.relname = ANY(%s) AND c.relkind = 'i'",
            [list(GIN_INDEXES)],
        )
        return int(cursor.fetchone()[0])
