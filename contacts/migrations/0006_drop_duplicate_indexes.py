"""Indexes that another index already answers, or nothing asks, which every import
paid for row by row:

- list memberships: Django's index on each foreign key; ``list_member_once``
  (contact_list, contact) serves lookups by list and ``membership_by_contact_idx``
  (contact, contact_list) lookups by contact;
- contacts (PostgreSQL only): Django's ``varchar_pattern_ops`` copy of the phone index,
  for ``LIKE 'prefix%'``, which nothing asks (search matches anywhere, through the
  trigram index); equality uses the unique index;
- contacts: ``contact_name_idx`` (last_name, first_name): nothing sorts or filters by
  the names as they are; segment rules go through UPPER(name) and their own indexes
  (0004), search through the trigram index.

Dropped CONCURRENTLY on PostgreSQL, so a big table stays readable and writable; on
SQLite a plain DROP INDEX (the foreign keys' AlterField alone would copy the table).
"""

from django.db import migrations, models

# (model, column): the single-column, non-unique index on that column goes.
DUPLICATES = [("listmembership", "contact_list_id"), ("listmembership", "contact_id")]
NAME_INDEX = models.Index(fields=["last_name", "first_name"], name="contact_name_idx")


def _single_column_indexes(schema_editor, table: str, column: str) -> list[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, c in constraints.items()
        if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == [column]
    ]


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    targets = [(apps.get_model("contacts", m)._meta.db_table, col) for m, col in DUPLICATES]
    if vendor == "postgresql":
        targets.append((apps.get_model("contacts", "contact")._meta.db_table, "phone"))
    concurrently = "CONCURRENTLY " if vendor == "postgresql" else ""
    names = ["contact_name_idx"]
    for table, column in targets:
        names += _single_column_indexes(schema_editor, table, column)
    for name in names:
        schema_editor.execute(
            f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(name)}"
        )


def restore(apps, schema_editor):
    contact = apps.get_model("contacts", "contact")
    schema_editor.add_index(contact, NAME_INDEX)
    membership = apps.get_model("contacts", "listmembership")
    for field in ("contact_list", "contact"):
        schema_editor.execute(
            schema_editor._create_index_sql(membership, fields=[membership._meta.get_field(field)])
        )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            schema_editor._create_like_index_sql(contact, contact._meta.get_field("phone"))
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0005_segment_country_rule_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, restore)],
            state_operations=[
                migrations.RemoveIndex(model_name="contact", name="contact_name_idx"),
                migrations.AlterField(
                    model_name="listmembership",
                    name="contact_list",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        to="contacts.contactlist",
                    ),
                ),
                migrations.AlterField(
                    model_name="listmembership",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        to="contacts.contact",
                    ),
                ),
            ],
        )
    ]
