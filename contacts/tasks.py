"""Celery tasks: thin, take ids. Each job is claimed with a conditional update
(pending -> running), so a task delivered twice runs the job once."""

from __future__ import annotations

from celery import shared_task

from contacts import exports, imports, search


@shared_task(
    name="contacts.import_contacts",
    soft_time_limit=imports.TIME_LIMIT_SECONDS - 60,
    time_limit=imports.TIME_LIMIT_SECONDS,
)
def import_contacts(job_id: int) -> None:
    imports.import_run(job_id=job_id)
    # Also after a failed or partial import: whatever rows it wrote went through
    # the pending list.
    gin_pending_flush.delay()


@shared_task(name="contacts.gin_pending_flush")
def gin_pending_flush() -> None:
    search.gin_pending_flush()


@shared_task(
    name="contacts.export_contacts",
    soft_time_limit=exports.TIME_LIMIT_SECONDS - 60,
    time_limit=exports.TIME_LIMIT_SECONDS,
)
def export_contacts(job_id: int) -> None:
    exports.export_run(job_id=job_id)
