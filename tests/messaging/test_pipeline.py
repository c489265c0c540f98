"""The send pipeline end to end: outbox -> real SMS Works backend -> the simulator
process -> receipts posted back to the live server -> applied."""

from __future__ import annotations

import pytest
from django.utils import timezone

from contacts.models import ConsentEvent, Suppression
from messaging import dispatch
from messaging.models import Message, PendingReceipt, Priority, Status
from messaging.receipts import receipts_apply
from messaging.services import message_send
from tests.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _queue(sender, count: int, *, prefix: str = "+4479120") -> list[Message]:
    return [
        message_send(
            to=f"{prefix}{i:05d}", body=f"Hello number {i}", sender=sender, priority=Priority.BULK
        ).message
        for i in range(count)
    ]


def _references(sim) -> list[str]:
    return [line["reference"] for line in sim.record_lines()]


def test_it_sends_once_and_applies_the_receipts(engine):
    sim, sender = engine["simulator"], engine["sender"]
    messages = _queue(sender, 30)

    report = dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=10)

    assert (report.sent, report.failed, report.retried) == (30, 0, 0)
    assert sorted(_references(sim)) == sorted(str(m.uuid) for m in messages)
    assert sim.stats()["duplicates"] == 0
    sent = Message.objects.filter(status=Status.SENT)
    assert sent.count() == 30
    assert not sent.filter(provider_message_id="").exists()

    wait_for(lambda: PendingReceipt.objects.count() >= 30, timeout=60, what="30 receipts")
    receipts_apply()
    assert Message.objects.filter(status=Status.DELIVERED, delivered_at__isnull=False).count() == 30


@pytest.mark.parametrize("fault", ["rate_429", "rate_5xx"])
def test_transient_errors_are_retried_later_and_sent_once(engine, fault):
    sim, sender = engine["simulator"], engine["sender"]
    _queue(sender, 10)
    sim.config(**{fault: 1.0})

    report = dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=5)

    assert report.retried == 10 and report.sent == 0
    waiting = Message.objects.filter(status=Status.QUEUED)
    assert waiting.count() == 10
    assert all(m.send_after > timezone.now() and m.error_reason for m in waiting)
    # Not due yet: a second dispatch sends nothing.
    assert dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=1).sent == 0

    sim.config(**{fault: 0.0})
    Message.objects.update(send_after=timezone.now())
    report = dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=5)

    assert report.sent == 10
    assert Message.objects.filter(status=Status.SENT, attempts=2).count() == 10
    assert len(_references(sim)) == 10 and sim.stats()["duplicates"] == 0


@pytest.mark.parametrize("accepted", [True, False], ids=["answer-lost", "request-lost"])
def test_a_timeout_is_reconciled_by_lookup_never_resent_blindly(engine, accepted):
    sim, sender, account = engine["simulator"], engine["sender"], engine["account"]
    account.timeout_seconds = 0.5
    account.save()
    _queue(sender, 5)
    sim.config(rate_timeout=1.0, timeout_ms=1500, timeout_accepts=accepted)

    report = dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=5)

    assert report.unknown == 5
    assert Message.objects.filter(status=Status.SENDING).count() == 5
    sim.config(rate_timeout=0.0)
    counts = dispatch.reconcile_leases()

    if accepted:
        assert counts["sent"] == 5
        assert Message.objects.filter(status=Status.SENT).count() == 5
    else:
        assert counts["requeued"] == 5
        assert dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=5).sent == 5
    assert len(_references(sim)) == 5 and sim.stats()["duplicates"] == 0


def test_a_provider_opt_out_fails_the_message_and_suppresses_the_number(engine):
    sim, sender = engine["simulator"], engine["sender"]
    sim.config(opted_out=["+447912000003"])
    _queue(sender, 5)

    report = dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=5)

    assert (report.sent, report.failed) == (4, 1)
    failed = Message.objects.get(status=Status.FAILED)
    assert failed.to_number == "+447912000003"
    assert failed.error_reason
    assert Suppression.objects.filter(phone="+447912000003").exists()
    assert ConsentEvent.objects.get().source == "provider"


def test_a_transactional_send_does_not_wait_behind_bulk(engine):
    sim, sender = engine["simulator"], engine["sender"]
    _queue(sender, 50)
    urgent = message_send(to="+447912099999", body="Your code is 123456", sender=sender).message

    report = dispatch.dispatch(sender_id=sender.pk, lane="transactional", budget_seconds=5)

    assert report.sent == 1
    urgent.refresh_from_db()
    assert urgent.status == Status.SENT
    assert Message.objects.filter(status=Status.QUEUED).count() == 50
    assert _references(sim) == [str(urgent.uuid)]


def test_a_bulk_dispatch_sends_due_transactional_messages_of_any_sender_first(engine):
    from tests.factories import SenderFactory

    sim, sender, account = engine["simulator"], engine["sender"], engine["account"]
    other = SenderFactory(account=account, value="+447912000200", messages_per_second=2000)
    _queue(sender, 5)
    urgent = [
        message_send(to="+447912099998", body="Code 1", sender=sender).message,
        message_send(to="+447912099999", body="Code 2", sender=other).message,
    ]

    report = dispatch.dispatch(sender_id=sender.pk, lane="bulk", budget_seconds=10)

    assert report.sent == 5
    assert set(_references(sim)[:2]) == {str(m.uuid) for m in urgent}
    assert Message.objects.filter(status=Status.SENT).count() == 7
    assert sim.stats()["duplicates"] == 0
