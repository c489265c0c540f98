"""Start the platform's real processes (Celery workers, ...) against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_database_url() -> str:
    """The URL of the database the test run created, for child processes."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@contextmanager
def _celery(args: list[str], log: Path, env: dict[str, str] | None) -> Iterator[subprocess.Popen]:
    """A celery process of the platform in its own process group, logging to `log`,
    stopped (SIGTERM, then SIGKILL) however the test ends."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(BIN / "celery"), "-A", "smsworks", *args, "-l", "info"],
            cwd=ROOT,
            env=child_env(**(env or {})),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            stop(proc)


def celery_worker(
    *,
    queues: str = "transactional,bulk,default",
    concurrency: int = 1,
    log: Path | None = None,
    env: dict[str, str] | None = None,
):
    args = ["worker", "-Q", queues, "--concurrency", str(concurrency)]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return _celery(args, log or ROOT / "var" / "test-worker.log", env)


def celery_beat(*, log: Path | None = None, env: dict[str, str] | None = None):
    """Celery beat as `make run` starts it: the engine's ticks (dispatch of due
    messages, applying receipts every 2 s, launching due campaigns) run as in
    production. Its pid file lives in a folder of its own."""
    pidfile = Path(tempfile.mkdtemp(prefix="smsworks-beat-")) / "beat.pid"
    return _celery(["beat", "--pidfile", str(pidfile)], log or ROOT / "var" / "test-beat.log", env)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process and its children: a crash, not a shutdown."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what() if callable(what) else what}"
    )
