"""Writing the checked rows of a contact import, one chunk per transaction.

PostgresWriter COPYs a chunk into a temporary table and merges it with one
``INSERT ... ON CONFLICT``; numbers already seen in the file are remembered in a
second temporary table, so memory stays flat whatever the file size. OrmWriter has
the same effects through the ORM for SQLite (the demo database). Pipeline runs a
writer, on PostgreSQL in a second thread so that the database merges one chunk
while the next is read and checked, and moves the job's counters with each chunk.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from contacts.import_rows import Row
from contacts.models import ConsentEvent, Contact, ImportJob, ListMembership, Source, Suppression


@dataclass
class Chunk:
    rows: list[Row]
    rows_read: int
    invalid: int


@dataclass
class Written:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # line, value, first line


class PostgresWriter:
    """COPY into a temporary table, then one statement per effect. Runs on whatever
    connection the current thread has; the temporary tables live on it.

    ``own_session``: the connection is new and only this writer uses it, so it may
    size the session's buffers for temporary tables (possible only before the first
    one is touched). The numbers seen of a million-row file (about 90 MB with their
    index) then stay in memory instead of going through the default 8 MB."""

    def __init__(self, job: ImportJob, list_ids: list[int], own_session: bool = False) -> None:
        self.update = job.on_existing == ImportJob.OnExisting.UPDATE
        self.list_ids = list_ids
        self.consent = {"user": job.created_by_id, "note": job.consent_source}
        with connection.cursor() as cursor:
            if own_session:
                cursor.execute("SET temp_buffers TO '256MB'")
            cursor.execute("DROP TABLE IF EXISTS contacts_import_rows, contacts_import_seen")
            cursor.execute(
                "CREATE TEMPORARY TABLE contacts_import_rows (line bigint NOT NULL, "
                "phone text NOT NULL, first_name text NOT NULL, last_name text NOT NULL, "
                "email text NOT NULL, custom jsonb NOT NULL, country text NOT NULL, "
                "time_zone text NOT NULL)"
            )
            cursor.execute(
                # Byte order is enough to find a number again and cheaper than a locale's.
                'CREATE TEMPORARY TABLE contacts_import_seen (phone text COLLATE "C" PRIMARY KEY, '
                "line bigint NOT NULL)"
            )

    def write(self, rows: list[Row]) -> Written:
        written = Written()
        with connection.cursor() as cursor:
            # Losing the last chunks on a database crash is harmless (the job's counters
            # go with them); a larger GIN pending list makes the trigram index far cheaper.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute("SET LOCAL gin_pending_list_limit TO '64MB'")
            cursor.execute("TRUNCATE contacts_import_rows")
            columns = "line, phone, first_name, last_name, email, custom, country, time_zone"
            with cursor.copy(f"COPY contacts_import_rows ({columns}) FROM STDIN") as copy:
                for r in rows:
                    custom = json.dumps(r.custom) if r.custom else "{}"
                    copy.write_row(
                        (
                            r.line,
                            r.phone,
                            r.first_name,
                            r.last_name,
                            r.email,
                            custom,
                            r.country,
                            r.time_zone,
                        )
                    )
            # The first row with a number stays; later ones are duplicates.
            cursor.execute(DEDUPE_SQL)
            duplicates = cursor.fetchall()
            if duplicates:
                cursor.execute(
                    "SELECT phone, line FROM contacts_import_seen WHERE phone = ANY(%s)",
                    [list({phone for _, phone in duplicates})],
                )
                first = dict(cursor.fetchall())
                raw = {r.line: r.raw_phone for r in rows}
                written.duplicates = sorted(
                    (line, raw[line], first[phone]) for line, phone in duplicates
                )
            sql = UPSERT_SQL % (UPDATE_EXISTING if self.update else FIX_OPT_OUT)
            cursor.execute(sql, {
                **self.consent,
                "record_consent": bool(self.consent["note"]),
                "lists": self.list_ids,
            })  # fmt: skip
            written.created, written.updated = cursor.fetchone()
            written.unchanged = len(rows) - len(duplicates) - written.created - written.updated
            if self.list_ids and written.unchanged:
                # Contacts the upsert left alone still join the lists. A statement of
                # its own, so that it also sees contacts other imports just committed.
                cursor.execute(MEMBERSHIP_SQL, [self.list_ids])
        return written

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS contacts_import_rows, contacts_import_seen")


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
), members AS (
    INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at)
    SELECT l.id, u.id, now() FROM upserted u CROSS JOIN unnest(%%(lists)s::bigint[]) AS l(id)
    ON CONFLICT DO NOTHING
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
DEDUPE_SQL = """
WITH first AS (
    INSERT INTO contacts_import_seen (phone, line)
    SELECT phone, min(line) FROM contacts_import_rows GROUP BY phone
    ON CONFLICT (phone) DO NOTHING
    RETURNING line
)
DELETE FROM contacts_import_rows r WHERE NOT EXISTS (SELECT FROM first f WHERE f.line = r.line)
RETURNING r.line, r.phone
"""
MEMBERSHIP_SQL = """
INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at)
SELECT l.id, m.contact_id, now()
FROM (SELECT (SELECT c.id FROM contacts_contact c WHERE c.phone = r.phone) AS contact_id
      FROM contacts_import_rows r) m
CROSS JOIN unnest(%s::bigint[]) AS l(id)
WHERE m.contact_id IS NOT NULL
ON CONFLICT DO NOTHING
"""


class OrmWriter:
    """The same effects with the ORM, for SQLite."""

    def __init__(self, job: ImportJob, list_ids: list[int]) -> None:
        self.job, self.list_ids = job, list_ids
        self.update = job.on_existing == ImportJob.OnExisting.UPDATE
        self.seen: dict[str, int] = {}

    def write(self, rows: list[Row]) -> Written:
        written, fresh = Written(), []
        for r in rows:
            first = self.seen.setdefault(r.phone, r.line)
            if first == r.line:
                fresh.append(r)
            else:
                written.duplicates.append((r.line, r.raw_phone, first))
        numbers = [r.phone for r in fresh]
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
            for r in fresh
            if r.phone not in existing
        ]
        Contact.objects.bulk_create(new, batch_size=500)
        changed = [
            c for r in fresh if (c := existing.get(r.phone)) and self._merge(c, r, suppressed)
        ]
        now = timezone.now()
        for c in changed:
            c.updated_at = now
        Contact.objects.bulk_update(changed, [*_NEW, "updated_at"], batch_size=500)
        written.created, written.updated = len(new), len(changed)
        written.unchanged = len(fresh) - len(new) - len(changed)
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


# How long a thread may keep the GIL while the other wants it (Python's default: 5 ms).
GIL_SWITCH_SECONDS = 0.0005


class Pipeline:
    """Writes chunks, each in its own transaction that also moves the job's counters.

    On PostgreSQL outside a transaction (the worker) the writes run in a second
    thread with its own connection, so that the database merges one chunk while this
    thread reads and checks the next. Inside a transaction (tests, a shell) they run
    here, so that they see what that transaction sees.

    ``on_committed`` is called after each chunk's commit (the job's heartbeat), then
    ``on_duplicates`` with the chunk's duplicate rows, if any."""

    def __init__(
        self,
        job: ImportJob,
        list_ids: list[int],
        on_duplicates: Callable,
        on_committed: Callable[[], None],
    ) -> None:
        self.job, self.list_ids, self.on_duplicates = job, list_ids, on_duplicates
        self.on_committed = on_committed
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.error: BaseException | None = None
        if self.threaded:
            # The writer thread waits on the database and then needs the GIL back to
            # send the next statement; at Python's default 5 ms switch interval it
            # waits behind this thread's row checks, several times a chunk, and the
            # database idles (measured: a fifth of the import's time). Restored at the end.
            self.switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(GIL_SWITCH_SECONDS)
            self.queue: queue.Queue[Chunk | None] = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._work, name=f"import-{job.pk}", daemon=True)
            self.thread.start()
        else:
            self.writer = self._writer()

    def _writer(self) -> PostgresWriter | OrmWriter:
        if connection.vendor != "postgresql":
            return OrmWriter(self.job, self.list_ids)
        return PostgresWriter(self.job, self.list_ids, own_session=self.threaded)

    def submit(self, chunk: Chunk) -> None:
        if not self.threaded:
            self._write(self.writer, chunk)
            return
        while True:
            self._raise_if_failed()
            try:
                self.queue.put(chunk, timeout=1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        if self.threaded:
            self.queue.put(None)
            self.thread.join()
            sys.setswitchinterval(self.switch_interval)
            self._raise_if_failed()
        else:
            self.writer.close()

    def abort(self) -> None:
        if self.threaded and self.thread.is_alive():
            self.error = self.error or RuntimeError("stopped")
            with contextlib.suppress(queue.Full):
                self.queue.put_nowait(None)
            self.thread.join(timeout=60)
        if self.threaded:
            sys.setswitchinterval(self.switch_interval)

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        writer = None
        try:
            writer = self._writer()
            while (chunk := self.queue.get()) is not None and self.error is None:
                self._write(writer, chunk)
            if writer is not None:
                writer.close()
        except BaseException as exc:
            self.error = exc
            while True:  # let submit() see the error instead of blocking on a full queue
                try:
                    if self.queue.get(timeout=1) is None:
                        break
                except queue.Empty:
                    break
        finally:
            connection.close()

    def _write(self, writer: PostgresWriter | OrmWriter, chunk: Chunk) -> None:
        with transaction.atomic():
            written = writer.write(chunk.rows) if chunk.rows else Written()
            ImportJob.objects.filter(pk=self.job.pk).update(
                rows_done=F("rows_done") + chunk.rows_read,
                created=F("created") + written.created,
                updated=F("updated") + written.updated,
                unchanged=F("unchanged") + written.unchanged,
                invalid=F("invalid") + chunk.invalid,
                duplicate=F("duplicate") + len(written.duplicates),
            )
        self.on_committed()
        if written.duplicates:
            self.on_duplicates(written.duplicates)
