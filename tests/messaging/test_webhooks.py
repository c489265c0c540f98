"""Receipt and inbound webhooks through the console backend's JSON shapes."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import ConsentEvent, Contact, Suppression
from messaging import dispatch
from messaging.models import Message, PendingReceipt, Status
from messaging.receipts import MAX_MATCH_ATTEMPTS, receipts_apply
from tests.factories import MessageFactory, ProviderAccountFactory, SenderFactory
from tests.messaging.wsgi_client import WSGIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["django-views", "wsgi-app"])
def client(request, client):
    """Each test here runs twice: through Django's views (its test client) and
    through smsworks.wsgi, as gunicorn calls it (messaging.webhook_wsgi)."""
    return client if request.param == "django-views" else WSGIClient()


@pytest.fixture
def account():
    return ProviderAccountFactory(backend="console", credentials={})


@pytest.fixture
def sender(account):
    return SenderFactory(account=account, value="+447911000001")


def _post(client, account, kind, payload, token=None):
    url = reverse(f"messaging:webhook_{kind}", args=[account.public_id])
    token = account.webhook_secret if token is None else token
    return client.post(f"{url}?token={token}", json.dumps(payload), content_type="application/json")


def _sent(sender, pid, **kwargs):
    return MessageFactory(
        sender=sender, status=Status.SENT, provider_message_id=pid, sent_at=timezone.now(), **kwargs
    )


def test_a_bad_signature_gets_403_and_changes_nothing(client, account, sender):
    message = _sent(sender, "p-1")
    for token in ("wrong", ""):
        response = _post(client, account, "receipts", {"id": "p-1", "status": "delivered"}, token)
        assert response.status_code == 403
    response = _post(
        client, account, "inbound", {"from": "+447911123456", "to": sender.value, "body": "hi"}, "x"
    )
    assert response.status_code == 403
    assert PendingReceipt.objects.count() == 0
    assert Message.objects.filter(direction="in").count() == 0
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_an_unknown_account_gets_404(client, account):
    account.is_active = False
    account.save()
    assert _post(client, account, "receipts", {"id": "p", "status": "sent"}).status_code == 404


def test_a_malformed_receipt_gets_400(client, account):
    assert _post(client, account, "receipts", {"status": "delivered"}).status_code == 400
    assert PendingReceipt.objects.count() == 0


def test_receipts_are_stored_then_applied_in_bulk(client, account, sender):
    messages = [_sent(sender, f"p-{i}") for i in range(3)]
    payload = [
        {"id": "p-0", "status": "delivered"},
        {"id": "p-1", "status": "undelivered", "error_code": "ABSENT", "error_reason": "Phone off"},
        {"id": "p-2", "status": "failed", "error_code": "X1", "error_reason": "Barred"},
    ]
    assert _post(client, account, "receipts", payload).status_code == 200
    assert PendingReceipt.objects.count() == 3

    counts = receipts_apply()

    assert counts == {"applied": 3, "stale": 0, "unmatched": 0}
    assert PendingReceipt.objects.count() == 0
    for message in messages:
        message.refresh_from_db()
    assert [m.status for m in messages] == ["delivered", "undelivered", "failed"]
    assert messages[0].delivered_at is not None
    assert (messages[1].error_code, messages[1].error_reason) == ("ABSENT", "Phone off")
    assert messages[2].failed_at is not None


def test_duplicate_and_late_receipts_change_nothing(client, account, sender):
    message = _sent(sender, "p-9")
    _post(client, account, "receipts", {"id": "p-9", "status": "delivered"})
    receipts_apply()
    message.refresh_from_db()
    delivered_at = message.delivered_at

    _post(
        client,
        account,
        "receipts",
        [{"id": "p-9", "status": "delivered"}, {"id": "p-9", "status": "sent"}],
    )
    _post(client, account, "receipts", {"id": "p-9", "status": "failed"})
    counts = receipts_apply()

    assert counts["applied"] == 0 and counts["stale"] == 3
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.delivered_at == delivered_at
    assert message.failed_at is None


def test_out_of_order_receipts_in_one_pass_keep_the_furthest(client, account, sender):
    message = _sent(sender, "p-5")
    _post(
        client,
        account,
        "receipts",
        [{"id": "p-5", "status": "delivered"}, {"id": "p-5", "status": "sent"}],
    )
    receipts_apply()
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_a_receipt_before_the_send_result_is_kept_and_applied_later(client, account, sender):
    message = MessageFactory(sender=sender, status=Status.SENDING, sending_at=timezone.now())
    _post(client, account, "receipts", {"id": "p-early", "status": "delivered"})

    assert receipts_apply() == {"applied": 0, "stale": 0, "unmatched": 1}
    assert PendingReceipt.objects.count() == 1

    dispatch._mark_sent([(message.pk, "p-early", {})], timezone.now())
    assert receipts_apply()["applied"] == 1
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.sent_at is not None


def test_an_unknown_receipt_is_never_thrown_away(client, account):
    _post(client, account, "receipts", {"id": "nobody", "status": "delivered"})
    for _ in range(MAX_MATCH_ATTEMPTS + 2):
        receipts_apply()
    receipt = PendingReceipt.objects.get()
    assert receipt.attempts == MAX_MATCH_ATTEMPTS


def test_deleting_an_account_deletes_its_pending_receipts(client, account):
    """PendingReceipt.account has no database constraint (the check at commit locked
    the account's row from every concurrent webhook call): the ORM cascades."""
    other = ProviderAccountFactory(backend="console", credentials={})
    _post(client, account, "receipts", {"id": "mine", "status": "delivered"})
    _post(client, other, "receipts", {"id": "theirs", "status": "delivered"})

    account.delete()

    assert list(PendingReceipt.objects.values_list("provider_message_id", flat=True)) == ["theirs"]


def test_an_inbound_text_is_stored_once(client, account, sender):
    text = {"id": "in-1", "from": "07911 123456", "to": sender.value, "body": "Hello <b>there</b>"}
    assert _post(client, account, "inbound", text).status_code == 200
    assert _post(client, account, "inbound", text).status_code == 200

    message = Message.objects.get(direction="in")
    assert message.from_number == "+447911123456"
    assert message.body == "Hello <b>there</b>"
    assert message.status == Status.RECEIVED
    assert message.sender == sender
    assert message.contact == Contact.objects.get(phone="+447911123456")


@pytest.mark.parametrize("word", ["STOP", "stop", "  Unsubscribe ", "OptOut", "stop."])
def test_a_stop_keyword_opts_out_and_confirms_once(client, account, sender, word):
    queued = MessageFactory(sender=sender, to_number="+447911123456")
    text = {"id": f"in-{word}", "from": "+447911123456", "to": sender.value, "body": word}
    _post(client, account, "inbound", text)

    assert Suppression.objects.filter(phone="+447911123456").exists()
    event = ConsentEvent.objects.get()
    assert (event.kind, event.source, event.keyword) == (
        "opt_out",
        "keyword",
        word.strip(" .").upper(),
    )
    assert event.message_id == Message.objects.get(direction="in").pk
    confirmation = Message.objects.get(direction="out", compliance=True)
    assert confirmation.to_number == "+447911123456"
    assert "unsubscribed" in confirmation.body

    # The queued campaign message is suppressed at dispatch; the confirmation goes.
    rows, suppressed = dispatch.claim(sender=sender, lane="bulk", limit=10)
    assert (rows, suppressed) == ([], 1)
    queued.refresh_from_db()
    assert queued.status == Status.SUPPRESSED
    rows, _ = dispatch.claim(sender=sender, lane="transactional", limit=10)
    assert [r["id"] for r in rows] == [confirmation.pk]


def test_a_sentence_containing_stop_is_not_a_keyword(client, account, sender):
    _post(
        client,
        account,
        "inbound",
        {"id": "s1", "from": "+447911123456", "to": sender.value, "body": "please stop by"},
    )
    assert not Suppression.objects.exists()


def test_start_opts_back_in_and_help_answers(client, account, sender):
    number = "+447911123456"
    _post(
        client, account, "inbound", {"id": "a", "from": number, "to": sender.value, "body": "STOP"}
    )
    _post(
        client, account, "inbound", {"id": "b", "from": number, "to": sender.value, "body": "start"}
    )
    assert not Suppression.objects.filter(phone=number).exists()
    assert Contact.objects.get(phone=number).opted_out is False
    assert list(ConsentEvent.objects.order_by("id").values_list("kind", flat=True)) == [
        "opt_out",
        "opt_in",
    ]

    _post(
        client, account, "inbound", {"id": "c", "from": number, "to": sender.value, "body": "HELP"}
    )
    replies = Message.objects.filter(direction="out").order_by("id")
    assert replies.count() == 3
    assert "STOP" in replies.last().body


def test_a_one_off_send_to_an_opted_out_number_is_suppressed(sender):
    from contacts.services import contact_opt_out
    from messaging.services import message_send

    contact_opt_out(phone="+447911123456", source="manual")
    outcome = message_send(to="07911 123456", body="Hi", sender=sender)
    assert outcome.suppressed
    assert outcome.message.status == Status.SUPPRESSED
    assert outcome.message.suppressed_at is not None


def test_retries_wait_with_backoff(sender):
    message = MessageFactory(sender=sender, send_after=timezone.now() + timedelta(minutes=1))
    assert dispatch.claim(sender=sender, lane="bulk", limit=10) == ([], 0)
    message.refresh_from_db()
    assert message.status == Status.QUEUED


def test_a_receipt_saying_the_recipient_opted_out_opts_the_contact_out(account, sender):
    from messaging.providers import Receipt
    from messaging.receipts import receipts_store
    from tests.factories import ContactFactory

    contact = ContactFactory()
    message = _sent(sender, "p-stop", contact=contact, to_number=contact.phone)
    other = _sent(sender, "p-other")
    receipts_store(
        account=account,
        receipts=[
            Receipt(provider_message_id="p-stop", status="failed", error_code="9", opted_out=True),
            Receipt(provider_message_id="p-other", status="failed", error_code="6"),
        ],
    )

    assert receipts_apply()["applied"] == 2

    message.refresh_from_db()
    contact.refresh_from_db()
    assert message.status == Status.FAILED
    assert contact.opted_out
    assert Suppression.objects.filter(phone=contact.phone).exists()
    event = ConsentEvent.objects.get(phone=contact.phone)
    assert (event.kind, event.source, event.message_id) == ("opt_out", "provider", message.pk)
    assert not Suppression.objects.filter(phone=other.to_number).exists()


def test_a_receipt_costs_one_statement_once_the_account_is_known(
    client, account, sender, django_assert_num_queries
):
    _post(client, account, "receipts", {"id": "p-a", "status": "delivered"})  # warms the cache

    with django_assert_num_queries(1):  # the INSERT: no account lookup, no SELECT 1
        assert (
            _post(client, account, "receipts", {"id": "p-b", "status": "sent"}).status_code == 200
        )

    assert PendingReceipt.objects.count() == 2


def test_a_deactivated_account_is_refused_at_once_in_this_process(client, account):
    assert _post(client, account, "receipts", {"id": "p", "status": "sent"}).status_code == 200
    account.is_active = False
    account.save()

    assert _post(client, account, "receipts", {"id": "p", "status": "sent"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_receipt_survives_a_dead_database_connection(client, account):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("terminating a server backend needs PostgreSQL")
    import psycopg

    assert _post(client, account, "receipts", {"id": "p-1", "status": "sent"}).status_code == 200
    backend_pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])

    response = _post(client, account, "receipts", {"id": "p-2", "status": "delivered"})

    assert response.status_code == 200
    assert connection.connection.info.backend_pid != backend_pid
    stored = PendingReceipt.objects.filter(account=account)
    assert sorted(stored.values_list("provider_message_id", flat=True)) == [
        "p-1",
        "p-2",
    ]


def test_receipts_are_stored_field_by_field_in_one_statement(account, django_assert_num_queries):
    from datetime import UTC, datetime

    from messaging.providers import Receipt
    from messaging.receipts import receipts_store

    occurred = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    given = [
        Receipt(
            provider_message_id="p" * 120,
            status="undelivered",
            occurred_at=occurred,
            reference="r" * 70,
            error_code="E" * 50,
            error_reason="Phone off 'quoted' \\ and ünïcode",
            raw={"id": "p", "nested": [1, {"a": None}], "text": "O'Brien"},
            opted_out=True,
        ),
        Receipt(provider_message_id="p-2", status="delivered"),
    ]
    before = timezone.now()

    with django_assert_num_queries(1):
        assert receipts_store(account=account, receipts=given) == 2

    first, second = PendingReceipt.objects.order_by("id")
    assert (first.account_id, first.provider_message_id, first.reference) == (
        account.pk,
        "p" * 100,
        "r" * 64,
    )
    assert (first.status, first.occurred_at, first.error_code) == (
        "undelivered",
        occurred,
        "E" * 40,
    )
    assert first.error_reason == "Phone off 'quoted' \\ and ünïcode"
    assert first.raw == {"id": "p", "nested": [1, {"a": None}], "text": "O'Brien"}
    assert (first.opted_out, first.attempts) == (True, 0)
    assert first.received_at >= before
    assert (second.status, second.reference, second.raw, second.opted_out) == (
        "delivered",
        "",
        {},
        False,
    )
    assert second.occurred_at == second.received_at  # none given: when it arrived


def test_webhook_headers_are_djangos_with_lower_cased_names(rf):
    from messaging.webhooks import headers_of

    request = rf.post(
        "/webhooks/x/receipts/?token=t",
        b"{}",
        content_type="application/json",
        HTTP_X_TWILIO_SIGNATURE="abc=",
        HTTP_AUTHORIZATION="Bearer x.y.z",
        HTTP_X_FORWARDED_FOR="10.0.0.1",
    )

    headers = headers_of(request.META)

    assert headers == {name.lower(): value for name, value in request.headers.items()}
    assert headers["x-twilio-signature"] == "abc="
    assert headers["content-type"] == "application/json"
