"""Fault drills: a campaign sends while processes are killed, Redis restarts, database
connections drop, the provider goes down or slow, and receipts arrive twice and out
of order; then nothing may be sent twice or lost, and every inbound text and receipt
must be applied. See docs/drills.md.

`make test` runs the short drill (every fault in sequence, ~1,200 messages);
`make drills` runs each fault on its own at 50,000 (DRILL_MESSAGES overrides).
"""

from __future__ import annotations

import os

import pytest

from tests.drills.drill import FAULTS, DrillConfig, run_drill
from tests.drills.harness import Platform

pytestmark = [pytest.mark.drill, pytest.mark.worker]

SHORT_MESSAGES = 1200
FULL_MESSAGES = 50_000


def _assert_clean(result) -> None:
    problems = result.findings.problems()
    if not result.findings.inbound_sent:
        problems.append("no inbound text was sent during the drill")
    assert not problems, result.describe() + "\n" + "\n".join(problems)


@pytest.mark.timeout(900)
def test_short_drill_every_fault_in_one_send(drill_backends, capsys):
    messages = int(os.environ.get("DRILL_SHORT_MESSAGES", SHORT_MESSAGES))
    config = DrillConfig(
        messages=messages,
        rate=25,  # ~50 s of sending without faults: every fault lands mid-send
        faults=list(FAULTS),
        inbound=40,
        down_seconds=6,
        slow_seconds=8,
        storm_size=100,
        settle_timeout=300,
        send_timeout=400,
    )
    sim_flags = {
        "receipt_delay_ms": (0, 1500),  # some receipts come before the send result
        "receipt_retries": 20,  # a provider keeps retrying while the web is down
        "delivered": 0.9,
        "undelivered": 0.06,
        "failed": 0.04,
    }
    with Platform("short", lease_seconds=20, sim_flags=sim_flags) as platform:
        result = run_drill(platform, config)
    with capsys.disabled():
        print("\n" + result.describe())
    _assert_clean(result)


@pytest.mark.drill_full
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_full_drill(drill_backends, fault, capsys):
    messages = int(os.environ.get("DRILL_MESSAGES", FULL_MESSAGES))
    config = DrillConfig(
        messages=messages,
        rate=500,  # 100 s of sending at 50,000
        faults=[fault],
        inbound=500,
        down_seconds=15,
        slow_seconds=20,
        storm_size=5000,
        settle_timeout=1200,
        send_timeout=2400,
    )
    sim_flags = {
        "receipt_delay_ms": (0, 2000),
        "receipt_retries": 20,
        "delivered": 0.9,
        "undelivered": 0.06,
        "failed": 0.04,
    }
    with Platform(f"full-{fault}", lease_seconds=60, sim_flags=sim_flags) as platform:
        result = run_drill(platform, config)
    with capsys.disabled():
        print("\n" + result.describe())
    _assert_clean(result)
