"""Celery tasks: thin triggers that take ids; the reply rows are the queue of record."""

from __future__ import annotations

from celery import shared_task

from emailsms import replies


@shared_task(name="emailsms.replies_due")
def replies_due() -> int:
    """Mail replies whose first try failed (or whose process died mid-send)."""
    ids = replies.replies_due()
    for reply_id in ids:
        replies.reply_deliver(reply_id=reply_id)
    return len(ids)
