"""Contact imports: a CSV or XLSX file read as a stream, every row checked in Python,
the good rows written set-based in chunks. The phases:

1. ``import_create`` stores the upload and inspects it (format, encoding, delimiter,
   an estimate of the rows) or refuses it with a message for the user.
2. ``import_start`` records the column mapping and options and enqueues the task.
3. ``import_run`` (the task) reads the file chunk by chunk; each chunk is one
   transaction that writes the contacts, list memberships and consent events and
   moves the job's counters, so the progress bar shows committed work only.

This module runs the job (and its error report, heartbeat and stale detection);
the work is done by:

- ``contacts.import_files``: reading the file (inspect_file, read_rows, preview);
- ``contacts.import_rows``: the column mapping and the check of each row (RowChecker);
- ``contacts.import_writers``: setting duplicates aside and writing the chunks
  (PostgresDeduper, PostgresWriter, and OrmDeduper, OrmWriter);
- ``contacts.import_pipeline``: running those in threads (Pipeline).

Their public names are re-exported here, so ``imports.RowChecker`` and the like work.

On PostgreSQL a chunk is COPYed into a temporary table and merged with one
``INSERT ... ON CONFLICT``; threads with connections of their own do that while the
next chunk is read and checked, so Python and the database work at the same time:
one thread sets the duplicates aside, in file order, and WRITERS threads write the
chunks side by side. SQLite (the demo database) takes a plain ORM path. Numbers
already seen in the file are remembered in a temporary table, not in Python, so
memory stays flat whatever the file size.
"""

from __future__ import annotations

import csv
import logging
import threading
import time
import uuid
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.import_files import (
    DEFAULT_MAX_BYTES,
    MAX_COLUMNS,
    SAMPLE_BYTES,
    UNREADABLE,
    ImportFileError,
    inspect_file,
    max_upload_bytes,
    preview,
    read_rows,
)
from contacts.import_pipeline import GIL_SWITCH_SECONDS, Pipeline
from contacts.import_rows import (
    EMAIL_RE,
    FIELD_LABELS,
    FORMULA_START,
    HEADER_GUESSES,
    MAX_CUSTOM_TEXT,
    MOBILE_KINDS,
    Row,
    RowChecker,
    RowError,
    field_choices,
    guess_mapping,
    looks_like_header,
)
from contacts.import_writers import (
    Chunk,
    OrmDeduper,
    OrmWriter,
    PostgresDeduper,
    PostgresWriter,
    Written,
)
from contacts.models import ContactList, CustomField, ImportJob, JobStatus

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_MAX_BYTES",
    "EMAIL_RE",
    "FIELD_LABELS",
    "FORMULA_START",
    "GIL_SWITCH_SECONDS",
    "HEADER_GUESSES",
    "MAX_COLUMNS",
    "MAX_CUSTOM_TEXT",
    "MOBILE_KINDS",
    "SAMPLE_BYTES",
    "STALE_AFTER_SECONDS",
    "TIME_LIMIT_SECONDS",
    "WRITERS",
    "Chunk",
    "ErrorReport",
    "ImportFileError",
    "OrmDeduper",
    "OrmWriter",
    "Pipeline",
    "PostgresDeduper",
    "PostgresWriter",
    "Row",
    "RowChecker",
    "RowError",
    "Written",
    "field_choices",
    "guess_mapping",
    "import_create",
    "import_fail_if_stale",
    "import_run",
    "import_start",
    "inspect_file",
    "looks_like_header",
    "max_upload_bytes",
    "preview",
    "read_preview",
    "read_rows",
]

log = logging.getLogger(__name__)

# Read here at run time, so that tests can change them on this module.
CHUNK_ROWS = 5_000
# PostgreSQL connections writing chunks side by side (the reading thread and the
# deduper's connection come on top). Two keep a 2-core machine busy; the reading
# thread, one core at most, limits what more would bring.
WRITERS = 2
# The task's limits (contacts.tasks); a job running longer than this is dead.
TIME_LIMIT_SECONDS = 3 * 3600
# A chunk takes seconds: a running job with no commit for this long lost its worker.
STALE_AFTER_SECONDS = 15 * 60


# -- the error report -------------------------------------------------------------------


class ErrorReport:
    """CSV of every rejected row: line, column, value, reason. Written as the import
    goes (two threads add to it), saved next to the upload when anything was rejected."""

    def __init__(self, job: ImportJob) -> None:
        from contacts.exports import neutralise

        self.neutralise = neutralise
        self.name = f"imports/errors/import-{job.pk}-errors.csv"
        self.path = Path(default_storage.path(self.name))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
        self.csv = csv.writer(self.file, quoting=csv.QUOTE_ALL)
        self.csv.writerow(["line", "column", "value", "reason"])
        self.lock = threading.Lock()
        self.count = 0

    def add(self, line: int, column: str, value: str, reason: str) -> None:
        if len(value) > 200:
            value = value[:200] + "…"
        with self.lock:
            self.csv.writerow([line, column, self.neutralise(value), reason])
            self.count += 1

    def add_duplicates(self, duplicates: list[tuple[int, str, int]]) -> None:
        for line, value, first in duplicates:
            self.add(line, "phone", value, f"duplicate: the same number as line {first:,}")

    def close(self) -> str:
        """The report's storage name, or '' when nothing was rejected."""
        self.file.close()
        if self.count:
            return self.name
        self.path.unlink(missing_ok=True)
        return ""


# -- the job ----------------------------------------------------------------------------


def import_create(*, upload: UploadedFile, user: AbstractBaseUser | None) -> ImportJob:
    """Store and inspect an upload; ImportFileError (and nothing stored) when unusable."""
    if upload.size > max_upload_bytes():
        raise ImportFileError(
            f"The file is {upload.size / 1_048_576:,.1f} MB; the limit is "
            f"{max_upload_bytes() / 1_048_576:,.0f} MB. Split it into smaller files."
        )
    name = default_storage.save(f"imports/{uuid.uuid4().hex}.upload", upload)
    path = Path(default_storage.path(name))
    try:
        info = inspect_file(path)
        first = preview(path, info, rows=1)
        if not first or not any(first[0]):
            raise ImportFileError("The file is empty: its first row has nothing in it.")
    except ImportFileError:
        default_storage.delete(name)
        raise
    except Exception as exc:
        log.exception("could not inspect upload %s", upload.name)
        default_storage.delete(name)
        raise ImportFileError(
            f"This file could not be read as a spreadsheet ({type(exc).__name__}). "
            "Upload a CSV or an Excel .xlsx file."
        ) from exc
    info["has_header"] = looks_like_header(first[0])
    return ImportJob.objects.create(
        file=name,
        original_name=Path(upload.name or "upload").name[:255],
        size=upload.size,
        file_info=info,
        created_by=user if user and user.is_authenticated else None,
    )


def import_start(
    *,
    job: ImportJob,
    mapping: dict[str, str],
    has_header: bool,
    list_ids: list[int],
    on_existing: str,
    consent_source: str,
) -> bool:
    """Record the choices and enqueue the import once; False if it was already started."""
    info = {**job.file_info, "has_header": has_header}
    rows_total = max(int(info.get("rows", 0)) - (1 if has_header else 0), 0)
    with transaction.atomic():
        started = ImportJob.objects.filter(pk=job.pk, status=JobStatus.PENDING, mapping={}).update(
            mapping={k: v for k, v in mapping.items() if v},
            file_info=info,
            list_ids=sorted(set(list_ids)),
            on_existing=on_existing,
            consent_source=consent_source.strip(),
            rows_total=rows_total,
        )
        if started:
            transaction.on_commit(lambda: _enqueue(job.pk))
    return bool(started)


def _enqueue(job_id: int) -> None:
    from contacts import tasks

    try:
        tasks.import_contacts.delay(job_id)
    except Exception:
        log.exception("could not enqueue import %s", job_id)
        _fail(
            job_id,
            "The import could not be handed to a worker (the task queue is unreachable). Try again in a moment.",
        )


def import_run(*, job_id: int) -> None:
    """The task's body: run a started job once. Every failure ends in status failed
    with a reason the person importing can read."""
    claimed = ImportJob.objects.filter(pk=job_id, status=JobStatus.PENDING).exclude(mapping={})
    if not claimed.update(status=JobStatus.RUNNING, started_at=timezone.now()):
        log.info("import %s is not waiting to run; nothing to do", job_id)
        return
    _beat(job_id)
    report = None
    try:
        job = ImportJob.objects.get(pk=job_id)
        report = ErrorReport(job)
        _import(job, report)
    except ImportFileError as exc:
        _fail(job_id, str(exc), report)
    except SoftTimeLimitExceeded:
        hours = TIME_LIMIT_SECONDS // 3600
        _fail(
            job_id,
            f"The import took longer than {hours} hours and was stopped. Split the file into smaller ones.",
            report,
        )
    except Exception as exc:
        log.exception("import %s failed", job_id)
        _fail(job_id, _explain(exc), report)
    except BaseException as exc:  # a worker shutdown
        log.warning("import %s stopped: %r", job_id, exc)
        _fail(job_id, "The import was stopped before it finished (the worker shut down).", report)
        raise
    else:
        ImportJob.objects.filter(pk=job_id).update(
            status=JobStatus.DONE,
            finished_at=timezone.now(),
            rows_total=F("rows_done"),
            error_report=report.close(),
        )


def _import(job: ImportJob, report: ErrorReport) -> None:
    info = job.file_info
    custom_fields = list(CustomField.objects.all())
    checker = RowChecker(job.mapping, custom_fields)
    list_ids = list(ContactList.objects.filter(pk__in=job.list_ids).values_list("pk", flat=True))
    pipeline = Pipeline(job, list_ids, report.add_duplicates, lambda: _beat(job.pk), WRITERS)
    rows: list[Row] = []
    read = invalid = 0
    try:
        lines = read_rows(Path(job.file.path), info)
        if info.get("has_header"):
            next(lines, None)
        for line, cells in enumerate(lines, start=2 if info.get("has_header") else 1):
            read += 1
            if cells and cells[0] == UNREADABLE:
                report.add(line, "", "", f"this line cannot be read ({cells[1]})")
                invalid += 1
            elif any(cells):
                try:
                    rows.append(checker.check(line, cells))
                except RowError as exc:
                    report.add(line, exc.column, exc.value, exc.reason)
                    invalid += 1
            if read == CHUNK_ROWS:
                pipeline.submit(Chunk(rows, read, invalid))
                rows, read, invalid = [], 0, 0
        pipeline.submit(Chunk(rows, read, invalid))
        pipeline.finish()
    except BaseException:
        pipeline.abort()
        raise


def _explain(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"The import stopped on an unexpected error: {type(exc).__name__}{': ' + text if text else ''}."


def _fail(job_id: int, reason: str, report: ErrorReport | None = None) -> None:
    done = ImportJob.objects.filter(pk=job_id).values_list("rows_done", flat=True).first() or 0
    if done:
        reason += (
            f" The first {done:,} rows were processed and their contacts saved. Fix the problem and import the file "
            "again: contacts already imported are updated or skipped, never duplicated."
        )
    ImportJob.objects.filter(pk=job_id).exclude(status=JobStatus.DONE).update(
        status=JobStatus.FAILED,
        error=reason,
        finished_at=timezone.now(),
        error_report=report.close() if report else "",
    )


def import_fail_if_stale(job: ImportJob) -> bool:
    """A running job that has not committed a chunk for a long while died with its
    worker (killed, out of memory): say so instead of showing a progress bar forever.
    Without a heartbeat in the cache, only a job older than the task may run is dead."""
    if job.status != JobStatus.RUNNING or job.started_at is None:
        return False
    now = timezone.now()
    try:
        beat = cache.get(_beat_key(job.pk))
    except Exception:
        beat = None
    if beat is not None:
        stale = now.timestamp() - beat > STALE_AFTER_SECONDS
    else:
        stale = (now - job.started_at).total_seconds() > TIME_LIMIT_SECONDS + 120
    if stale and ImportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED,
        finished_at=now,
        error="The worker running this import stopped without finishing (restarted or out "
        "of memory). Import the file again: contacts already imported are not duplicated.",
    ):
        job.refresh_from_db()
        return True
    return False


def _beat_key(job_id: int) -> str:
    return f"contacts:import:{job_id}:beat"


def _beat(job_id: int) -> None:
    try:
        cache.set(_beat_key(job_id), time.time(), timeout=TIME_LIMIT_SECONDS)
    except Exception:
        log.warning("could not record the progress of import %s", job_id, exc_info=True)


def read_preview(job: ImportJob, rows: int = 6) -> list[list[str]]:
    """The first rows of the job's file; a file stored without import_create (the
    admin, a fixture) is inspected first."""
    if "format" not in job.file_info:
        path = Path(job.file.path)
        info = inspect_file(path)
        first = preview(path, info, rows=1)
        info["has_header"] = bool(first) and looks_like_header(first[0])
        ImportJob.objects.filter(pk=job.pk).update(file_info=info)
        job.file_info = info
    return preview(Path(job.file.path), job.file_info, rows)
