"""Indexes only PostgreSQL has, for the inbox search: message text (not campaign
copies, which repeat one body to thousands) and partial contact numbers, matched
with ILIKE through pg_trgm. Built CONCURRENTLY: messaging_message is large and
must stay writable while the index builds."""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS message_body_search_trgm ON messaging_message "
    "USING gin (body gin_trgm_ops) WHERE campaign_id IS NULL",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS conversation_number_search_trgm "
    "ON inbox_conversation USING gin (contact_number gin_trgm_ops)",
]
DROP = [
    "DROP INDEX CONCURRENTLY IF EXISTS conversation_number_search_trgm",
    "DROP INDEX CONCURRENTLY IF EXISTS message_body_search_trgm",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("inbox", "0001_initial"),
        ("contacts", "0003_postgres_indexes"),
    ]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
