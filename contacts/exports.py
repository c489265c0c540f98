"""Contact exports as CSV: streamed straight to the browser for small sets, written to
MEDIA_ROOT/exports by a task (with a progress bar) for large ones.

Formula injection: a spreadsheet runs a cell that starts with = + - @ (or a tab or
carriage return) as a formula. Following OWASP's advice, such a cell gets a leading
single quote and every cell is quoted. That includes phone numbers: E.164 starts with
"+", so the file holds '+447911123456 (shown as text, never as 4.47911E+11 or a
formula), and the importer reads it back as the same number. The file starts with a
UTF-8 byte-order mark so that Excel reads accents right.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from contacts.models import ContactList, CustomField, ExportJob, JobStatus, Segment, Suppression

log = logging.getLogger(__name__)

DEFAULT_STREAM_MAX_ROWS = 10_000
TIME_LIMIT_SECONDS = 3600
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTACT_COLUMNS = [
    "phone", "first_name", "last_name", "email", "country", "time_zone", "opted_out",
    "source", "created_at",
]  # fmt: skip
OPT_OUT_COLUMNS = ["phone", "source", "opted_out_at", "first_name", "last_name"]


class ExportError(Exception):
    """The export cannot be made; the message is for the person exporting."""


def neutralise(value: Any) -> str:
    """The cell as text that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        value = timezone.localtime(value).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def stream_max_rows() -> int:
    return int(getattr(settings, "CONTACTS_EXPORT_STREAM_MAX_ROWS", DEFAULT_STREAM_MAX_ROWS))


@dataclass
class Source:
    """What one export reads: the header and a query of rows in that order."""

    header: list[str]
    rows: QuerySet
    custom_keys: list[str]
    filename: str

    def count(self) -> int:
        return self.rows.count()

    def iter_rows(self) -> Iterator[list[Any]]:
        for values in self.rows.iterator(chunk_size=2000):
            if self.custom_keys:
                *plain, custom = values
                yield [*plain, *(custom.get(key) for key in self.custom_keys)]
            else:
                yield list(values)


def export_source(
    *, scope: str, contact_list: ContactList | None = None, segment: Segment | None = None
) -> Source:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if scope == ExportJob.Scope.OPT_OUTS:
        rows = Suppression.objects.order_by("phone").values_list(
            "phone", "source", "created_at", "contact__first_name", "contact__last_name"
        )
        return Source(OPT_OUT_COLUMNS, rows, [], f"opt-outs-{stamp}.csv")
    from contacts.models import Contact

    if scope == ExportJob.Scope.ALL:
        contacts, name = Contact.objects.all(), "contacts-all"
    elif scope == ExportJob.Scope.LIST:
        if contact_list is None:
            raise ExportError("The list to export no longer exists.")
        contacts = Contact.objects.filter(listmembership__contact_list=contact_list)
        name = f"contacts-list-{slugify(contact_list.name) or contact_list.pk}"
    elif scope == ExportJob.Scope.SEGMENT:
        if segment is None:
            raise ExportError("The segment to export no longer exists.")
        from contacts.segments import segment_queryset

        try:
            contacts = segment_queryset(segment)
        except ValidationError as exc:
            raise ExportError(
                f"The segment's rules are not valid: {' '.join(exc.messages)}"
            ) from exc
        name = f"contacts-segment-{slugify(segment.name) or segment.pk}"
    else:
        raise ExportError(f"Unknown export {scope!r}.")
    keys = list(CustomField.objects.order_by("key").values_list("key", flat=True))
    rows = contacts.filter(erased_at__isnull=True).order_by("pk")
    rows = rows.values_list(*CONTACT_COLUMNS, *(["custom"] if keys else []))
    return Source([*CONTACT_COLUMNS, *keys], rows, keys, f"{name}-{stamp}.csv")


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_blocks(source: Source, rows_per_block: int = 1000) -> Iterator[tuple[str, int]]:
    """The file as blocks of text, each with the number of rows it holds."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield "\ufeff" + writer.writerow(source.header), 0
    block: list[str] = []
    for row in source.iter_rows():
        block.append(writer.writerow([neutralise(v) for v in row]))
        if len(block) == rows_per_block:
            yield "".join(block), len(block)
            block = []
    if block:
        yield "".join(block), len(block)


def csv_text(source: Source) -> Iterable[str]:
    return (text for text, _ in csv_blocks(source))


# -- the background export --------------------------------------------------------------


def export_start(
    *,
    scope: str,
    contact_list: ContactList | None,
    segment: Segment | None,
    user: AbstractBaseUser | None,
) -> ExportJob:
    from contacts import tasks

    with transaction.atomic():
        job = ExportJob.objects.create(
            scope=scope,
            contact_list=contact_list,
            segment=segment,
            created_by=user if user and user.is_authenticated else None,
        )
        transaction.on_commit(lambda: _enqueue(tasks.export_contacts, job.pk))
    return job


def _enqueue(task, job_id: int) -> None:
    try:
        task.delay(job_id)
    except Exception:
        log.exception("could not enqueue export %s", job_id)
        _fail(
            job_id,
            "The export could not be handed to a worker (the task queue is unreachable). Try again in a moment.",
        )


def export_run(*, job_id: int) -> None:
    """The task's body: write the file once; any failure ends in status failed with a reason."""
    if not ExportJob.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING
    ):
        log.info("export %s is not waiting to run; nothing to do", job_id)
        return
    part: Path | None = None
    try:
        job = ExportJob.objects.select_related("contact_list", "segment").get(pk=job_id)
        source = export_source(scope=job.scope, contact_list=job.contact_list, segment=job.segment)
        ExportJob.objects.filter(pk=job_id).update(rows_total=source.count())
        name = default_storage.get_available_name(f"exports/{source.filename}")
        path = Path(default_storage.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        done = reported = 0
        with open(part, "w", encoding="utf-8", newline="") as f:
            for text, rows in csv_blocks(source, rows_per_block=5000):
                f.write(text)
                done += rows
                if done - reported >= 5000:
                    ExportJob.objects.filter(pk=job_id).update(rows_done=done)
                    reported = done
        os.replace(part, path)
        ExportJob.objects.filter(pk=job_id).update(
            status=JobStatus.DONE,
            file=name,
            rows_done=done,
            rows_total=done,
            finished_at=timezone.now(),
        )
    except ExportError as exc:
        _fail(job_id, str(exc))
    except SoftTimeLimitExceeded:
        _fail(
            job_id, "The export took too long and was stopped. Export a list or a segment instead."
        )
    except BaseException as exc:
        log.exception("export %s failed", job_id)
        _fail(job_id, f"The export stopped on an unexpected error: {type(exc).__name__}.")
        if not isinstance(exc, Exception):
            raise
    finally:
        if part is not None:
            part.unlink(missing_ok=True)


def _fail(job_id: int, reason: str) -> None:
    ExportJob.objects.filter(pk=job_id).exclude(status=JobStatus.DONE).update(
        status=JobStatus.FAILED, error=reason, finished_at=timezone.now()
    )


def export_fail_if_stale(job: ExportJob) -> bool:
    """A job older than the task may run died with its worker: say so."""
    limit = timezone.now() - timedelta(seconds=TIME_LIMIT_SECONDS + 120)
    stale = ExportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, created_at__lt=limit)
    if stale.update(
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        error="The worker making this export stopped without finishing. Start the export again.",
    ):
        job.refresh_from_db()
        return True
    return False
