"""Delivery receipts: stored as they arrive (before the webhook answers), then
applied to their messages in bulk, idempotently and monotonically."""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from contacts.models import Source
from contacts.services import numbers_opt_out
from messaging.group_insert import GroupInsert
from messaging.models import (
    STATUS_RANK,
    Message,
    PendingReceipt,
    ProviderAccount,
    Status,
    statuses_below,
)
from messaging.providers import Receipt
from messaging.signals import message_statuses_changed

log = logging.getLogger(__name__)

# After this many passes without a matching message a receipt is left for an
# admin to look at (it stays stored: a receipt is never thrown away).
MAX_MATCH_ATTEMPTS = 30


def _stored_fields(r: Receipt, now) -> dict:
    return {
        "provider_message_id": r.provider_message_id[:100],
        "reference": r.reference[:64],
        "status": r.status,
        "occurred_at": r.occurred_at or now,
        "error_code": r.error_code[:40],
        "error_reason": r.error_reason,
        "raw": r.raw,
        "opted_out": r.opted_out,
    }


_RECEIPT_COLUMNS = [
    "account_id",
    *_stored_fields(Receipt(provider_message_id="", status=""), None),
    "received_at",
    "attempts",
]
# Receipts stored at the same moment by a process's threads go into one INSERT: on
# the webhook's hot path a statement and a commit per receipt cost PostgreSQL twice
# the CPU per receipt that about four in one statement cost (bench/receipts.py).
_insert = GroupInsert(PendingReceipt._meta.db_table, _RECEIPT_COLUMNS)


def receipts_store(*, account: ProviderAccount, receipts: list[Receipt]) -> int:
    """Store receipts as they arrived, durably: the statement holding them commits
    before this returns (all of them or none)."""
    now = timezone.now()
    # A plain INSERT: on the webhook's hot path Model.save() cost the web process a
    # fifth of a receipt's CPU (and unnest() arrays, slow to adapt, a tenth), and
    # bulk_create adds BEGIN/COMMIT round trips. Outside a transaction the statement
    # commits on its own. Multi-row VALUES: PostgreSQL and SQLite alike.
    rows = []
    for r in receipts:
        values = (
            json.dumps(v) if name == "raw" else v for name, v in _stored_fields(r, now).items()
        )
        rows.append([account.pk, *values, now, 0])
    _insert.insert(rows)
    return len(rows)


# What applying reads of a pending receipt, as a row (PendingReceipt.objects...
# values_list(*PENDING_FIELDS, named=True)).
PENDING_FIELDS = (
    "pk",
    "account_id",
    "provider_message_id",
    "reference",
    "status",
    "occurred_at",
    "error_code",
    "error_reason",
    "opted_out",
)
Pending = Any  # such a row: a named tuple of PENDING_FIELDS

# Receipts applied in one transaction; a shorter pass means none is left.
APPLY_LIMIT = 5000


def receipts_apply(*, limit: int = APPLY_LIMIT) -> dict[str, int]:
    """Apply up to `limit` pending receipts. Safe to run in several workers at once."""
    counts = {"applied": 0, "stale": 0, "unmatched": 0}
    with transaction.atomic():
        # Plain rows, not models: building 5,000 models (and below 5,000 Message
        # instances for the UPDATE) was most of applying's CPU (0.133 -> 0.051 ms a
        # receipt). `raw` stays unread: it is kept for people; decoding it was costly.
        pending = list(
            PendingReceipt.objects.filter(attempts__lt=MAX_MATCH_ATTEMPTS)
            .order_by("received_at", "id")
            .select_for_update(skip_locked=True)
            .values_list(*PENDING_FIELDS, named=True)[:limit]
        )
        if not pending:
            return counts
        matched = _match(pending)
        # Per message keep the furthest status (and, among equals, the earliest).
        best: dict[int, Pending] = {}
        for receipt in pending:
            message_id = matched.get(receipt.pk)
            if message_id is None:
                continue
            current = best.get(message_id)
            if current is None or _rank(receipt) > _rank(current):
                best[message_id] = receipt
        groups: dict[str, list[Update]] = defaultdict(list)
        for message_id, receipt in best.items():
            groups[receipt.status].append(
                Update(message_id, receipt.occurred_at, receipt.error_code, receipt.error_reason)
            )
        for status, messages in groups.items():
            counts["applied"] += _update_forward(status, messages)
        _opt_out_reported([message_id for message_id, receipt in best.items() if receipt.opted_out])
        done = [r.pk for r in pending if r.pk in matched]
        counts["stale"] = len(done) - counts["applied"]
        PendingReceipt.objects.filter(pk__in=done).delete()
        unmatched = [r.pk for r in pending if r.pk not in matched]
        counts["unmatched"] = len(unmatched)
        if unmatched:
            # A receipt for a message still in 'sending' (its send result was lost: a
            # killed worker, a dropped connection, a timeout) waits for the reconciler
            # without using up its passes: the lease can outlast MAX_MATCH_ATTEMPTS.
            waiting = _waiting_for_send_result([r for r in pending if r.pk not in matched])
            PendingReceipt.objects.filter(
                pk__in=[pk for pk in unmatched if pk not in waiting]
            ).update(attempts=F("attempts") + 1)
    return counts


class Update(NamedTuple):
    """One message's new status: its id, when, and the error if any."""

    id: int
    at: datetime
    error_code: str
    error_reason: str


def _update_forward(status: str, updates: list[Update]) -> int:
    """Write one status to these messages, each with its own timestamp (and error),
    only where it moves the status forward: duplicates and late receipts change
    nothing. Returns how many rows changed."""
    with_error = status in (Status.UNDELIVERED, Status.FAILED)
    column = f"{status}_at"  # a Status value: never outside input
    if connection.vendor != "postgresql":
        fields = ["status", column] + (["error_code", "error_reason"] if with_error else [])
        moved = set(
            Message.objects.filter(
                id__in=[u.id for u in updates], status__in=statuses_below(status)
            ).values_list("id", flat=True)
        )
        messages = [
            Message(
                id=u.id,
                status=status,
                error_code=u.error_code,
                error_reason=u.error_reason,
                **{column: u.at},
            )
            for u in updates
            if u.id in moved
        ]
        changed = Message.objects.filter(status__in=statuses_below(status)).bulk_update(
            messages, fields, batch_size=500
        )
        message_statuses_changed.send(sender=Message, message_ids=sorted(moved), status=status)
        return changed
    # One statement over unnest() arrays: bulk_update's CASE WHEN per row costs the
    # worker and the database far more for thousands of receipts.
    errors = ", error_code = v.code, error_reason = v.reason" if with_error else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE messaging_message AS m
            SET status = %s, {column} = v.at{errors}
            FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[], %s::text[])
                 AS v(id, at, code, reason)
            WHERE m.id = v.id AND m.status = ANY(%s)
            RETURNING m.id
            """,  # noqa: S608 - the only interpolations are fixed column names
            [
                status,
                [u.id for u in updates],
                [u.at for u in updates],
                [u.error_code for u in updates],
                [u.error_reason for u in updates],
                statuses_below(status),
            ],
        )
        moved = [row[0] for row in cursor.fetchall()]
    message_statuses_changed.send(sender=Message, message_ids=moved, status=status)
    return len(moved)


def _opt_out_reported(message_ids: list[int]) -> None:
    """Opt out the recipients the provider said opted out (in the same transaction
    as the receipt, so a crash cannot apply one without the other)."""
    if message_ids:
        numbers_opt_out(
            numbers=[
                (number, message_id)
                for message_id, number in Message.objects.filter(id__in=message_ids).values_list(
                    "id", "to_number"
                )
            ],
            source=Source.PROVIDER,
            note="The provider's delivery receipt said the recipient opted out.",
        )


def _rank(receipt: Pending) -> tuple[int, float]:
    return STATUS_RANK[receipt.status], -receipt.occurred_at.timestamp()


def _match(pending: list[Pending]) -> dict[int, int]:
    """receipt pk -> message id, by (account, provider id), else by our reference.

    A message still in 'sending' has no provider id recorded yet: its receipt
    waits for the next pass rather than being applied under the send result."""
    by_provider_id: dict[tuple[int, str], list[int]] = defaultdict(list)
    by_reference: dict[str, list[int]] = defaultdict(list)
    for r in pending:
        if r.provider_message_id:
            by_provider_id[(r.account_id, r.provider_message_id)].append(r.pk)
        reference = _normalized_uuid(r.reference)
        if reference:
            by_reference[reference].append(r.pk)
    matched: dict[int, int] = {}
    if by_provider_id:
        condition = Q()
        for account_id in {k[0] for k in by_provider_id}:
            ids = [pid for (acc, pid) in by_provider_id if acc == account_id]
            condition |= Q(account_id=account_id, provider_message_id__in=ids)
        rows = Message.objects.filter(condition, direction="out").values_list(
            "id", "account_id", "provider_message_id"
        )
        for message_id, account_id, pid in rows:
            for receipt_pk in by_provider_id.get((account_id, pid), ()):
                matched[receipt_pk] = message_id
    missing = {ref: pks for ref, pks in by_reference.items() if any(p not in matched for p in pks)}
    if missing:
        rows = (
            Message.objects.filter(uuid__in=list(missing), direction="out")
            .exclude(status=Status.SENDING)
            .values_list("id", "uuid")
        )
        for message_id, uuid in rows:
            for receipt_pk in missing.get(str(uuid), ()):
                matched.setdefault(receipt_pk, message_id)
    return matched


def _waiting_for_send_result(receipts: list[Pending]) -> set[int]:
    """The receipts whose reference is a message of ours still in 'sending'."""
    references = {_normalized_uuid(r.reference) for r in receipts} - {""}
    if not references:
        return set()
    sending = {
        str(u)
        for u in Message.objects.filter(
            uuid__in=list(references), direction="out", status=Status.SENDING
        ).values_list("uuid", flat=True)
    }
    return {r.pk for r in receipts if _normalized_uuid(r.reference) in sending}


def _normalized_uuid(reference: str) -> str:
    try:
        return str(uuid.UUID(reference)) if reference else ""
    except ValueError:
        return ""
