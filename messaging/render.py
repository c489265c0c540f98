"""Bodies with merge fields are rendered when their rows are claimed for sending,
so a launch writes the audience in one set-based INSERT and each recipient's
text (and so its encoding, segments and cost) is settled right before it goes."""

from __future__ import annotations

from django.conf import settings

from contacts import phone as phones
from contacts.models import Contact
from messaging import encoding, merge
from messaging.models import Message, ProviderAccount, Status


def short_link(message_id: int, index: int) -> str:
    return f"{settings.SHORT_LINK_BASE_URL.rstrip('/')}/{merge.link_code(message_id, index)}"


def render_claimed(rows: list[dict], account: ProviderAccount) -> None:
    """Render in place the claimed rows whose body is still a template."""
    pending = [r for r in rows if r.get("merge")]
    if not pending:
        return
    contacts = Contact.objects.in_bulk([r["contact_id"] for r in pending if r["contact_id"]])
    updates = []
    for row in pending:
        contact = contacts.get(row["contact_id"])
        values = merge.contact_values(contact) if contact else {"phone": row["to_number"]}
        body = merge.render(row["body"], values, lambda i, mid=row["id"]: short_link(mid, i))
        analysis = encoding.analyze(body)
        segments = max(1, analysis.segments)
        row.update(body=body, segments=segments, merge=False)
        updates.append(
            Message(
                id=row["id"],
                body=body,
                encoding=analysis.encoding,
                segments=segments,
                cost=account.price_for(phones.country_of(row["to_number"])) * segments,
                merge=False,
            )
        )
    Message.objects.filter(status=Status.SENDING).bulk_update(
        updates, ["body", "encoding", "segments", "cost", "merge"], batch_size=500
    )
