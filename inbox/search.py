"""Search over message text and numbers. On PostgreSQL, message text is matched
with ILIKE on the trigram index of migration 0002 (message_body_search_trgm) and
partial numbers on conversation_number_search_trgm."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Max, Q, QuerySet

from contacts import phone as phones
from contacts.models import Contact
from inbox.models import Conversation
from inbox.queries import for_reader
from messaging.models import Direction, Message


def _looks_like_number(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return digits >= 4 and digits >= len(text.replace(" ", "")) - 2


def search_conversations(text: str, user, limit: int = 20) -> list[Conversation]:
    """Conversations by the contact's number (whole or in part) or name."""
    text = text.strip()
    conversations = for_reader(Conversation.objects.all(), user)
    if _looks_like_number(text):
        try:
            number = phones.normalize(text)
        except phones.InvalidNumber:
            number = ""
        if number:
            found = list(conversations.filter(contact_number=number)[:limit])
            if found:
                return found
        digits = "".join(c for c in text if c.isdigit())
        return list(
            conversations.filter(contact_number__contains=digits).order_by("-last_message_at")[
                :limit
            ]
        )
    if len(text) < 3:
        return []
    from contacts.search import search

    contact_ids = list(search(Contact.objects.all(), text).values_list("pk", flat=True)[:limit])
    return list(
        conversations.filter(contact_id__in=contact_ids).order_by("-last_message_at")[:limit]
    )


@dataclass
class MessageHit:
    message: Message
    conversation: Conversation | None


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def message_search(text: str) -> QuerySet[Message]:
    """Texts containing `text`, newest first (not campaign copies, which repeat one
    body to thousands): ILIKE on PostgreSQL, served by the trigram index of
    migration 0002."""
    messages = Message.objects.filter(campaign_id__isnull=True)
    if connection.vendor == "postgresql":
        messages = messages.extra(
            where=["messaging_message.body ILIKE %s"], params=[f"%{escape_like(text)}%"]
        )
    else:
        messages = messages.filter(body__icontains=text)
    # The planner picks per text from its estimate: a common word walks the primary
    # key backwards and meets 30 matches at once; a rare one reads the trigram index.
    return messages.order_by("-id")


# A search first walks the newest RECENT_IDS messages in id order, then asks the
# trigram index for older ones (PostgreSQL).
RECENT_IDS = 20_000


def _matching(text: str, before: int | None, count: int) -> list[Message]:
    """Up to `count` texts containing `text`, newest first, below `before`.

    On PostgreSQL the work is bounded whatever the planner guesses. Left to choose in
    one query, it walks the primary key from the newest message down when it thinks
    the text common, and that walk reads the whole table for a text that is in fact
    rare: ANALYZE's sample of the body column sometimes holds the one message that
    contains it, and the planner then reckons it 1 row in 100. So: the newest
    RECENT_IDS ids first (an id range: at most that many rows, whichever plan); then,
    if the page is not full, the older ones through the trigram index (ordered by an
    expression no index gives, so no walk: it reads the matching rows and sorts them)."""
    messages = message_search(text)
    if before:
        messages = messages.filter(id__lt=before)
    if connection.vendor != "postgresql":
        return list(messages[:count])
    top = before or (Message.objects.aggregate(top=Max("id"))["top"] or 0) + 1
    floor = top - RECENT_IDS
    if floor <= 1:
        return list(messages[:count])
    page = list(messages.filter(id__gte=floor)[:count])
    if len(page) < count:
        older = messages.filter(id__lt=floor).order_by((F("id") + 0).desc())
        page += older[: count - len(page)]
    return page


def search_messages(text: str, before: int | None = None, limit: int = 30) -> tuple[list, int]:
    text = text.strip()
    if len(text) < 3:
        return [], 0
    page = _matching(text, before, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    pairs = {
        (m.from_number, m.to_number)
        if m.direction == Direction.INBOUND
        else (m.to_number, m.from_number)
        for m in page
    }
    found = {}
    if pairs:
        query = Q()
        for contact_number, platform_number in pairs:
            query |= Q(contact_number=contact_number, platform_number=platform_number)
        found = {
            (c.contact_number, c.platform_number): c
            for c in Conversation.objects.filter(query).select_related("contact")
        }
    hits = []
    for m in page:
        key = (
            (m.from_number, m.to_number)
            if m.direction == Direction.INBOUND
            else (m.to_number, m.from_number)
        )
        hits.append(MessageHit(m, found.get(key)))
    return hits, (page[-1].pk if more and page else 0)
