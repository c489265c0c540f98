"""Writing the checked rows of a contact import: first the rows whose number came
earlier in the file are set aside (a deduper), then the rest are written, one chunk per
transaction (a writer).

On PostgreSQL, PostgresDeduper remembers the numbers seen in a temporary table of its
connection, so memory stays flat whatever the file size, and PostgresWriter COPYs a
chunk into a temporary table and merges it with one ``INSERT ... ON CONFLICT``.
OrmDeduper and OrmWriter have the same effects through the ORM for SQLite (the demo
database). contacts.import_pipeline runs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from contacts.import_rows import Row
from contacts.models import ConsentEvent, Contact, ImportJob, ListMembership, Source, Suppression

# Rows set aside: (line, number as written, line where the number came first).
Duplicates = list[tuple[int, str, int]]


@dataclass
class Chunk:
    rows: list[Row]
    rows_read: int
    invalid: int
    duplicates: Duplicates = field(default_factory=list)  # set by the deduper


@dataclass
class Written:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def number_key(phone: str) -> int:
    """An E.164 number as an integer: "+" and at most 15 digits, the first never 0
    (country codes start at 1), so two numbers never share one."""
    return int(phone[1:])


class PostgresDeduper:
    """Finds the rows whose number came earlier in the file: the first row with a
    number stays, later ones are duplicates. Runs on whatever connection the current
    thread has; the numbers seen live in a temporary table on it, as integers (smaller
    and cheaper to compare than text).

    ``own_session``: the connection is new and only this deduper uses it, so it may
    size the session's buffers for temporary tables (possible only before the first
    one is touched): the numbers of a million-row file (about 60 MB with their index)
    then stay in memory instead of going through the default 8 MB."""

    def __init__(self, own_session: bool = False) -> None:
        with connection.cursor() as cursor:
            if own_session:
                cursor.execute("SET temp_buffers TO '256MB'")
            cursor.execute("DROP TABLE IF EXISTS contacts_import_seen, contacts_import_numbers")
            cursor.execute(
                "CREATE TEMPORARY TABLE contacts_import_seen (number bigint PRIMARY KEY, "
                "line bigint NOT NULL)"
            )
            cursor.execute(
                "CREATE TEMPORARY TABLE contacts_import_numbers (line bigint NOT NULL, "
                "number bigint NOT NULL)"
            )

    def dedupe(self, rows: list[Row]) -> tuple[list[Row], Duplicates]:
        """The rows to write, and the duplicates in line order."""
        if not rows:
            return rows, []
        with connection.cursor() as cursor:
            # COPY rather than arrays as parameters: with DEBUG, Django would keep the
            # text of each statement, its thousands of numbers included.
            cursor.execute("TRUNCATE contacts_import_numbers")
            with cursor.copy("COPY contacts_import_numbers (line, number) FROM STDIN") as copy:
                copy.write("".join(f"{r.line}\t{number_key(r.phone)}\n" for r in rows))
            cursor.execute(DEDUPE_SQL)
            later = cursor.fetchall()
            if not later:
                return rows, []
            cursor.execute(
                "SELECT number, line FROM contacts_import_seen WHERE number = ANY(%s)",
                [list({number for _, number in later})],
            )
            first = dict(cursor.fetchall())
        lines = {line for line, _ in later}
        raw = {r.line: r.raw_phone for r in rows if r.line in lines}
        duplicates = sorted((line, raw[line], first[number]) for line, number in later)
        return [r for r in rows if r.line not in lines], duplicates

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS contacts_import_seen, contacts_import_numbers")


class PostgresWriter:
    """COPY into a temporary table, then one statement for the contacts, their list
    memberships and consent events. Runs on whatever connection the current thread
    has; the temporary table lives on it.

    ``own_session``: the connection is this writer's alone (a thread of the pipeline,
    which commits each chunk itself): the foreign keys of a chunk are checked before
    the job's counters move, not at the commit, so that the job's row, which every
    writer updates, stays locked only for the commit."""

    def __init__(self, job: ImportJob, list_ids: list[int], own_session: bool = False) -> None:
        self.update = job.on_existing == ImportJob.OnExisting.UPDATE
        self.list_ids = list_ids
        self.consent = {"user": job.created_by_id, "note": job.consent_source}
        self.own_session = own_session
        self.encoded: dict[tuple, str] = {}
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS contacts_import_rows")
            cursor.execute(
                "CREATE TEMPORARY TABLE contacts_import_rows (phone text NOT NULL, "
                "first_name text NOT NULL, last_name text NOT NULL, email text NOT NULL, "
                "custom jsonb NOT NULL, country text NOT NULL, time_zone text NOT NULL)"
            )

    def write(self, rows: list[Row]) -> Written:
        """Writes rows with distinct numbers (the deduper's)."""
        written = Written()
        with connection.cursor() as cursor:
            # Losing the last chunks on a database crash is harmless (the job's counters
            # go with them); a larger GIN pending list makes the trigram index far cheaper.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute("SET LOCAL gin_pending_list_limit TO '64MB'")
            cursor.execute("TRUNCATE contacts_import_rows")
            columns = "phone, first_name, last_name, email, custom, country, time_zone"
            with cursor.copy(f"COPY contacts_import_rows ({columns}) FROM STDIN") as copy:
                copy.write(self._copy_text(rows))
            sql = UPSERT_SQL % (UPDATE_EXISTING if self.update else FIX_OPT_OUT)
            cursor.execute(sql, {
                **self.consent,
                "record_consent": bool(self.consent["note"]),
                "lists": self.list_ids,
            })  # fmt: skip
            written.created, written.updated = cursor.fetchone()
            written.unchanged = len(rows) - written.created - written.updated
            if self.list_ids and written.unchanged:
                # Contacts the upsert left alone still join the lists. A statement of
                # its own, so that it also sees contacts other imports just committed.
                cursor.execute(MEMBERSHIP_SQL, [self.list_ids])
            if self.own_session:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return written

    def _copy_text(self, rows: list[Row]) -> str:
        """The rows in COPY's text format, built here rather than by psycopg's
        write_row: half the time, in a thread that needs the GIL for it."""
        lines = []
        for r in rows:
            fields = (
                r.phone,
                r.first_name,
                r.last_name,
                r.email,
                self._json(r.custom),
                r.country,
                r.time_zone,
            )
            line = "\t".join(fields)
            if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != 6:
                line = "\t".join(f.translate(COPY_ESCAPES) for f in fields)
            lines.append(line)
        lines.append("")
        return "\n".join(lines)

    def _json(self, custom: dict[str, Any]) -> str:
        """json.dumps of a row's custom values; the few combinations a file repeats
        (a choice field: a handful) are encoded once."""
        if not custom:
            return "{}"
        try:
            key = tuple((name, type(value), value) for name, value in custom.items())
            text = self.encoded.get(key)
        except TypeError:  # a value that cannot be a key
            return json.dumps(custom)
        if text is None:
            text = json.dumps(custom)
            if len(self.encoded) < 1000:
                self.encoded[key] = text
        return text

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS contacts_import_rows")


# What COPY's text format escapes within a field (the rest goes as it is).
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


UPSERT_SQL = """
WITH upserted AS (
    INSERT INTO contacts_contact AS c (phone, first_name, last_name, email, custom, time_zone,
        country, source, opted_out, opted_out_at, created_at, updated_at)
    SELECT r.phone, r.first_name, r.last_name, r.email, r.custom, r.time_zone, r.country,
        'import', s.phone IS NOT NULL, s.created_at, now(), now()
    FROM contacts_import_rows r LEFT JOIN contacts_suppression s ON s.phone = r.phone
    ON CONFLICT (phone) DO UPDATE SET %s
    RETURNING c.id, c.phone, c.opted_out, (c.xmax = 0) AS inserted
), consent AS (
    INSERT INTO contacts_consentevent (phone, contact_id, kind, source, keyword, text,
        user_id, note, created_at)
    SELECT phone, id, 'opt_in', 'import', '', '', %%(user)s, %%(note)s, now()
    FROM upserted WHERE inserted AND NOT opted_out AND %%(record_consent)s
), new_members AS (
    -- A contact this statement created can be in no list yet: nothing to check.
    INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at)
    SELECT l.id, u.id, now() FROM upserted u CROSS JOIN unnest(%%(lists)s::bigint[]) AS l(id)
    WHERE u.inserted
), members AS (
    INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at)
    SELECT l.id, u.id, now() FROM upserted u CROSS JOIN unnest(%%(lists)s::bigint[]) AS l(id)
    WHERE NOT u.inserted
    ON CONFLICT (contact_list_id, contact_id) DO NOTHING
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""
# Blank cells keep what the contact has; an opt-out is never cleared.
_NEW = {
    "first_name": "COALESCE(NULLIF(EXCLUDED.first_name, ''), c.first_name)",
    "last_name": "COALESCE(NULLIF(EXCLUDED.last_name, ''), c.last_name)",
    "email": "COALESCE(NULLIF(EXCLUDED.email, ''), c.email)",
    "custom": "c.custom || EXCLUDED.custom",
    "country": "COALESCE(NULLIF(c.country, ''), EXCLUDED.country)",
    "time_zone": "COALESCE(NULLIF(c.time_zone, ''), EXCLUDED.time_zone)",
    "opted_out": "c.opted_out OR EXCLUDED.opted_out",
    "opted_out_at": "CASE WHEN c.opted_out THEN c.opted_out_at ELSE EXCLUDED.opted_out_at END",
}
UPDATE_EXISTING = (
    ", ".join(f"{column} = {value}" for column, value in _NEW.items())
    + ", updated_at = now() WHERE c.erased_at IS NULL AND ("
    + ", ".join(f"c.{column}" for column in _NEW)
    + ") IS DISTINCT FROM ("
    + ", ".join(_NEW.values())
    + ")"
)
# "Skip existing" still makes a suppressed number's contact opted out.
FIX_OPT_OUT = (
    "opted_out = true, opted_out_at = EXCLUDED.opted_out_at, updated_at = now() "
    "WHERE EXCLUDED.opted_out AND NOT c.opted_out"
)
# The rows of a chunk whose number is already in contacts_import_seen or on an earlier
# line of the chunk; the chunk's new numbers join the table with their first line.
DEDUPE_SQL = """
WITH first AS (
    INSERT INTO contacts_import_seen (number, line)
    SELECT number, min(line) FROM contacts_import_numbers GROUP BY number
    ON CONFLICT (number) DO NOTHING
    RETURNING line
)
SELECT n.line, n.number FROM contacts_import_numbers n
WHERE NOT EXISTS (SELECT FROM first f WHERE f.line = n.line)
"""
MEMBERSHIP_SQL = """
INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at)
SELECT l.id, m.contact_id, now()
FROM (SELECT (SELECT c.id FROM contacts_contact c WHERE c.phone = r.phone) AS contact_id
      FROM contacts_import_rows r) m
CROSS JOIN unnest(%s::bigint[]) AS l(id)
WHERE m.contact_id IS NOT NULL
ON CONFLICT (contact_list_id, contact_id) DO NOTHING
"""


class OrmDeduper:
    """PostgresDeduper's effect in memory, for SQLite."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def dedupe(self, rows: list[Row]) -> tuple[list[Row], Duplicates]:
        kept, duplicates = [], []
        for r in rows:
            first = self.seen.setdefault(r.phone, r.line)
            if first == r.line:
                kept.append(r)
            else:
                duplicates.append((r.line, r.raw_phone, first))
        return kept, duplicates

    def close(self) -> None:
        pass


class OrmWriter:
    """PostgresWriter's effects with the ORM, for SQLite."""

    def __init__(self, job: ImportJob, list_ids: list[int]) -> None:
        self.job, self.list_ids = job, list_ids
        self.update = job.on_existing == ImportJob.OnExisting.UPDATE

    def write(self, rows: list[Row]) -> Written:
        """Writes rows with distinct numbers (the deduper's)."""
        written = Written()
        numbers = [r.phone for r in rows]
        existing, suppressed = {}, {}
        for start in range(0, len(numbers), 500):
            batch = numbers[start : start + 500]
            existing.update({c.phone: c for c in Contact.objects.filter(phone__in=batch)})
            suppressed.update(
                Suppression.objects.filter(phone__in=batch).values_list("phone", "created_at")
            )
        new = [
            Contact(
                phone=r.phone,
                first_name=r.first_name,
                last_name=r.last_name,
                email=r.email,
                custom=r.custom,
                country=r.country,
                time_zone=r.time_zone,
                source=Source.IMPORT,
                opted_out=r.phone in suppressed,
                opted_out_at=suppressed.get(r.phone),
            )
            for r in rows
            if r.phone not in existing
        ]
        Contact.objects.bulk_create(new, batch_size=500)
        changed = [
            c for r in rows if (c := existing.get(r.phone)) and self._merge(c, r, suppressed)
        ]
        now = timezone.now()
        for c in changed:
            c.updated_at = now
        Contact.objects.bulk_update(changed, [*_NEW, "updated_at"], batch_size=500)
        written.created, written.updated = len(new), len(changed)
        written.unchanged = len(rows) - len(new) - len(changed)
        ids = [c.pk for c in new] + [c.pk for c in existing.values()]
        ListMembership.objects.bulk_create(
            [
                ListMembership(contact_list_id=lid, contact_id=cid)
                for lid in self.list_ids
                for cid in ids
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        if self.job.consent_source:
            ConsentEvent.objects.bulk_create(
                [
                    ConsentEvent(
                        phone=c.phone,
                        contact=c,
                        kind=ConsentEvent.Kind.OPT_IN,
                        source=Source.IMPORT,
                        user_id=self.job.created_by_id,
                        note=self.job.consent_source,
                    )
                    for c in new
                    if not c.opted_out
                ],
                batch_size=500,
            )
        return written

    def _merge(self, c: Contact, r: Row, suppressed: dict) -> bool:
        before = [getattr(c, name) for name in _NEW]
        if r.phone in suppressed and not c.opted_out:
            c.opted_out, c.opted_out_at = True, suppressed[r.phone]
        if self.update and c.erased_at is None:
            c.first_name = r.first_name or c.first_name
            c.last_name = r.last_name or c.last_name
            c.email = r.email or c.email
            c.custom = {**c.custom, **r.custom}
            c.country = c.country or r.country
            c.time_zone = c.time_zone or r.time_zone
        return before != [getattr(c, name) for name in _NEW]

    def close(self) -> None:
        pass
