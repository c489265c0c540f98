"""What the short drill found first: a receipt that arrives while its message is still
in 'sending' (the send result was lost with a killed worker or a dropped database
connection) must wait for the reconciler, however many passes that takes, and then
be applied. It used to be given up after MAX_MATCH_ATTEMPTS passes (~20 s of
receipt traffic), long before the lease (120 s) ran out."""

from __future__ import annotations

import pytest
from django.utils import timezone

from messaging import dispatch, receipts
from messaging.models import Message, PendingReceipt, Priority, Status
from messaging.providers import Receipt
from messaging.services import message_send
from tests.factories import ProviderAccountFactory, SenderFactory

pytestmark = pytest.mark.django_db


def test_a_receipt_for_a_message_in_sending_waits_for_the_send_result():
    account = ProviderAccountFactory()
    sender = SenderFactory(account=account, messages_per_second=100)
    message_send(to="+447912000001", body="Hello", sender=sender, priority=Priority.BULK)
    rows, _ = dispatch.claim(sender=sender, lane="bulk", limit=10)
    assert len(rows) == 1
    message = Message.objects.get(pk=rows[0]["id"])
    assert message.status == Status.SENDING
    receipts.receipts_store(
        account=account,
        receipts=[
            Receipt(provider_message_id="p-1", status="delivered", reference=str(message.uuid))
        ],
    )

    for _ in range(receipts.MAX_MATCH_ATTEMPTS + 10):
        receipts.receipts_apply()
    pending = PendingReceipt.objects.get()
    assert pending.attempts == 0  # still waiting, not given up

    # The reconciler finds it at the provider: the waiting receipt applies.
    dispatch._mark_sent([(message.pk, "p-1", {})], timezone.now())
    assert receipts.receipts_apply()["applied"] == 1
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert not PendingReceipt.objects.exists()


def test_a_receipt_that_matches_nothing_is_still_given_up():
    account = ProviderAccountFactory()
    receipts.receipts_store(
        account=account,
        receipts=[
            Receipt(
                provider_message_id="nobody",
                status="delivered",
                reference="6f1c1f2e-8f4a-4c1e-9a51-3a3f4b1c2d3e",
            )
        ],
    )
    for _ in range(receipts.MAX_MATCH_ATTEMPTS + 2):
        receipts.receipts_apply()
    assert PendingReceipt.objects.get().attempts == receipts.MAX_MATCH_ATTEMPTS
