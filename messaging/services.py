"""The SMS engine's writes: one-off sends and the helpers the pipeline shares.

The pipeline itself lives in dispatch.py (outbox to provider), receipts.py and
inbound.py (provider to us).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from contacts import phone as phones
from contacts.models import Contact
from messaging import encoding, outbound
from messaging.models import Direction, Message, Priority, ProviderAccount, Sender, Status
from messaging.providers import AccountConfig, Backend, backend_for
from messaging.signals import message_statuses_changed

_backends: dict[tuple, Backend] = {}


class SendRefused(Exception):
    """A one-off send cannot be queued; the message says why."""


def account_config(account: ProviderAccount) -> AccountConfig:
    return AccountConfig(
        account_id=str(account.public_id),
        base_url=account.base_url,
        credentials=dict(account.credentials),
        webhook_secret=account.webhook_secret,
        timeout=account.timeout_seconds,
    )


def backend_of(account: ProviderAccount) -> Backend:
    """One backend (and so one HTTP connection pool) per account and process."""
    config = account_config(account)
    key = (account.pk, account.backend, repr(config))
    backend = _backends.get(key)
    if backend is None:
        for old in [k for k in _backends if k[0] == account.pk]:
            _backends.pop(old).close()
        backend = _backends[key] = backend_for(account.backend, config)
    return backend


def webhook_url(account: ProviderAccount, kind: str) -> str:
    """The absolute URL a provider posts `kind` ("receipts" or "inbound") to."""
    path = reverse(f"messaging:webhook_{kind}", args=[account.public_id])
    query = backend_of(account).webhook_query()
    return f"{settings.MESSAGING_WEBHOOK_BASE_URL.rstrip('/')}{path}{query}"


def message_cost(account: ProviderAccount, to_number: str, segments: int) -> Decimal:
    return account.price_for(phones.country_of(to_number)) * segments


def default_sender() -> Sender | None:
    return (
        Sender.objects.select_related("account")
        .filter(is_active=True, account__is_active=True)
        .order_by("-is_default", "id")
        .first()
    )


@dataclass(frozen=True)
class Outcome:
    message: Message
    suppressed: bool


_SENDER_FIELD = Message._meta.get_field("sender")
_ACCOUNT_FIELD = Message._meta.get_field("account")


def message_send(
    *,
    to: str,
    body: str,
    sender: Sender | None = None,
    contact: Contact | None = None,
    priority: str = Priority.TRANSACTIONAL,
    send_after: datetime | None = None,
    campaign_id: int | None = None,
    compliance: bool = False,
) -> Outcome:
    """Queue one message (inbox replies, API, OTP, test sends) and trigger dispatch.

    An opted-out number gets a row in status 'suppressed', so the caller and the
    message log can see why nothing went out. compliance=True is only for the
    confirmation of an opt-out, which goes to the number that just opted out.

    No transaction of its own: one INSERT that checks the opt-out list itself (see
    messaging.outbound; a later opt-out is caught by dispatch, which checks again).
    Inside a caller's transaction the dispatch kick waits for its commit; outside
    one it runs once the row is committed."""
    try:
        to_number = phones.checked(to)
    except phones.InvalidNumber as exc:
        raise SendRefused(f"Invalid recipient number: {exc}.") from exc
    if not body.strip():
        raise SendRefused("The message is empty.")
    sender = sender or default_sender()
    if sender is None:
        raise SendRefused("No active sender is configured.")
    analysis = encoding.analyze(body)
    now = timezone.now()
    # Decided by the INSERT itself: the number's place on the opt-out list.
    if_opted_out = {
        "status": Status.SUPPRESSED,
        "suppressed_at": now,
        "error_reason": "The recipient opted out.",
    }
    message, suppressed = outbound.message_insert(
        if_opted_out=None if compliance else if_opted_out,
        direction=Direction.OUTBOUND,
        account_id=sender.account_id,
        sender_id=sender.pk,
        from_number=sender.value,
        to_number=str(to_number),
        contact_id=contact.pk if contact is not None else None,
        campaign_id=campaign_id,
        body=body,
        encoding=analysis.encoding,
        segments=analysis.segments,
        priority=priority,
        send_after=send_after or now,
        status=Status.QUEUED,
        queued_at=now,
        suppressed_at=None,
        error_reason="",
        cost=message_cost(sender.account, to_number, analysis.segments),
        compliance=compliance,
    )
    # As Message.objects.create(sender=sender, account=...) would have left them.
    _SENDER_FIELD.set_cached_value(message, sender)
    _ACCOUNT_FIELD.set_cached_value(message, sender.account)
    if not suppressed:
        from messaging import tasks

        lane = Priority(priority)
        transaction.on_commit(lambda: tasks.kick_dispatch(sender.pk, lane))
    return Outcome(message=message, suppressed=suppressed)


def message_cancel_queued(*, ids: list[int]) -> int:
    """Cancel messages that have not been claimed for sending yet."""
    return messages_cancel(Q(id__in=ids))


CANCEL_CHUNK = 5000


@transaction.atomic
def messages_cancel(where: Q) -> int:
    """Cancel the queued messages that match `where`. They are locked first, so a
    dispatch claiming them at the same moment either got them (they are sending and
    stay so) or skips them; then they are cancelled by primary key a chunk at a time,
    each chunk reported to message_statuses_changed (event webhooks)."""
    now = timezone.now()
    ids = list(
        Message.objects.filter(where, status=Status.QUEUED)
        .select_for_update()
        .values_list("id", flat=True)
    )
    for start in range(0, len(ids), CANCEL_CHUNK):
        chunk = ids[start : start + CANCEL_CHUNK]
        Message.objects.filter(id__in=chunk).update(status=Status.CANCELLED, cancelled_at=now)
        message_statuses_changed.send(sender=Message, message_ids=chunk, status=Status.CANCELLED)
    return len(ids)
