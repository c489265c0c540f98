"""The `data` of each event type: what a receiver needs to act without calling back.

Everything here is JSON-ready (ISO 8601 times, string UUIDs)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count

from contacts.models import ConsentEvent, Contact
from messaging.models import Direction, Message, Sender, Status

# What "the last message we sent" may be: it left us (queued or refused ones did not).
LEFT_US = [Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNDELIVERED]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def contact_data(contact: Contact | None) -> dict | None:
    if contact is None:
        return None
    return {
        "id": contact.pk,
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "country": contact.country,
        "time_zone": contact.time_zone,
        "opted_out": contact.opted_out,
        "fields": contact.custom,
    }


def number_data(sender: Sender | None, value: str) -> dict:
    if sender is None:
        return {"number": value, "label": "", "kind": "", "metadata": {}}
    return {
        "number": sender.value,
        "label": sender.label,
        "kind": sender.kind,
        "metadata": sender.metadata,
    }


def message_received(message: Message) -> dict:
    contact = Contact.objects.filter(pk=message.contact_id).first() if message.contact_id else None
    sender = Sender.objects.filter(pk=message.sender_id).first() if message.sender_id else None
    return {
        "message": {
            "id": str(message.uuid),
            "text": message.body,
            "from": message.from_number,
            "to": message.to_number,
            "segments": message.segments,
            "received_at": iso(message.received_at),
        },
        "contact": contact_data(contact),
        "number": number_data(sender, message.to_number),
        "last_sent": _last_sent(message),
    }


def _last_sent(inbound: Message) -> dict | None:
    """The last text we sent this number before it wrote to us (what it answers)."""
    last = (
        Message.objects.filter(
            direction=Direction.OUTBOUND,
            to_number=inbound.from_number,
            status__in=LEFT_US,
            id__lt=inbound.pk,
        )
        .order_by("-created_at", "-id")
        .only("uuid", "body", "status", "from_number", "sent_at", "created_at", "campaign_id")
        .first()
    )
    if last is None:
        return None
    campaign = None
    if last.campaign_id:
        from campaigns.models import Campaign

        name = Campaign.objects.filter(pk=last.campaign_id).values_list("name", flat=True).first()
        campaign = {"id": last.campaign_id, "name": name}
    return {
        "id": str(last.uuid),
        "text": last.body,
        "from": last.from_number,
        "status": last.status,
        "sent_at": iso(last.sent_at or last.created_at),
        "campaign": campaign,
    }


STATUS_FIELDS = (
    "id",
    "uuid",
    "direction",
    "from_number",
    "to_number",
    "campaign_id",
    "contact_id",
    "segments",
    "error_code",
    "error_reason",
)


def message_statuses(message_ids: Iterable[int], status: str) -> list[dict]:
    """One payload per message, in one query."""
    at_field = f"{status}_at"
    rows = Message.objects.filter(id__in=list(message_ids)).order_by("id")
    payloads = []
    for row in rows.values(*STATUS_FIELDS, at_field):
        error = None
        if row["error_code"] or (status in (Status.FAILED, Status.UNDELIVERED)):
            error = {"code": row["error_code"], "reason": row["error_reason"]}
        payloads.append(
            {
                "message": {
                    "id": str(row["uuid"]),
                    "direction": row["direction"],
                    "from": row["from_number"],
                    "to": row["to_number"],
                    "status": str(status),
                    "status_at": iso(row[at_field]),
                    "segments": row["segments"],
                    "campaign_id": row["campaign_id"],
                    "contact_id": row["contact_id"],
                    "error": error,
                }
            }
        )
    return payloads


def consent_changes(events: list[ConsentEvent]) -> list[dict]:
    contact_ids = {e.contact_id for e in events if e.contact_id}
    contacts = Contact.objects.in_bulk(list(contact_ids)) if contact_ids else {}
    return [
        {
            "phone": e.phone,
            "source": e.source,
            "keyword": e.keyword,
            "at": iso(e.created_at),
            "contact": contact_data(contacts.get(e.contact_id)),
        }
        for e in events
    ]


def campaign_completed(campaign_id: int) -> dict:
    from campaigns.models import Campaign

    campaign = Campaign.objects.select_related("sender").get(pk=campaign_id)
    counts = dict(
        Message.objects.filter(campaign_id=campaign_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "campaign": {
            "id": campaign.pk,
            "name": campaign.name,
            "sender": campaign.sender.value if campaign.sender_id else None,
            "completed_at": iso(campaign.completed_at),
            "counts": counts,
        }
    }


def test_event() -> dict:
    return {"message": "A test event from smsworks: your endpoint is reachable."}
