"""Outbox to provider: claim a batch, take rate tokens, re-check opt-outs, send,
write the results back in bulk. No network I/O happens inside a transaction.

Never send twice: a row is claimed (queued -> sending, with a lease) in a
committed transaction before any request leaves; only the worker holding the
claim sends it; a row whose lease runs out is reconciled by asking the
provider (reconcile_leases), never resent blindly.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from contacts.models import Source, Suppression
from contacts.services import numbers_opt_out
from messaging import ratelimit
from messaging.models import Message, ProviderAccount, Sender, Status
from messaging.providers import OutboundSMS, ProviderError, SendResult
from messaging.render import render_claimed
from messaging.services import backend_of, webhook_url
from messaging.signals import message_statuses_changed

log = logging.getLogger(__name__)

CLAIM_FIELDS = (
    "id",
    "uuid",
    "to_number",
    "from_number",
    "body",
    "segments",
    "attempts",
    "merge",
    "contact_id",
)
MAX_CLAIM = 1000  # rows per claim; a provider batch may be smaller (backend.max_batch)
# Longest a bulk dispatch spends on one sender's transactional messages between chunks.
TRANSACTIONAL_INLINE_SECONDS = 5.0


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    suppressed: int = 0
    unknown: int = 0
    more: bool = False  # stopped for time while due messages may remain
    errors: list[str] = field(default_factory=list)


def claim(*, sender: Sender, lane: str, limit: int) -> tuple[list[dict], int]:
    """Claim up to `limit` due queued messages of one sender and lane.

    Returns the claimed rows still to send and how many were suppressed because
    their number opted out after they were queued."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.MESSAGING_SENDING_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            Message.objects.filter(
                sender_id=sender.pk,
                priority=lane,
                status=Status.QUEUED,
                held=False,
                send_after__lte=now,
            )
            .order_by("send_after", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return [], 0
        Message.objects.filter(id__in=ids, status=Status.QUEUED).update(
            status=Status.SENDING,
            sending_at=now,
            lease_expires_at=lease,
            attempts=F("attempts") + 1,
        )
        opted_out = list(
            Message.objects.filter(
                id__in=ids,
                status=Status.SENDING,
                compliance=False,
                to_number__in=Suppression.objects.values("phone"),
            ).values_list("id", flat=True)
        )
        suppressed = 0
        if opted_out:
            suppressed = Message.objects.filter(id__in=opted_out).update(
                status=Status.SUPPRESSED,
                suppressed_at=now,
                lease_expires_at=None,
                error_reason="The recipient opted out before sending.",
            )
            message_statuses_changed.send(
                sender=Message, message_ids=opted_out, status=Status.SUPPRESSED
            )
    rows = list(
        Message.objects.filter(id__in=ids, status=Status.SENDING)
        .order_by("id")
        .values(*CLAIM_FIELDS)
    )
    render_claimed(rows, sender.account)
    return rows, suppressed


def dispatch(*, sender_id: int, lane: str, budget_seconds: float | None = None) -> DispatchReport:
    """Send the sender's due messages of one lane until none is left or the time
    budget runs out."""
    report = DispatchReport()
    sender = Sender.objects.select_related("account").get(pk=sender_id)
    account = sender.account
    if not (sender.is_active and account.is_active):
        return report
    backend = backend_of(account)
    status_url = webhook_url(account, "receipts")
    rate = float(sender.messages_per_second)
    # Without a batch endpoint, 16 rounds of the backend's bounded pool per claim: with 4,
    # claiming and recording took a fifth of the time at 50 ms a send.
    chunk = backend.max_batch if backend.max_batch > 1 else backend.max_concurrency * 16
    chunk = max(1, min(chunk, MAX_CLAIM))
    transactional = lane == "transactional"
    budget = settings.MESSAGING_DISPATCH_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget

    while True:
        if time.monotonic() >= deadline:
            report.more = True
            break
        if not transactional:
            _serve_transactional(deadline)
        granted = ratelimit.take(sender.pk, rate, chunk, allow_debt=transactional)
        if granted == 0:
            time.sleep(ratelimit.wait_hint(rate))
            continue
        rows, suppressed = claim(sender=sender, lane=lane, limit=granted)
        report.suppressed += suppressed
        ratelimit.give_back(sender.pk, rate, granted - len(rows))
        if not rows:
            if suppressed:
                continue
            break
        # One token per message was taken; longer messages cost their extra segments.
        ratelimit.charge(sender.pk, rate, sum(r["segments"] for r in rows) - len(rows))
        outbound = [
            OutboundSMS(
                reference=str(r["uuid"]),
                to=r["to_number"],
                sender=r["from_number"],
                body=r["body"],
                status_callback_url=status_url,
            )
            for r in rows
        ]
        results = _send(backend, outbound)
        _record(account, rows, results, report)
    return report


def _serve_transactional(deadline: float) -> None:
    """Send the transactional messages that are due, of any sender, before the next
    bulk chunk. Bulk dispatches can hold every worker process for their whole time
    budget, so a one-off send must not depend on a free worker to go out within a
    chunk's time. One query (an index probe per active sender) when none is due."""
    due = Message.objects.filter(
        sender_id=OuterRef("pk"),
        priority="transactional",
        status=Status.QUEUED,
        held=False,
        send_after__lte=timezone.now(),
    )
    senders = Sender.objects.filter(Exists(due), is_active=True).values_list("id", flat=True)
    for sender_id in senders:
        budget = min(TRANSACTIONAL_INLINE_SECONDS, deadline - time.monotonic())
        if budget <= 0:
            return
        # Claims are row locks: this and the transactional task itself never both send a row.
        dispatch(sender_id=sender_id, lane="transactional", budget_seconds=budget)


def _send(backend, outbound: list[OutboundSMS]) -> list[SendResult]:
    results: list[SendResult] = []
    # Batch endpoint: its own batch size. Otherwise send_batch runs a bounded pool.
    size = backend.max_batch if backend.max_batch > 1 else len(outbound)
    for start in range(0, len(outbound), size):
        part = outbound[start : start + size]
        try:
            results.extend(backend.send_batch(part))
        except ProviderError as exc:
            # The whole call failed: the same outcome for every message in it.
            results.extend(SendResult(reference=m.reference, error=exc) for m in part)
        except Exception as exc:  # a bug in a backend must not strand claimed rows
            log.exception(
                "provider backend crashed", extra={"message_uuids": [m.reference for m in part]}
            )
            error = ProviderError(f"backend error: {exc}", permanent=False, maybe_sent=True)
            results.extend(SendResult(reference=m.reference, error=error) for m in part)
    return results


def _backoff(attempts: int, retry_after: float | None) -> float:
    base = min(300.0, 2.0 ** min(attempts, 8))
    delay = max(base, retry_after or 0.0)
    return delay * random.uniform(0.8, 1.3)  # jitter keeps retries from marching in step


def _record(
    account: ProviderAccount, rows: list[dict], results: list[SendResult], report: DispatchReport
) -> None:
    now = timezone.now()
    by_ref = {str(r["uuid"]): r for r in rows}
    sent: list[tuple[int, str, dict]] = []
    failed: list[Message] = []
    retry: list[Message] = []
    unknown: list[int] = []
    opted_out: list[tuple[int, str]] = []
    for result in results:
        row = by_ref.get(result.reference)
        if row is None:
            log.error(
                "provider answered for a reference we did not send: %s",
                result.reference,
                extra={"message_uuid": result.reference},
            )
            continue
        error = result.error
        if error is None:
            sent.append((row["id"], result.provider_message_id, result.raw))
        elif error.maybe_sent:
            unknown.append(row["id"])
        elif error.permanent:
            failed.append(_failure(row["id"], error))
            if error.opted_out:
                opted_out.append((row["id"], row["to_number"]))
        elif row["attempts"] >= settings.MESSAGING_MAX_ATTEMPTS:
            error = ProviderError(
                f"Gave up after {row['attempts']} attempts: {error.message}",
                permanent=True,
                code=error.code,
                raw=error.raw,
            )
            failed.append(_failure(row["id"], error))
        else:
            message = _failure(row["id"], error)
            message.send_after = now + timedelta(
                seconds=_backoff(row["attempts"], error.retry_after)
            )
            retry.append(message)

    with transaction.atomic():
        _mark_sent(sent, now)
        if failed:
            Message.objects.filter(status=Status.SENDING).bulk_update(
                failed, ["error_code", "error_reason", "provider_response"], batch_size=500
            )
            failed_ids = list(
                Message.objects.filter(
                    id__in=[m.id for m in failed], status=Status.SENDING
                ).values_list("id", flat=True)
            )
            Message.objects.filter(id__in=failed_ids, status=Status.SENDING).update(
                status=Status.FAILED, failed_at=now, lease_expires_at=None
            )
            message_statuses_changed.send(
                sender=Message, message_ids=failed_ids, status=Status.FAILED
            )
        if retry:
            Message.objects.filter(status=Status.SENDING).bulk_update(
                retry, ["send_after", "error_code", "error_reason"], batch_size=500
            )
            Message.objects.filter(id__in=[m.id for m in retry], status=Status.SENDING).update(
                status=Status.QUEUED, lease_expires_at=None
            )
        if unknown:
            # Reconciled by lookup at once rather than at the end of the lease.
            Message.objects.filter(id__in=unknown, status=Status.SENDING).update(
                lease_expires_at=now
            )
        numbers_opt_out(
            numbers=[(number, message_id) for message_id, number in opted_out],
            source=Source.PROVIDER,
            note="The provider reported that the recipient opted out.",
        )
    report.sent += len(sent)
    report.failed += len(failed)
    report.retried += len(retry)
    report.unknown += len(unknown)


def _failure(message_id: int, error: ProviderError) -> Message:
    return Message(
        id=message_id,
        error_code=error.code[:40],
        error_reason=error.message,
        provider_response=error.raw,
    )


def _mark_sent(sent: list[tuple[int, str, dict]], now) -> None:
    """Record provider ids, and move rows still in 'sending' to 'sent' (a receipt
    may already have moved one further: status only moves forward)."""
    if not sent:
        return
    ids = [s[0] for s in sent]
    if connection.vendor == "postgresql":
        # COPY into a temporary table, then one UPDATE ... FROM: passing the provider
        # answers as query parameters cost the worker ~5x more CPU (psycopg quotes
        # every array element in Python), the largest share of a batch's time.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS messaging_sent_result "
                "(id bigint, pid text, raw jsonb) ON COMMIT DELETE ROWS"
            )
            with cursor.cursor.copy("COPY messaging_sent_result (id, pid, raw) FROM STDIN") as copy:
                for message_id, provider_id, raw in sent:
                    copy.write_row((message_id, provider_id, json.dumps(raw)))
            cursor.execute(
                """
                UPDATE messaging_message AS m
                SET provider_message_id = v.pid,
                    provider_response = v.raw,
                    status = CASE WHEN m.status = 'sending' THEN 'sent' ELSE m.status END,
                    sent_at = CASE WHEN m.status = 'sending' THEN %s ELSE m.sent_at END,
                    lease_expires_at = NULL
                FROM messaging_sent_result AS v
                WHERE m.id = v.id AND m.status IN ('sending', 'sent', 'delivered',
                                                   'undelivered', 'failed')
                RETURNING m.id, m.status, m.sent_at
                """,
                [now],
            )
            # The rows this statement moved to 'sent' (others only got their provider id).
            moved = [i for i, status, at in cursor.fetchall() if status == "sent" and at == now]
            message_statuses_changed.send(sender=Message, message_ids=moved, status=Status.SENT)
        return
    Message.objects.bulk_update(
        [Message(id=i, provider_message_id=pid, provider_response=raw) for i, pid, raw in sent],
        ["provider_message_id", "provider_response"],
        batch_size=500,
    )
    with transaction.atomic():
        moved = list(
            Message.objects.filter(id__in=ids, status=Status.SENDING).values_list("id", flat=True)
        )
        Message.objects.filter(id__in=moved, status=Status.SENDING).update(
            status=Status.SENT, sent_at=now, lease_expires_at=None
        )
        message_statuses_changed.send(sender=Message, message_ids=moved, status=Status.SENT)


def reconcile_leases(*, limit: int = 500) -> dict[str, int]:
    """Messages left in 'sending' past their lease (a crashed worker, a timeout):
    ask the provider whether it has each one; requeue only those it does not."""
    now = timezone.now()
    counts = {"sent": 0, "requeued": 0, "failed": 0, "later": 0}
    stale = list(
        Message.objects.filter(status=Status.SENDING, lease_expires_at__lte=now)
        .select_related("account")
        .order_by("lease_expires_at")[:limit]
    )
    for message in stale:
        # Take the row over with a fresh lease so that two reconcilers don't race.
        lease = now + timedelta(seconds=settings.MESSAGING_SENDING_LEASE_SECONDS)
        if not Message.objects.filter(
            pk=message.pk, status=Status.SENDING, lease_expires_at=message.lease_expires_at
        ).update(lease_expires_at=lease):
            continue
        backend = backend_of(message.account)
        try:
            found = backend.lookup(
                reference=str(message.uuid), provider_message_id=message.provider_message_id
            )
        except ProviderError as exc:
            if exc.permanent:
                Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
                    status=Status.FAILED,
                    failed_at=now,
                    lease_expires_at=None,
                    error_code="unknown_outcome",
                    error_reason=(
                        "The provider did not answer and cannot be asked whether it took "
                        f"the message, so it was not resent ({exc.message})."
                    ),
                )
                counts["failed"] += 1
            else:
                counts["later"] += 1
            continue
        if found is not None and found.error is not None:
            # The provider has it but refused it: final, and not ours to resend.
            failure = _failure(message.pk, found.error)
            Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
                status=Status.FAILED,
                failed_at=now,
                lease_expires_at=None,
                provider_message_id=found.provider_message_id,
                error_code=failure.error_code,
                error_reason=failure.error_reason,
            )
            counts["failed"] += 1
        elif found is not None:
            _mark_sent([(message.pk, found.provider_message_id, found.raw)], now)
            counts["sent"] += 1
        else:
            Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
                status=Status.QUEUED, lease_expires_at=None, send_after=now
            )
            counts["requeued"] += 1
    return counts


def due_lanes() -> list[tuple[int, str]]:
    """(sender id, lane) pairs with due queued messages: one index probe each."""
    now = timezone.now()
    pairs = []
    for sender_id in Sender.objects.filter(is_active=True).values_list("id", flat=True):
        for lane in ("transactional", "bulk"):
            if Message.objects.filter(
                Q(sender_id=sender_id, priority=lane, status=Status.QUEUED, held=False),
                send_after__lte=now,
            ).exists():
                pairs.append((sender_id, lane))
    return pairs
