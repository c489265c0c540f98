from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import ROOT, stop, wait_for

SECRET = "whsec_test-secret-for-the-receiver"


@dataclass
class Receiver:
    url: str
    record: Path

    def requests(self) -> list[dict]:
        if not self.record.exists():
            return []
        # The part after the last newline is a line still being written: not yet.
        complete = self.record.read_text(encoding="utf-8").split("\n")[:-1]
        return [json.loads(line) for line in complete if line.strip()]

    def bodies(self, event_type: str | None = None) -> list[dict]:
        return [
            json.loads(r["body"])
            for r in self.requests()
            if event_type is None or r["event"] == event_type
        ]


@pytest.fixture
def receiver(tmp_path) -> Iterator[Receiver]:
    """The receiver in its own process, on a free port, verifying signatures."""
    record, port_file = tmp_path / "requests.jsonl", tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integrations.receiver", str(record), str(port_file)],
        cwd=ROOT,
        env={"RECEIVER_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port = wait_for(
            lambda: port_file.exists() and port_file.read_text(),
            timeout=30,
            what="the receiver to listen",
        )
        yield Receiver(url=f"http://127.0.0.1:{port}", record=record)
    finally:
        stop(proc)


@pytest.fixture
def endpoint_for(db):
    """An endpoint with the receiver's secret, subscribed to the given events."""
    from integrations.models import EventType
    from integrations.services import endpoint_create

    def make(url: str, events: list[str] | None = None):
        endpoint = endpoint_create(
            url=url, events=events or [t for t in EventType.values if t != EventType.TEST]
        )
        endpoint.secret = SECRET
        endpoint.save(update_fields=["secret"])
        return endpoint

    return make
