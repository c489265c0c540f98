"""Indexes only PostgreSQL has: segments filter custom fields by JSON containment
(GIN, jsonb_path_ops) and the contact search matches substrings (pg_trgm)."""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS contact_custom_gin ON contacts_contact "
    "USING gin (custom jsonb_path_ops)",
    "CREATE INDEX IF NOT EXISTS contact_search_trgm ON contacts_contact USING gin "
    "((first_name || ' ' || last_name || ' ' || phone || ' ' || email) gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS contact_search_trgm",
    "DROP INDEX IF EXISTS contact_custom_gin",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_lists_segments_jobs")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
