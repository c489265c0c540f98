"""Running a contact import's deduper and writers (contacts.import_writers) over the
chunks the reading thread hands over, each chunk written in a transaction that also
moves the job's counters, so the progress bar shows committed work only.

On PostgreSQL outside a transaction (the worker) they run in threads, each with a
connection of its own, so that the database works while the reading thread reads and
checks the next rows:

    reading thread --chunk--> deduper thread --chunk without duplicates--> writer threads

The deduper takes the chunks in file order (the first row with a number stays); the
writers write the chunks it passes on side by side, which lets the database use more
than one core. They never wait for each other's rows: no number is in two chunks once
the deduper is through (the job's row, which each chunk updates, stays locked only
for a commit). Inside a transaction (tests, a shell) all of it runs in the calling
thread, in order, so that it sees what that transaction sees.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from contacts.import_writers import (
    Chunk,
    OrmDeduper,
    OrmWriter,
    PostgresDeduper,
    PostgresWriter,
    Written,
)
from contacts.models import ImportJob

# How long a thread may keep the GIL while another wants it (Python's default: 5 ms).
GIL_SWITCH_SECONDS = 0.0005
# How often a thread waiting on a queue looks whether the import stopped.
POLL_SECONDS = 0.5


class Pipeline:
    """``submit`` each chunk, then ``finish`` (which raises what went wrong in a
    thread), or ``abort`` on an error of the caller's.

    ``on_duplicates`` is called with each chunk's duplicate rows, if any, as the
    deduper finds them (in file order, as the reading thread reports rejected rows);
    ``on_committed`` after each chunk's commit (the job's heartbeat). With threads,
    from the thread that did the work."""

    def __init__(
        self,
        job: ImportJob,
        list_ids: list[int],
        on_duplicates: Callable,
        on_committed: Callable[[], None],
        writers: int = 2,
    ) -> None:
        self.job, self.list_ids, self.on_duplicates = job, list_ids, on_duplicates
        self.on_committed = on_committed
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        if not self.threaded:
            self.deduper = self._deduper()
            self.writer = self._writer()
            return
        # A thread that waits on the database needs the GIL back to send the next
        # statement; at Python's default 5 ms switch interval it waits behind the
        # reading thread's row checks, several times a chunk, and the database idles
        # (measured: a fifth of the import's time). Restored at the end.
        self.switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        self.read: queue.Queue[Chunk | None] = queue.Queue(maxsize=1)
        self.deduped: queue.Queue[Chunk | None] = queue.Queue(maxsize=1)
        name = f"import-{job.pk}"
        self.threads = [threading.Thread(target=self._dedupe_all, name=f"{name}-dedupe")]
        self.threads += [
            threading.Thread(target=self._write_all, name=f"{name}-writer-{i + 1}")
            for i in range(writers)
        ]
        for thread in self.threads:
            thread.daemon = True
            thread.start()

    def _deduper(self, own_session: bool = False) -> PostgresDeduper | OrmDeduper:
        if connection.vendor != "postgresql":
            return OrmDeduper()
        return PostgresDeduper(own_session=own_session)

    def _writer(self, own_session: bool = False) -> PostgresWriter | OrmWriter:
        if connection.vendor != "postgresql":
            return OrmWriter(self.job, self.list_ids)
        return PostgresWriter(self.job, self.list_ids, own_session=own_session)

    def submit(self, chunk: Chunk) -> None:
        if not self.threaded:
            self._write(self.writer, self._dedupe(self.deduper, chunk))
            return
        self._put(self.read, chunk)
        self._raise_if_failed()

    def finish(self) -> None:
        if not self.threaded:
            self.deduper.close()
            self.writer.close()
            return
        self._put(self.read, None)
        for thread in self.threads:
            thread.join()
        sys.setswitchinterval(self.switch_interval)
        self._raise_if_failed()

    def abort(self) -> None:
        if not self.threaded:
            return
        self._stop(RuntimeError("stopped"))
        for thread in self.threads:
            thread.join(timeout=60)
        sys.setswitchinterval(self.switch_interval)

    # -- the threads ---------------------------------------------------------------------

    def _dedupe_all(self) -> None:
        try:
            deduper = self._deduper(own_session=True)
            while (chunk := self._get(self.read)) is not None:
                if not self._put(self.deduped, self._dedupe(deduper, chunk)):
                    break
            deduper.close()
        except BaseException as exc:
            self._stop(exc)
        finally:
            connection.close()
            for _ in self.threads[1:]:  # one end mark for each writer
                self._put(self.deduped, None)

    def _write_all(self) -> None:
        try:
            writer = self._writer(own_session=True)
            while (chunk := self._get(self.deduped)) is not None:
                self._write(writer, chunk)
            writer.close()
        except BaseException as exc:
            self._stop(exc)
        finally:
            connection.close()

    def _stop(self, exc: BaseException) -> None:
        """The first error stops every thread; they finish the chunk in hand."""
        if self.error is None:
            self.error = exc
        self.stopping.set()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def _put(self, to: queue.Queue, item: Any) -> bool:
        """False when the import stopped before the item could be handed over."""
        while not self.stopping.is_set():
            try:
                to.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, source: queue.Queue) -> Any:
        """The next item, or None at the end or when the import stopped."""
        while not self.stopping.is_set():
            try:
                return source.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
        return None

    # -- one chunk ------------------------------------------------------------------------

    def _dedupe(self, deduper: PostgresDeduper | OrmDeduper, chunk: Chunk) -> Chunk:
        rows, duplicates = deduper.dedupe(chunk.rows)
        if duplicates:
            self.on_duplicates(duplicates)
        return replace(chunk, rows=rows, duplicates=duplicates)

    def _write(self, writer: PostgresWriter | OrmWriter, chunk: Chunk) -> None:
        with transaction.atomic():
            written = writer.write(chunk.rows) if chunk.rows else Written()
            ImportJob.objects.filter(pk=self.job.pk).update(
                rows_done=F("rows_done") + chunk.rows_read,
                created=F("created") + written.created,
                updated=F("updated") + written.updated,
                unchanged=F("unchanged") + written.unchanged,
                invalid=F("invalid") + chunk.invalid,
                duplicate=F("duplicate") + len(chunk.duplicates),
            )
        self.on_committed()
