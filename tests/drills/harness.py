"""The platform as production runs it, for fault drills: real processes against the
test database, each one killable and restartable.

    with Platform(workdir, lease_seconds=30) as platform:
        platform.web_url, platform.sim, platform.gate   # gunicorn, the simulator, its door
        platform.kill("bulk")                           # SIGKILL, then start it again
        platform.restart_redis(down_seconds=2)
        platform.drop_database_connections()
        platform.gate.down(); platform.gate.up()        # connection refused, then back

Processes: a private redis-server (its own free port, no persistence, so restarting
it disturbs nobody), the simulator behind a TCP gate (closing the gate is "provider
down": connection refused, while the simulator keeps its record and keeps posting
receipts), gunicorn serving the app (webhooks land there), two Celery workers (the
`transactional,default` queues and the `bulk` queue) and Celery beat.

A Celery process that exits by itself (kombu's Redis transport can stop with
"Unrecoverable error" after a Redis restart) is started again, like systemd's
Restart=always, at most MAX_UNEXPECTED_RESTARTS times per process. Every process is
killed when the Platform exits, whatever happened. Logs: `var/drills/<run>/<name>.log`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.processes import BIN, ROOT, child_env
from tests.simulator.process import RunningSimulator, free_port, simulator_argv

T = TypeVar("T")
LOG_ROOT = ROOT / "var" / "drills"
MAX_UNEXPECTED_RESTARTS = 3
READY_TIMEOUT = 120.0  # seconds a process may take to come up on a loaded machine


class DrillError(AssertionError):
    pass


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
    check: Callable[[], None] | None = None,
) -> T:
    """Poll until `predicate` is truthy; `check` may raise to stop early."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise DrillError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def _reap(proc: subprocess.Popen, timeout: float) -> None:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        proc.wait(10)


class Service:
    """One child process in its own process group, restartable, logging to a file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        ready: Callable[[Service], bool],
        *,
        autorestart: bool = False,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log
        self.ready = ready
        self.autorestart = autorestart
        self.proc: subprocess.Popen | None = None
        self.lock = threading.RLock()
        self.log_offset = 0  # where the current run's output starts in the log
        self.starts = 0
        self.unexpected_exits: list[int] = []
        self.expected_down = False  # a drill killed it and is starting it again

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def new_output(self) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as handle:
            handle.seek(self.log_offset)
            return handle.read().decode(errors="replace")

    def start(self, *, wait: bool = True) -> None:
        with self.lock:
            if self.alive:
                return
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.log_offset = self.log.stat().st_size if self.log.exists() else 0
            with self.log.open("ab") as out:
                out.write(f"\n===== {self.name} start #{self.starts + 1}\n".encode())
                out.flush()
                self.log_offset = out.tell()
                self.proc = subprocess.Popen(
                    self.argv,
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self.starts += 1
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def up() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise DrillError(f"{self.name} exited while starting:\n{self.tail()}")
            return self.ready(self)

        wait_until(up, timeout=timeout, what=f"{self.name} to be ready", interval=0.2)

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, not a shutdown."""
        with self.lock:
            if self.proc is not None:
                _kill_group(self.proc, signal.SIGKILL)
                _reap(self.proc, 10)

    def stop(self, timeout: float = 10) -> None:
        with self.lock:
            if self.proc is not None:
                _kill_group(self.proc, signal.SIGTERM)
                _reap(self.proc, timeout)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no log)"
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


class Gate:
    """A TCP door in front of the simulator. down(): the port refuses connections and
    open ones are cut; up(): it listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._closed = False
        self.is_up = False

    def up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", self.port))
                break
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        sock.listen(256)
        with self._lock:
            self._listener = sock
            self.is_up = True
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            sock, self._listener = self._listener, None
            conns, self._conns = self._conns, set()
            self.is_up = False
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self._closed = True
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # One side ended (or the gate went down): end the whole connection.
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.close()
            with self._lock:
                self._conns.discard(source)
                self._conns.discard(sink)


def _log_has(text: str) -> Callable[[Service], bool]:
    return lambda service: text in service.new_output()


def _http_answers(url: str) -> Callable[[Service], bool]:
    def check(_service: Service) -> bool:
        try:
            return httpx.get(url, timeout=3).status_code < 500
        except httpx.HTTPError:
            return False

    return check


def _redis_answers(port: int) -> Callable[[Service], bool]:
    def check(_service: Service) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    return check


class Platform:
    """Redis, the simulator behind its gate, gunicorn, two workers and beat."""

    def __init__(
        self,
        name: str,
        *,
        lease_seconds: int = 30,
        bulk_concurrency: int = 2,
        web_workers: int = 2,
        sim_flags: dict[str, Any] | None = None,
    ) -> None:
        self.dir = LOG_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.web_port = free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.sim_port = free_port()
        self.record = self.dir / "simulator-messages.jsonl"
        self.gate = Gate(self.sim_port)
        self.sim = RunningSimulator(
            url=f"http://127.0.0.1:{self.sim_port}",
            process=None,  # type: ignore[arg-type] - the Service below owns it
            record=self.record,
            log=self.dir / "simulator.log",
        )
        env = child_env(
            REDIS_URL=self.redis_url,
            MESSAGING_WEBHOOK_BASE_URL=self.web_url,
            SITE_URL=self.web_url,
            MESSAGING_SENDING_LEASE_SECONDS=str(lease_seconds),
            CONN_MAX_AGE="60",  # as in production: every process holds its connections
        )
        celery = [str(BIN / "celery"), "-A", "smsworks"]

        def worker(queues: str, name: str, concurrency: int) -> list[str]:
            return [
                *(*celery, "worker", "-Q", queues, "-n", f"{name}@%h", "-c", str(concurrency)),
                *("-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"),
            ]

        flags = {"keep": 200_000, **(sim_flags or {})}
        redis_dir = self.dir / "redis"
        redis_dir.mkdir(exist_ok=True)
        self.services: dict[str, Service] = {}

        def add(name: str, argv: list[str], ready, *, autorestart: bool = False, e=env) -> None:
            self.services[name] = Service(
                name, argv, e, self.dir / f"{name}.log", ready, autorestart=autorestart
            )

        add(
            "redis",
            [
                *("redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(redis_dir)),
            ],
            _redis_answers(self.redis_port),
        )
        add(
            "simulator",
            simulator_argv(self.sim_port, self.record, flags),
            _http_answers(f"{self.sim.url}/_sim/health"),
            e={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        add(
            "web",
            [
                *(str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "smsworks.wsgi"),
                *("-b", f"127.0.0.1:{self.web_port}", "-w", str(web_workers)),
                *("--log-level", "warning", "--backlog", "2048", "--timeout", "60"),
            ],
            _http_answers(f"{self.web_url}/webhooks/drill-ready/"),
        )
        add(
            "default",
            worker("transactional,default", "default", 2),
            _log_has("ready."),
            autorestart=True,
        )
        add(
            "bulk",
            worker("bulk", "bulk", bulk_concurrency),
            _log_has("ready."),
            autorestart=True,
        )
        add(
            "beat",
            [*celery, "beat", "-l", "info", "-s", str(self.dir / "beat-schedule")],
            _log_has("beat: Starting"),
            autorestart=True,
        )
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    # --- lifecycle ---
    def __enter__(self) -> Platform:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        for name in ("redis", "simulator"):
            self.services[name].start()
        self.gate.up()
        for name in ("web", "default", "bulk", "beat"):
            self.services[name].start(wait=False)
        for name in ("web", "default", "bulk", "beat"):
            self.services[name].wait_ready()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def close(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        for service in reversed(self.services.values()):
            with contextlib.suppress(Exception):
                service.kill()
        self.gate.close()

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            for service in self.services.values():
                if not service.autorestart:
                    continue
                with service.lock:
                    if self._stop.is_set() or service.proc is None or service.alive:
                        continue
                    code = service.proc.returncode
                    service.unexpected_exits.append(code)
                    if len(service.unexpected_exits) > MAX_UNEXPECTED_RESTARTS:
                        self.problems.append(
                            f"{service.name} exited by itself (code {code}) more than "
                            f"{MAX_UNEXPECTED_RESTARTS} times"
                        )
                        service.autorestart = False
                        continue
                    service.start(wait=False)

    def check(self) -> None:
        """Raise when a process died for good (called while waiting)."""
        if self.problems:
            raise DrillError("; ".join(self.problems) + "\n" + self.logs_tail())
        for name in ("redis", "simulator", "web"):
            service = self.services[name]
            with service.lock:
                if service.proc is not None and not service.alive and not service.autorestart:
                    if service.expected_down:
                        continue
                    raise DrillError(f"{name} exited:\n{service.tail()}")

    def restarts(self) -> dict[str, list[int]]:
        return {n: s.unexpected_exits for n, s in self.services.items() if s.unexpected_exits}

    def logs_tail(self, lines: int = 15) -> str:
        return "\n".join(f"--- {n} ({s.log})\n{s.tail(lines)}" for n, s in self.services.items())

    # --- faults ---
    def kill(
        self,
        name: str,
        *,
        down_seconds: float = 0.5,
        while_down: Callable[[], None] | None = None,
    ) -> None:
        """SIGKILL a process group and start it again (as a service manager would)."""
        service = self.services[name]
        with service.lock:
            service.expected_down = True
            try:
                service.kill()
                if while_down is not None:
                    while_down()
                time.sleep(down_seconds)
                service.start(wait=False)
            finally:
                service.expected_down = False
        service.wait_ready()

    def restart_redis(self, *, down_seconds: float = 2.0) -> None:
        self.kill("redis", down_seconds=down_seconds)

    def drop_database_connections(self) -> int:
        """pg_terminate_backend on every other connection to the test database."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int(cursor.fetchone()[0])

    def provider_down(self, seconds: float) -> None:
        self.gate.down()
        try:
            time.sleep(seconds)
        finally:
            self.gate.up()
