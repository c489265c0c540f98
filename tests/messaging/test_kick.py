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
