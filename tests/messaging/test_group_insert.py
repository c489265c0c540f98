"""Receipts stored at the same moment by several threads go into one INSERT
(messaging.group_insert): real threads, each with its own PostgreSQL connection.

Grouping is made certain, not left to timing: a second connection holds a lock that
blocks every INSERT into the table, so the first caller's statement waits in the
server while the others queue behind it; the tests then release the lock. The rows
of one statement share a transaction id (xmin), which counts the statements."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.db import connection, transaction

from messaging import receipts
from messaging.models import PendingReceipt
from messaging.providers import Receipt
from tests.factories import ProviderAccountFactory
from tests.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(condition: Callable[[], bool], what: str) -> None:
    wait_for(condition, timeout=10, interval=0.005, what=what)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("one thread's rows on another's connection: PostgreSQL's test database")


@pytest.fixture
def account():
    return ProviderAccountFactory(backend="console", credentials={})


@pytest.fixture
def blocked() -> Iterator[psycopg.Connection]:
    """A connection holding a lock that makes INSERTs into the receipts table wait;
    the test commits it to let them through."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as admin:
        admin.execute(f"LOCK TABLE {PendingReceipt._meta.db_table} IN SHARE MODE")
        yield admin


class Caller(threading.Thread):
    """receipts_store from a thread of its own (and so its own connection)."""

    def __init__(self, account, ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.account, self.ids = account, ids
        self.error: BaseException | None = None
        self.returned_at: float | None = None

    def run(self) -> None:
        try:
            self.store()
            self.returned_at = time.monotonic()
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()

    def store(self) -> None:
        given = [Receipt(provider_message_id=i, status=i.split("-")[0]) for i in self.ids]
        receipts.receipts_store(account=self.account, receipts=given)


def _waiting_on_the_lock(admin: psycopg.Connection) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")  # fresh, inside its transaction
    return admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query LIKE 'INSERT INTO messaging_pendingreceipt%%'"
    ).fetchone()[0]


def _start(callers: list[Caller], admin: psycopg.Connection) -> None:
    """Start the first caller, wait for its statement to block, then queue the rest
    behind it in their order."""
    first, *rest = callers
    first.start()
    _wait(lambda: _waiting_on_the_lock(admin) == 1, "the first INSERT to wait")
    for queued, caller in enumerate(rest, 1):  # one by one: the queue keeps this order
        caller.start()
        _wait(lambda n=queued: len(receipts._insert._queue) == n, "the others to queue")


def _statements() -> list[list[str]]:
    """The stored receipts' ids, grouped by the statement that wrote them."""
    by_xmin: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xmin::text, provider_message_id FROM messaging_pendingreceipt ORDER BY id"
        )
        for xmin, pid in cursor.fetchall():
            by_xmin.setdefault(xmin, []).append(pid)
    return sorted(by_xmin.values(), key=len)


def test_receipts_arriving_during_an_insert_are_written_by_one_statement(account, blocked):
    callers = [Caller(account, [f"sent-{n}"]) for n in range(6)]
    callers.append(Caller(account, ["delivered-a", "delivered-b"]))  # a POST of two

    _start(callers, blocked)
    time.sleep(0.2)
    # Nothing is answered before its statement commits.
    assert all(caller.returned_at is None for caller in callers)
    blocked.commit()
    for caller in callers:
        caller.join(10)

    assert [caller.error for caller in callers] == [None] * 7
    first, others = ["sent-0"], sorted(["sent-1", "sent-2", "sent-3", "sent-4", "sent-5"])
    statements = _statements()
    assert statements[0] == first
    assert sorted(statements[1]) == sorted([*others, "delivered-a", "delivered-b"])
    assert len(statements) == 2
    assert PendingReceipt.objects.filter(account=account).count() == 8
    assert receipts._insert._queue == [] and not receipts._insert._writing


def test_a_long_queue_is_written_in_statements_of_at_most_max_rows(account, blocked, monkeypatch):
    from messaging import group_insert

    monkeypatch.setattr(group_insert, "MAX_ROWS", 3)
    callers = [Caller(account, ["sent-first"])]
    callers += [Caller(account, [f"sent-{n}"]) for n in range(4)]
    callers.append(Caller(account, ["sent-a", "sent-b", "sent-c", "sent-d"]))  # more than 3

    _start(callers, blocked)
    blocked.commit()
    for caller in callers:
        caller.join(10)

    assert [caller.error for caller in callers] == [None] * 6
    # Taken in order: 3 rows, then 1 (the next caller's 4 would pass 3), then its 4 whole.
    assert [len(rows) for rows in _statements()] == [1, 1, 3, 4]
    assert PendingReceipt.objects.count() == 9


def test_a_failed_shared_statement_leaves_each_caller_its_own_outcome(account, blocked):
    # A status longer than the column takes fails the statement holding it.
    bad = "x" * (PendingReceipt._meta.get_field("status").max_length + 1)
    callers = [
        Caller(account, ["sent-first"]),
        Caller(account, ["sent-before"]),
        Caller(account, [f"{bad}-bad"]),
        Caller(account, ["delivered-after"]),
    ]

    _start(callers, blocked)
    blocked.commit()
    for caller in callers:
        caller.join(10)

    errors = [type(caller.error).__name__ if caller.error else None for caller in callers]
    assert errors == [None, None, "DataError", None]
    stored = sorted(PendingReceipt.objects.values_list("provider_message_id", flat=True))
    assert stored == ["delivered-after", "sent-before", "sent-first"]
    # The first alone; the other two each alone after the shared statement failed.
    assert len(_statements()) == 3
    assert not receipts._insert._writing


def test_a_caller_inside_a_transaction_writes_on_its_own_connection(account, blocked):
    """Its rows must not commit with another thread's statement: it rolls back."""

    class RolledBack(Caller):
        def store(self) -> None:
            with transaction.atomic():
                super().store()
                transaction.set_rollback(True)

    first, queued = Caller(account, ["sent-first"]), Caller(account, ["sent-queued"])
    _start([first, queued], blocked)
    inside = RolledBack(account, ["sent-inside"])
    inside.start()
    _wait(lambda: _waiting_on_the_lock(blocked) == 2, "its own INSERT to wait too")
    blocked.commit()
    for caller in (first, queued, inside):
        caller.join(10)

    assert [c.error for c in (first, queued, inside)] == [None, None, None]
    stored = sorted(PendingReceipt.objects.values_list("provider_message_id", flat=True))
    assert stored == ["sent-first", "sent-queued"]
    assert receipts._insert._queue == [] and not receipts._insert._writing
