"""messaging.webhooks.GroupCommit: receipts posted at the same time to one web
process share one INSERT, and each caller returns only once its own are committed."""

import threading
import time

import pytest
from django.db import connection

from messaging import receipts
from messaging.models import PendingReceipt
from messaging.providers import Receipt
from messaging.webhooks import GroupCommit
from tests.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _run_held(monkeypatch, names: list[str]):
    """Call store() from one thread per name; the first write is held until every
    other caller is queued behind it. Returns (rows per INSERT, outcome by name),
    the outcome being 'stored' (and visible from the caller's own connection) or
    the exception's text."""
    group = GroupCommit()
    account = ProviderAccountFactory(backend="console", credentials={})
    real = receipts.receipts_store_many
    sizes: list[int] = []
    release = threading.Event()

    def held(*, batches):
        sizes.append(sum(len(parsed) for _, parsed in batches))
        if len(sizes) == 1:
            assert release.wait(10)
        return real(batches=batches)

    monkeypatch.setattr(receipts, "receipts_store_many", held)
    outcome: dict[str, str] = {}

    def post(name: str) -> None:
        try:
            group.store(account, [Receipt(provider_message_id=name, status="delivered")])
            committed = PendingReceipt.objects.filter(provider_message_id=name).exists()
            outcome[name] = "stored" if committed else "answered before commit"
        except Exception as exc:
            outcome[name] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(name,)) for name in names]
    threads[0].start()
    while not sizes:
        time.sleep(0.01)
    for thread in threads[1:]:
        thread.start()
    while len(group._queue) < len(names) - 1:
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    return sizes, outcome


def test_receipts_queued_during_a_write_share_the_next_insert(monkeypatch):
    sizes, outcome = _run_held(monkeypatch, ["p-0", "p-1", "p-2", "p-3"])

    assert sizes == [1, 3]
    assert outcome == dict.fromkeys(["p-0", "p-1", "p-2", "p-3"], "stored")
    assert PendingReceipt.objects.count() == 4


def test_a_receipt_the_database_refuses_fails_its_own_request_only(monkeypatch):
    bad = "p-\x00"  # PostgreSQL text cannot hold NUL
    sizes, outcome = _run_held(monkeypatch, ["p-0", "p-1", bad, "p-3"])

    assert sizes[:2] == [1, 3]  # then one INSERT per request
    assert outcome["p-0"] == outcome["p-1"] == outcome["p-3"] == "stored"
    assert outcome[bad] == "receipts not stored"
    assert sorted(PendingReceipt.objects.values_list("provider_message_id", flat=True)) == [
        "p-0",
        "p-1",
        "p-3",
    ]
