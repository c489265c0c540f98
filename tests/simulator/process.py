"""Run the simulator as a real process, for any test that needs a provider.

    with running_simulator(receipt_delay_ms=(10, 50), delivered=1.0, undelivered=0) as sim:
        backend = SMSWorksBackend(AccountConfig(..., base_url=sim.url,
                                                credentials={"jwt": sim.token()}))
        ...
        sim.config(rate_429=1.0)       # change faults while it runs
        sim.messages(to="+447700900123"), sim.stats(), sim.record_lines()

Flags are the command-line ones with underscores: True adds a bare flag, a
tuple gives one flag several values (receipt_delay_ms=(10, 50)), a list repeats
the flag (opted_out=["447700900001", ...]). Needs no Django.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JWT_SECRET = "simulator-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningSimulator:
    url: str
    process: subprocess.Popen
    record: Path
    log: Path
    jwt_secret: str = DEFAULT_JWT_SECRET
    initial_config: dict[str, Any] = field(default_factory=dict)

    def token(self, **claims: Any) -> str:
        """A JWT the simulator accepts (give exp=... for an expiring one)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the default secret is short on purpose
            return jwt.encode({"key": "tests", **claims}, self.jwt_secret, algorithm="HS256")

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=10)

    def post(self, path: str, payload: Any = None) -> httpx.Response:
        return httpx.post(self.url + path, json=payload, timeout=10)

    def config(self, **changes: Any) -> dict[str, Any]:
        """Read the runtime config, after applying any changes."""
        if not changes:
            return self.get("/_sim/config").raise_for_status().json()
        return self.post("/_sim/config", changes).raise_for_status().json()

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        """Accepted (and rejected) messages, newest first: to=, reference=, since=, limit=."""
        return self.get("/_sim/messages", **filters).raise_for_status().json()["messages"]

    def stats(self) -> dict[str, Any]:
        return self.get("/_sim/stats").raise_for_status().json()

    def reset(self, *, restore_config: bool = True) -> None:
        """Forget messages and counters (and the record file); by default also put the
        runtime config back to what it was at start."""
        self.post("/_sim/reset").raise_for_status()
        if restore_config and self.initial_config:
            restorable = {k: v for k, v in self.initial_config.items() if k != "customer_id"}
            self.config(**restorable)

    def record_lines(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def wait_for(self, predicate, *, timeout: float = 10, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def simulator_argv(port: int, record: Path, flags: dict[str, Any]) -> list[str]:
    argv = [sys.executable, "-m", "simulator", "--port", str(port), "--record", str(record)]
    for name, value in flags.items():
        option = "--" + name.replace("_", "-")
        if value is True:
            argv.append(option)
        elif value is False or value is None:
            continue
        elif isinstance(value, tuple):
            argv += [option, *map(str, value)]
        elif isinstance(value, list):
            for item in value:
                argv += [option, str(item)]
        else:
            argv += [option, str(value)]
    return argv


@contextmanager
def running_simulator(
    *, record: Path | str | None = None, startup_timeout: float = 20, **flags: Any
) -> Iterator[RunningSimulator]:
    workdir = Path(tempfile.mkdtemp(prefix="smsworks-sim-"))
    record_path = Path(record) if record else workdir / "messages.jsonl"
    log_path = workdir / "simulator.log"
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            simulator_argv(port, record_path, flags),
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    sim = RunningSimulator(
        url=f"http://127.0.0.1:{port}",
        process=process,
        record=record_path,
        log=log_path,
        jwt_secret=str(flags.get("jwt_secret", DEFAULT_JWT_SECRET)),
    )
    try:
        _wait_until_healthy(sim, startup_timeout)
        sim.initial_config = sim.config()
        yield sim
    finally:
        stop(process)


def _wait_until_healthy(sim: RunningSimulator, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sim.process.poll() is not None:
            raise RuntimeError(f"the simulator exited early:\n{sim.log.read_text()}")
        try:
            if httpx.get(sim.url + "/_sim/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the simulator did not answer in {timeout}s:\n{sim.log.read_text()}")


def stop(process: subprocess.Popen, timeout: float = 5) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)
