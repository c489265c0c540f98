"""The inbox listens to the engine: a campaign or API message that reaches the
provider becomes the latest message of its conversation, if that conversation
exists (the inbox never opens a conversation for every campaign recipient)."""

from __future__ import annotations

from django.db import connection
from django.dispatch import receiver
from django.utils import timezone

from inbox.models import Conversation
from inbox.services import PREVIEW_LENGTH, preview_of
from messaging.models import Direction, Message, Status
from messaging.signals import message_statuses_changed


@receiver(message_statuses_changed, dispatch_uid="inbox.conversations_touch_sent")
def on_statuses_changed(sender, message_ids, status, **kwargs) -> None:
    if status == Status.SENT and message_ids:
        conversations_touch_sent(message_ids)


def conversations_touch_sent(message_ids: list[int]) -> int:
    """One statement per dispatched batch: each existing conversation of these
    messages' (recipient, platform number) takes the newest of them as its preview,
    unless it already shows something newer. Returns the conversations changed."""
    if connection.vendor != "postgresql":
        return _touch_each(message_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            r"""
            UPDATE inbox_conversation AS c
            SET last_message_at = m.created_at, last_message_id = m.id,
                last_message_preview = m.preview, last_message_direction = %s,
                changed_at = %s
            FROM (
                SELECT DISTINCT ON (to_number, from_number) id, to_number, from_number,
                       created_at,
                       CASE WHEN char_length(text) <= %s THEN text
                            ELSE left(text, %s - 1) || '…' END AS preview
                FROM messaging_message,
                     LATERAL (SELECT btrim(regexp_replace(body, '\s+', ' ', 'g')) AS text) AS t
                WHERE id = ANY(%s) AND direction = %s
                ORDER BY to_number, from_number, created_at DESC, id DESC
            ) AS m
            WHERE c.contact_number = m.to_number AND c.platform_number = m.from_number
              AND c.last_message_at < m.created_at
            """,
            [
                Direction.OUTBOUND,
                timezone.now(),
                PREVIEW_LENGTH,
                PREVIEW_LENGTH,
                list(message_ids),
                Direction.OUTBOUND,
            ],
        )
        return cursor.rowcount


def _touch_each(message_ids: list[int]) -> int:
    """The same for SQLite (embedded installs send few messages at a time)."""
    changed = 0
    messages = Message.objects.filter(id__in=message_ids, direction=Direction.OUTBOUND).order_by(
        "created_at", "id"
    )
    for message in messages.only("id", "to_number", "from_number", "created_at", "body"):
        changed += Conversation.objects.filter(
            contact_number=message.to_number,
            platform_number=message.from_number,
            last_message_at__lt=message.created_at,
        ).update(
            last_message_at=message.created_at,
            last_message_id=message.pk,
            last_message_preview=preview_of(message.body),
            last_message_direction=Direction.OUTBOUND,
            changed_at=timezone.now(),
        )
    return changed
