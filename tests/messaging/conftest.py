from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.simulator.process import RunningSimulator, running_simulator


@pytest.fixture(scope="session")
def engine_simulator_process() -> Iterator[RunningSimulator]:
    with running_simulator(receipt_delay_ms=(5, 30), delivered=1.0, undelivered=0, failed=0) as sim:
        yield sim


@pytest.fixture
def engine_simulator(engine_simulator_process: RunningSimulator) -> RunningSimulator:
    engine_simulator_process.reset()
    return engine_simulator_process


@pytest.fixture
def engine(engine_simulator, live_server, settings, fresh_buckets, transactional_db):
    """A provider account and sender talking to the simulator with the real SMS
    Works backend; receipts come back to the live server."""
    from tests.factories import ProviderAccountFactory, SenderFactory

    settings.MESSAGING_WEBHOOK_BASE_URL = live_server.url
    account = ProviderAccountFactory(
        backend="smsworks",
        base_url=engine_simulator.url,
        credentials={"jwt": engine_simulator.token()},
        timeout_seconds=5,
    )
    sender = SenderFactory(account=account, value="+447912000100", messages_per_second=2000)
    return {"simulator": engine_simulator, "account": account, "sender": sender}
