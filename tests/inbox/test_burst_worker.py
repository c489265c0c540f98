"""A burst of texts for one conversation, through the webhook and two real worker
processes handling them in parallel: every text once, in order, counted once."""

import json

import pytest
from django.urls import reverse

from inbox import queries
from inbox.models import Conversation, HandledInbound
from messaging.models import Message
from smsworks.celery import app
from tests.factories import ProviderAccountFactory, SenderFactory
from tests.processes import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_burst_keeps_its_order_and_a_redelivered_text_appears_once(client):
    account = ProviderAccountFactory(backend="console", credentials={})
    sender = SenderFactory(account=account, value="+447900000001")
    url = reverse("messaging:webhook_inbound", args=[account.public_id])
    app.control.purge()

    def post(i: int) -> None:
        text = {
            "id": f"burst-{i}",
            "from": "+447911123456",
            "to": sender.value,
            "body": f"part {i}",
        }
        response = client.post(
            f"{url}?token={account.webhook_secret}",
            json.dumps(text),
            content_type="application/json",
        )
        assert response.status_code == 200

    with celery_worker(concurrency=2):
        for i in range(20):
            post(i)
        post(7)  # the provider retried one webhook
        wait_for(
            lambda: (
                Message.objects.filter(direction="in", processed_at__isnull=True).count() == 0
                and Message.objects.filter(direction="in").count() == 20
            ),
            timeout=60,
            what="the worker to hand every text to the inbox",
        )

    conversation = Conversation.objects.get()
    assert conversation.inbound_count == 20
    assert conversation.unread_count == 20
    assert conversation.last_message_preview == "part 19"
    assert HandledInbound.objects.count() == 20
    bodies = [i.obj.body for i in queries.thread(conversation).items if i.kind == "in"]
    assert bodies == [f"part {i}" for i in range(20)]
