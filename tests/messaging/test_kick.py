"""The dispatch kick after a one-off send: at most one dispatch started per sender and
lane per second across processes, and a process that knows the second is taken asks
Redis nothing more until it ends."""

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from messaging import tasks


class CountingCache:
    def __init__(self) -> None:
        self.calls = 0

    def add(self, *args, **kwargs):
        self.calls += 1
        return cache.add(*args, **kwargs)

    def get(self, *args, **kwargs):
        self.calls += 1
        return cache.get(*args, **kwargs)


@pytest.fixture
def kicks(monkeypatch):
    started: list[tuple] = []
    monkeypatch.setattr(
        tasks.dispatch_sender, "apply_async", lambda args, queue: started.append((*args, queue))
    )
    clock = SimpleNamespace(now=1_000_000.0)
    monkeypatch.setattr(tasks, "time", SimpleNamespace(time=lambda: clock.now))
    counting = CountingCache()
    monkeypatch.setattr(tasks, "cache", counting)
    cache.delete("messaging:kick:424242:transactional")
    yield SimpleNamespace(started=started, clock=clock, cache=counting)
    cache.delete("messaging:kick:424242:transactional")


def test_a_kick_starts_one_dispatch_per_second_and_asks_redis_once(kicks):
    tasks.kick_dispatch(424242, "transactional")
    assert kicks.started == [(424242, "transactional", "transactional")]
    asked = kicks.cache.calls

    kicks.clock.now += 0.5
    tasks.kick_dispatch(424242, "transactional")
    assert len(kicks.started) == 1
    assert kicks.cache.calls == asked  # known taken: Redis not asked


def test_another_process_learns_the_second_is_taken_and_when_it_ends(kicks):
    tasks.kick_dispatch(424242, "transactional")
    tasks._kick_held_until.clear()  # now as another web process

    kicks.clock.now += 0.3
    tasks.kick_dispatch(424242, "transactional")
    assert len(kicks.started) == 1
    asked = kicks.cache.calls
    tasks.kick_dispatch(424242, "transactional")
    assert kicks.cache.calls == asked

    # The second is over (Redis expired the key): the next send starts a dispatch.
    kicks.clock.now += 0.7
    cache.delete("messaging:kick:424242:transactional")
    tasks.kick_dispatch(424242, "transactional")
    assert len(kicks.started) == 2


@pytest.mark.django_db
def test_applying_a_backlog_of_receipts_yields_its_worker_after_its_budget(monkeypatch):
    """A worker that serves the transactional queue too must not keep a one-off send
    waiting behind thousands of receipts: past its budget the task queues its own
    continuation and ends."""
    from django.utils import timezone

    from messaging.models import PendingReceipt, Status
    from tests.factories import ProviderAccountFactory

    continued: list[dict] = []
    monkeypatch.setattr(tasks.apply_receipts, "apply_async", lambda **kw: continued.append(kw))
    account = ProviderAccountFactory(backend="console", credentials={})
    now = timezone.now()
    PendingReceipt.objects.bulk_create(
        PendingReceipt(
            account=account, provider_message_id=f"x-{i}", status=Status.DELIVERED, occurred_at=now
        )
        for i in range(5001)  # a full pass of 5,000 (none matches a message), and one more
    )

    monkeypatch.setattr(tasks, "APPLY_BUDGET_SECONDS", 0.0)
    result = tasks.apply_receipts()
    assert (result["unmatched"], result.get("continued")) == (5000, 1)
    assert continued == [{}]

    monkeypatch.setattr(tasks, "APPLY_BUDGET_SECONDS", 60.0)
    result = tasks.apply_receipts()  # within its budget it goes on past a full pass
    assert result["unmatched"] > 5000 and "continued" not in result
    assert continued == [{}]
