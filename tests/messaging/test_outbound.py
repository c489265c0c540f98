"""messaging.outbound.message_insert: the one-statement INSERT of a one-off send writes
the row Message.objects.create writes, on PostgreSQL and on SQLite alike."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.utils import timezone

from contacts.models import Suppression
from messaging import outbound
from messaging.models import Direction, Message, Priority, Status
from messaging.services import message_send
from tests.factories import CampaignFactory, ContactFactory, SenderFactory

pytestmark = pytest.mark.django_db

OPTED_OUT = "+447912000901"
CONTACT = "+447912000902"
NOBODY = "+447912000903"


@pytest.fixture
def sender():
    return SenderFactory(value="+447700900600")


@pytest.fixture
def numbers():
    Suppression.objects.create(phone=OPTED_OUT, source="manual")
    return {"opted_out": OPTED_OUT, "contact": ContactFactory(phone=CONTACT), "nobody": NOBODY}


def _given(sender, to_number: str, now, **extra) -> dict:
    return {
        "direction": Direction.OUTBOUND,
        "account_id": sender.account_id,
        "sender_id": sender.pk,
        "from_number": sender.value,
        "to_number": to_number,
        "contact_id": None,
        "campaign_id": None,
        "body": "Your code is 123456",
        "encoding": "GSM-7",
        "segments": 1,
        "priority": Priority.TRANSACTIONAL,
        "send_after": now,
        "status": Status.QUEUED,
        "queued_at": now,
        "suppressed_at": None,
        "error_reason": "",
        "cost": Decimal("0.0400"),
        "compliance": False,
        **extra,
    }


def _opted_out(now) -> dict:
    return {"status": Status.SUPPRESSED, "suppressed_at": now, "error_reason": "Opted out."}


def _row(pk: int) -> dict:
    return Message.objects.filter(pk=pk).values().get()


def _orm_row(given: dict, if_opted_out: dict | None) -> Message:
    """What the ORM writes for the same send: the check, then create()."""
    listed, contact_id = outbound.recipient_state(given["to_number"])
    values = {**given, **(if_opted_out if listed and if_opted_out else {})}
    if values["contact_id"] is None:
        values["contact_id"] = contact_id
    return Message.objects.create(**values)


@pytest.mark.parametrize("to", ["opted_out", "contact", "nobody"])
@pytest.mark.parametrize("compliance", [False, True])
def test_it_writes_the_row_the_orm_writes(sender, numbers, to, compliance):
    now = timezone.now()
    number = CONTACT if to == "contact" else numbers[to]
    if_opted_out = None if compliance else _opted_out(now)
    given = _given(sender, number, now, compliance=compliance)

    message, opted_out = outbound.message_insert(if_opted_out=if_opted_out, **given)
    orm = _orm_row(given, if_opted_out)

    ours, theirs = _row(message.pk), _row(orm.pk)
    assert ours.pop("id") != theirs.pop("id")
    assert ours.pop("uuid") != theirs.pop("uuid")
    assert now <= ours.pop("created_at") <= theirs.pop("created_at") <= timezone.now()
    assert ours == theirs
    assert opted_out == (to == "opted_out" and not compliance)
    assert ours["status"] == (Status.SUPPRESSED if opted_out else Status.QUEUED)
    assert ours["contact_id"] == (numbers["contact"].pk if to == "contact" else None)


def test_the_columns_it_is_not_given_get_their_defaults(sender):
    before = timezone.now()
    given = _given(sender, NOBODY, before)
    # auto_now_add wins over a given value, as in the ORM's pre_save.
    given["created_at"] = before - timedelta(days=1)

    message, _ = outbound.message_insert(**given)
    orm = Message.objects.create(**given)

    ours, theirs = _row(message.pk), _row(orm.pk)
    for row in (ours, theirs):
        assert before <= row.pop("created_at") <= timezone.now()
        assert isinstance(row.pop("uuid"), uuid.UUID)
        row.pop("id")
    assert ours == theirs
    assert ours["provider_response"] == {} and ours["attempts"] == 0
    assert ours["lease_expires_at"] is None and ours["provider_message_id"] == ""
    assert message.uuid != orm.uuid


def test_the_message_it_returns_is_the_row_as_stored(sender, numbers):
    now = timezone.now()
    campaign = CampaignFactory(sender=sender)
    given = _given(sender, OPTED_OUT, now, campaign_id=campaign.pk, segments=2)

    message, opted_out = outbound.message_insert(if_opted_out=_opted_out(now), **given)

    assert opted_out
    stored = Message.objects.get(pk=message.pk)
    for field in Message._meta.concrete_fields:
        assert getattr(message, field.attname) == getattr(stored, field.attname), field.name
    assert not message._state.adding and message._state.db == "default"


def test_a_given_contact_is_kept_and_a_missing_one_is_looked_up(sender, numbers):
    now = timezone.now()
    other = ContactFactory(phone="+447912000904")

    kept, _ = outbound.message_insert(**_given(sender, CONTACT, now, contact_id=other.pk))
    found, _ = outbound.message_insert(**_given(sender, CONTACT, now))
    left_out = _given(sender, CONTACT, now)
    del left_out["contact_id"]
    found_too, _ = outbound.message_insert(**left_out)

    assert (kept.contact_id, found.contact_id, found_too.contact_id) == (
        other.pk,
        numbers["contact"].pk,
        numbers["contact"].pk,
    )


def test_the_opt_out_check_is_part_of_the_one_statement(sender, numbers, django_assert_num_queries):
    now = timezone.now()
    with django_assert_num_queries(1) as captured:
        _, opted_out = outbound.message_insert(
            if_opted_out=_opted_out(now), **_given(sender, OPTED_OUT, now)
        )
    assert opted_out
    sql = captured.captured_queries[0]["sql"]
    assert sql.startswith("INSERT INTO") and Suppression._meta.db_table in sql


def test_with_a_save_receiver_connected_it_is_the_orm(sender, numbers):
    saved = []

    def receiver(sender, instance, created, **kwargs):
        saved.append((instance.pk, instance.status, created))

    post_save.connect(receiver, sender=Message, dispatch_uid="test-outbound")
    try:
        now = timezone.now()
        message, opted_out = outbound.message_insert(
            if_opted_out=_opted_out(now), **_given(sender, OPTED_OUT, now)
        )
    finally:
        post_save.disconnect(dispatch_uid="test-outbound", sender=Message)

    assert opted_out and saved == [(message.pk, Status.SUPPRESSED, True)]
    assert _row(message.pk)["suppressed_at"] == now


def test_without_insert_returning_it_checks_then_creates(sender, numbers, monkeypatch):
    assert outbound._one_statement_possible()
    with monkeypatch.context() as patched:
        # (the ORM itself needs RETURNING on PostgreSQL: only the decision is patched)
        patched.setattr(connection.features, "can_return_columns_from_insert", False)
        assert not outbound._one_statement_possible()
    monkeypatch.setattr(outbound, "_one_statement_possible", lambda: False)
    now = timezone.now()

    suppressed, opted_out = outbound.message_insert(
        if_opted_out=_opted_out(now), **_given(sender, OPTED_OUT, now)
    )
    queued, not_opted_out = outbound.message_insert(
        if_opted_out=_opted_out(now), **_given(sender, CONTACT, now)
    )

    assert opted_out and not not_opted_out
    assert _row(suppressed.pk)["status"] == Status.SUPPRESSED
    assert _row(queued.pk)["contact_id"] == numbers["contact"].pk


def test_it_refuses_unknown_fields_and_an_opt_out_that_changes_no_status(sender):
    now = timezone.now()
    with pytest.raises(TypeError, match="account"):
        outbound.message_insert(**_given(sender, NOBODY, now), account=sender.account)
    with pytest.raises(ValueError, match="status"):
        outbound.message_insert(if_opted_out={"error_reason": "x"}, **_given(sender, NOBODY, now))
    unchanged = {"status": Status.QUEUED, "error_reason": "x"}
    with pytest.raises(ValueError, match="status"):
        outbound.message_insert(if_opted_out=unchanged, **_given(sender, NOBODY, now))
    without_status = _given(sender, NOBODY, now)
    del without_status["status"]  # the default, queued
    with pytest.raises(ValueError, match="status"):
        outbound.message_insert(if_opted_out=unchanged, **without_status)
    with pytest.raises(TypeError, match="to_number"):
        outbound.message_insert(body="Hi")
    assert not Message.objects.exists()


def test_message_send_queues_suppresses_and_kicks_as_before(
    sender, numbers, monkeypatch, django_capture_on_commit_callbacks
):
    from messaging import tasks

    kicks = []
    monkeypatch.setattr(tasks, "kick_dispatch", lambda *args: kicks.append(args))

    with django_capture_on_commit_callbacks(execute=True):
        queued = message_send(to="07912 000902", body="Hello", sender=sender)
        suppressed = message_send(to=OPTED_OUT, body="Hello", sender=sender)
        confirmation = message_send(to=OPTED_OUT, body="Bye", sender=sender, compliance=True)

    assert (queued.suppressed, suppressed.suppressed, confirmation.suppressed) == (
        False,
        True,
        False,
    )
    assert queued.message.contact_id == numbers["contact"].pk
    assert queued.message.sender is sender and queued.message.account == sender.account
    assert _row(suppressed.message.pk)["error_reason"] == "The recipient opted out."
    assert _row(confirmation.message.pk)["status"] == Status.QUEUED
    assert kicks == [(sender.pk, Priority.TRANSACTIONAL)] * 2
