from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.messaging.httpfake import HTTPFake
from tests.simulator.process import RunningSimulator, running_simulator


@pytest.fixture(scope="session")
def simulator_process() -> Iterator[RunningSimulator]:
    """One simulator process for the session (quick receipts, everything delivered)."""
    with running_simulator(receipt_delay_ms=(5, 30), delivered=1.0, undelivered=0, failed=0) as sim:
        yield sim


@pytest.fixture
def simulator(simulator_process: RunningSimulator) -> RunningSimulator:
    """The shared simulator, emptied and with its start-up config back."""
    simulator_process.reset()
    return simulator_process


@pytest.fixture
def receiver() -> Iterator[HTTPFake]:
    """A local HTTP server standing in for the platform's webhooks."""
    with HTTPFake() as server:
        yield server
